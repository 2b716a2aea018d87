"""SSIM/PSNR against scikit-image's per-frame functions."""

import numpy as np
import torch
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.pixel import PSNR_IDENTICAL_DB, psnr_frames, psnr_video, ssim_frames, ssim_video


def _sk_ssim(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=-1)


def _smooth_pair(rng, t=6, h=48, w=40):
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(xx / 7.0)[None, :, :, None] * np.cos(yy / 5.0 + np.arange(t)[:, None, None] / 3)[..., None]
    base = np.repeat(base, 3, axis=-1) + np.array([0, 10, -10])
    a = np.clip(base + rng.normal(0, 1.0, base.shape), 0, 255).astype(np.uint8)
    b = np.clip(base + 3 + rng.normal(0, 1.0, base.shape), 0, 255).astype(np.uint8)
    return a, b


@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_ssim_psnr_match_skimage_per_frame(kind):
    rng = np.random.default_rng(1)
    if kind == "random":
        a = rng.integers(0, 256, (2, 5, 33, 29, 3), dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    else:
        pairs = [_smooth_pair(rng) for _ in range(2)]
        a, b = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    s, p = ssim_frames(a, b).numpy(), psnr_frames(a, b).numpy()
    for i in range(a.shape[0]):
        for t in range(a.shape[1]):
            assert abs(s[i, t] - _sk_ssim(a[i, t], b[i, t])) < 1e-5
            assert abs(p[i, t] - peak_signal_noise_ratio(b[i, t], a[i, t], data_range=255)) < 1e-5
    np.testing.assert_allclose(ssim_video(a, b), s.mean(axis=1))
    np.testing.assert_allclose(psnr_video(a, b), p.mean(axis=1))


def test_identical_frames_are_finite_and_maximal():
    a = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    assert np.allclose(ssim_video(a, a), 1.0)
    assert psnr_video(a, a)[0] == pytest.approx(PSNR_IDENTICAL_DB)


def test_shape_mismatch_is_a_clear_error():
    a = np.zeros((4, 16, 16, 3), np.uint8)
    with pytest.raises(InputError, match="differ in shape"):
        ssim_video(a, a[:3])
    with pytest.raises(InputError, match="uint8"):
        psnr_video(a.astype(np.float32), a)


def test_blocks_saturated_colours_and_one_pass_api():
    """Frame blocks that do not divide B*T, near-flat saturated frames (float32 precision), and
    ssim_psnr_frames agreeing with the single-metric functions and skimage."""
    from vbench_i2v.metrics.pixel import ssim_psnr_frames, ssim_psnr_video

    rng = np.random.default_rng(7)
    base = np.array([250, 5, 128], dtype=float)  # saturated colour: large plane means
    a = np.clip(base + rng.normal(0, 1.5, (3, 7, 24, 20, 3)), 0, 255).astype(np.uint8)
    b = np.clip(base + 2 + rng.normal(0, 1.5, a.shape), 0, 255).astype(np.uint8)
    s, p = ssim_psnr_frames(a, b, block=4)
    s_all, p_all = ssim_psnr_frames(a, b, block=64)
    assert torch.allclose(s, s_all, rtol=0, atol=1e-12) and torch.equal(p, p_all)
    assert torch.equal(p, psnr_frames(a, b))
    for i in range(a.shape[0]):
        for t in range(a.shape[1]):
            assert abs(s[i, t].item() - _sk_ssim(a[i, t], b[i, t])) < 1e-5
            assert abs(p[i, t].item() - peak_signal_noise_ratio(b[i, t], a[i, t], data_range=255)) < 1e-5
    sv, pv = ssim_psnr_video(a, b)
    np.testing.assert_allclose(sv, ssim_video(a, b), rtol=0, atol=1e-12)
    np.testing.assert_allclose(pv, psnr_video(a, b), rtol=0, atol=1e-12)


def test_frames_smaller_than_window_are_a_clear_error():
    a = np.zeros((2, 10, 30, 3), np.uint8)
    with pytest.raises(InputError, match="at least 11x11"):
        ssim_video(a, a)
