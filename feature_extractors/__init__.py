"""Networks used only for scoring (3D ResNeXt-101, face identity, the synthetic probe).

Two small registries, name -> "module:Class", each entry naming the weights it needs (see
``vbench_i2v.weights``). Every video feature extractor has ``name``, ``weights_name``, ``dim`` and
``features(videos uint8 B x T x H x W x 3) -> float64 B x D``; every identity embedder has
``name``, ``weights_name`` and ``embed(frames uint8 N x H x W x 3) -> (N x D float64, fallbacks)``.
"""

from __future__ import annotations

import importlib

VIDEO_EXTRACTORS = {
    "resnext101-kinetics": "vbench_i2v.feature_extractors.resnext3d:ResNeXtFIDExtractor",
    "synthetic-probe": "vbench_i2v.feature_extractors.synthetic_probe:ProbeVideoExtractor",
}
IDENTITY_EMBEDDERS = {
    "facenet-vggface2": "vbench_i2v.feature_extractors.face_identity:FaceEmbedder",
    "synthetic-probe": "vbench_i2v.feature_extractors.synthetic_probe:ProbeIdentityEmbedder",
}
# The weights each entry needs (same name in vbench_i2v.weights).
WEIGHTS_FOR = {"resnext101-kinetics": "resnext101-kinetics", "facenet-vggface2": "facenet-vggface2",
               "synthetic-probe": "synthetic-probe"}


def _build(table: dict[str, str], kind: str, name: str, **kwargs):
    from vbench_i2v import weights
    from vbench_i2v.errors import VBenchError

    if name not in table:
        raise VBenchError(f"unknown {kind} {name!r} (known: {', '.join(sorted(table))})")
    wf = weights.require(WEIGHTS_FOR[name])
    mod, cls = table[name].split(":")
    obj = getattr(importlib.import_module(mod), cls)(wf.path, **kwargs)
    obj.weights_sha256 = wf.sha256
    return obj


def build_video_extractor(name: str, **kwargs):
    """The named video feature extractor with verified weights (``weights_sha256`` set)."""
    return _build(VIDEO_EXTRACTORS, "feature extractor", name, **kwargs)


def build_identity_embedder(name: str, **kwargs):
    """The named per-frame identity embedder with verified weights (``weights_sha256`` set)."""
    return _build(IDENTITY_EMBEDDERS, "identity embedder", name, **kwargs)
