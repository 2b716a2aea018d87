"""Datasets behind a registry: a new dataset is one module plus one line in ``_MODULES``."""

from __future__ import annotations

import importlib

from vbench_i2v.datasets.base import ClipRef, DatasetStatus, VideoDataset, VideoRecord
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


def get_dataset(name: str, **kwargs) -> VideoDataset:
    """Build a registered dataset by name (``data_root``, ``cache_dir``, ``seed``, options)."""
    _load_modules()
    return DATASETS.get(name)(**kwargs)


def dataset_names() -> list[str]:
    _load_modules()
    return DATASETS.names()


__all__ = ["DATASETS", "ClipRef", "DatasetStatus", "VideoDataset", "VideoRecord", "get_dataset", "dataset_names"]
