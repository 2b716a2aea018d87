"""Datasets behind a registry: a new dataset is one module plus one line in ``_MODULES``."""

from __future__ import annotations

import importlib

from vbench_i2v.datasets.base import ClipRef, DatasetOptionError, DatasetStatus, VideoDataset, VideoRecord
from vbench_i2v.options import OptionError, Schema, parse_options
from vbench_i2v.registry import Registry

DATASETS: Registry[type[VideoDataset]] = Registry("dataset")

_MODULES = [
    "vbench_i2v.datasets.synthetic",
    "vbench_i2v.datasets.folder",
    "vbench_i2v.datasets.mug",
    "vbench_i2v.datasets.natops",
    "vbench_i2v.datasets.weizmann",
    "vbench_i2v.datasets.uva_nemo",
]


def _load_modules() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)


def get_dataset(name: str, data_root=None, cache_dir=None, seed: int = 0, **options) -> VideoDataset:
    """Build a registered dataset by name; ``options`` are checked against the dataset's
    ``option_schema`` (an unknown key or a bad value is a :class:`DatasetOptionError`)."""
    _load_modules()
    cls = DATASETS.get(name)
    cls.validate_options(options)  # refuse before any other work (also done by the constructor)
    return cls(data_root=data_root, cache_dir=cache_dir, seed=seed, **options)


def dataset_option_schema(name: str) -> Schema:
    """The options dataset ``name`` takes (names, types, allowed values, defaults, help)."""
    _load_modules()
    return DATASETS.get(name).option_schema


def parse_dataset_options(name: str, pairs) -> dict:
    """``--option key=value`` pairs for dataset ``name`` -> canonical typed options (only those
    given); an unknown key, a key given twice or a bad value is refused naming the known keys."""
    schema = dataset_option_schema(name)
    try:
        return parse_options(list(pairs or ()), schema, what=f"dataset {name!r}", flag="--option")
    except OptionError as exc:
        raise DatasetOptionError(str(exc)) from None


def dataset_fingerprint(ds: VideoDataset) -> str:
    """Content fingerprint of a dataset object (see :meth:`VideoDataset.dataset_fingerprint`)."""
    return ds.dataset_fingerprint()


def dataset_names() -> list[str]:
    _load_modules()
    return DATASETS.names()


__all__ = ["DATASETS", "ClipRef", "DatasetOptionError", "DatasetStatus", "VideoDataset", "VideoRecord", "get_dataset",
           "dataset_names", "dataset_option_schema", "parse_dataset_options", "dataset_fingerprint"]
