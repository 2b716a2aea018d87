"""SSIM and PSNR on whole uint8 videos at once, equal to scikit-image's per-frame functions.

scikit-image (``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=255, channel_axis=-1)``) filters five maps with an 11-tap Gaussian (truncate 3.5) and
averages the SSIM map after cropping 5 pixels from each border. The crop means the border padding
never reaches the averaged pixels, so a *valid* separable filter gives the same numbers; we apply it
as two float64 matrix products over every frame of every video in one batch (no Python loop over
frames). float64 matters: ``E[x^2] - E[x]^2`` at pixel scale 255 loses ~1e-3 in float32.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vbench_i2v.errors import InputError

DATA_RANGE = 255.0
SIGMA = 1.5
TRUNCATE = 3.5  # scikit-image's value; radius = int(3.5 * 1.5 + 0.5) = 5, window 11
K1, K2 = 0.01, 0.03
# skimage returns +inf for identical frames; we floor the MSE so means stay finite. Any two
# different uint8 frames have MSE >= 1 / (H*W*3), far above this floor, and match skimage exactly.
MSE_FLOOR = 1e-10


def _as_videos(x, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if x.dtype != torch.uint8:
        raise InputError(f"{name}: expected uint8 pixels, got {x.dtype}")
    if x.ndim == 4:
        x = x.unsqueeze(0)
    if x.ndim != 5 or x.shape[-1] != 3:
        raise InputError(f"{name}: expected [B x] T x H x W x 3 video, got shape {tuple(x.shape)}")
    return x


def _check_pair(a, b) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_videos(a, "fake"), _as_videos(b, "real")
    if a.shape != b.shape:
        raise InputError(f"paired videos differ in shape: {tuple(a.shape)} vs {tuple(b.shape)} "
                         "(same frame count and size needed for SSIM/PSNR)")
    return a, b


def gaussian_taps(sigma: float = SIGMA, truncate: float = TRUNCATE) -> np.ndarray:
    """scipy.ndimage.gaussian_filter1d's taps (what skimage uses)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _valid_filter_matrix(n: int, taps: np.ndarray) -> torch.Tensor:
    """``n x (n - len(taps) + 1)`` banded matrix: ``x @ M`` is the valid 1-D correlation."""
    k = len(taps)
    if n < k:
        raise InputError(f"frames must be at least {k}x{k} pixels for SSIM, got side {n}")
    m = np.zeros((n, n - k + 1))
    for j in range(n - k + 1):
        m[j : j + k, j] = taps
    return torch.from_numpy(m)


def ssim_frames(fake, real, chunk: int = 64) -> torch.Tensor:
    """Per-frame SSIM, float64 ``B x T``, equal to skimage's on each frame (1e-5 or better).

    Frames are processed ``chunk`` at a time so the float64 maps stay small (memory flat in B*T).
    Only ``vx + vy`` enters SSIM, so ``x^2 + y^2`` is filtered as one map (4 maps, not 5).
    """
    a, b = _check_pair(fake, real)
    bsz, t, h, w, _ = a.shape
    taps = gaussian_taps()
    mh, mw = _valid_filter_matrix(h, taps), _valid_filter_matrix(w, taps)
    mht = mh.T.contiguous()
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    fa, fb = a.reshape(bsz * t, h, w, 3), b.reshape(bsz * t, h, w, 3)
    out = torch.empty(bsz * t, dtype=torch.float64)
    for i in range(0, bsz * t, chunk):
        x = fa[i : i + chunk].permute(0, 3, 1, 2).double()  # frames x 3 x H x W
        y = fb[i : i + chunk].permute(0, 3, 1, 2).double()
        z = torch.stack([x, y, x * x + y * y, x * y])  # 4 x frames x 3 x H x W
        z = mht @ (z.reshape(-1, w) @ mw).reshape(*z.shape[:-1], -1)  # valid separable filter
        ux, uy, sxy2, sxy = z.unbind(0)
        uxy = ux * uy
        uxx_yy = ux * ux + uy * uy
        s = ((2 * uxy + c1) * (2 * (sxy - uxy) + c2)) / ((uxx_yy + c1) * (sxy2 - uxx_yy + c2))
        out[i : i + chunk] = s.mean(dim=(2, 3)).mean(dim=1)
    return out.reshape(bsz, t)


def psnr_frames(fake, real) -> torch.Tensor:
    """Per-frame PSNR in dB, float64 ``B x T`` (skimage's value; identical frames: see MSE_FLOOR)."""
    a, b = _check_pair(fake, real)
    mse = (a.double() - b.double()).pow(2).mean(dim=(2, 3, 4))
    return 10.0 * torch.log10(DATA_RANGE**2 / mse.clamp_min(MSE_FLOOR))


def ssim_video(fake, real) -> np.ndarray:
    """Per-video SSIM = mean over frames; ``B`` float64."""
    return ssim_frames(fake, real).mean(dim=1).numpy()


def psnr_video(fake, real) -> np.ndarray:
    """Per-video PSNR = mean over frames of the per-frame PSNR; ``B`` float64."""
    return psnr_frames(fake, real).mean(dim=1).numpy()


PSNR_IDENTICAL_DB = 10.0 * math.log10(DATA_RANGE**2 / MSE_FLOOR)
