"""3D ResNeXt-101 (Hara, Kataoka, Satoh, CVPR 2018) as published, for Video FID.

Same module names as the released ``resnext.py`` so the published ``resnext-101-kinetics.pth``
(``{'epoch', 'arch', 'state_dict', 'optimizer'}``, keys prefixed ``module.``, no
``num_batches_tracked``) loads with strict key checking once the prefix is removed.
Input: float ``B x 3 x 16 x 112 x 112`` on the 0-255 scale minus the ActivityNet mean.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.catalog import EXTRACTORS as EXTRACTOR_CATALOG
from vbench_i2v.preprocess import frames_input, videos_input


class ResNeXtBottleneck(nn.Module):
    expansion = 2

    def __init__(self, inplanes: int, planes: int, cardinality: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        mid = cardinality * (planes // 32)
        self.conv1 = nn.Conv3d(inplanes, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, kernel_size=3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class ResNeXt3D(nn.Module):
    """ResNeXt-101 (layers [3, 4, 23, 3], cardinality 32, shortcut B); ``features()`` is the 2048-d pool."""

    def __init__(self, layers=(3, 4, 23, 3), cardinality: int = 32, num_classes: int = 400):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv3d(3, 64, kernel_size=7, stride=(1, 2, 2), padding=(3, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(128, layers[0], cardinality, stride=1)
        self.layer2 = self._make_layer(256, layers[1], cardinality, stride=2)
        self.layer3 = self._make_layer(512, layers[2], cardinality, stride=2)
        self.layer4 = self._make_layer(1024, layers[3], cardinality, stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d(1)  # = AvgPool3d((1, 4, 4)) at 16 x 112 x 112
        self.fc = nn.Linear(cardinality * 32 * ResNeXtBottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, cardinality: int, stride: int) -> nn.Sequential:
        out_ch = planes * ResNeXtBottleneck.expansion
        downsample = None
        if stride != 1 or self.inplanes != out_ch:  # shortcut type B
            downsample = nn.Sequential(nn.Conv3d(self.inplanes, out_ch, kernel_size=1, stride=stride, bias=False),
                                       nn.BatchNorm3d(out_ch))
        layers = [ResNeXtBottleneck(self.inplanes, planes, cardinality, stride, downsample)]
        self.inplanes = out_ch
        layers += [ResNeXtBottleneck(self.inplanes, planes, cardinality) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def resnext101(num_classes: int = 400) -> ResNeXt3D:
    return ResNeXt3D((3, 4, 23, 3), cardinality=32, num_classes=num_classes)


def published_state_dict(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The model weights of a published checkpoint dict, ``module.`` prefix removed."""
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError("not a published 3D-ResNets checkpoint (expected a dict with 'state_dict')")
    sd = checkpoint["state_dict"]
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_published(path, map_location="cpu") -> ResNeXt3D:
    """Build ResNeXt-101 and load ``resnext-101-kinetics.pth`` (weights_only, strict keys)."""
    from vbench_i2v.errors import WeightsError

    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
        sd = published_state_dict(ckpt)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as a 3D-ResNets checkpoint ({type(exc).__name__}: {exc})") from None
    num_classes = sd["fc.weight"].shape[0] if "fc.weight" in sd else 400
    # built on the meta device and given the checkpoint's tensors (assign): the random init it would
    # overwrite cost ~0.9 s of every command's start-up (measured with cProfile)
    with torch.device("meta"):
        model = resnext101(num_classes=num_classes)
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked") and k not in sd:  # never saved by the release
            sd[k] = torch.zeros((), dtype=v.dtype)
    missing, unexpected = model.load_state_dict(sd, strict=False, assign=True)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # never saved by the release
    if missing or unexpected:
        raise WeightsError(f"{path}: checkpoint keys do not match ResNeXt-101 "
                           f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
                           f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''})")
    return model.eval()


def save_published(model: ResNeXt3D, path) -> None:
    """Write a checkpoint in the published format (used by tests and by `vbench weights import` checks)."""
    sd = {f"module.{k}": v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": sd, "optimizer": {}}, path)


# --- Video FID feature recipe (G3AN) -------------------------------------------------------------
# The recipe is the catalog entry's input contract (vbench_i2v/catalog.py): central 16 frames, each
# resized to 112x112 like PIL's Image.resize(BILINEAR) and rounded back to 0..255, minus the
# ActivityNet mean. vbench_i2v/preprocess.py builds the input from it; the names below are its
# numbers, read from there.

CONTRACT = EXTRACTOR_CATALOG["resnext101-kinetics"].contract
ACTIVITYNET_MEAN = CONTRACT.mean
CLIP_LEN = CONTRACT.frames
SIDE = CONTRACT.size[0]
CPU_FORWARD_CLIPS = 2  # clips per network forward on CPU (measured: 0.101 CPU-s/clip vs 0.110 at 8)


def central_frames(video, length: int = CLIP_LEN):
    """The central ``length`` frames (start = T//2 - length//2), as the G3AN evaluation takes them."""
    from vbench_i2v.errors import InputError

    t = video.shape[-4]
    if t < length:
        raise InputError(f"Video FID needs at least {length} frames per video, got {t}")
    start = t // 2 - length // 2
    return video[..., start : start + length, :, :, :]


def resize_like_pil(frames: torch.Tensor, side: int = SIDE) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` -> float ``N x 3 x side x side`` holding whole numbers 0-255: the
    contract's resize alone (``Resize.BILINEAR_AA_SHRINKING`` with ``Pixels.ROUNDED``).

    PIL's ``Image.resize(BILINEAR)`` widens the filter when shrinking (antialias); torch's
    ``interpolate(antialias=True)`` implements the same filter, so after rounding the result is
    within 1 grey level of PIL's (PIL rounds in fixed point; exact equality would need PIL itself).
    When only enlarging, PIL's filter is the plain triangle with half-pixel centres, which is
    ``interpolate(align_corners=False)`` without antialias: ~3x faster in channels-last (in
    ``preprocess`` its channels-last output becomes channels_last_3d network input without a copy).
    Rounding keeps the network input on PIL's integer grid, as the reference recipe feeds uint8.
    """
    pixels = replace(CONTRACT, size=(side, side), value_range=(0.0, 255.0), mean=(0.0, 0.0, 0.0),
                     std=(1.0, 1.0, 1.0))
    return frames_input(frames, pixels, "Video FID")


class FoldedFeatures:
    """Inference plan for ``ResNeXt3D.features``: same weights and layers, each BN folded into its conv.

    Why: on CPU the eager model spends ~10% in separate BatchNorm/ReLU/add passes and, with one
    thread, PyTorch sends the 1x1x1 convolutions (most of the 19 GFLOP) to its native im2col+GEMM
    path (~90 GFLOP/s per core here) instead of oneDNN (~150-230 GFLOP/s per core in
    channels_last_3d). On CPU in fp32 this plan calls oneDNN directly with folded weights
    (pre-reordered once per input shape, ReLU and the residual add fused into the convs);
    elsewhere (GPU, bf16 autocast) it runs ``F.conv3d`` with the folded weights. Features agree with
    the eager model to ~1e-6 relative. The model and its state dict are only read.
    """

    def __init__(self, model: ResNeXt3D, channels_last: bool = True):
        fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
        self.stem = _FoldedConv(model.conv1, model.bn1, fmt)
        self.maxpool, self.avgpool = model.maxpool, model.avgpool
        self.blocks = []
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            for blk in layer:
                down = None if blk.downsample is None else _FoldedConv(blk.downsample[0], blk.downsample[1], fmt)
                self.blocks.append((_FoldedConv(blk.conv1, blk.bn1, fmt), _FoldedConv(blk.conv2, blk.bn2, fmt),
                                    _FoldedConv(blk.conv3, blk.bn3, fmt), down))

    def to(self, device) -> "FoldedFeatures":
        for c in [self.stem] + [c for blk in self.blocks for c in blk if c is not None]:
            c.to(device)
        return self

    def __call__(self, x: torch.Tensor, onednn: bool = True) -> torch.Tensor:
        """``onednn``: call oneDNN directly (CPU fp32); otherwise ``F.conv3d`` (GPU, bf16 autocast)."""
        mode = _onednn_mode() if onednn and x.device.type == "cpu" and x.dtype == torch.float32 else "torch"
        x = self.maxpool(self.stem(x, mode, relu=True))
        for c1, c2, c3, down in self.blocks:
            residual = x if down is None else down(x, mode)
            out = c2(c1(x, mode, relu=True), mode, relu=True)
            x = c3(out, mode, add_relu=residual)  # relu(conv(out) + residual), in place in residual
        return torch.flatten(self.avgpool(x), 1)


class _FoldedConv:
    """``bn(conv(x))`` as one conv (folded in float64), optionally followed by ReLU or add+ReLU."""

    def __init__(self, conv: nn.Conv3d, bn: nn.BatchNorm3d, fmt):
        with torch.no_grad():
            scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            self.weight = (conv.weight.double() * scale.view(-1, 1, 1, 1, 1)).float().contiguous(memory_format=fmt)
            self.bias = (bn.bias.double() - bn.running_mean.double() * scale).float()
        self.stride, self.padding, self.groups = list(conv.stride), list(conv.padding), conv.groups
        self._packed: dict[tuple, torch.Tensor] = {}  # oneDNN weight layout per input shape

    def to(self, device) -> None:
        self.weight, self.bias, self._packed = self.weight.to(device), self.bias.to(device), {}

    def __call__(self, x, mode: str, relu: bool = False, add_relu: torch.Tensor | None = None) -> torch.Tensor:
        if mode == "fused":
            w = self._packed_weight(x.shape)
            args = (w, self.bias, self.padding, self.stride, [1, 1, 1], self.groups)
            if add_relu is not None:
                return torch.ops.mkldnn._convolution_pointwise_.binary(add_relu, x, *args, "add", None, "relu", [],
                                                                       None)
            return torch.ops.mkldnn._convolution_pointwise(x, *args, "relu" if relu else "none", [], "")
        if mode == "onednn":
            y = torch.ops.aten.mkldnn_convolution(x, self.weight, self.bias, self.padding, self.stride, [1, 1, 1],
                                                  self.groups)
        else:
            y = F.conv3d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)
        if add_relu is not None:
            return add_relu.add_(y).relu_()
        return y.relu_() if relu else y

    def _packed_weight(self, shape) -> torch.Tensor:
        key = tuple(shape)
        if key not in self._packed:
            if len(self._packed) >= 2:  # full batches and one short last batch
                self._packed.pop(next(iter(self._packed)))
            self._packed[key] = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, self.padding, self.stride, [1, 1, 1], self.groups, list(shape))
        return self._packed[key]


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN has bf16 kernels on this CPU (AVX-512 BW/VL/DQ or newer); without them
    autocast bf16 convolutions fall back to an emulated path (measured 22.8 s/clip against 0.83 s
    for fp32 on an AVX2-only EPYC)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _onednn_mode() -> str:
    """'fused' (oneDNN with pre-reordered weights and fused ReLU/add), 'onednn', or 'torch'."""
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return "torch"
    try:  # inductor's oneDNN ops: present in CPU builds with oneDNN, but not a public API
        torch.ops.mkldnn._convolution_pointwise_.binary
        torch.ops.mkldnn._reorder_convolution_weight
        return "fused"
    except (AttributeError, RuntimeError):
        return "onednn"


class ResNeXtFIDExtractor:
    """2048-d Video FID features: central 16 frames, 112x112, 0-255 minus the ActivityNet mean.

    Speed paths (all on by default; the network's features equal the eager model's to ~1e-6
    relative, the resize is within 1 grey level of PIL's): batched torch resize over ``batch_size``
    videos, 2 clips per forward on CPU, channels_last_3d, BN folded into the convs with oneDNN
    called directly (``FoldedFeatures``). ``fast=False`` runs ``model.features`` instead.
    """

    name = "resnext101-kinetics"
    weights_name = "resnext101-kinetics"
    dim = 2048

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 8, channels_last: bool = True,
                 bf16: bool = False, fast: bool = True):
        self._setup(load_published(weights_path), device, batch_size, channels_last, bf16, fast)

    @classmethod
    def from_model(cls, model: ResNeXt3D, device: str = "cpu", batch_size: int = 8, channels_last: bool = True,
                   bf16: bool = False, fast: bool = True) -> "ResNeXtFIDExtractor":
        """An extractor around an already built model (benchmarks, tests: no weight-file round trip)."""
        ex = cls.__new__(cls)
        ex._setup(model.eval(), device, batch_size, channels_last, bf16, fast)
        return ex

    def _setup(self, model, device, batch_size, channels_last, bf16, fast) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.channels_last = channels_last
        if channels_last:  # oneDNN's fast layout on CPU; features equal to ~3e-7 relative
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.batch_size = batch_size
        self.bf16 = bf16  # opt-in fast mode, ~5e-3 relative off: never the default for reported numbers
        if bf16 and self.device.type == "cpu" and not cpu_has_native_bf16():
            import logging

            logging.getLogger(__name__).warning(
                "bf16 on a CPU without native bf16 (no AVX512-BF16/AMX): PyTorch emulates it, measured about "
                "25x slower than fp32 here; drop --bf16 on this machine")
        self.fast = fast

    def preprocess(self, videos, device=None) -> torch.Tensor:
        """uint8 ``B x T x H x W x 3`` -> float ``B x 3 x 16 x 112 x 112`` network input, built from the
        contract (channels_last_3d when the extractor runs in that layout) on ``device``."""
        central_frames(videos)  # the Video FID wording for clips that are too short
        fmt = torch.channels_last_3d if getattr(self, "channels_last", True) else torch.contiguous_format
        return videos_input(videos, CONTRACT, "Video FID", memory_format=fmt, device=device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not getattr(self, "fast", True):  # instances built field by field predate the plan
            return self.model.features(x)
        plan = getattr(self, "_plan", None)
        if plan is None:
            plan = self._plan = FoldedFeatures(self.model, self.channels_last).to(self.device)
        if x.device.type != "cpu":
            return plan(x, onednn=not self.bf16)
        # On CPU, 2 clips per forward measured ~9% faster per clip than 8 (cache reuse); batch_size
        # still sets how many videos are read and resized together.
        return torch.cat([plan(c, onednn=not self.bf16) for c in x.split(CPU_FORWARD_CLIPS)])

    @torch.inference_mode()
    def features(self, videos) -> "np.ndarray":
        import numpy as np

        out = []
        for i in range(0, len(videos), self.batch_size):
            x = self.preprocess(videos[i : i + self.batch_size], self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                f = self._forward(x)
            out.append(f.float().double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))
