"""The FVD routes' input contracts for the I3D network, as data (no torch: the catalog reads them).

Each route is an :class:`~vbench_i2v.specs.InputContract` (how uint8 ``T x H x W x 3`` clips become
network input; ``vbench_i2v/preprocess.py`` builds the input from it, ``catalog.py`` registers it as
the entry's contract) plus the facts of its published statistic (:class:`I3DRoute`). Where each fact
was verified: docs/fvd.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from vbench_i2v.specs import Crop, Fit, InputContract, Resize

MIN_FRAMES = 9  # the (2, 7, 7) VALID average pool needs >= 2 time steps after three stride-2 stages
SIDE = 224


@dataclass(frozen=True)
class I3DRoute:
    """One FVD route: its input contract and how its reference code computes the statistic."""

    route: str
    contract: InputContract
    covariance: str  # how the route's reference code estimates the covariance
    n_videos: int | None  # sample size of the route's reported number
    source: str


def _route(route: str, contract: dict, covariance: str, n_videos: int | None, source: str) -> I3DRoute:
    note = f"covariance {covariance}; reference N {n_videos or 'not fixed'}; source {source}"
    return I3DRoute(route, InputContract(**contract, note=note), covariance, n_videos, source)


ROUTES = {
    # VideoGPT: every frame, /255, shorter side to 224 (longer side ceil), centre crop (floor offsets),
    # to [-1, 1]; bilinear, no antialias, on the scaled values
    "fvd": _route("fvd", dict(
        frames=MIN_FRAMES, sampling="all", size=(SIDE, SIDE), resize=Resize.BILINEAR, fit=Fit.SHORTER_SIDE_CEIL,
        crop=Crop.CENTRE, value_range=(-1.0, 1.0), min_frames=MIN_FRAMES, max_aspect=4.0),
        covariance="unbiased (N-1)", n_videos=None,
        source="wilson1yan/VideoGPT videogpt/data.py preprocess + videogpt/fvd/fvd.py"),
    # stylegan-v fvd2048_16f: the first 16 frames stretched to 224x224 (bilinear, no antialias) in [-1, 1]
    "fvd-styleganv": _route("fvd-styleganv", dict(
        frames=16, sampling="first", size=(SIDE, SIDE), resize=Resize.BILINEAR, value_range=(-1.0, 1.0),
        min_frames=16, max_aspect=2.0),
        covariance="biased (1/N)", n_videos=2048,
        source="universome/stylegan-v src/metrics/frechet_video_distance.py, metric_utils.py, metric_main.py"),
}
CONTRACTS: dict[str, InputContract] = {name: r.contract for name, r in ROUTES.items()}
