"""3D ResNeXt-101 (Hara, Kataoka, Satoh, CVPR 2018) as published, for Video FID.

Same module names as the released ``resnext.py`` so the published ``resnext-101-kinetics.pth``
(``{'epoch', 'arch', 'state_dict', 'optimizer'}``, keys prefixed ``module.``, no
``num_batches_tracked``) loads with strict key checking once the prefix is removed.
Input: float ``B x 3 x 16 x 112 x 112`` on the 0-255 scale minus the ActivityNet mean.
"""

from __future__ import annotations

import torch
from torch import nn


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
    model = resnext101(num_classes=num_classes)
    missing, unexpected = model.load_state_dict(sd, strict=False)
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

ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)
CLIP_LEN = 16
SIDE = 112


def central_frames(video, length: int = CLIP_LEN):
    """The central ``length`` frames (start = T//2 - length//2), as the G3AN evaluation takes them."""
    from vbench_i2v.errors import InputError

    t = video.shape[-4]
    if t < length:
        raise InputError(f"Video FID needs at least {length} frames per video, got {t}")
    start = t // 2 - length // 2
    return video[..., start : start + length, :, :, :]


def resize_like_pil(frames: torch.Tensor, side: int = SIDE) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` -> float ``N x 3 x side x side`` holding whole numbers 0-255.

    PIL's ``Image.resize(BILINEAR)`` widens the filter when shrinking (antialias); torch's
    ``interpolate(antialias=True)`` implements the same filter, so after rounding the result is
    within 1 grey level of PIL's (PIL rounds in fixed point; exact equality would need PIL itself).
    Rounding keeps the network input on PIL's integer grid, as the reference recipe feeds uint8.
    """
    x = frames.permute(0, 3, 1, 2).float()
    if x.shape[-2:] != (side, side):
        x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255)


class ResNeXtFIDExtractor:
    """2048-d Video FID features: central 16 frames, 112x112, 0-255 minus the ActivityNet mean."""

    name = "resnext101-kinetics"
    weights_name = "resnext101-kinetics"
    dim = 2048

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 8, channels_last: bool = True,
                 bf16: bool = False):
        self.device = torch.device(device)
        self.model = load_published(weights_path).to(self.device)
        self.channels_last = channels_last
        if channels_last:  # ~1.4x faster on CPU, features equal to 3e-7 relative (DESIGN section 5)
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.batch_size = batch_size
        self.bf16 = bf16  # opt-in fast mode, ~5e-3 relative off: never the default for reported numbers
        self.mean = torch.tensor(ACTIVITYNET_MEAN).view(1, 3, 1, 1, 1)

    def preprocess(self, videos) -> torch.Tensor:
        """uint8 ``B x T x H x W x 3`` -> float ``B x 3 x 16 x 112 x 112`` network input."""
        v = torch.as_tensor(central_frames(videos))
        b, t, h, w, _ = v.shape
        x = resize_like_pil(v.reshape(b * t, h, w, 3)).reshape(b, t, 3, SIDE, SIDE).permute(0, 2, 1, 3, 4)
        return x - self.mean

    @torch.inference_mode()
    def features(self, videos) -> "np.ndarray":
        import numpy as np

        out = []
        for i in range(0, len(videos), self.batch_size):
            x = self.preprocess(videos[i : i + self.batch_size]).to(self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                f = self.model.features(x)
            out.append(f.double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))
