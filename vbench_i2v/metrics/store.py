"""A content-keyed feature store on disk: each clip's features are computed once per network.

An entry is one clip's feature vector under one network::

    <root>/<network key>/network.json            the network's identity, for people (written once)
    <root>/<network key>/<h[:2]>/<h>.npz          features (float64), key, conversions

The network key is a sha256 of the network's identity (:func:`vbench_i2v.metrics.plan.network_identity`:
catalog name or probe name, weights sha256 and any further weight files, the input contract's
fields, the precision fp32/tf32/bf16, and the device type when it is not the CPU); ``h`` is the
sha256 of the clip's uint8 bytes and shape. Every entry also stores its full key (the identity and
the clip hash) and the conversions the contract applied to the clip, and an entry is used only when
its stored key equals the key asked for, so features made under another contract, other weights,
another precision or on another device type (CPU features for a CUDA run, or the reverse) are never
reused, even if a file were moved into the wrong folder. (A CPU identity has no device entry, so
stores written before the device was recorded, all on the CPU, keep serving CPU runs.) An
unreadable or mismatched entry is recomputed and replaced.

Entries are written through :mod:`vbench_i2v.files` (a temp file beside the entry, then
``os.replace``), so a reader never sees half an entry and any number of processes may write one
store at once: two writers of the same entry write the same bytes and the last rename wins.

Networks without a weights sha256 (a test's injected object) have no stable identity and are never
stored. Used by ``vbench run`` (``<out>/_features/``), ``vbench metrics --cache DIR``,
``vbench features --cache DIR`` and ``vbench sanity`` (a store in a temp folder, or ``--cache DIR``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path

import numpy as np

FORMAT = "vbench-feature-store/1"
log = logging.getLogger(__name__)


def clip_hash(video: np.ndarray) -> str:
    """sha256 of a clip's content: its uint8 bytes and its shape."""
    v = np.ascontiguousarray(video)
    h = hashlib.sha256(f"{v.dtype.str}{tuple(v.shape)}".encode())
    h.update(memoryview(v).cast("B"))
    return h.hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


class NetworkStore:
    """The entries of one network (one identity) in a :class:`FeatureStore`."""

    def __init__(self, store: "FeatureStore", identity: dict):
        self.store = store
        self.identity = identity
        self.key = hashlib.sha256(_canonical({"format": FORMAT, "network": identity}).encode()).hexdigest()[:24]
        self.folder = store.root / self.key
        self._described = False

    def _entry_key(self, h: str) -> str:
        return _canonical({"format": FORMAT, "network": self.identity, "clip": h})

    def path(self, h: str) -> Path:
        return self.folder / h[:2] / f"{h}.npz"

    def get(self, h: str) -> tuple[np.ndarray, list[str]] | None:
        """``(features, conversions)`` of clip ``h``, or None (absent, unreadable or another key)."""
        path = self.path(h)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                key, feats, conv = str(z["key"]), np.asarray(z["features"], np.float64), json.loads(str(z["conversions"]))
        except Exception as exc:  # a damaged entry is recomputed, never trusted
            log.warning("%s: unreadable feature-store entry (%s: %s); recomputing it", path, type(exc).__name__, exc)
            return None
        if key != self._entry_key(h) or feats.ndim != 1 or not np.isfinite(feats).all():
            return None
        self.store.hits += 1
        return feats, list(conv)

    def put(self, h: str, features: np.ndarray, conversions: list[str]) -> None:
        from vbench_i2v.files import atomic_write_bytes, atomic_write_json

        if not self._described:
            if not (self.folder / "network.json").exists():
                atomic_write_json(self.folder / "network.json", {"format": FORMAT, "network": self.identity})
            self._described = True
        buf = io.BytesIO()
        np.savez(buf, features=np.asarray(features, np.float64), key=np.array(self._entry_key(h)),
                 conversions=np.array(_canonical(list(conversions))))
        atomic_write_bytes(self.path(h), buf.getvalue())
        self.store.written += 1


class FeatureStore:
    """A folder of per-clip features keyed by network identity and clip content (see the module)."""

    def __init__(self, root):
        self.root = Path(root)
        self.hits = 0  # entries served from disk by this object
        self.written = 0  # entries computed and written by this object

    def network(self, identity: dict) -> NetworkStore | None:
        """The entries of the network with this identity; None when it has no stable identity."""
        if not identity.get("weights_sha256"):
            return None
        return NetworkStore(self, identity)


def open_store(store) -> FeatureStore | None:
    """``None``, a folder path or a :class:`FeatureStore` -> a store (or None)."""
    if store is None or isinstance(store, FeatureStore):
        return store
    return FeatureStore(store)
