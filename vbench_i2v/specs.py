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
    # A file that another Python package ships (installed by a vbench-i2v extra), found without
    # importing that package: ``in_package`` is "import_name/path/inside/it", ``requirement`` the
    # pinned package whose file ``sha256`` is, ``extra`` the vbench-i2v extra that installs it.
    in_package: str | None = None
    requirement: str | None = None
    extra: str | None = None


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


FRAME_KERNELS = ("bicubic", "bilinear")
FRAME_PIXELS = ("float", "pil-uint8")


@dataclass(frozen=True)
class FrameRecipe:
    """How a per-frame image network's input is made from one uint8 ``H x W x 3`` frame, as the
    numbers the code consumes (torchvision's ``Resize(int)`` then ``CenterCrop`` semantics).

    The shorter side goes to ``short_side`` and the longer to ``int(short_side * long / short)``
    (unchanged sizes are not resampled); ``kernel`` is ``F.interpolate``'s mode with
    ``align_corners=False`` (bicubic a = -0.75; with ``antialias`` torch's PIL-like filter, a = -0.5,
    widened when shrinking); ``crop`` a centre square (offsets ``int(round((H - crop) / 2))``) or
    None (the network takes the frame's aspect ratio). ``pixels``: ``float`` resizes float32
    0..255 frames without rounding or clamping (VBench's decoded tensors); ``pil-uint8`` resizes
    each frame as an 8-bit PIL image (always area-aware, rounded), as VBench-I2V treats the
    conditioning image. Then ``/ 255`` and ``(x - mean) / std``.
    """

    short_side: int
    kernel: str
    antialias: bool
    crop: int | None
    pixels: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    max_aspect: float = 4.0
    source: str = ""

    def __post_init__(self):
        if self.kernel not in FRAME_KERNELS or self.pixels not in FRAME_PIXELS:
            raise ValueError(f"FrameRecipe: kernel one of {FRAME_KERNELS}, pixels one of {FRAME_PIXELS}")
        if self.pixels == "pil-uint8" and not self.antialias:
            raise ValueError("FrameRecipe: PIL resampling is always antialiased (antialias=True)")
        if self.crop is not None and not 0 < self.crop <= self.short_side:
            raise ValueError("FrameRecipe: the crop must fit inside the resized shorter side")

    def contract(self) -> InputContract:
        """The recipe as the input contract that provenance and fingerprints record."""
        pix = ("float 0..255 pixels, not rounded or clamped" if self.pixels == "float"
               else "PIL on the 8-bit image, rounded to 0..255")
        text = (f"shorter side to {self.short_side} (longer side int({self.short_side}*long/short)), "
                f"{self.kernel} (align_corners=False), antialias {'on' if self.antialias else 'off'}, {pix}")
        return InputContract(
            frames=None, sampling="per-frame", size=(self.crop, self.crop) if self.crop else None,
            resize=text, value_range=(0.0, 1.0), mean=tuple(self.mean), std=tuple(self.std),
            max_aspect=self.max_aspect, crop="centre" if self.crop else "none", note=self.source)


@dataclass(frozen=True)
class ExtractorSpec:
    """A registered scoring network: a timm-style pretrained entry.

    ``family``: ``video`` (``features(videos) -> N x dim``, for set-level metrics) or ``identity``
    (``embed(frames) -> (N x dim, fallbacks)``, for ACD) or ``image`` (``embed_frames(frames, use)
    -> N x dim`` under the named use's ``FrameRecipe``, for VBench's dimensions). ``build`` is
    ``"module:Class"``; the class is constructed as ``Class(weights_path, device=..., batch_size=...)``.
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
    # per-frame image networks (family "image"): each metric use's preprocessing, by name; ``contract``
    # is the first use's (``FrameRecipe.contract()``)
    uses: tuple[tuple[str, FrameRecipe], ...] = ()

    def provenance(self) -> dict:
        return {"name": self.name, "family": self.family, "dim": self.dim,
                "weights": self.weights.name, "contract": self.contract.as_dict()}


@dataclass(frozen=True)
class ModelFamily:
    """A family of per-video scoring models that metrics ask for by name (``MetricSpec.needs_model``).

    ``build`` is ``"module:function"``, called once per scoring call as
    ``function(extractor, identity, device, ctx) -> model`` (the plan's ``extractor`` and
    ``identity`` choices, the device, the metrics' Context); the model has ``name`` and
    ``weights_sha256`` and, where it has one, ``contract`` or ``spec.contract``.
    """

    name: str
    build: str
    description: str
