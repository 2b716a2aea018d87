"""`vbench study export`: pair counts, side balance, blinding, and a key that matches the files."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from skimage.metrics import peak_signal_noise_ratio

from study_helpers import make_run
from vbench_i2v.errors import InputError
from vbench_i2v.study.export import (CHECK_CORRUPT, CHECK_REAL, REAL, attention_count, balanced_flips,
                                     corrupt, export_study, load_run, plan_items, real_of, upscale)
from vbench_i2v.protocol import rng_for
from vbench_i2v.video_io import read_video

RUN_A, RUN_B = "imaginator-run-7", "mocogan-run-3"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a = make_run(root, RUN_A, n_clips=8, generator="imaginator", shift=16, quality=3)
    b = make_run(root, RUN_B, n_clips=8, generator="mocogan", shift=40, quality=3)
    return a, b


@pytest.fixture(scope="module")
def study(runs, tmp_path_factory):
    """Two runs plus real: 3 method pairs x 5 pairs = 15 comparisons, ceil(0.2 * 15) = 3 checks."""
    out = tmp_path_factory.mktemp("study") / "s"
    info = export_study(runs, out, pairs=5, include_real=True, seed=3, fmt="mp4", attention_rate=0.2,
                        scale=2)
    return out, info


def test_pair_counts_and_attention_rate(study):
    out, info = study
    key = pd.read_csv(out / "key.csv", dtype=str)
    assert list(key.columns[:6]) == ["pair_id", "left_run", "right_run", "left_file", "right_file",
                                     "attention_check"]
    comp = key[key["attention_check"] == "0"]
    per_pair = Counter(frozenset((l, r)) for l, r in zip(comp["left_run"], comp["right_run"]))
    assert per_pair == {frozenset((RUN_A, RUN_B)): 5, frozenset((RUN_A, REAL)): 5, frozenset((RUN_B, REAL)): 5}
    checks = key[key["attention_check"] == "1"]
    assert len(checks) == 3 == info["attention_checks"] and info["comparisons"] == 15
    assert all({l, r} == {CHECK_REAL, CHECK_CORRUPT} for l, r in zip(checks["left_run"], checks["right_run"]))
    assert key["pair_id"].is_unique and info["methods"] == [RUN_A, RUN_B, REAL]


def test_left_right_balanced_per_method_pair(runs):
    # Planned without rendering. 7 pairs (odd): each method of a pair is on the left 3 or 4 times;
    # 8 pairs: exactly 4.
    a, b = (load_run(r) for r in runs)
    methods = [a, b, real_of(a)]
    for pairs in (7, 8):
        items = plan_items(methods, pairs, 0.0, seed=11, checks_from=None)
        assert len(items) == 3 * pairs
        left_counts = Counter(i.left_run for i in items)
        for m in (RUN_A, RUN_B, REAL):
            # each method meets the two others: 2 * pairs appearances, half of them on the left
            assert abs(left_counts[m] - pairs) <= 1 if pairs % 2 else left_counts[m] == pairs
        for x, y in ((RUN_A, RUN_B), (RUN_A, REAL), (RUN_B, REAL)):
            n_x_left = sum(i.left_run == x and i.right_run == y for i in items)
            assert n_x_left in ({pairs // 2, pairs // 2 + 1} if pairs % 2 else {pairs // 2})


def test_balanced_flips_is_half_and_seeded():
    for n in range(1, 12):
        f = balanced_flips(n, rng_for(0, "t", str(n)))
        assert f.dtype == bool and len(f) == n and abs(2 * int(f.sum()) - n) <= 1
    a = [balanced_flips(10, rng_for(s, "t")).tolist() for s in range(20)]
    assert len({tuple(x) for x in a}) > 5  # random order, not a fixed pattern
    assert attention_count(15, 0.2) == 3 and attention_count(10, 0.1) == 1 and attention_count(10, 0) == 0


def test_key_matches_clip_files(study, runs):
    """Each L/R file shows the run and clip the key says (decoded mp4 close to that source only)."""
    out, _ = study
    a, b = runs
    key = pd.read_csv(out / "key.csv", dtype=str)
    pairs = pd.read_csv(out / "pairs.csv", dtype=str)
    assert list(pairs.columns) == ["pair_id", "left_file", "right_file", "sbs_file"]
    assert pairs[["pair_id", "left_file", "right_file"]].equals(key[["pair_id", "left_file", "right_file"]])
    source = {RUN_A: a / "fake", RUN_B: b / "fake", REAL: a / "real", CHECK_REAL: a / "real"}
    candidates = [RUN_A, RUN_B, REAL]
    for row in key.itertuples():
        assert row.left_clip == row.right_clip  # shared protocol: same conditioning image both sides
        shown_l, shown_r = read_video(out / row.left_file), read_video(out / row.right_file)
        assert shown_l.shape == (32, 128, 128, 3)
        sbs = read_video(out / pairs.loc[pairs.pair_id == row.pair_id, "sbs_file"].item())
        assert sbs.shape == (32, 128, 2 * 128 + 4, 3)
        assert peak_signal_noise_ratio(shown_l, sbs[:, :, :128], data_range=255) > 30
        assert peak_signal_noise_ratio(shown_r, sbs[:, :, -128:], data_range=255) > 30
        assert (sbs[:, :, 130:132] > 200).all()  # the white gap
        for run, shown in ((row.left_run, shown_l), (row.right_run, shown_r)):
            if run == CHECK_CORRUPT:
                orig = upscale(read_video(a / "real" / f"{row.left_clip}.npz"), 2)
                assert peak_signal_noise_ratio(orig, shown, data_range=255) < 20  # visibly broken
                continue
            psnr = {c: peak_signal_noise_ratio(upscale(read_video(source[c] / f"{row.left_clip}.npz"), 2),
                                               shown, data_range=255) for c in candidates}
            want = REAL if run == CHECK_REAL else run
            assert max(psnr, key=psnr.get) == want and psnr[want] > 30


def test_nothing_the_page_loads_names_a_method(study):
    out, _ = study
    page = (out / "index.html").read_text()
    config = json.loads(re.search(r"const CFG = (\{.*?\});\n", page).group(1).replace("<\\/", "</"))
    pairs = pd.read_csv(out / "pairs.csv", dtype=str)
    assert [p["id"] for p in config["pairs"]] == list(pairs["pair_id"])
    assert all(set(p) == {"id", "left", "right"} for p in config["pairs"])
    assert all(re.fullmatch(r"clips/p\d{3}_[LR]\.mp4", p[s]) for p in config["pairs"] for s in ("left", "right"))
    loaded = [out / "index.html", out / "pairs.csv"] + [out / p[s] for p in config["pairs"] for s in ("left", "right")]
    loaded += list((out / "clips").iterdir())
    secrets = [RUN_A, RUN_B, "imaginator", "mocogan", CHECK_REAL, CHECK_CORRUPT, "corrupt", "key.csv", "fp-test"]
    for path in loaded:
        blob = path.read_bytes().lower()
        for word in secrets:
            assert word.lower().encode() not in blob, f"{word!r} leaks in {path.name}"
    assert "left_run" not in page and "attention" not in page.lower()


def test_same_seed_same_study_and_seed_matters(runs, tmp_path):
    kw = dict(pairs=2, include_real=False, fmt="mp4", attention_rate=0.5, scale=1)
    export_study(runs, tmp_path / "x", seed=5, **kw)
    export_study(runs, tmp_path / "y", seed=5, **kw)
    export_study(runs, tmp_path / "z", seed=6, **kw)
    kx, ky, kz = ((tmp_path / d / "key.csv").read_text() for d in "xyz")
    assert kx == ky and kx != kz
    assert (tmp_path / "x" / "index.html").read_text() == (tmp_path / "y" / "index.html").read_text()


def test_unshared_protocol_matches_labels(tmp_path):
    a = make_run(tmp_path, "run-a", n_clips=6, fingerprint="fp1", shift=8)
    b = make_run(tmp_path, "run-b", n_clips=9, fingerprint="fp2", shift=24, clip_prefix="d")
    info = export_study([a, b], tmp_path / "s", pairs=3, fmt="gif", attention_rate=0, scale=1)
    assert (tmp_path / "s" / "clips" / "p001_SBS.gif").is_file()
    assert info["shared_protocol"] is False
    key = pd.read_csv(tmp_path / "s" / "key.csv", dtype=str)
    labels = {**{f"c{i:03d}": i % 3 for i in range(6)}, **{f"d{i:03d}": i % 3 for i in range(9)}}
    assert len(key) == 3
    assert all(labels[l] == labels[r] for l, r in zip(key["left_clip"], key["right_clip"]))


def test_corrupt_is_seeded_and_far_from_original():
    clip = np.full((32, 64, 64, 3), 120, np.uint8)
    x, y = corrupt(clip, rng_for(0, "c")), corrupt(clip, rng_for(0, "c"))
    np.testing.assert_array_equal(x, y)
    assert x.shape == clip.shape and peak_signal_noise_ratio(clip, x, data_range=255) < 20


def test_clear_errors(runs, tmp_path):
    with pytest.raises(InputError, match="share only 8 clips"):
        export_study(runs, tmp_path / "s1", pairs=9, fmt="mp4", attention_rate=0, scale=1)
    with pytest.raises(InputError, match="at least two methods"):
        export_study(runs[:1], tmp_path / "s2", pairs=2, fmt="mp4", attention_rate=0, scale=1)
    with pytest.raises(InputError, match="not a run directory"):
        export_study([runs[0], tmp_path], tmp_path / "s3", pairs=2)
    export_study(runs, tmp_path / "s4", pairs=1, fmt="mp4", attention_rate=0, scale=1)
    with pytest.raises(InputError, match="already holds a study"):
        export_study(runs, tmp_path / "s4", pairs=1, fmt="mp4", attention_rate=0, scale=1)
    export_study(runs, tmp_path / "s4", pairs=1, fmt="mp4", attention_rate=0, scale=1, force=True)
