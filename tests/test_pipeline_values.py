"""Pipeline values pinned by computations that do not reuse the project's code.

Every number `vbench run` / `compute_metrics` reports here is recomputed from the files on disk
(read with numpy / PIL directly) with scipy, scikit-image or a few lines of numpy written from the
published definitions, so a one-line slip in the pipeline shows up as a wrong number:

- the generator is conditioned on the frame saved in ``cond/`` = the real clip's first frame;
- the noise is per clip (differs between clips, identical across runs and batch sizes);
- the 95% interval is a 95% percentile bootstrap (scipy.stats.bootstrap), not a 90% one;
- the headline is the mean of the per-video values, not their median;
- KID is the unbiased cubic-kernel MMD^2 on subsets of exactly the reported size;
- every test video gets its own seeded conditioning starts;
- FID is the Frechet distance of the feature Gaussians (scipy.linalg.sqrtm);
- SSIM / PSNR are skimage's per-frame values averaged over the predicted frames 1..T-1.

The run tests use a long-video dataset and a spy generator (no weights, no training) registered
for this module only; the spy records the images and the noise it is given.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from references import (bootstrap_means, frechet_of, mmd2_biased, mmd2_unbiased, percentile_interval,
                        seeded_stream)
from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import GeneratorBackend, GeneratorConfig
from vbench_i2v.generators.registry import GENERATORS
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics

pytestmark = pytest.mark.slow

RAW_FRAMES = 150  # original frames of the shortest video; frame_step 2 -> 75 sampled (> 32)
FRAME_STEP = 2


# ----------------------------------------------------------------------------- test fixtures

def render_raw(subject: int, label: int, n: int) -> np.ndarray:
    """Original frames of one test video: a seeded textured background, a square that moves
    with t, and a corner block whose value is t (so every frame differs from every other)."""
    rng = np.random.default_rng(1000 * subject + label)
    bg = rng.integers(20, 200, size=(64, 64, 3)).astype(np.uint8)
    v = np.repeat(bg[None], n, axis=0)
    for t in range(n):
        y, x = 4 + (3 * t) % 44, 4 + (7 * t + 5 * label) % 44
        v[t, y : y + 14, x : x + 14] = (255 - 40 * label, 30 * subject % 255, 200)
        v[t, :4, :4] = t % 256
    return v


class LongVideos(VideoDataset):
    """Six subjects (2 train / 4 test) x 2 labels, videos of 150 or 170 original frames."""

    name = "pipeline-long-test"
    labels = ["a", "b"]
    split_subjects = (2, 4)
    frame_step = FRAME_STEP
    user_supplied = False

    def discover(self):
        return [VideoRecord(f"s{s}_l{lab}", f"s{s}", lab, f"long:{s}/{lab}") for s in range(6) for lab in (0, 1)]

    @staticmethod
    def raw_length(record) -> int:
        """150 or 170 frames: most videos share their length with others, so a start choice
        that ignored the video would give them identical starts."""
        return RAW_FRAMES + 20 * (int(record.subject[1:]) % 2)

    def read_raw(self, record):
        return render_raw(int(record.subject[1:]), record.label, self.raw_length(record))


@dataclass
class SpyConfig(GeneratorConfig):
    pass


class SpyGenerator(GeneratorBackend):
    """Records what it is given; frame t > 0 is the image shifted by 0.3 tanh(z[t mod 16]) x a
    label factor, so every clip's fake video depends on its own image and noise."""

    name = "pipeline-spy"
    Config = SpyConfig
    trainable = False
    seen: list = []  # (images B x 3 x 64 x 64 float, z B x 16) per generate() call

    def build(self, num_classes):
        pass

    def z_shape(self, batch):
        return (batch, 16)

    def _generate(self, images, labels, z):
        SpyGenerator.seen.append((images.detach().cpu().clone(), z.detach().cpu().clone()))
        t = torch.arange(32) % 16
        shift = 0.3 * torch.tanh(z[:, t]) * (1.0 + labels.float()[:, None])  # B x 32
        shift[:, 0] = 0.0  # frame 0 is the conditioning image itself, as in a real backend
        return (images.unsqueeze(2) + shift[:, None, :, None, None]).clamp(-1, 1)


if LongVideos.name not in DATASETS:
    DATASETS.register(LongVideos.name)(LongVideos)
if SpyGenerator.name not in GENERATORS:
    GENERATORS.register(SpyGenerator.name)(SpyGenerator)

PER_VIDEO = 3
MAX_VIDEOS = 6


def _execute(out: Path, seed: int = 0, batch_size: int = 4, metrics=("ssim", "psnr", "fid", "kid")):
    """One run of the spy on the long videos; returns (results, run folder, what the spy saw)."""
    from vbench_i2v.run import RunSpec, execute

    SpyGenerator.seen = []
    res = execute(RunSpec(generator=SpyGenerator.name, dataset=LongVideos.name, metrics=list(metrics),
                          extractor="synthetic-probe", conditioning_per_video=PER_VIDEO, max_videos=MAX_VIDEOS,
                          seed=seed, device="cpu", out=str(out), batch_size=batch_size))
    run_dir = Path(out) / res["run_id"]
    return res, run_dir, list(SpyGenerator.seen)


def _clips_csv(run_dir: Path) -> list[dict]:
    with open(run_dir / "clips.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _npz(path: Path) -> np.ndarray:
    with np.load(path) as z:
        return z["video"]


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _seen_by_clip(run_dir: Path, seen) -> dict:
    """``{clip: (image float 3 x 64 x 64, z)}``: each image the spy got, matched to the cond/
    PNG it equals under the model convention x = u8 / 127.5 - 1."""
    conds = {p.stem: _png(p).astype(np.float64) / 127.5 - 1.0 for p in sorted((run_dir / "cond").glob("*.png"))}
    out = {}
    for images, z in seen:
        for img, zz in zip(images.numpy(), z.numpy()):
            hwc = img.transpose(1, 2, 0)
            hits = [c for c, ref in conds.items() if np.abs(ref - hwc).max() < 1e-6]
            assert len(hits) == 1, f"generator saw an image that is not exactly one cond/ PNG (matches: {hits})"
            assert hits[0] not in out, f"{hits[0]} generated twice"
            out[hits[0]] = (hwc, zz)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A (seed 0, batch 4, all metrics), B (seed 0, batch 3, another folder), C (seed 1)."""
    base = tmp_path_factory.mktemp("pipeline")
    a = _execute(base / "a", seed=0, batch_size=4)
    b = _execute(base / "b", seed=0, batch_size=3, metrics=("ssim",))
    c = _execute(base / "c", seed=1, batch_size=4, metrics=("ssim",))
    return {"a": a, "b": b, "c": c}


# ----------------------------------------------------------------------------- a. conditioning

def test_generator_sees_the_saved_cond_png_which_is_the_real_first_frame(runs):
    res, run_dir, seen = runs["a"]
    rows = _clips_csv(run_dir)
    clips = [r["clip"] for r in rows]
    assert len(clips) == MAX_VIDEOS * PER_VIDEO == res["dataset"]["clip_count"]
    by_clip = _seen_by_clip(run_dir, seen)
    assert sorted(by_clip) == sorted(clips)  # every clip generated once, from its own cond PNG
    for c in clips:
        png = _png(run_dir / "cond" / f"{c}.png")
        real = _npz(run_dir / "real" / f"{c}.npz")
        assert real.shape == (32, 64, 64, 3)
        np.testing.assert_array_equal(png, real[0])
        np.testing.assert_allclose(by_clip[c][0], png.astype(np.float64) / 127.5 - 1.0, rtol=0, atol=1e-6)
        # and the real frame 0 is the sampled frame the clip starts at (not frame 1, not the last)
        assert int(real[0, 0, 0, 0]) == int(rows[clips.index(c)]["start_frame"]) % 256


# ----------------------------------------------------------------------------- b. noise

def test_noise_is_per_clip_and_reproducible_across_runs_and_batch_sizes(runs):
    _, dir_a, seen_a = runs["a"]
    _, dir_b, seen_b = runs["b"]
    za = {c: z for c, (_, z) in _seen_by_clip(dir_a, seen_a).items()}
    zb = {c: z for c, (_, z) in _seen_by_clip(dir_b, seen_b).items()}
    assert sorted(za) == sorted(zb)
    assert {len(x[1]) for x in seen_a} != {len(x[1]) for x in seen_b}  # the batches really differed
    for c in za:
        np.testing.assert_array_equal(za[c], zb[c], err_msg=f"{c}: noise changed with the batch size")
    zs = np.stack([za[c] for c in sorted(za)])
    dist = np.abs(zs[:, None] - zs[None]).max(axis=2) + np.eye(len(zs))
    assert dist.min() > 0.05, "two clips got the same noise"
    # the fakes on disk follow: same clip -> the same fake video in both runs
    for c in sorted(za)[:3]:
        np.testing.assert_array_equal(_npz(dir_a / "fake" / f"{c}.npz"), _npz(dir_b / "fake" / f"{c}.npz"))
    _, dir_c, seen_c = runs["c"]
    zc = np.stack([z for _, (_, z) in sorted(_seen_by_clip(dir_c, seen_c).items())])
    assert np.abs(zc[:, None] - zs[None]).max(axis=2).min() > 0.05, "another seed reused a clip's noise"


# ----------------------------------------------------------------------------- f. clip starts

def test_conditioning_starts_differ_between_videos_and_follow_the_seed(runs):
    rows_a = _clips_csv(runs["a"][1])
    rows_b = _clips_csv(runs["b"][1])
    rows_c = _clips_csv(runs["c"][1])
    ds = LongVideos(seed=0)
    records = {r.source: r for r in ds.records()}

    def starts(rows):
        out: dict[str, list[int]] = {}
        for r in rows:
            out.setdefault(r["source"], []).append(int(r["start_frame"]))
        return out

    sa = starts(rows_a)
    assert len(sa) == MAX_VIDEOS
    for source, st in sa.items():
        rec = records[source]
        n_sampled = -(-ds.raw_length(rec) // FRAME_STEP)
        assert len(st) == PER_VIDEO and len(set(st)) == PER_VIDEO
        assert all(s % FRAME_STEP == 0 and 0 <= s // FRAME_STEP <= n_sampled - 32 for s in st)
    assert len({tuple(sorted(st)) for st in sa.values()}) == len(sa), f"videos share their starts: {sa}"
    assert len({s for st in sa.values() for s in st}) > PER_VIDEO + 2
    assert rows_b == rows_a  # same seed, another run: the same clips
    assert starts(rows_c) != sa  # another seed: other clips
    # each real clip is the 32 sampled frames from its start, cut from the raw video independently
    for r in rows_a:
        rec = records[r["source"]]
        raw = render_raw(int(rec.subject[1:]), rec.label, ds.raw_length(rec))
        s = int(r["start_frame"])
        np.testing.assert_array_equal(_npz(runs["a"][1] / "real" / f"{r['clip']}.npz"),
                                      raw[s : s + 32 * FRAME_STEP : FRAME_STEP])


# ----------------------------------------------------------------------------- SSIM / PSNR in a run

def _skimage_pair(fake: np.ndarray, real: np.ndarray, frames) -> tuple[float, float]:
    s = [structural_similarity(real[t], fake[t], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                               data_range=255, channel_axis=-1) for t in frames]
    p = [peak_signal_noise_ratio(real[t], fake[t], data_range=255) for t in frames]
    return float(np.mean(s)), float(np.mean(p))


def test_run_ssim_psnr_are_skimage_means_over_predicted_frames_and_headline_is_the_mean(runs):
    res, run_dir, _ = runs["a"]
    clips = [r["clip"] for r in _clips_csv(run_dir)]
    ssim, psnr = [], []
    for c in clips:
        fake, real = _npz(run_dir / "fake" / f"{c}.npz"), _npz(run_dir / "real" / f"{c}.npz")
        s, p = _skimage_pair(fake, real, range(1, 32))
        ssim.append(s)
        psnr.append(p)
    m = res["metrics"]
    assert m["ssim"]["n"] == m["psnr"]["n"] == len(clips)
    assert m["ssim"]["value"] == pytest.approx(np.mean(ssim), abs=1e-6)
    assert m["psnr"]["value"] == pytest.approx(np.mean(psnr), abs=1e-5)
    # the test would see frame 0 sneaking in, or the median instead of the mean
    with_0 = np.mean([_skimage_pair(_npz(run_dir / "fake" / f"{c}.npz"), _npz(run_dir / "real" / f"{c}.npz"),
                                    [0])[1] for c in clips])
    assert with_0 > np.mean(psnr) + 5  # frame 0 is the conditioning image itself: near-perfect
    assert abs(np.median(ssim) - np.mean(ssim)) > 1e-4 and abs(np.median(psnr) - np.mean(psnr)) > 1e-3


# ----------------------------------------------------------------------------- FID / KID in a run

def _probe_features(run_dir: Path, side: str, clips) -> np.ndarray:
    from vbench_i2v.feature_extractors import build_video_extractor

    ex = build_video_extractor("synthetic-probe")
    return np.asarray(ex.features(np.stack([_npz(run_dir / side / f"{c}.npz") for c in clips])), np.float64)


def test_run_fid_and_kid_equal_independent_computations_on_the_probe_features(runs):
    res, run_dir, _ = runs["a"]
    clips = [r["clip"] for r in _clips_csv(run_dir)]
    fr, ff = _probe_features(run_dir, "real", clips), _probe_features(run_dir, "fake", clips)
    n, d = fr.shape
    assert n < d  # 18 clips, 128-d: the singular-covariance regime of small runs
    fid = res["metrics"]["fid"]
    want = frechet_of(fr, ff, eig=True)  # N < D: the eigenvalue form
    assert fid["value"] == pytest.approx(want, rel=1e-5)
    assert fid["n"] == fid["n_real"] == n and fid["provenance"]["extractor"] == "synthetic-probe"
    kid = res["metrics"]["kid"]
    assert kid["subset_size"] == n  # min(N, 1000): one subset is every video, so KID is exact
    # rel 1e-6: the stored reference features came from other float32 batches than ours
    assert kid["value"] == pytest.approx(mmd2_unbiased(fr, ff), rel=1e-6)
    assert kid["value"] != pytest.approx(mmd2_unbiased(fr[:-1], ff[:-1]), rel=1e-3)  # one fewer would show


# ----------------------------------------------------------------------------- compute_metrics level

class ProjectionExtractor:
    """An injected 8-d extractor: a fixed random projection of per-video channel moments."""

    name = "pipeline-projection"
    dim = 8

    def __init__(self):
        self.w = np.random.default_rng(7).normal(size=(9, self.dim))

    def features(self, videos):
        v = np.asarray(videos, np.float64) / 255.0
        m = np.concatenate([v.mean(axis=(1, 2, 3)), v.std(axis=(1, 2, 3)), (v[:, 1:] - v[:, :-1]).std(axis=(1, 2, 3))],
                           axis=1)
        return np.tanh(m @ self.w)


def _noisy_pairs(n: int, seed: int, t: int = 4, size: int = 16, offset: float = 0.0):
    """Real videos (smooth random blobs) and fakes = real + ``offset`` + Gaussian noise, sigma ~3
    for three videos in four and ~40 for the fourth: skewed per-video PSNR / SSIM, whose mean
    sits well below their median."""
    rng = np.random.default_rng(seed)
    real, fake = {}, {}
    for i in range(n):
        base = rng.uniform(40, 215, size=(1, 1, 1, 3)) + rng.normal(0, 25, size=(t, size // 4, size // 4, 3))
        r = np.clip(np.repeat(np.repeat(base, 4, axis=1), 4, axis=2), 0, 255).round().astype(np.uint8)
        sigma = (3.0 if i % 4 else 40.0) * float(rng.uniform(0.8, 1.25))
        real[f"v{i:03d}"] = r
        fake[f"v{i:03d}"] = np.clip(r + offset + rng.normal(0, sigma, r.shape), 0, 255).round().astype(np.uint8)
    return real, fake


def test_headline_is_the_mean_and_interval_is_a_95_percent_percentile_bootstrap():
    real, fake = _noisy_pairs(40, seed=3)
    reps = 50_000
    out = compute_metrics(real, fake, ScorePlan(metrics=["psnr", "ssim"], seed=0, bootstrap_reps=reps)).metrics
    for name in ("psnr", "ssim"):
        idx = 1 if name == "psnr" else 0
        want = {k: _skimage_pair(fake[k], real[k], range(1, 4))[idx] for k in real}
        got = out[name]["per_video"]
        assert sorted(got) == sorted(want)
        np.testing.assert_allclose([got[k] for k in sorted(want)], [want[k] for k in sorted(want)],
                                   atol=1e-5 if name == "psnr" else 1e-6)
        vals = np.array([want[k] for k in sorted(want)])
        spread = np.std(vals) / np.sqrt(len(vals))
        assert out[name]["value"] == pytest.approx(vals.mean(), abs=1e-5 * max(1.0, abs(vals.mean())))
        assert abs(np.median(vals) - vals.mean()) > 2 * spread  # a median would be caught
        assert out[name]["n"] == 40
        sp = scipy.stats.bootstrap((vals,), np.mean, n_resamples=reps, method="percentile",
                                   confidence_level=0.95, random_state=np.random.default_rng(11))
        se = sp.standard_error
        # Monte-Carlo error of a 2.5% quantile from B resamples: sqrt(p(1-p)/B) / density there;
        # density ~ phi(1.96)/se for a near-normal bootstrap distribution. Two independent streams.
        mc = np.sqrt(2 * 0.025 * 0.975 / reps) / (scipy.stats.norm.pdf(1.96) / se)
        tol = 6 * mc
        lo, hi = out[name]["ci95"]
        assert lo == pytest.approx(sp.confidence_interval.low, abs=tol)
        assert hi == pytest.approx(sp.confidence_interval.high, abs=tol)
        sp90 = scipy.stats.bootstrap((vals,), np.mean, n_resamples=reps, method="percentile",
                                     confidence_level=0.90, random_state=np.random.default_rng(12))
        # a 90% interval would be outside the tolerance at both ends
        assert sp90.confidence_interval.low - sp.confidence_interval.low > 2 * tol
        assert sp.confidence_interval.high - sp90.confidence_interval.high > 2 * tol


def test_fid_equals_scipy_sqrtm_frechet_on_the_injected_extractors_features():
    real, fake = _noisy_pairs(40, seed=5, offset=15.0)
    ex = ProjectionExtractor()
    out = compute_metrics(real, fake, ScorePlan(metrics=["fid"], extractor=ex, seed=0, set_bootstrap_reps=20)).metrics["fid"]
    fr = ex.features(np.stack([real[k] for k in sorted(real)]))
    ff = ex.features(np.stack([fake[k] for k in sorted(fake)]))
    want = frechet_of(fr, ff)  # scipy's sqrtm
    assert want > 1e-3
    assert out["value"] == pytest.approx(want, rel=1e-7)
    assert out["value"] == pytest.approx(frechet_of(fr, ff, eig=True), rel=1e-7)
    assert out["n"] == out["n_real"] == 40 and out["provenance"]["extractor"] == "pipeline-projection"


def _kid(real, fake, **kw) -> dict:
    return compute_metrics(real, fake, ScorePlan(metrics=["kid"], extractor=ProjectionExtractor(), bootstrap_reps=2,
                           **kw)).metrics["kid"]


def test_kid_with_one_full_subset_is_the_unbiased_mmd2():
    real, fake = _noisy_pairs(30, seed=8)
    ex = ProjectionExtractor()
    fr = ex.features(np.stack([real[k] for k in sorted(real)]))
    ff = ex.features(np.stack([fake[k] for k in sorted(fake)]))
    want = mmd2_unbiased(fr, ff)
    for size in (30, 1000):  # subset_size >= N: each subset is a permutation of every video
        got = _kid(real, fake, kid_subsets=3, kid_subset_size=size, seed=0)
        assert got["subset_size"] == 30 and got["subsets"] == 3
        assert got["value"] == pytest.approx(want, rel=1e-10, abs=1e-14)
    # the biased estimator (diagonal kept) and a subset one short would both be visible
    biased = mmd2_biased(fr, ff)
    assert abs(biased - want) > 1e-3 * abs(want)


def test_kid_subsets_have_the_reported_size():
    """Mean over subsets of size m is an unbiased estimate of the full MMD^2 whatever m is, so the
    size shows in the spread: single-subset KIDs over many seeds must spread like our own subsets
    of the reported size, and visibly less than subsets of half that size."""
    real, fake = _noisy_pairs(60, seed=9)
    ex = ProjectionExtractor()
    fr = ex.features(np.stack([real[k] for k in sorted(real)]))
    ff = ex.features(np.stack([fake[k] for k in sorted(fake)]))
    m = 12
    rng = np.random.default_rng(123)

    def ours(size, draws):
        return np.array([mmd2_unbiased(fr[rng.choice(60, size, replace=False)], ff[rng.choice(60, size, replace=False)])
                         for _ in range(draws)])

    ref_m, ref_half = ours(m, 4000), ours(m // 2, 4000)
    assert ref_half.var() > 1.8 * ref_m.var()  # the known case separates the two sizes
    got = np.array([_kid(real, fake, kid_subsets=1, kid_subset_size=m, seed=s)["value"] for s in range(300)])
    assert _kid(real, fake, kid_subsets=1, kid_subset_size=m, seed=0)["subset_size"] == m
    full = mmd2_unbiased(fr, ff)
    assert abs(got.mean() - full) < 4 * got.std() / np.sqrt(len(got))
    ratio = got.var() / ref_m.var()
    assert 0.7 < ratio < 1.4, ratio
    # and the mean over many subsets of the reported size converges on the full value
    many = _kid(real, fake, kid_subsets=3000, kid_subset_size=m, seed=1)["value"]
    assert abs(many - full) < 5 * ref_m.std() / np.sqrt(3000)


def test_results_json_on_disk_carries_the_returned_numbers(runs):
    res, run_dir, _ = runs["a"]
    on_disk = json.loads((run_dir / "results.json").read_text())
    for name, m in res["metrics"].items():
        assert on_disk["metrics"][name]["value"] == m["value"]
        assert on_disk["metrics"][name]["ci95"] == m["ci95"]


# ----------------------------------------------------------------------------- engine summarising
# Written to kill mutants that survived mutation testing (docs/mutation-testing.md): the pairing's
# provenance and messages, the seeded interval of a mean, the frames a paired metric scores.

def _pairs(names, t=3):
    rng = np.random.default_rng(len(names))
    return {n: rng.integers(0, 256, size=(t, 16, 16, 3), dtype=np.uint8) for n in names}


def test_pairing_provenance_and_the_fake_without_real_message():
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    real = _pairs(["a", "b", "c", "d"])
    fake = {k: real[k] for k in ("a", "b")}
    out = compute_metrics(real, fake, ScorePlan(metrics=["psnr"], bootstrap_reps=10))
    assert out.provenance["pairing"] == {"pairs": 2, "real_without_fake": ["c", "d"]}
    assert any("2 real videos have no fake partner" in w for w in out.provenance["warnings"])
    few = {**fake, "x1": real["a"]}
    with pytest.raises(InputError, match=r"no real partner in .* for: x1$"):
        compute_metrics(real, few, ScorePlan(metrics=["psnr"], bootstrap_reps=10))
    five = {**fake, **{f"x{i}": real["a"] for i in range(5)}}
    with pytest.raises(InputError, match=r"for: x0, x1, x2, x3, x4$"):
        compute_metrics(real, five, ScorePlan(metrics=["psnr"], bootstrap_reps=10))
    seven = {**fake, **{f"x{i}": real["a"] for i in range(7)}}
    with pytest.raises(InputError, match=r"for: x0, x1, x2, x3, x4 \(\+2 more\)$"):
        compute_metrics(real, seven, ScorePlan(metrics=["psnr"], bootstrap_reps=10))


def test_summarize_mean_uses_the_run_seed_reps_and_metric_key():
    from vbench_i2v.metrics.engine import Context, summarize_mean

    v = np.random.default_rng(1).lognormal(size=20)
    values = {f"v{i:02d}": float(x) for i, x in enumerate(v)}
    got = summarize_mean(values, Context(["psnr"], plan=ScorePlan(seed=7, bootstrap_reps=300)), key="psnr")
    want = percentile_interval(bootstrap_means(v, seeded_stream(7, "bootstrap", "psnr"), 300))
    np.testing.assert_allclose(got["ci95"], want, rtol=1e-12)
    other = percentile_interval(bootstrap_means(v, seeded_stream(7, "bootstrap", "mean"), 300))
    assert not np.allclose(got["ci95"], other)
    assert got["value"] == pytest.approx(v.mean(), rel=1e-12) and got["n"] == 20 and got["per_video"] == values
    ints = summarize_mean({"a": 1, "b": 2}, Context(["psnr"]), key="k")
    assert isinstance(ints["value"], float) and ints["value"] == 1.5


def test_scored_frames_boundaries():
    from vbench_i2v.metrics.engine import Context

    ctx = Context(["ssim"])
    np.testing.assert_array_equal(ctx.scored_frames(1), [0])  # a one-frame video has only frame 0
    np.testing.assert_array_equal(ctx.scored_frames(2), [1])
    np.testing.assert_array_equal(ctx.scored_frames(32), np.arange(1, 32))
    everything = Context(["ssim"], plan=ScorePlan(include_conditioning_frame=True))
    np.testing.assert_array_equal(everything.scored_frames(2), [0, 1])
    np.testing.assert_array_equal(everything.scored_frames(1), [0])
