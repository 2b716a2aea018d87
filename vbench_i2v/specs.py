"""Plain data that describes the scoring networks: their weight files and what input they take.

These declarations are read by the CLI (choices, ``--help``, ``vbench weights list``), by the
protocol fingerprint and by the extractors' preprocessing, so they live in a module that imports
nothing heavy (no torch, no numpy): ``vbench --help`` stays instant and there is one copy of every
recipe. timm's "pretrained cfg" is the model: the weights, their hash and the preprocessing travel
together as one entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class WeightSpec:
    """A weight file: where it comes from, its sha256 (None: recorded at first import), its loader."""

    name: str
    file_name: str
    description: str
    loader: str  # "module:function" taking the file path, used to validate imports and to load
    urls: tuple[str, ...] = ()
    source_page: str | None = None  # where a user downloads it by hand when there is no direct URL
    size: int | None = None
    sha256: str | None = None
    packaged: str | None = None  # path inside the installed package for shipped weights
    used_by: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class InputContract:
    """What a network takes, as data: it is written into provenance and the protocol fingerprint,
    and the extractor's preprocessing reads its numbers from here.

    ``sampling``: ``central`` (``frames`` frames starting at ``T//2 - frames//2``), ``first``
    (the first ``frames``), ``every-2nd`` (``frames`` frames at step 2 from the start), ``all``
    (every frame; ``frames`` is then the minimum) or ``per-frame`` (frames scored one by one).
    ``value_range`` is what the pixels are mapped to before ``mean``/``std``. ``max_aspect`` is the
    largest width/height (or height/width) ratio accepted without an explicit conversion.
    """

    frames: int | None
    sampling: str
    size: tuple[int, int] | None
    resize: str
    value_range: tuple[float, float]
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    min_frames: int = 1
    max_aspect: float = 2.0
    crop: str = "none"
    native_frames: int | None = None  # clips of another length are resampled to it first (a conversion)
    note: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in ("size", "value_range", "mean", "std"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    def check_clip(self, shape, what: str) -> None:
        """Refuse a clip this network cannot take as it is (one line naming the clip and the need)."""
        from vbench_i2v.errors import InputError

        t, h, w = int(shape[0]), int(shape[1]), int(shape[2])
        need = max(self.min_frames, self.frames or 0) if self.sampling != "per-frame" else 1
        if t < need:
            raise InputError(f"{what}: {t} frames, but this extractor needs at least {need} "
                             f"({self.sampling} sampling)")
        aspect = max(h, w) / max(1, min(h, w))
        if aspect > self.max_aspect:
            raise InputError(f"{what}: {w}x{h} frames have aspect ratio {aspect:.2f}, above the "
                             f"{self.max_aspect:g} this extractor accepts without a stated conversion "
                             "(crop or pad the videos first)")


@dataclass(frozen=True)
class ExtractorSpec:
    """A registered scoring network: a timm-style pretrained entry.

    ``family``: ``video`` (``features(videos) -> N x dim``, for set-level metrics) or ``identity``
    (``embed(frames) -> (N x dim, fallbacks)``, for ACD). ``build`` is ``"module:Class"``; the class
    is constructed as ``Class(weights_path, device=..., batch_size=...)``.
    """

    name: str
    family: str
    build: str
    weights: WeightSpec
    dim: int
    contract: InputContract
    description: str
    batch_size_cpu: int = 8
    comparable_with_published: bool = False  # True only for the networks published numbers use
    extra_weights: tuple[WeightSpec, ...] = ()  # further files the network needs (e.g. a pooler)
    build_kwargs: tuple[tuple[str, object], ...] = ()  # fixed constructor arguments (e.g. an FVD route)
    seconds_per_clip_cpu: float | None = None  # measured on one core; announced before long CPU jobs

    def provenance(self) -> dict:
        return {"name": self.name, "family": self.family, "dim": self.dim,
                "weights": self.weights.name, "contract": self.contract.as_dict()}
