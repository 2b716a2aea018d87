"""RAFT optical flow (Teed & Deng, ECCV 2020): the ``raft-things`` network of VBench's dynamic_degree.

Written from the paper and the layer shapes of the published ``raft-things.pth`` (princeton-vl/RAFT,
the copy VBench vendors is the same network). The full model only: hidden/context 128/128, a
4-level correlation pyramid of radius 4, fp32, dropout 0, no "alternate" correlation.

* **Input**: RGB frames holding 0..255 at native size, mapped to ``2 * x / 255 - 1``; each pair is
  padded to multiples of 8 by edge replication, the padding split evenly (the extra row/column,
  if odd, goes to the bottom/right: RAFT's 'sintel' mode).
* **Feature / context encoders** (``fnet``, ``cnet``): conv 7x7/2 (64) -> norm -> ReLU, three stages
  of two residual blocks (64 at 1/2, 96 at 1/4, 128 at 1/8; the first block of a strided stage has
  a 1x1 strided shortcut conv + norm), conv 1x1 to 256. ``fnet`` uses instance norm (no affine, no
  running statistics), ``cnet`` batch norm (eval: running statistics). ``cnet``'s 256 channels split
  128/128: tanh -> the GRU's initial hidden state, ReLU -> the context fed at every iteration.
* **Correlation**: all pairs of 1/8 feature vectors, ``<f1(p), f2(q)> / sqrt(256)``; the volume is
  average-pooled 2x2 (stride 2, floor) over ``q`` three times (4 levels). At a point ``c`` of frame 1's
  current match in frame 2, level ``l`` is read bilinearly (zero outside the map; pixel centres at
  integer coordinates) at the 9x9 points ``c / 2**l + (d_i, d_j)``, ``d = -4..4``, where the **first**
  window index moves **x** and the second moves y (the published code builds the offsets with
  ``meshgrid(dy, dx)`` and adds them to ``(x, y)``); channel ``81 * l + 9 * i + j``: 324 channels.
* **Update block** (``update_block``), per iteration: motion encoder ``relu(convc1 1x1 324->256)``,
  ``relu(convc2 3x3 ->192)``; ``relu(convf1 7x7 2->128)``, ``relu(convf2 3x3 ->64)``;
  ``relu(conv 3x3 256->126)``, then the current flow appended (128). The GRU input is
  ``[context, motion]`` (256). Separable ConvGRU: a (1,5) pass then a (5,1) pass, each
  ``z = sigmoid(convz[h,x])``, ``r = sigmoid(convr[h,x])``, ``q = tanh(convq[r*h, x])``,
  ``h = (1-z) h + z q``. Flow head ``conv 3x3 128->256, ReLU, conv 3x3 ->2`` = the flow update.
  Mask head ``conv 3x3 128->256, ReLU, conv 1x1 -> 64*9``, times 0.25.
* **Upsampling** (x8, convex): each full-resolution pixel ``(8i+a, 8j+b)`` is the softmax-over-9
  weighted mean of ``8 * flow`` at the 3x3 neighbours of ``(i, j)`` (zero beyond the border); mask
  channel ``64 k + 8 a + b`` for neighbour ``k`` (row-major in the 3x3 window).
* 20 iterations from zero flow; the result is the last iteration's upsampled flow at the **padded**
  size (what dynamic_degree scores).

Degenerate sizes, as VBench runs them: a padded side under 64 pixels leaves the coarsest pooled
level empty (the published code fails), so such frames are refused. For a padded side in 64..127
the coarsest level is one pixel wide (or high); the published sampler then divides by zero, and on
CUDA (VBench's device) PyTorch's ``grid_sample`` reads non-finite coordinates as out of bounds, so
that level contributes zeros. This module gives those zeros on every device (PyTorch's CPU sampler
would give NaN).

The checkpoint is a ``DataParallel`` state dict: keys ``module.fnet.*``, ``module.cnet.*``,
``module.update_block.*`` (the loader also takes them without the prefix). Residual blocks with a
shortcut store its norm twice (``normN`` and ``downsample.1``: one module); both copies must agree.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.catalog import RAFT_THINGS
from vbench_i2v.errors import InputError, WeightsError

SPEC = RAFT_THINGS
CONTRACT = RAFT_THINGS.contract
ITERS = 20
HIDDEN = 128
CONTEXT = 128
FEATURE_DIM = 256
CORR_LEVELS = 4
CORR_RADIUS = 4
CORR_CHANNELS = CORR_LEVELS * (2 * CORR_RADIUS + 1) ** 2  # 324
MASK_SCALE = 0.25
MIN_PADDED_SIDE = 8 * 2 ** (CORR_LEVELS - 1)  # 64: the coarsest pooled level keeps a pixel
MIN_SIDE = MIN_PADDED_SIDE - 7  # 57: frames this small are padded up to 64
CORR_BUDGET = 1 << 28  # correlation values per forward (1 GiB fp32, all levels ~1.33x): pairs are batched below it
PREFIX = "module."


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels)  # affine=False, no running statistics: no state-dict entries


class ResidualBlock(nn.Module):
    """Two 3x3 convs with norm + ReLU; a strided block adds a 1x1 strided shortcut conv + norm."""

    def __init__(self, c_in: int, c_out: int, norm: str, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm1 = _norm(norm, c_out)
        self.norm2 = _norm(norm, c_out)
        self.downsample = None
        if stride != 1:
            self.norm3 = _norm(norm, c_out)  # the same module also sits at downsample.1 (two key names)
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride), self.norm3)

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(shortcut + y)


class BasicEncoder(nn.Module):
    """1/8-resolution encoder: 7x7/2 stem, stages 64 (/1), 96 (/2), 128 (/2), 1x1 output conv."""

    STAGES = ((64, 1), (96, 2), (128, 2))

    def __init__(self, out_dim: int, norm: str):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.norm1 = _norm(norm, 64)
        c = 64
        for k, (width, stride) in enumerate(self.STAGES, start=1):
            setattr(self, f"layer{k}", nn.Sequential(ResidualBlock(c, width, norm, stride),
                                                     ResidualBlock(width, width, norm, 1)))
            c = width
        self.conv2 = nn.Conv2d(c, out_dim, 1)

    def forward(self, x):
        x = F.relu(self.norm1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv2(x)


class BasicMotionEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.convc1 = nn.Conv2d(CORR_CHANNELS, 256, 1)
        self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
        self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(192 + 64, 128 - 2, 3, padding=1)

    def forward(self, flow, corr):
        c = F.relu(self.convc2(F.relu(self.convc1(corr))))
        f = F.relu(self.convf2(F.relu(self.convf1(flow))))
        return torch.cat([F.relu(self.conv(torch.cat([c, f], 1))), flow], 1)


class SepConvGRU(nn.Module):
    """ConvGRU run twice: (1, 5) kernels (horizontal), then (5, 1) kernels (vertical)."""

    def __init__(self, hidden: int = HIDDEN, inp: int = CONTEXT + 128):
        super().__init__()
        for suffix, k, p in (("1", (1, 5), (0, 2)), ("2", (5, 1), (2, 0))):
            for gate in "zrq":
                setattr(self, f"conv{gate}{suffix}", nn.Conv2d(hidden + inp, hidden, k, padding=p))

    def forward(self, h, x):
        for suffix in "12":
            hx = torch.cat([h, x], 1)
            z = torch.sigmoid(getattr(self, f"convz{suffix}")(hx))
            r = torch.sigmoid(getattr(self, f"convr{suffix}")(hx))
            q = torch.tanh(getattr(self, f"convq{suffix}")(torch.cat([r * h, x], 1)))
            h = (1 - z) * h + z * q
        return h


class FlowHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(HIDDEN, 256, 3, padding=1)
        self.conv2 = nn.Conv2d(256, 2, 3, padding=1)

    def forward(self, h):
        return self.conv2(F.relu(self.conv1(h)))


class BasicUpdateBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = BasicMotionEncoder()
        self.gru = SepConvGRU()
        self.flow_head = FlowHead()
        self.mask = nn.Sequential(nn.Conv2d(HIDDEN, 256, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(256, 64 * 9, 1))

    def forward(self, h, context, corr, flow):
        h = self.gru(h, torch.cat([context, self.encoder(flow, corr)], 1))
        return h, MASK_SCALE * self.mask(h), self.flow_head(h)


def correlation_pyramid(f1: torch.Tensor, f2: torch.Tensor) -> list[torch.Tensor]:
    """All-pairs correlation ``<f1(p), f2(q)> / sqrt(C)``, pooled over ``q``: ``(B*h*w) x 1 x hl x wl`` a level."""
    b, c, h, w = f1.shape
    vol = torch.bmm(f1.flatten(2).transpose(1, 2), f2.flatten(2)) / math.sqrt(c)  # B x hw x hw
    vol = vol.reshape(b * h * w, 1, h, w)
    levels = [vol]
    for _ in range(CORR_LEVELS - 1):
        levels.append(F.avg_pool2d(levels[-1], 2, stride=2))
    return levels


def lookup(levels: list[torch.Tensor], coords: torch.Tensor, radius: int = CORR_RADIUS) -> torch.Tensor:
    """The 9x9 windows of every level around ``coords`` (B x 2 x h x w, (x, y) in 1/8 pixels).

    Returns B x (levels * 81) x h x w; window index ``i`` (slow) offsets x, ``j`` (fast) offsets y.
    A level one pixel wide or high reads as zeros (VBench's RAFT on CUDA, see the module note).
    """
    b, _, h, w = coords.shape
    n = 2 * radius + 1
    off = torch.arange(-radius, radius + 1, device=coords.device, dtype=coords.dtype)
    centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
    out = []
    for lvl, vol in enumerate(levels):
        hl, wl = vol.shape[-2:]
        if hl < 2 or wl < 2:
            out.append(coords.new_zeros(b, h, w, n * n))
            continue
        c = centre / 2 ** lvl
        gx = (c[..., 0] + off.view(1, n, 1)).expand(-1, n, n)  # first window index -> x
        gy = (c[..., 1] + off.view(1, 1, n)).expand(-1, n, n)  # second -> y
        grid = torch.stack([2 * gx / (wl - 1) - 1, 2 * gy / (hl - 1) - 1], -1)
        sampled = F.grid_sample(vol, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        out.append(sampled.view(b, h, w, n * n))
    return torch.cat(out, -1).permute(0, 3, 1, 2).contiguous()


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x8 flow: softmax(mask) over the 3x3 neighbours of each coarse cell, applied to ``8 * flow``."""
    b, _, h, w = flow.shape
    weights = torch.softmax(mask.view(b, 1, 9, 8, 8, h, w), dim=2)
    padded = F.pad(8 * flow, (1, 1, 1, 1))
    neighbours = torch.stack([padded[:, :, di:di + h, dj:dj + w] for di in range(3) for dj in range(3)], 2)
    up = (weights * neighbours.view(b, 2, 9, 1, 1, h, w)).sum(2)  # b, 2, a, b', h, w
    return up.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, 8 * h, 8 * w)


class RAFT(nn.Module):
    """The full RAFT network; ``forward`` takes padded float frames holding 0..255."""

    def __init__(self):
        super().__init__()
        self.fnet = BasicEncoder(FEATURE_DIM, "instance")
        self.cnet = BasicEncoder(HIDDEN + CONTEXT, "batch")
        self.update_block = BasicUpdateBlock()

    def forward(self, image1: torch.Tensor, image2: torch.Tensor, iters: int = ITERS):
        """``(flow at 1/8, upsampled flow)`` after ``iters`` refinements; images B x 3 x H x W, H, W % 8 == 0."""
        x1 = 2 * (image1 / 255.0) - 1
        x2 = 2 * (image2 / 255.0) - 1
        f1, f2 = self.fnet(torch.cat([x1, x2])).chunk(2)  # instance norm: per image, batching is exact
        levels = correlation_pyramid(f1, f2)
        hidden, context = torch.split(self.cnet(x1), [HIDDEN, CONTEXT], 1)
        hidden, context = torch.tanh(hidden), torch.relu(context)
        b, _, h, w = f1.shape
        ys, xs = torch.meshgrid(torch.arange(h, device=f1.device, dtype=torch.float32),
                                torch.arange(w, device=f1.device, dtype=torch.float32), indexing="ij")
        coords0 = torch.stack([xs, ys])[None].expand(b, -1, -1, -1)
        coords1 = coords0.clone()
        mask = None
        for _ in range(iters):
            corr = lookup(levels, coords1)
            hidden, mask, delta = self.update_block(hidden, context, corr, coords1 - coords0)
            coords1 = coords1 + delta
        flow = coords1 - coords0
        return flow, convex_upsample(flow, mask)


# ------------------------------------------------------------------ the published key format

def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _canonical_keys() -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in RAFT().state_dict().items()}


def _shared_norm_aliases(keys) -> list[tuple[str, str]]:
    """(``...normK.x``, ``...downsample.1.x``) pairs that name one module in the published format."""
    pairs = []
    for k in keys:
        if ".downsample.1." in k:
            pairs.append((k.replace(".downsample.1.", ".norm3."), k))
    return pairs


def _read_state_dict(path) -> dict[str, torch.Tensor]:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as a RAFT state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{path}: not a RAFT state dict (expected a flat dict of tensors as in "
                           f"{SPEC.weights.file_name})")
    return sd


def load_published(path) -> RAFT:
    """``raft-things.pth`` (``module.``-prefixed or bare keys) -> ``RAFT`` in eval mode, strictly.

    Missing or unexpected keys, a wrong shape, a mix of prefixed and bare keys, or the two copies of
    a shared shortcut norm disagreeing: a WeightsError naming the file. BatchNorm's
    ``num_batches_tracked`` counters may be absent (files saved by PyTorch < 0.4.1 lack them; they
    do not enter the eval forward)."""
    sd = _read_state_dict(path)
    prefixed = [k for k in sd if k.startswith(PREFIX)]
    if prefixed and len(prefixed) != len(sd):
        bare = sorted(k for k in sd if not k.startswith(PREFIX))
        raise WeightsError(f"{path}: mixes '{PREFIX}'-prefixed and bare keys (e.g. {bare[:2]})")
    sd = {k[len(PREFIX):] if prefixed else k: v for k, v in sd.items()}
    want = _canonical_keys()
    missing = sorted(k for k in set(want) - set(sd) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(sd) - set(want))
    if missing or unexpected:
        raise WeightsError(f"{path}: keys do not match RAFT ({SPEC.weights.file_name}): missing "
                           f"{missing[:3]}{'...' if len(missing) > 3 else ''} ({len(missing)}), unexpected "
                           f"{unexpected[:3]}{'...' if len(unexpected) > 3 else ''} ({len(unexpected)})")
    for k, v in sd.items():
        if tuple(v.shape) != want[k]:
            raise WeightsError(f"{path}: {k} has shape {tuple(v.shape)}, expected {want[k]} (full RAFT, "
                               f"hidden/context {HIDDEN}/{CONTEXT}; the small model is not this network)")
        if not (v.is_floating_point() or k.endswith("num_batches_tracked")):
            raise WeightsError(f"{path}: {k} holds {v.dtype}, expected floating point")
    for a, b in _shared_norm_aliases(want):
        if a in sd and b in sd and not torch.equal(sd[a], sd[b]):
            raise WeightsError(f"{path}: {a} and {b} differ, but they are one module in RAFT")
    model = RAFT()
    result = model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()},
                                   strict=False)
    if result.unexpected_keys or [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]:
        raise WeightsError(f"{path}: does not load into RAFT ({result})")  # cannot happen after the checks above
    return model.eval().requires_grad_(False)


def save_published(model: RAFT, path) -> None:
    """Write ``model`` as the published checkpoint does (``module.``-prefixed state dict; tests use it)."""
    torch.save({PREFIX + k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, path)


# ------------------------------------------------------------------ padding and the public API

def pad_amounts(height: int, width: int) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` replicate padding to multiples of 8, split evenly (odd: more at the end)."""
    ph, pw = (-height) % 8, (-width) % 8
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def padded_size(height: int, width: int) -> tuple[int, int]:
    return height + (-height) % 8, width + (-width) % 8


def unpad(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The ``height x width`` part of a padded-size flow (what the padding added is cut away)."""
    left, _, top, _ = pad_amounts(height, width)
    return flow[..., top:top + height, left:left + width]


_crop = unpad  # ``RAFTFlow.flow`` has an argument of that name


def _as_frames(x, what: str) -> torch.Tensor:
    """B x H x W x 3 uint8 or float 0..255 (numpy or torch) -> float32 B x 3 x H x W (CPU)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "uif":
            raise InputError(f"RAFT {what}: expected uint8 or float pixels, got {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise InputError(f"RAFT {what}: expected an array of frames, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0:
        raise InputError(f"RAFT {what}: expected B x H x W x 3 RGB frames with B >= 1, got shape {tuple(x.shape)}")
    if x.dtype == torch.bool or x.is_complex():
        raise InputError(f"RAFT {what}: expected uint8 or float pixels, got {x.dtype}")
    if x.is_floating_point():
        lo, hi = torch.aminmax(x.detach())
        if not (float(lo) >= 0.0 and float(hi) <= 255.0):  # also catches NaN
            raise InputError(f"RAFT {what}: float pixels must lie in 0..255 (got {float(lo):.4g}..{float(hi):.4g})")
    elif x.dtype != torch.uint8:
        lo, hi = torch.aminmax(x.detach())
        if int(lo) < 0 or int(hi) > 255:
            raise InputError(f"RAFT {what}: integer pixels must lie in 0..255 (got {int(lo)}..{int(hi)})")
    h, w = x.shape[1], x.shape[2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"RAFT {what}: frames of {w}x{h} are too small (at least {MIN_SIDE} pixels a side: "
                         f"the {CORR_LEVELS}-level correlation pyramid needs {MIN_PADDED_SIDE} after padding)")
    return x.detach().to("cpu", torch.float32).permute(0, 3, 1, 2)


class RAFTFlow:
    """RAFT-things as VBench's dynamic_degree runs it, built like a catalogued network.

    ``flow(frames_a, frames_b)`` -> float32 CPU tensor ``B x 2 x Hp x Wp``: pixel displacement
    (channel 0 = x/u, 1 = y/v) from each frame of ``frames_a`` to its partner in ``frames_b``, at the
    **padded** size ``padded_size(H, W)`` (dynamic_degree takes its magnitudes over that grid);
    ``unpad=True`` crops to ``H x W``. Frames: ``B x H x W x 3`` RGB, uint8 or float holding 0..255,
    numpy or torch, any size with both sides >= ``MIN_SIDE``.
    """

    def __init__(self, weights_path=None, device="cpu", batch_size: int | None = None, iters: int = ITERS):
        from vbench_i2v.devices import resolve_device

        self.spec = SPEC
        self.name = SPEC.name
        self.contract = CONTRACT
        self.iters = int(iters)
        if self.iters < 1:
            raise InputError(f"RAFT needs at least one iteration, got {iters}")
        self.device = resolve_device(device)
        self.batch_size = int(batch_size or (SPEC.batch_size_cpu if self.device.type == "cpu"
                                             else 4 * SPEC.batch_size_cpu))
        if self.batch_size < 1:
            raise InputError(f"RAFT batch size must be at least 1, got {batch_size}")
        if weights_path is None:
            from vbench_i2v import weights

            wf = weights.require(SPEC.weights.name)
            weights_path, self.weights_sha256 = wf.path, wf.sha256
        else:
            from vbench_i2v.files import sha256_file

            self.weights_sha256 = sha256_file(weights_path)
        self.model = load_published(weights_path).to(self.device)

    def provenance(self) -> dict:
        return {**SPEC.provenance(), "weights_sha256": self.weights_sha256, "iters": self.iters,
                "precision": "float32", "output": "upsampled flow at the padded size (multiples of 8)"}

    @torch.no_grad()
    def flow(self, frames_a, frames_b, unpad: bool = False) -> torch.Tensor:
        a = _as_frames(frames_a, "first frames")
        b = _as_frames(frames_b, "second frames")
        if a.shape != b.shape:
            raise InputError(f"RAFT: cannot pair frames of shapes {tuple(frames_a.shape)} and {tuple(frames_b.shape)}")
        h, w = a.shape[-2:]
        left, right, top, bottom = pad_amounts(h, w)
        hp, wp = padded_size(h, w)
        cells = (hp // 8) * (wp // 8)
        step = max(1, min(self.batch_size, CORR_BUDGET // (cells * cells)))
        out = []
        for s in range(0, a.shape[0], step):
            pair = torch.cat([a[s:s + step], b[s:s + step]]).to(self.device)
            pair = F.pad(pair, (left, right, top, bottom), mode="replicate")
            x1, x2 = pair.chunk(2)
            out.append(self.model(x1, x2, self.iters)[1].float().cpu())
        up = torch.cat(out)
        return _crop(up, h, w).contiguous() if unpad else up


def build(device="cpu", batch_size: int | None = None, iters: int = ITERS) -> RAFTFlow:
    """The catalogued ``raft-things`` with its verified weight file (``weights_sha256`` set)."""
    return RAFTFlow(None, device=device, batch_size=batch_size, iters=iters)
