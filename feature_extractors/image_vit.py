"""Per-frame image networks of VBench's dimensions: frames in, one feature vector per frame out.

The networks (``dino_vit.py``: DINO ViT-B/16; ``clip_vit.py``: OpenAI CLIP ViT-B/32 and ViT-L/14
image towers and the LAION aesthetic head) are catalogued in ``vbench_i2v/catalog.py`` as family
``image``. One network serves several metric *uses*, and each use has its own preprocessing, a
:class:`~vbench_i2v.specs.FrameRecipe` declared on the catalog entry (e.g. DINO's
``i2v-subject-frames``, ``i2v-subject-image`` and ``subject-consistency``). This module turns a
recipe into network input and holds what every such network shares:

* :func:`preprocess_frames`: uint8 ``N x H x W x 3`` -> float32 ``N x 3 x h x w``, normalised, as
  torchvision's ``Resize(int)`` + ``CenterCrop`` + ``/255`` + ``Normalize`` would on VBench's float
  frames (or, for ``pil-uint8`` recipes, as PIL resizes an 8-bit image): the recipe's contract
  (``FrameRecipe.contract()``) built by ``vbench_i2v/preprocess.py``, on the network's device;
* :class:`ImageEmbedder`: ``embed_frames(frames, use) -> N x dim`` (float64), batching frames
  through the network in fp32 on its device;
* :func:`build_image_network`: a catalogued network by name with its weights verified (sha256).
"""

from __future__ import annotations

import numpy as np
import torch

from vbench_i2v import preprocess as P
from vbench_i2v.errors import InputError
from vbench_i2v.specs import Crop, ExtractorSpec, Fit, FrameRecipe, InputContract, Resize


def _shorter_side(short_side: int, crop: int | None = None) -> InputContract:
    """The contract of a ``Resize(short_side)`` (+ ``CenterCrop(crop)``) recipe: its geometry alone."""
    return InputContract(frames=None, sampling="per-frame", size=(crop, crop) if crop else None,
                         resize=Resize.BILINEAR, value_range=(0.0, 1.0), fit=Fit.SHORTER_SIDE,
                         short_side=short_side, crop=Crop.CENTRE if crop else Crop.NONE)


def resized_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """torchvision's ``Resize(int)`` output ``(h, w)``: shorter side to ``short_side``, longer side
    ``int(short_side * long / short)`` (truncated); ``preprocess.resized_size`` of the recipe's contract."""
    return P.resized_size(height, width, _shorter_side(short_side))


def centre_crop_offsets(height: int, width: int, crop: int) -> tuple[int, int]:
    """``(top, left)`` of torchvision's ``CenterCrop``: ``int(round((H - crop) / 2))`` (round half to
    even); ``preprocess.crop_offsets`` of the recipe's contract."""
    return P.crop_offsets(height, width, _shorter_side(crop, crop))


def check_frames(frames, what: str = "frames"):
    """uint8 ``N x H x W x 3`` frames as given (numpy or torch), or one InputError line."""
    shape = tuple(frames.shape) if hasattr(frames, "shape") else None
    dtype = getattr(frames, "dtype", None)
    if shape is None or len(shape) != 4 or shape[-1] != 3:
        raise InputError(f"{what}: expected uint8 frames N x H x W x 3, got shape {shape}")
    if dtype not in (np.uint8, torch.uint8):
        raise InputError(f"{what}: expected uint8 frames N x H x W x 3, got dtype {dtype}")
    if shape[1] < 1 or shape[2] < 1:
        raise InputError(f"{what}: frames of {shape[2]}x{shape[1]} pixels are empty")
    return frames


def preprocess_frames(frames, recipe: FrameRecipe, device="cpu") -> torch.Tensor:
    """uint8 ``N x H x W x 3`` -> float32 ``N x 3 x h x w`` on ``device``, normalised by ``recipe``:
    ``preprocess.frames_input(frames, recipe.contract(), device=device)`` (the one implementation of
    every input recipe; on CUDA the frames are resized there).

    ``float`` recipes resize float32 frames holding 0..255 with ``F.interpolate`` (``align_corners=False``,
    the recipe's kernel and antialias; no rounding, no clamping of bicubic overshoot); ``pil-uint8``
    recipes resize each frame with PIL as an 8-bit image. A frame already at the target size is not
    resampled (as torchvision). Then the centre crop, ``/ 255`` and ``(x - mean) / std``.
    """
    check_frames(frames)
    return P.frames_input(frames, recipe.contract(), "image network frames", device=device)


class ImageEmbedder:
    """A per-frame image network with its catalog entry's uses (subclasses set the network up).

    ``spec`` is the catalog entry (set again by the registry when built by name), ``name`` its
    name, ``weights_sha256`` the verified weight file's hash (None when built from a model object),
    ``precision`` what it computes in (always ``fp32``). Subclasses implement ``_forward(x)``:
    float32 ``B x 3 x h x w`` on ``self.device`` -> ``B x dim``.
    """

    precision = "fp32"
    spec: ExtractorSpec

    def _setup_device(self, device, batch_size) -> None:
        from vbench_i2v.devices import resolve_device

        self.device = resolve_device(device)
        self.batch_size = max(1, int(batch_size or self.spec.batch_size_cpu))
        self.name = self.spec.name
        self.weights_sha256 = getattr(self, "weights_sha256", None)
        self.extra_weights_sha256 = getattr(self, "extra_weights_sha256", {})

    @property
    def uses(self) -> dict[str, FrameRecipe]:
        return dict(self.spec.uses)

    @property
    def contract(self) -> InputContract:
        """The first use's contract (what a caller that names no use gets)."""
        return self.spec.contract

    def recipe(self, use: str | None = None) -> FrameRecipe:
        uses = self.uses
        if use is None:
            return next(iter(uses.values()))
        if use not in uses:
            raise InputError(f"{self.name}: no use {use!r} (declared: {', '.join(uses)})")
        return uses[use]

    def contract_for(self, use: str | None = None) -> InputContract:
        return self.recipe(use).contract()

    def provenance(self) -> dict:
        """Network, weights, precision and every use's contract, for results."""
        return {"name": self.name, "weights_sha256": self.weights_sha256,
                "extra_weights_sha256": dict(self.extra_weights_sha256), "precision": self.precision,
                "uses": {u: r.contract().as_dict() for u, r in self.uses.items()}}

    def for_uses(self, *uses: str) -> "UsesView":
        """This network seen by one metric: ``contract`` is the first named use's, ``embed_frames``
        defaults to it and refuses the others; the loaded network is shared, not copied."""
        return UsesView(self, uses)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def embed_frames(self, frames, use: str | None = None) -> np.ndarray:
        """uint8 ``N x H x W x 3`` frames (numpy or torch) -> float64 ``N x dim``, under ``use``'s recipe.

        Frames go through the network ``batch_size`` at a time (one frame per forward in VBench:
        the same values up to float rounding). ``N = 0`` gives a ``0 x dim`` array.
        """
        recipe = self.recipe(use)
        check_frames(frames, f"{self.name} input")
        n, h, w, _ = frames.shape
        if n == 0:
            return np.zeros((0, self.dim))
        recipe.contract().check_clip((n, h, w), f"{self.name} frames")
        out = []
        for i in range(0, n, self.batch_size):
            x = preprocess_frames(frames[i: i + self.batch_size], recipe, self.device)
            out.append(self._forward(x).double().cpu().numpy())
        return np.concatenate(out)


class UsesView:
    """An :class:`ImageEmbedder` restricted to some of its uses (what one metric records and calls).

    ``name``, ``spec``, ``weights_sha256``, ``extra_weights_sha256``, ``precision`` and ``dim`` are
    the network's; ``contract`` is the first use's (so a measurement identity built from it names
    the preprocessing this metric applies), ``contracts`` every named use's.
    """

    def __init__(self, network: ImageEmbedder, uses):
        uses = tuple(uses)
        if not uses:
            raise ValueError("name at least one use")
        for u in uses:
            network.recipe(u)  # InputError for an undeclared use
        self.network, self.use_names = network, uses

    def __getattr__(self, attr):
        if attr in ("name", "spec", "weights_sha256", "extra_weights_sha256", "precision", "dim", "device",
                    "batch_size"):
            return getattr(self.network, attr)
        raise AttributeError(attr)

    @property
    def contract(self) -> InputContract:
        return self.network.contract_for(self.use_names[0])

    @property
    def contracts(self) -> dict[str, InputContract]:
        return {u: self.network.contract_for(u) for u in self.use_names}

    def provenance(self) -> dict:
        p = self.network.provenance()
        p["uses"] = {u: c.as_dict() for u, c in self.contracts.items()}
        return p

    def embed_frames(self, frames, use: str | None = None) -> np.ndarray:
        use = use or self.use_names[0]
        if use not in self.use_names:
            raise InputError(f"{self.network.name}: use {use!r} is not one of {', '.join(self.use_names)}")
        return self.network.embed_frames(frames, use)


def embed_frames(network: ImageEmbedder, frames, use: str | None = None) -> np.ndarray:
    """``network.embed_frames(frames, use)``: uint8 ``N x H x W x 3`` -> float64 ``N x dim``."""
    return network.embed_frames(frames, use)


def build_image_network(name: str, device="cpu", batch_size: int | None = None) -> ImageEmbedder:
    """The catalogued image network ``name`` with its weight files verified (``weights_sha256`` and
    ``extra_weights_sha256`` set); a missing file is one WeightsError line naming the command to run."""
    from vbench_i2v.feature_extractors import resolve_extractor

    return resolve_extractor(name, "image", device=device, batch_size=batch_size)


__all__ = ["ImageEmbedder", "UsesView", "build_image_network", "centre_crop_offsets", "check_frames", "embed_frames",
           "preprocess_frames", "resized_size"]
