"""`vbench sanity`: each corruption against a hand computation, the report's cells against
independent recomputations (scipy/numpy Frechet on the probe's features, skimage PSNR), the flag
logic on a constructed table, the written files, and the command line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy.ndimage import gaussian_filter

from references import frechet_of
from vbench_i2v.errors import InputError
from vbench_i2v.protocol import rng_for
from vbench_i2v.sanity import corruptions as C
from vbench_i2v.sanity.report import (BASELINE, SanityReport, conditions, default_sanity_metrics,
                                      find_flags, markdown, metric_figure, run_sanity, split_halves, write_report)


def numbered(t: int = 12, h: int = 8, w: int = 6) -> np.ndarray:
    """Frame t is filled with the value 10*t, so out[:, 0, 0, 0] // 10 reads the index map back."""
    return np.broadcast_to((np.arange(t, dtype=np.uint8) * 10)[:, None, None, None], (t, h, w, 3)).copy()


def index_of(out: np.ndarray) -> np.ndarray:
    return out[:, 0, 0, 0].astype(int) // 10


@pytest.fixture
def rand_video():
    return np.random.default_rng(3).integers(0, 256, (4, 11, 9, 3), dtype=np.uint8)


# ------------------------------------------------------------------------ spatial corruptions

@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 6.0])  # 6: the kernel is wider than the frame
def test_blur_is_scipy_gaussian_filter_per_frame_and_channel(rand_video, sigma):
    ref = gaussian_filter(rand_video.astype(np.float64), sigma=(0, sigma, sigma, 0), mode="reflect", truncate=4.0)
    np.testing.assert_allclose(C.blur_float(rand_video, sigma), ref, rtol=0, atol=1e-9)
    out = C.gaussian_blur(rand_video, sigma)
    assert out.dtype == np.uint8 and out.shape == rand_video.shape
    np.testing.assert_array_equal(out, np.clip(np.rint(ref), 0, 255).astype(np.uint8))
    # frames are blurred independently: time is not mixed
    np.testing.assert_array_equal(C.gaussian_blur(rand_video[2:3], sigma)[0], out[2])


def test_noise_has_the_requested_std_and_is_seeded():
    v = np.full((6, 40, 40, 3), 128, np.uint8)
    out = C.gaussian_noise(v, 10.0, np.random.default_rng(0))
    d = out.astype(np.float64) - 128
    assert abs(d.std() - 10.0) < 0.2 and abs(d.mean()) < 0.2  # 28800 samples: std error ~0.04
    assert np.all(d == np.rint(d))
    np.testing.assert_array_equal(out, C.gaussian_noise(v, 10.0, np.random.default_rng(0)))
    assert not np.array_equal(out, C.gaussian_noise(v, 10.0, np.random.default_rng(1)))
    np.testing.assert_array_equal(C.gaussian_noise(v, 0.0, np.random.default_rng(0)), v)
    # clipping at the ends of the range, never wrap-around
    ends = C.gaussian_noise(np.zeros((2, 8, 8, 3), np.uint8), 50.0, np.random.default_rng(0))
    assert ends.min() == 0 and (ends == 0).mean() > 0.4


def _pil_roundtrip(frame, q):
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=q, subsampling=2)  # 2 = 4:2:0
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_jpeg_is_per_frame_pil_roundtrip_worse_at_lower_quality_and_nearly_idempotent(video):
    v = video[:4]
    out = C.jpeg_compress(v, 50)
    np.testing.assert_array_equal(out, np.stack([_pil_roundtrip(f, 50) for f in v]))
    mse = lambda a, b: float(((a.astype(float) - b.astype(float)) ** 2).mean())  # noqa: E731
    assert mse(out, v) > 0
    assert mse(C.jpeg_compress(v, 10), v) > mse(out, v) > mse(C.jpeg_compress(v, 90), v) > 0
    # a second pass at the same quality changes far less than the first
    assert mse(C.jpeg_compress(out, 50), out) < 0.25 * mse(out, v)
    with pytest.raises(InputError, match="quality"):
        C.jpeg_compress(v, 0)


# ------------------------------------------------------------------------ temporal corruptions

def test_reversed_is_the_clip_backwards():
    v = numbered(10)
    np.testing.assert_array_equal(C.reverse_time(v, 1.0), v[::-1])
    assert index_of(C.reverse_time(v, 0.5)).tolist() == [4, 3, 2, 1, 0, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(C.reverse_time(v, 0.0), v)


def test_frozen_holds_one_frame_for_the_last_fraction():
    v = numbered(9)
    assert index_of(C.freeze_frames(v, 0.5)).tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 4]  # k = 4 of T-1 = 8
    np.testing.assert_array_equal(C.freeze_frames(v, 1.0), np.repeat(v[:1], 9, axis=0))
    np.testing.assert_array_equal(C.freeze_frames(v, 0.0), v)


@pytest.mark.parametrize("t, fraction, displaced", [(20, 0.5, 10), (20, 1.0, 20), (20, 0.05, 2), (7, 0.0, 0)])
def test_shuffled_is_a_permutation_moving_exactly_the_requested_frames(t, fraction, displaced):
    v = numbered(t)
    out = C.shuffle_frames(v, fraction, np.random.default_rng(5))
    idx = index_of(out)
    assert sorted(idx.tolist()) == list(range(t))  # every frame once
    assert int((idx != np.arange(t)).sum()) == displaced
    np.testing.assert_array_equal(out, v[idx])
    np.testing.assert_array_equal(idx, C.shuffle_index(t, fraction, np.random.default_rng(5)))


def test_dropped_frames_repeat_the_previous_kept_frame():
    t = 12
    v = numbered(t)
    idx = index_of(C.drop_frames(v, 0.5, np.random.default_rng(2)))
    kept = [i for i in range(t) if idx[i] == i]
    assert kept[0] == 0 and len(kept) == t - round(0.5 * (t - 1))  # 6 of frames 1..11 dropped
    expected = [max(k for k in kept if k <= i) for i in range(t)]  # hold the last kept frame
    assert idx.tolist() == expected
    assert index_of(C.drop_frames(v, 0.0, np.random.default_rng(2))).tolist() == list(range(t))
    assert index_of(C.drop_frames(v, 1.0, np.random.default_rng(2))).tolist() == [0] * t


def test_levels_and_bad_inputs():
    assert C.CORRUPTIONS["blur"].levels(3) == [0.5, 1.0, 2.0]
    assert C.CORRUPTIONS["jpeg"].levels(3) == [90.0, 50.0, 10.0]
    assert C.CORRUPTIONS["frozen"].levels(3) == [0.25, 0.625, 1.0]
    assert C.CORRUPTIONS["noise"].levels(1) == [32.0]
    assert {c.kind for c in C.CORRUPTIONS.values()} == {"spatial", "temporal"}
    with pytest.raises(InputError, match="uint8"):
        C.gaussian_blur(np.zeros((2, 4, 4, 3), np.float32), 1.0)
    with pytest.raises(InputError, match="fraction"):
        C.freeze_frames(numbered(4), 1.5)
    with pytest.raises(InputError, match="strength"):
        C.CORRUPTIONS["blur"].levels(0)


# ------------------------------------------------------------------------ selection and flags

def test_split_halves_is_seeded_disjoint_and_complete():
    names = [f"v{i:02d}" for i in range(11)]
    a, b = split_halves(names, 0)
    assert len(b) == 5 and len(a) == 6 and set(a) | set(b) == set(names) and not set(a) & set(b)
    assert split_halves(list(reversed(names)), 0) == (a, b)  # input order does not matter
    assert split_halves(names, 1) != (a, b)
    with pytest.raises(InputError, match="at least 4"):
        split_halves(names[:3], 0)


def test_default_metrics_follow_the_extractor():
    probe = default_sanity_metrics("synthetic-probe")
    assert {"fid", "kid", "ssim", "psnr"} <= set(probe)
    assert not {"fvd", "kvd", "lpips", "acd-c"} & set(probe)  # own network / model / not set-or-paired
    assert {"fvd", "kvd", "fid"} <= set(default_sanity_metrics("i3d-kinetics400"))


def _rows(metric, table):
    """``{corruption: (kind, [values by level 1..N])}`` -> report rows (plus a clean row)."""
    rows = [{"metric": metric, "corruption": BASELINE, "corruption_kind": "clean", "level": 0, "value": 0.0}]
    for corr, (kind, vals) in table.items():
        for lvl, val in reversed(list(enumerate(vals, start=1))):  # order must not matter
            rows.append({"metric": metric, "corruption": corr, "corruption_kind": kind, "level": lvl,
                         "strength": float(lvl), "value": val})
    return rows


def test_flags_lower_is_better():
    rows = _rows("fvdlike", {"blur": ("spatial", [10, 20, 30]), "noise": ("spatial", [12, 25, 40]),
                             "frozen": ("temporal", [5, 8, 11]),  # 11: beats noise-1 (12), not blur-1 (10)
                             "shuffled": ("temporal", [1, 2, 50]),  # weak levels do not count
                             "reversed": ("temporal", [3, 4, 10])})  # a tie with blur-1 is no flag
    flags = find_flags(rows, {"fvdlike": False})
    got = {(f["temporal"], f["spatial"]) for f in flags}
    assert got == {("frozen", "noise"), ("reversed", "noise")}
    f = next(f for f in flags if f["temporal"] == "frozen")
    assert (f["temporal_level"], f["temporal_value"], f["spatial_level"], f["spatial_value"]) == (3, 11, 1, 12)
    assert f["better"] == "lower" and f["intervals_overlap"] is None  # these rows carry no intervals
    # with intervals: [9, 13] vs [11.5, 12.5] overlap; [8, 10] vs [11.5, 12.5] do not
    for lo, hi, want in ((9, 13, True), (8, 10, False)):
        for r in rows:
            if r["corruption"] == "noise" and r["level"] == 1:
                r.update(ci95_lo=11.5, ci95_hi=12.5)
            if r["corruption"] == "frozen" and r["level"] == 3:
                r.update(ci95_lo=lo, ci95_hi=hi)
        f = next(f for f in find_flags(rows, {"fvdlike": False}) if f["temporal"] == "frozen")
        assert f["intervals_overlap"] is want


def test_flags_higher_is_better_and_non_finite_values_skipped():
    rows = _rows("psnrlike", {"blur": ("spatial", [30, 25]), "jpeg": ("spatial", [35, 28]),
                              "dropped": ("temporal", [60, 32]), "frozen": ("temporal", [40, float("nan")])})
    flags = find_flags(rows, {"psnrlike": True})
    assert {(f["temporal"], f["spatial"]) for f in flags} == {("dropped", "blur")}
    # a NaN at frozen's strongest level leaves frozen unjudged; without that row level 1 is its strongest
    rows = [r for r in rows if not (r["corruption"] == "frozen" and r["level"] == 2)]
    assert {(f["temporal"], f["spatial"]) for f in find_flags(rows, {"psnrlike": True})} == {
        ("dropped", "blur"), ("frozen", "blur"), ("frozen", "jpeg")}


def test_report_extracts_each_clip_once_per_network(tmp_path, synthetic12):
    """Through the report's feature store, A's and clean B's clips go through the network once for
    the whole report; kept with ``cache``, a second report extracts nothing and gives the same cells."""
    kw = dict(metrics="fid,ssim", extractor="synthetic-probe", strengths=1, seed=0, bootstrap_reps=20,
              set_bootstrap_reps=5)
    first = run_sanity(synthetic12, cache=tmp_path / "store", **kw)
    # 6 (A) + 6 (clean B) + 7 corruptions x 6 corrupted clips of B, at most (a corruption may leave a clip as it was)
    assert 12 < first.meta["features_extracted"] <= 12 + 7 * 6
    again = run_sanity(synthetic12, cache=tmp_path / "store", **kw)
    assert again.meta["features_extracted"] == 0
    assert [r["value"] for r in again.rows] == [r["value"] for r in first.rows]


# ------------------------------------------------------------------------ the report

def _synthetic(n: int) -> dict[str, np.ndarray]:
    from vbench_i2v.datasets import get_dataset

    ds = get_dataset("synthetic")
    return {ref.record.video_id: ds.load_clip(ref) for ref in ds.clips("test", per_video=1, limit=n)}


@pytest.fixture(scope="module")
def synthetic12():
    return _synthetic(12)


@pytest.fixture(scope="module")
def report12(synthetic12):
    return run_sanity(synthetic12, metrics=None, extractor="synthetic-probe", strengths=2, seed=0,
                      bootstrap_reps=50, set_bootstrap_reps=5)


def test_report_has_every_cell(report12):
    metrics = report12.meta["metrics"]
    assert {"fid", "kid", "ssim", "psnr"} <= set(metrics) and "fid-inf" not in metrics
    assert any(n.startswith("fid-inf skipped") and "10" in n for n in report12.meta["notes"])
    conds = conditions(2)
    assert len(conds) == 1 + 7 * 2
    assert len(report12.rows) == len(metrics) * len(conds)
    cells = {(r["metric"], r["corruption"], r["level"]) for r in report12.rows}
    assert cells == {(m, c["corruption"], c["level"]) for m in metrics for c in conds}
    assert all(np.isfinite(r["value"]) for r in report12.rows)
    assert len(report12.meta["half_a"]) == 6 and len(report12.meta["half_b"]) == 6
    # A's and clean B's features once; the 14 corrupted versions of B at most once each
    assert 12 < report12.meta["features_extracted"] <= 12 + 14 * 6


def test_baseline_fid_is_below_strong_noise_and_paired_baseline_is_identity(report12):
    assert report12.value("fid", BASELINE, 0) < report12.value("fid", "noise", 2)
    assert report12.value("kid", BASELINE, 0) < report12.value("kid", "noise", 2)
    assert report12.value("ssim", BASELINE, 0) == pytest.approx(1.0)
    assert report12.value("psnr", BASELINE, 0) == pytest.approx(10 * np.log10(255**2 / 1e-10), abs=0.01)
    assert report12.value("psnr", "noise", 2) < report12.value("psnr", "noise", 1) < 148


def test_set_cell_is_frechet_of_probe_features_of_a_and_corrupted_b(report12, synthetic12):
    """Independent: the probe's features, numpy covariances, the trace of sqrt(S1 S2) from eigenvalues."""
    from vbench_i2v.feature_extractors import build_video_extractor

    ex = build_video_extractor("synthetic-probe")
    a = np.stack([synthetic12[n] for n in report12.meta["half_a"]])
    blur = C.CORRUPTIONS["blur"]
    sigma = blur.levels(2)[1]
    b2 = np.stack([blur.apply(synthetic12[n], sigma, rng_for(0, "sanity", "blur", "2", n))
                   for n in report12.meta["half_b"]])
    fa, fb = ex.features(a), ex.features(b2)
    fid = frechet_of(fa, fb, eig=True)  # 6 videos, 128-d: singular covariances, the eigenvalue form
    assert report12.value("fid", "blur", 2) == pytest.approx(fid, rel=1e-4)


def test_paired_cell_is_psnr_of_corrupted_b_against_clean_b(report12, synthetic12):
    from skimage.metrics import peak_signal_noise_ratio

    noise = C.CORRUPTIONS["noise"]
    std = noise.levels(2)[0]
    per_video = []
    for n in report12.meta["half_b"]:
        clean = synthetic12[n]
        noisy = noise.apply(clean, std, rng_for(0, "sanity", "noise", "1", n))
        per_video.append(np.mean([peak_signal_noise_ratio(clean[t], noisy[t], data_range=255)
                                  for t in range(1, len(clean))]))  # frame 0 is the conditioning frame
    assert report12.value("psnr", "noise", 1) == pytest.approx(float(np.mean(per_video)), rel=1e-9)


def test_report_files(report12, tmp_path):
    paths = write_report(report12, tmp_path / "out")
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths)
    assert names == sorted(["sanity.md", "sanity.csv", "sanity.json"]
                           + [f"plots/{m}.png" for m in report12.meta["metrics"]])
    with open(tmp_path / "out" / "sanity.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(report12.rows)
    r = next(r for r in rows if r["metric"] == "fid" and r["corruption"] == "noise" and r["level"] == "2")
    assert float(r["value"]) == report12.value("fid", "noise", 2) and r["compared_with"].startswith("A")
    data = json.loads((tmp_path / "out" / "sanity.json").read_text())
    assert data["flags"] == report12.flags and len(data["rows"]) == len(report12.rows)
    md = (tmp_path / "out" / "sanity.md").read_text()
    for c in C.CORRUPTIONS:
        assert f"| {c} |" in md
    assert "## Flags" in md
    for p in paths:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (tmp_path / "out").rglob("*") if ".vbench-tmp-" in p.name]


def test_plot_lines_spatial_solid_temporal_dashed(report12):
    fig = metric_figure(report12, "fid")
    styles = {line.get_label().split(" ")[0]: line.get_linestyle() for line in fig.axes[0].lines}
    for name, c in C.CORRUPTIONS.items():
        assert styles[name] == ("-" if c.kind == "spatial" else "--"), name
    line = next(ln for ln in fig.axes[0].lines if ln.get_label().startswith("noise"))
    assert list(line.get_xdata()) == [0, 1, 2]
    assert list(line.get_ydata()) == [report12.value("fid", lv, k) for lv, k in
                                      ((BASELINE, 0), ("noise", 1), ("noise", 2))]


def test_markdown_lists_flags():
    rows = [dict(r, parameter="p") for r in _rows("fid", {"blur": ("spatial", [10.0]), "frozen": ("temporal", [5.0])})]
    rep = SanityReport(rows, find_flags(rows, {"fid": False}), {"higher_is_better": {"fid": False}})
    md = markdown(rep)
    assert "FLAG fid (lower is better): frozen level 1 = 5.00 beats blur level 1 = 10.00" in md


# ------------------------------------------------------------------------ command line

def test_cli_on_a_small_folder(tmp_path, synthetic12):
    from vbench_i2v.cli import main
    from vbench_i2v.video_io import write_video

    real = tmp_path / "real"
    for n in list(synthetic12)[:4]:
        write_video(real / f"{n}.npz", synthetic12[n])
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["sanity", "--real", str(real), "--extractor", "synthetic-probe",
                                    "--metrics", "fid,psnr", "--strengths", "1", "--out", str(out),
                                    "--bootstrap-reps", "20", "--fid-bootstrap-reps", "2"])
    assert res.exit_code == 0, res.output
    assert "| none | clean | 0 |" in res.stdout and "reversed" in res.stdout
    data = json.loads((out / "sanity.json").read_text())
    assert data["meta"]["metrics"] == ["fid", "psnr"] and len(data["rows"]) == 2 * (1 + 7)
    assert (out / "plots" / "psnr.png").is_file()


def test_cli_refuses_too_few_videos(tmp_path, synthetic12):
    from vbench_i2v.cli import main
    from vbench_i2v.video_io import write_video

    real = tmp_path / "real"
    for n in list(synthetic12)[:3]:
        write_video(real / f"{n}.npz", synthetic12[n])
    res = CliRunner().invoke(main, ["sanity", "--real", str(real), "--metrics", "psnr", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "Error:" in res.output and "at least 4" in res.output
