"""LPIPS v0.1 (Zhang, Isola, Efros, Shechtman, Wang, CVPR 2018) in plain torch.

Written from the published description and checked against the ``lpips`` package 0.1.4
(``tests/test_lpips.py``): inputs in [-1, 1] are shifted/scaled per channel
(``(x - shift) / scale``, shift ``(-0.030, -0.088, -0.188)``, scale ``(0.458, 0.448, 0.450)``),
run through an ImageNet trunk (AlexNet: relu1..relu5; VGG16: relu1_2, relu2_2, relu3_3,
relu4_3, relu5_3), each tapped activation is unit-normalised over channels
(``f / (||f||_2 + 1e-10)``), the squared difference goes through a 1x1 convolution without bias
(the "lin" layer; its dropout is a no-op in eval), is averaged over space, and the five layers
are summed.

Weights come from two places:

* the trunk: torchvision's ImageNet files (``alexnet-owt-7be5be79.pth``, ``vgg16-397923af.pth``,
  keys ``features.N.weight``/``bias``; the classifier is ignored), imported by the user with
  ``vbench weights import lpips-alex PATH`` because they cannot be downloaded here;
* the lin layers: ``lpips/weights/v0.1/{alex,vgg}.pth`` shipped inside the ``lpips`` package
  (keys ``linK.model.1.weight``, shape ``1 x C x 1 x 1``). The package is only located, never
  imported (importing it imports torchvision).

No torchvision import here: the trunks are our own ``nn.Sequential`` stacks with torchvision's
layer indices, so the published state dicts load with strict key checking. ``LPIPSAlex`` /
``LPIPSVGG`` take ``(weights_path, device=, batch_size=)`` like the catalogued extractors.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.files import sha256_file
from vbench_i2v.specs import InputContract

VERSION = "0.1"
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
NORM_EPS = 1e-10


# sha256 of ``lpips/weights/v0.1/<net>.pth`` as shipped in lpips 0.1.4 (its wheel's RECORD agrees):
# a different calibration would silently change every score, so the packaged file is checked.
LIN_SHA256 = {
    "alex": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    "vgg": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
}


def _contract(min_side: int) -> InputContract:
    """Frames one by one at native size, [-1, 1], then ``(x - shift) / scale`` (LPIPS's ScalingLayer).

    No resize: the calibration layers were fitted on 64x64 patches (BAPPS; ``load_size=64`` in the
    reference data loader), so 64x64 frames are the metric's home size. The spatial average makes
    the score aspect-agnostic; the only limit is ``min_side`` (every tapped layer keeps a pixel).
    """
    return InputContract(frames=None, sampling="per-frame", size=None, resize="none",
                         value_range=(-1.0, 1.0), mean=SHIFT, std=SCALE, max_aspect=100.0,
                         note=f"LPIPS v{VERSION}; frames of at least {min_side}x{min_side} pixels")


@dataclass(frozen=True)
class NetSpec:
    name: str  # the lpips package's net name (and the lin file stem)
    weights_name: str  # our weights-registry name for the trunk
    file_name: str  # torchvision's published trunk file
    layers: tuple  # torchvision ``features`` layout: ("C", in, out, k, stride, pad) | ("R",) | ("M", k, stride)
    taps: tuple[int, ...]  # indices in ``features`` whose outputs are compared
    channels: tuple[int, ...]  # channels at the taps (= lin layer input widths)
    min_side: int  # smallest frame side for which every tap keeps at least one pixel
    contract: InputContract


def _vgg16_layers() -> tuple:
    out, c_in = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if v == "M":
            out.append(("M", 2, 2))
        else:
            out += [("C", c_in, v, 3, 1, 1), ("R",)]
            c_in = v
    return tuple(out)


NETS: dict[str, NetSpec] = {
    "alex": NetSpec(
        name="alex", weights_name="lpips-alex", file_name="alexnet-owt-7be5be79.pth",
        layers=(("C", 3, 64, 11, 4, 2), ("R",), ("M", 3, 2),
                ("C", 64, 192, 5, 1, 2), ("R",), ("M", 3, 2),
                ("C", 192, 384, 3, 1, 1), ("R",),
                ("C", 384, 256, 3, 1, 1), ("R",),
                ("C", 256, 256, 3, 1, 1), ("R",)),
        taps=(1, 4, 7, 9, 11), channels=(64, 192, 384, 256, 256),
        # conv1 (11, stride 4, pad 2) then two 3x3/2 max-pools before relu3: side >= 31
        min_side=31, contract=_contract(31),
    ),
    "vgg": NetSpec(
        name="vgg", weights_name="lpips-vgg", file_name="vgg16-397923af.pth",
        layers=_vgg16_layers(), taps=(3, 8, 15, 22, 29), channels=(64, 128, 256, 512, 512),
        min_side=16, contract=_contract(16),  # four 2x2 max-pools before relu5_3
    ),
}
# torch.hub checks that a downloaded file's sha256 starts with the hex in its name.
PUBLISHED_SHA256_PREFIX = {"alex": "7be5be79", "vgg": "397923af"}


def net_spec(net: str) -> NetSpec:
    key = "vgg" if net == "vgg16" else net
    if key not in NETS:
        raise InputError(f"unknown LPIPS network {net!r} (known: {', '.join(NETS)})")
    return NETS[key]


class Trunk(nn.Module):
    """The convolutional part of AlexNet / VGG16, torchvision's indices, cut after the last tap."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        mods = []
        for layer in spec.layers[: spec.taps[-1] + 1]:
            if layer[0] == "C":
                _, c_in, c_out, k, s, p = layer
                mods.append(nn.Conv2d(c_in, c_out, kernel_size=k, stride=s, padding=p))
            elif layer[0] == "R":
                mods.append(nn.ReLU(inplace=True))  # acts on the conv output, never on a tapped tensor
            else:
                mods.append(nn.MaxPool2d(kernel_size=layer[1], stride=layer[2]))
        self.features = nn.Sequential(*mods)
        self.taps = spec.taps

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, mod in enumerate(self.features):
            x = mod(x)
            if i in self.taps:
                outs.append(x)
        return outs


def load_backbone(path, net: str = "alex", map_location="cpu") -> Trunk:
    """A torchvision ImageNet state-dict file -> our ``Trunk`` (strict on ``features.*``).

    Keys outside ``features.`` must be torchvision's ``classifier.*`` (ignored); anything else,
    a missing or extra feature key, or a shape mismatch is a WeightsError naming the file.
    """
    spec = net_spec(net)
    try:
        sd = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as a torchvision state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{path}: not a torchvision state dict (expected a flat dict of tensors as in "
                           f"{spec.file_name})")
    trunk = Trunk(spec)
    want = set(trunk.state_dict())
    feats = {k: v for k, v in sd.items() if k.startswith("features.")}
    other = sorted(k for k in sd if not k.startswith(("features.", "classifier.")))
    missing, unexpected = sorted(want - set(feats)), sorted(set(feats) - want)
    if missing or unexpected or other:
        extra = unexpected + other
        raise WeightsError(f"{path}: keys do not match torchvision's {spec.file_name} feature stack "
                           f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
                           f"unexpected {extra[:3]}{'...' if len(extra) > 3 else ''})")
    bad = [k for k, v in trunk.state_dict().items() if tuple(feats[k].shape) != tuple(v.shape)]
    if bad:
        k = bad[0]
        raise WeightsError(f"{path}: {k} has shape {tuple(feats[k].shape)}, expected "
                           f"{tuple(trunk.state_dict()[k].shape)} for {spec.file_name}")
    trunk.load_state_dict(feats, strict=True)
    return trunk.eval().requires_grad_(False)


def load_alexnet_backbone(path) -> Trunk:
    """Weights-registry loader for ``lpips-alex``."""
    return load_backbone(path, "alex")


def load_vgg16_backbone(path) -> Trunk:
    """Weights-registry loader for ``lpips-vgg``."""
    return load_backbone(path, "vgg")


def packaged_lin_path(net: str = "alex") -> Path:
    """``lpips/weights/v0.1/<net>.pth`` of the installed ``lpips`` package (located, not imported)."""
    spec = net_spec(net)
    found = importlib.util.find_spec("lpips")
    if found is None or not found.submodule_search_locations:
        raise WeightsError("LPIPS needs the calibration weights shipped with the `lpips` package: "
                           "pip install lpips==0.1.4")
    path = Path(list(found.submodule_search_locations)[0]) / "weights" / f"v{VERSION}" / f"{spec.name}.pth"
    if not path.is_file():
        raise WeightsError(f"{path}: the installed `lpips` package lacks its v{VERSION} calibration weights "
                           "(reinstall: pip install --force-reinstall lpips==0.1.4)")
    digest = sha256_file(path)
    if digest != LIN_SHA256[spec.name]:
        raise WeightsError(f"{path}: sha256 {digest[:12]}... is not lpips 0.1.4's v{VERSION} {spec.name} "
                           f"calibration ({LIN_SHA256[spec.name][:12]}...); pip install --force-reinstall lpips==0.1.4")
    return path


def load_lin(path, net: str = "alex") -> list[torch.Tensor]:
    """The five ``1 x C x 1 x 1`` lin weights from an lpips ``.pth`` (strict keys and shapes)."""
    spec = net_spec(net)
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as LPIPS lin weights ({type(exc).__name__}: {exc})") from None
    want = {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(spec.channels)}
    if not isinstance(sd, dict) or set(sd) != set(want):
        got = sorted(sd)[:6] if isinstance(sd, dict) else type(sd).__name__
        raise WeightsError(f"{path}: not LPIPS v{VERSION} {spec.name} lin weights (keys {got}, "
                           f"expected {sorted(want)})")
    for k, shape in want.items():
        if tuple(sd[k].shape) != shape:
            raise WeightsError(f"{path}: {k} has shape {tuple(sd[k].shape)}, expected {shape}")
    return [sd[f"lin{i}.model.1.weight"].float() for i in range(len(spec.channels))]


class LPIPS:
    """LPIPS v0.1 distance between float images in [-1, 1]; lower means more similar.

    ``backbone_path`` defaults to the weights registry's file for ``lpips-<net>``; ``lin_path``
    to the calibration file inside the installed ``lpips`` package.
    """

    def __init__(self, net: str = "alex", backbone_path=None, device="cpu", lin_path=None, batch_size: int = 64):
        from vbench_i2v.devices import resolve_device

        self.net = net_spec(net)
        self.name = f"lpips-{self.net.name}"
        self.weights_name = self.net.weights_name
        self.contract = self.net.contract
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise InputError(f"LPIPS batch size must be at least 1, got {batch_size}")
        self.device = resolve_device(device)
        if backbone_path is None:
            from vbench_i2v import weights

            backbone_path = weights.require(self.weights_name).path
        self.trunk = load_backbone(backbone_path, self.net.name).to(self.device)
        lins = load_lin(lin_path if lin_path is not None else packaged_lin_path(self.net.name), self.net.name)
        self.lins = [w.to(self.device) for w in lins]
        self.shift = torch.tensor(SHIFT, device=self.device).view(1, 3, 1, 1)
        self.scale = torch.tensor(SCALE, device=self.device).view(1, 3, 1, 1)

    def check(self, x: torch.Tensor, what: str) -> None:
        """InputError unless ``x`` meets the input contract."""
        c = self.contract
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] == 0:
            raise InputError(f"LPIPS {what}: expected N x 3 x H x W with N >= 1, got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.net.min_side:
            raise InputError(f"LPIPS ({self.net.name}) {what}: frames of {x.shape[-2]}x{x.shape[-1]} are too small "
                             f"(at least {self.net.min_side} pixels a side)")
        if not x.is_floating_point():
            raise InputError(f"LPIPS {what}: expected float pixels in [-1, 1], got {x.dtype}")
        lo, hi = torch.aminmax(x)
        if not (lo >= c.value_range[0] - 1e-6 and hi <= c.value_range[1] + 1e-6):  # also catches NaN
            raise InputError(f"LPIPS {what}: values must lie in [-1, 1] (got {float(lo):.3g}..{float(hi):.3g})")

    @torch.no_grad()
    def normalized_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Channel-unit-normalised activations at the five taps."""
        x = (x.to(self.device, torch.float32) - self.shift) / self.scale
        return [f / (f.square().sum(1, keepdim=True).sqrt() + NORM_EPS) for f in self.trunk(x)]

    @torch.no_grad()
    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-image LPIPS, shape ``(N,)``; ``y`` may hold one image, compared with every ``x``.

        Each batch of ``x`` and its partners (or the one shared ``y``) go through one forward,
        so an image identical to its partner scores exactly 0 whatever the batch composition.
        """
        self.check(x, "first input")
        self.check(y, "second input")
        if y.shape[0] not in (1, x.shape[0]) or x.shape[-2:] != y.shape[-2:]:
            raise InputError(f"LPIPS: cannot pair shapes {tuple(x.shape)} and {tuple(y.shape)}")
        total = torch.zeros(x.shape[0], device=self.device)
        for start in range(0, x.shape[0], self.batch_size):
            stop = min(start + self.batch_size, x.shape[0])
            yb = y if y.shape[0] == 1 else y[start:stop]
            n = stop - start
            feats = self.normalized_features(torch.cat([x[start:stop].to(self.device), yb.to(self.device)]))
            for f, w in zip(feats, self.lins):
                total[start:stop] += F.conv2d((f[:n] - f[n:]).square_(), w).mean((1, 2, 3))
        return total


class LPIPSAlex(LPIPS):
    """LPIPS v0.1 on AlexNet (the package default), built like a catalogued extractor."""

    def __init__(self, weights_path=None, device="cpu", batch_size: int = 64):
        super().__init__("alex", backbone_path=weights_path, device=device, batch_size=batch_size)


class LPIPSVGG(LPIPS):
    """LPIPS v0.1 on VGG16, built like a catalogued extractor."""

    def __init__(self, weights_path=None, device="cpu", batch_size: int = 16):
        super().__init__("vgg", backbone_path=weights_path, device=device, batch_size=batch_size)
