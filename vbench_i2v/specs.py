"""Plain data that describes the scoring networks: their weight files and what input they take.

These declarations are read by the CLI (choices, ``--help``, ``vbench weights list``), by the
metrics' measurement ids and the feature store's keys, and by ``vbench_i2v/preprocess.py``, which
builds every network's input from its :class:`InputContract` (timm's ``resolve_data_config ->
create_transform``). They live in a module that imports nothing heavy (no torch, no numpy):
``vbench --help`` stays instant and there is one copy of every recipe. timm's "pretrained cfg" is
the model: the weights, their hash and the preprocessing travel together as one entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


@dataclass(frozen=True)
class WeightSpec:
    """A weight file: where it comes from, its sha256 (None: recorded at first import), its loader.

    Which metrics use it is not declared here: ``catalog.metrics_using(name)`` derives it from the
    metric registry (each metric's network or model family)."""

    name: str
    file_name: str
    description: str
    loader: str  # "module:function" taking the file path, used to validate imports and to load
    urls: tuple[str, ...] = ()
    source_page: str | None = None  # where a user downloads it by hand when there is no direct URL
    size: int | None = None
    sha256: str | None = None
    packaged: str | None = None  # path inside the installed package for shipped weights
    # A file that another Python package ships (installed by a vbench-i2v extra), found without
    # importing that package: ``in_package`` is "import_name/path/inside/it", ``requirement`` the
    # pinned package whose file ``sha256`` is, ``extra`` the vbench-i2v extra that installs it.
    in_package: str | None = None
    requirement: str | None = None
    extra: str | None = None


class _Choice(str, Enum):
    """A string enum: compares, hashes and serialises (JSON) as its value, so a contract written
    with it is the same text as one written with the plain string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def parse(cls, value, what: str):
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"InputContract: {what} {value!r} is not one of "
                             f"{', '.join(repr(m.value) for m in cls)}") from None


class Resize(_Choice):
    """How frames are resampled: a kernel of ``F.interpolate`` (``align_corners=False``) and whether
    torch's antialias filter is on (the PIL-like filter, widened when shrinking).

    ``..., antialiased when shrinking``: the antialias filter only when a side shrinks; when every
    side grows PIL's filter is the plain kernel, and the plain call is used (about 3x faster; not
    bit-equal to ``antialias=True``, so it is a value of its own). ``none``: frames at their own size.
    """

    NONE = "none"
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BILINEAR_AA = "bilinear, antialiased"
    BILINEAR_AA_SHRINKING = "bilinear, antialiased when shrinking"
    BICUBIC = "bicubic"
    BICUBIC_AA = "bicubic, antialiased"
    AREA = "area"

    @property
    def kernel(self) -> str | None:
        """``F.interpolate``'s ``mode`` (None: no resampling)."""
        return None if self is Resize.NONE else self.value.split(",")[0]

    @property
    def antialias(self) -> str:
        """``off``, ``on`` or ``when shrinking``."""
        return "when shrinking" if self.value.endswith("when shrinking") else \
            "on" if self.value.endswith("antialiased") else "off"

    def antialias_for(self, shrinking: bool) -> bool:
        """The ``antialias`` argument of one resampling call."""
        return self.antialias == "on" or (self.antialias == "when shrinking" and shrinking)

    @classmethod
    def of(cls, kernel: str, antialias: bool) -> "Resize":
        """The value for a kernel name and an antialias switch (``FrameRecipe``)."""
        return cls.parse(f"{kernel}, antialiased" if antialias else kernel, "resize")


class Fit(_Choice):
    """How a frame's size becomes the network's: ``stretch`` both sides to ``size`` (aspect ratio not
    kept); ``shorter-side``: torchvision's ``Resize(short_side)`` (longer side
    ``int(short_side * long / short)``), then for ``crop="centre"`` its ``CenterCrop(size)`` (offsets
    ``int(round((H - h) / 2))``); ``shorter-side-ceil``: VideoGPT's (longer side
    ``ceil(long * short_side / short)``, crop offsets ``(H - h) // 2``)."""

    STRETCH = "stretch"
    SHORTER_SIDE = "shorter-side"
    SHORTER_SIDE_CEIL = "shorter-side-ceil"


class Crop(_Choice):
    """``none``; ``centre`` (after a shorter-side fit); ``face``: the network's face detector picks
    the box (its settings in ``InputContract.face``) and the whole frame, through the rest of the
    contract, stands in where no face is found."""

    NONE = "none"
    CENTRE = "centre"
    FACE = "face"


class Pixels(_Choice):
    """What is resampled: ``scaled`` float values already mapped to ``value_range``; ``float`` float
    0..255 pixels (mapped after resampling; bicubic overshoot not clamped); ``rounded`` float 0..255
    pixels rounded and clamped to 0..255 after resampling (an 8-bit image, as a PIL recipe feeds);
    ``pil-uint8`` each frame resized by PIL as an 8-bit image."""

    SCALED = "scaled"
    FLOAT = "float"
    ROUNDED = "rounded"
    PIL_UINT8 = "pil-uint8"


SAMPLINGS = ("central", "first", "every-2nd", "all", "per-frame")

# Fields added after contracts were first recorded in results (schema 2): written by ``as_dict``
# only when they differ from these defaults, so a contract recorded before them serialises, and
# hashes into its metrics' measurement ids, exactly as it did.
_ADDED_FIELD_DEFAULTS = {"fit": Fit.STRETCH, "short_side": None, "pixels": Pixels.SCALED, "face": ()}


@dataclass(frozen=True)
class InputContract:
    """What a network takes, as data the preprocessing consumes (``vbench_i2v/preprocess.py``
    builds every network's input from it); it is written into provenance and measurement ids.

    ``sampling``: ``central`` (``frames`` frames starting at ``T//2 - frames//2``), ``first``
    (the first ``frames``), ``every-2nd`` (``frames`` frames at step 2 from the start), ``all``
    (every frame; ``frames`` is then the minimum) or ``per-frame`` (frames scored one by one).
    ``native_frames``: a clip of another length is first resampled (nearest,
    ``round(linspace(0, T-1, native_frames))``) to it. Per frame: ``pixels`` says what is resampled,
    ``fit``/``short_side``/``crop``/``size`` the geometry, ``resize`` the kernel; the values are mapped
    from 0..255 to ``value_range`` (``x / (255 / (hi - lo)) + lo``), then ``(x - mean) / std``.
    ``max_aspect`` is the largest width/height (or height/width) ratio accepted without an explicit
    conversion. ``face``: a face detector's settings (``crop="face"``) as ``(name, value)`` pairs.
    ``note`` is prose for people; it is never part of a measurement's identity.
    """

    frames: int | None
    sampling: str
    size: tuple[int, int] | None
    resize: Resize
    value_range: tuple[float, float]
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    min_frames: int = 1
    max_aspect: float = 2.0
    crop: Crop = Crop.NONE
    native_frames: int | None = None  # clips of another length are resampled to it first (a conversion)
    note: str = ""
    fit: Fit = Fit.STRETCH
    short_side: int | None = None  # shorter-side fits: the shorter side's target (None: size[0])
    pixels: Pixels = Pixels.SCALED
    face: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: normalise the given strings to their enum values once
        set_(self, "resize", Resize.parse(self.resize, "resize"))
        set_(self, "fit", Fit.parse(self.fit, "fit"))
        set_(self, "crop", Crop.parse(self.crop, "crop"))
        set_(self, "pixels", Pixels.parse(self.pixels, "pixels"))
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"InputContract: sampling {self.sampling!r} is not one of {SAMPLINGS}")
        if self.resize is Resize.NONE and self.size is not None:
            raise ValueError("InputContract: resize 'none' keeps each frame's size (size must be None)")
        if self.resize is not Resize.NONE and self.fit is Fit.STRETCH and self.size is None:
            raise ValueError("InputContract: a stretch needs a size")
        if self.fit is not Fit.STRETCH and self.short_side is None and self.size is None:
            raise ValueError("InputContract: a shorter-side fit needs short_side or size")
        if self.crop is Crop.CENTRE and (self.fit is Fit.STRETCH or self.size is None):
            raise ValueError("InputContract: a centre crop follows a shorter-side fit and needs a size")
        if self.fit is not Fit.STRETCH and self.crop is Crop.NONE and self.size is not None:
            raise ValueError("InputContract: a shorter-side fit without a crop keeps the aspect ratio (size None)")
        if (self.crop is Crop.FACE) != bool(self.face):
            raise ValueError("InputContract: a face crop and its detector settings (face) go together")
        if self.pixels is Pixels.PIL_UINT8 and self.resize.antialias != "on":
            raise ValueError("InputContract: PIL resampling is always antialiased (an antialiased resize)")

    @property
    def face_settings(self) -> dict:
        return dict(self.face)

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in ("size", "value_range", "mean", "std"):
            if d[k] is not None:
                d[k] = list(d[k])
        for k, default in _ADDED_FIELD_DEFAULTS.items():
            if d[k] == default:
                del d[k]
        if "face" in d:
            d["face"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.face}
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
        """The recipe as the input contract that provenance and measurement ids record: every number
        of the recipe is a field there (``preprocess.frames_input(frames, recipe.contract())`` gives
        what ``image_vit.preprocess_frames(frames, recipe)`` does)."""
        return InputContract(
            frames=None, sampling="per-frame", size=(self.crop, self.crop) if self.crop else None,
            resize=Resize.of(self.kernel, self.antialias), value_range=(0.0, 1.0), mean=tuple(self.mean),
            std=tuple(self.std), max_aspect=self.max_aspect, crop=Crop.CENTRE if self.crop else Crop.NONE,
            fit=Fit.SHORTER_SIDE, short_side=self.short_side, pixels=Pixels(self.pixels), note=self.source)


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

    ``networks``: the catalog networks (or weight files) the builder loads by name, the first its
    default; ``choices``: the catalog family (``identity``) whose every entry the plan may pick
    instead (``--identity``). ``catalog.metrics_using`` reads both (``vbench weights list``).
    """

    name: str
    build: str
    description: str
    networks: tuple[str, ...] = ()
    choices: str | None = None
