"""The FVD routes' input contracts for the I3D network, as data (no torch: the catalog reads them).

Each route says how uint8 ``T x H x W x 3`` clips become network input; ``feature_extractors/i3d.py``
preprocesses from these numbers and ``catalog.py`` writes them into provenance and fingerprints.
Where each fact was verified: docs/fvd.md.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_FRAMES = 9  # the (2, 7, 7) VALID average pool needs >= 2 time steps after three stride-2 stages


@dataclass(frozen=True)
class I3DInputContract:
    """How one FVD route turns uint8 ``T x H x W x 3`` clips into network input (data, not code)."""

    route: str
    side: int  # network input is side x side
    resize: str  # "short-side-then-center-crop" or "stretch"
    interpolation: str  # F.interpolate mode, align_corners=False, antialias=False
    scale_before_resize: bool  # map to the value range before (True) or after resizing
    value_scale: float  # x * value_scale + value_offset maps 0..255 to [-1, 1]
    value_offset: float
    frames: int | None  # None: every frame of the clip; k: the first k consecutive frames
    min_frames: int
    covariance: str  # how the route's reference code estimates the covariance
    n_videos: int | None  # sample size of the route's reported number
    source: str


CONTRACTS = {
    "fvd": I3DInputContract(
        route="fvd", side=224, resize="short-side-then-center-crop", interpolation="bilinear",
        scale_before_resize=True, value_scale=2.0 / 255.0, value_offset=-1.0, frames=None,
        min_frames=MIN_FRAMES, covariance="unbiased (N-1)", n_videos=None,
        source="wilson1yan/VideoGPT videogpt/data.py preprocess + videogpt/fvd/fvd.py"),
    "fvd-styleganv": I3DInputContract(
        route="fvd-styleganv", side=224, resize="stretch", interpolation="bilinear",
        scale_before_resize=True, value_scale=2.0 / 255.0, value_offset=-1.0, frames=16,
        min_frames=16, covariance="biased (1/N)", n_videos=2048,
        source="universome/stylegan-v src/metrics/frechet_video_distance.py, metric_utils.py, metric_main.py"),
}
