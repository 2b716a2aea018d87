"""Small stand-in networks for the torchrun tests, and a `vbench` entry point that uses them.

``torchrun ... tests/dist_fakes.py metrics ... --then features ...`` runs the real CLI commands in
every rank (one launch, to keep the tests fast) with the feature extractor and identity embedder
replaced, so FID/KID/ACD sharding is tested without weight files.
``--fake-nets probe`` uses the synthetic probe's architecture with deterministic untrained weights
(a real torch network, batched float32); ``--fake-nets moments`` a 6-d numpy moment extractor.
"""

from __future__ import annotations

import sys

import numpy as np


class MomentsExtractor:
    """Per-channel mean and std of the video (6-d): FID well defined with a dozen videos."""

    name = "resnext101-kinetics"
    weights_name = "resnext101-kinetics"
    dim = 6
    batch_size = 4  # small, so ranks batch differently from one process
    weights_sha256 = "f" * 64

    def features(self, videos):
        v = np.asarray(videos, np.float64)
        return np.concatenate([v.mean(axis=(1, 2, 3)), v.std(axis=(1, 2, 3))], axis=1)


class MeanColourEmbedder:
    name = "facenet-vggface2"
    weights_name = "facenet-vggface2"
    weights_sha256 = "e" * 64

    def embed(self, frames):
        f = np.asarray(frames, np.float64)
        return f.mean(axis=(1, 2)) / 255.0, int(f.shape[0] % 3 == 0)  # some "fallbacks" to count


def probe_extractor(batch_size: int = 3):
    """The synthetic probe's video branch with seeded untrained weights, no weight file."""
    from vbench_i2v.feature_extractors.synthetic_probe import ProbeVideoExtractor, build_probe

    ex = ProbeVideoExtractor.__new__(ProbeVideoExtractor)
    import torch

    ex.device, ex.model, ex.batch_size = torch.device("cpu"), build_probe(seed=0).eval(), batch_size
    ex.dim, ex.weights_sha256 = ex.model.config["feature_dim"], "a" * 64
    ex.name = "resnext101-kinetics"
    return ex


def install(kind: str) -> None:
    """Replace the registry builders (the engine looks them up at call time)."""
    import vbench_i2v.feature_extractors as fx

    fx.build_video_extractor = (lambda name, **kw: MomentsExtractor()) if kind == "moments" else \
        (lambda name, **kw: probe_extractor())
    fx.build_identity_embedder = lambda name, **kw: MeanColourEmbedder()


def main(argv: list[str]) -> None:
    """Run one or more `vbench` commands separated by ``--then``; each may start with
    ``--fake-nets moments|probe`` (default: moments) to pick the stand-in networks."""
    from vbench_i2v.cli import main as vbench

    commands: list[list[str]] = [[]]
    for a in argv:
        if a == "--then":
            commands.append([])
        else:
            commands[-1].append(a)
    for args in commands:
        if args[:1] == ["--fake-nets"]:
            install(args[1])
            args = args[2:]
        vbench(args=args, prog_name="vbench", standalone_mode=False)


if __name__ == "__main__":
    install("moments")
    main(sys.argv[1:])
