"""Tests written to kill the mutants that survived mutation testing (docs/mutation-testing.md).

Each compares a function of the metric core, the protocol or results.json validation with an
independent computation (hashlib + numpy's generator for the seeded choices, np.cov + scipy for
Frechet, loops for kernels) or pins a boundary the mutant moved.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pytest
import scipy.linalg

from vbench_i2v import protocol
from vbench_i2v.errors import InputError
from vbench_i2v.metrics import bootstrap


def _stream(seed, *keys) -> np.random.Generator:
    """The documented derivation: sha256 of "seed/key/..." -> first 8 bytes little-endian."""
    h = hashlib.sha256("/".join((str(seed),) + keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


# ----------------------------------------------------------------------------- protocol

def test_rng_for_is_the_documented_sha256_derivation():
    for seed, keys in ((0, ("a",)), (3, ("noise", "clip_f0001")), (17, ("x", "y", "z"))):
        np.testing.assert_array_equal(protocol.rng_for(seed, *keys).integers(1 << 62, size=4),
                                      _stream(seed, *keys).integers(1 << 62, size=4))
    assert protocol.rng_for(0, "a").integers(1 << 62) != protocol.rng_for(1, "a").integers(1 << 62)


@pytest.mark.parametrize("n,n_train,n_test,want_test", [(60, 48, 12, 12), (10, 48, 12, 2), (2, 48, 12, 1),
                                                         (3, 1, 2, 2), (5, 4, 1, 1), (7, 1, 6, 6), (4, 1, 9, 3),
                                                         (3, 48, 12, 1), (6, 50, 1, 1)])
def test_subject_split_sizes_and_draw(n, n_train, n_test, want_test):
    subjects = [f"p{i:02d}" for i in range(n)][::-1] + ["p00"]  # unsorted, with a duplicate
    got = protocol.subject_split(subjects, n_train, n_test, seed=5)
    uniq = sorted(set(subjects))
    order = _stream(5, "subject-split").permutation(n)
    assert got["test"] == sorted(uniq[i] for i in order[:want_test])
    assert got["train"] == sorted(uniq[i] for i in order[want_test:])
    assert len(got["test"]) == want_test and not set(got["test"]) & set(got["train"])


def test_subject_split_needs_two_subjects():
    from vbench_i2v.errors import InputError

    with pytest.raises(InputError, match="at least 2"):
        protocol.subject_split(["a", "a"], 1, 1, seed=0)
    assert protocol.subject_split(["a", "b"], 1, 1, seed=0)["test"] in (["a"], ["b"])


@pytest.mark.parametrize("n,per", [(32, 10), (20, 3), (33, 10), (34, 2), (80, 10), (40, 9), (41, 10)])
def test_clip_starts_are_a_seeded_draw_without_replacement(n, per):
    got = protocol.clip_starts(n, per, _stream(9, "clips"))
    last = n - protocol.CLIP_FRAMES
    if last <= 0:
        assert got == [0]
        return
    k = min(per, last + 1)
    assert got == sorted(int(s) for s in _stream(9, "clips").choice(last + 1, size=k, replace=False))
    assert len(set(got)) == k and all(isinstance(s, int) for s in got) and max(got) <= last


def test_take_clip_pads_with_the_last_frame():
    frames = np.arange(40)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    np.testing.assert_array_equal(protocol.take_clip(frames, 5)[:, 0, 0, 0], np.arange(5, 37))
    short = protocol.take_clip(frames[:20], 0)[:, 0, 0, 0]
    np.testing.assert_array_equal(short, np.r_[np.arange(20), np.full(12, 19)])
    np.testing.assert_array_equal(protocol.take_clip(frames, 30)[:, 0, 0, 0], np.r_[np.arange(30, 40), np.full(22, 39)])


# ----------------------------------------------------------------------------- bootstrap

def test_two_sample_ci_defaults_and_that_both_sides_are_resampled():
    a, b = np.arange(7.0), np.arange(9.0) ** 2
    stat = lambda cx, cy: float(cx @ a / cx.sum() - cy @ b / cy.sum())  # noqa: E731
    assert bootstrap.two_sample_ci(stat, 7, 9) == bootstrap.two_sample_ci(stat, 7, 9, seed=0, reps=200,
                                                                           key="two-sample")
    # an independent replay of the documented stream: real counts then fake counts, per rep
    rng = _stream(0, "bootstrap", "two-sample")
    draws = []
    for _ in range(200):
        cx = rng.multinomial(7, np.full(7, 1 / 7)).astype(float)
        cy = rng.multinomial(9, np.full(9, 1 / 9)).astype(float)
        draws.append(stat(cx, cy))
    np.testing.assert_allclose(bootstrap.two_sample_ci(stat, 7, 9), np.percentile(draws, [2.5, 97.5]), rtol=1e-12)
    only_real = bootstrap.two_sample_ci(lambda cx, cy: float(cx @ a / cx.sum()), 7, 9, reps=50)
    assert only_real[1] - only_real[0] > 0.5


def test_mean_ci_small_inputs_and_stream():
    assert bootstrap.mean_ci([]) != bootstrap.mean_ci([])  # [nan, nan]: nan != nan
    assert len(bootstrap.mean_ci([])) == 2 and all(np.isnan(bootstrap.mean_ci([])))
    assert bootstrap.mean_ci([2.5]) == [2.5, 2.5]
    v = np.array([1.0, 4.0, 2.0, 8.0, 3.0])
    counts = _stream(4, "bootstrap", "k").multinomial(5, np.full(5, 0.2), size=300)
    np.testing.assert_allclose(bootstrap.mean_ci(v, seed=4, reps=300, key="k"),
                               np.percentile(counts @ v / 5, [2.5, 97.5]), rtol=1e-12)
    w = np.random.default_rng(0).lognormal(size=25)  # continuous values: another stream moves the ends
    assert bootstrap.mean_ci(w) == bootstrap.mean_ci(w, seed=0, reps=1000, key="mean")
    assert bootstrap.mean_ci(w) != bootstrap.mean_ci(w, seed=0, reps=1000, key="other")
    assert bootstrap.mean_ci([1.0, 3.0], reps=500)[0] < 2.0 < bootstrap.mean_ci([1.0, 3.0], reps=500)[1]


# ----------------------------------------------------------------------------- Frechet

def _frechet_scipy(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    ev = np.linalg.eigvals(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


@pytest.mark.parametrize("n1,n2,d", [(6, 9, 20), (30, 25, 4), (12, 12, 12)])
def test_frechet_from_features_with_counts_equals_repeated_rows(n1, n2, d):
    """Counts w mean row i taken w_i times: the same as np.repeat, in sample and feature space."""
    from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features

    rng = np.random.default_rng(n1 + d)
    x, y = rng.normal(size=(n1, d)), rng.normal(0.3, 1.5, size=(n2, d))
    w1, w2 = rng.integers(0, 3, n1).astype(float), rng.integers(0, 3, n2).astype(float)
    w1[:2], w2[:2] = 1, 2
    want = _frechet_scipy(np.repeat(x, w1.astype(int), 0), np.repeat(y, w2.astype(int), 0))
    assert frechet_from_features(x, y, w1, w2) == pytest.approx(want, rel=1e-8)
    plain = _frechet_scipy(x, y)
    assert frechet_from_features(x, y) == pytest.approx(plain, rel=1e-8)
    if n1 > d and n2 > d:
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        textbook = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
        assert frechet_distance(x.mean(0), s1, y.mean(0), s2) == pytest.approx(textbook, rel=1e-8)
    with pytest.raises(InputError):
        frechet_from_features(x[:1], y)
    with pytest.raises(InputError):
        frechet_from_features(x, y, np.r_[1.0, np.zeros(n1 - 1)], w2)


def test_frechet_distance_identical_is_zero_and_singular_route():
    from vbench_i2v.metrics.frechet import frechet_distance, sqrtm_psd, trace_sqrt_product

    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 8))  # 5 samples in 8-d: singular covariance (the sqrt(S1) route)
    s = np.cov(a, rowvar=False)
    assert frechet_distance(a.mean(0), s, a.mean(0), s) == pytest.approx(0.0, abs=1e-9)
    b = rng.normal(size=(6, 8))
    s2 = np.cov(b, rowvar=False)
    ev = np.sqrt(np.clip(np.linalg.eigvals(s @ s2).real, 0, None)).sum()
    assert trace_sqrt_product(s, s2) == pytest.approx(ev, rel=1e-7)
    r = sqrtm_psd(s)
    np.testing.assert_allclose(r @ r, s, atol=1e-10)
    np.testing.assert_allclose(r, scipy.linalg.sqrtm(s + 1e-300 * np.eye(8)).real, atol=1e-6)
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(9 + 1 + 4 - 2 * 2)
    with pytest.raises(InputError, match="shape"):
        frechet_distance(a.mean(0), s, b.mean(0), s2[:3, :3])
    with pytest.raises(InputError, match="shape"):
        frechet_distance(a.mean(0), s[:3, :3], b.mean(0), s2)
    for i, name in enumerate(("mu1", "sigma1", "mu2", "sigma2")):  # frechet_distance(mu1, sigma1, mu2, sigma2)
        args = [np.zeros(2), np.eye(2), np.zeros(2), np.eye(2)]
        args[i] = args[i].copy()
        args[i].flat[0] = np.nan
        with pytest.raises(InputError, match=f"Frechet statistics: {name} contains NaN"):
            frechet_distance(*args)


def test_frechet_works_in_float64_whatever_the_input_dtype():
    """float32 features (what the networks return) are promoted before any sum: the value equals
    the float64 computation on the same numbers to 1e-12, not float32's ~1e-7."""
    from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features

    rng = np.random.default_rng(4)
    x = (rng.normal(size=(7, 5)) * 100 + 1000).astype(np.float32)
    y = (rng.normal(size=(9, 5)) * 100 + 1001).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    w1, w2 = np.arange(1, 8).astype(np.float32), np.arange(1, 10).astype(np.float32)
    assert frechet_from_features(x, y, w1, w2) == pytest.approx(
        frechet_from_features(x64, y64, w1.astype(float), w2.astype(float)), rel=1e-12)
    mu1, mu2 = x.mean(0), y.mean(0) + np.float32(0.1)
    s1, s2 = np.cov(x64, rowvar=False).astype(np.float32), np.cov(y64, rowvar=False).astype(np.float32)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        frechet_distance(mu1.astype(float), s1.astype(float), mu2.astype(float), s2.astype(float)), rel=1e-12)
    # exactly two videos a side is enough (the bootstrap can draw that)
    assert frechet_from_features(x64[:2], y64[:2]) == pytest.approx(_frechet_scipy(x64[:2], y64[:2]), rel=1e-8)
    assert frechet_from_features(x64, y64, np.r_[2.0, np.zeros(6)], np.r_[1.0, 1.0, np.zeros(7)]) >= 0


# ----------------------------------------------------------------------------- KID

def test_weighted_mmd2_equals_repeated_rows_and_subset_sizes():
    from vbench_i2v.metrics.kid import KernelMatrices, kid

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(9, 3)), rng.normal(0.5, 1.0, size=(11, 3))

    def mmd(a, b):
        d = a.shape[1]
        k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
        m, n = len(a), len(b)
        kaa, kbb = k(a, a), k(b, b)
        return ((kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
                - 2 * k(a, b).mean())

    km = KernelMatrices(x, y)
    cx, cy = rng.integers(0, 3, 9).astype(float), rng.integers(0, 3, 11).astype(float)
    cx[0], cy[0] = 2, 1
    rx, ry = np.repeat(np.arange(9), cx.astype(int)), np.repeat(np.arange(11), cy.astype(int))
    # repeated rows are distinct samples here: the diagonal of the repeated kernel matrix only is left out
    kxx = (x[rx] @ x[rx].T / 3 + 1) ** 3
    kyy = (y[ry] @ y[ry].T / 3 + 1) ** 3
    m, n = len(rx), len(ry)
    want = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * ((x[rx] @ y[ry].T / 3 + 1) ** 3).mean())
    assert km.weighted_mmd2(cx, cy) == pytest.approx(want, rel=1e-10)
    assert kid(x, y[:9], num_subsets=4, max_subset_size=100) == pytest.approx(mmd(x, y[:9]), rel=1e-10)
    # subsets of 9 from 11 fake rows: each subset value is the MMD of one 9 x 9 pair
    rng2 = _stream(0, "kid-subsets")
    vals = []
    for _ in range(5):
        i = rng2.choice(9, 9, replace=False)
        j = rng2.choice(11, 9, replace=False)
        vals.append(mmd(x[i], y[j]))
    assert kid(x, y, num_subsets=5, max_subset_size=1000, seed=0) == pytest.approx(np.mean(vals), rel=1e-10)
    with pytest.raises(InputError):
        KernelMatrices(x[:1], y)
    with pytest.raises(InputError):
        KernelMatrices(x, y[:, :2])
    with pytest.raises(InputError):
        KernelMatrices(np.r_[x, [[np.nan, 0, 0]]], y)


# ----------------------------------------------------------------------------- streaming stats

def test_streaming_stats_equal_np_cov_and_merge():
    from vbench_i2v.metrics.streaming import StreamingStats

    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(23, 4))
    a, b = StreamingStats(4), StreamingStats(4)
    a.update(x[:10])
    for row in x[10:]:
        b.update(row)  # one vector at a time (1-d input)
    mu, sigma = a.merge(b).compute()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-10)
    assert a.n == 23 and int(a.state()["n"]) == 23
    np.testing.assert_allclose(a.state()["sum"], x.sum(0))
    np.testing.assert_allclose(a.state()["sum_outer"], x.T @ x)
    for bad in (np.ones((2, 3)), np.full((2, 4), np.inf), np.ones((1, 2, 4))):
        with pytest.raises(InputError):
            StreamingStats(4).update(bad)
    with pytest.raises(InputError):
        StreamingStats(4).merge(StreamingStats(3))
    one = StreamingStats(4)
    one.update(x[:1])
    with pytest.raises(InputError):
        one.compute()
    two = StreamingStats(4)
    two.update(x[:2])
    np.testing.assert_allclose(two.compute()[1], np.cov(x[:2], rowvar=False), atol=1e-12)


# ----------------------------------------------------------------------------- ACD

def test_acd_against_loops():
    from vbench_i2v.metrics.acd import acd_c, acd_i

    rng = np.random.default_rng(3)
    e, c = rng.normal(size=(5, 3)), rng.normal(size=3)
    pairs = [np.linalg.norm(e[i] - e[j]) for i in range(5) for j in range(i + 1, 5)]
    assert acd_c(e) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert acd_c(e[:2]) == pytest.approx(np.linalg.norm(e[0] - e[1]), rel=1e-12)
    assert acd_i(e, c) == pytest.approx(np.mean([np.linalg.norm(r - c) for r in e]), rel=1e-12)
    assert acd_i(e, c[None]) == pytest.approx(acd_i(e, c))
    for bad in (e[:1], e[0], np.r_[e, [[np.nan] * 3]]):
        with pytest.raises(InputError, match="^ACD-C[: ]"):
            acd_c(bad)
    with pytest.raises(InputError, match="^ACD-I[: ]"):
        acd_i(e, c[:2])
    with pytest.raises(InputError, match="^ACD-I[: ]"):
        acd_i(np.r_[e, [[np.inf] * 3]], c)
    with pytest.raises(InputError, match="^ACD-I[: ]"):
        acd_i(e[0], c)
    # float32 embeddings are promoted: the value is the float64 one to 1e-12
    e32, c32 = (e * 1000 + 5000).astype(np.float32), (c * 1000 + 5001).astype(np.float32)
    want = np.mean([np.linalg.norm(r - c32.astype(float)) for r in e32.astype(float)])
    assert acd_i(e32, c32) == pytest.approx(want, rel=1e-12)


# ----------------------------------------------------------------------------- results.json

def _results() -> dict:
    """A schema-1 results dict (read and migrated since schema 2; its fingerprint hashes the v1 fields)."""
    from vbench_i2v.results import FINGERPRINT_FIELDS_V1, fingerprint_fields, protocol_fingerprint

    r = {"schema_version": 1, "run_id": "r1",
         "generator": {"name": "g", "config": {}, "checkpoint": None, "checkpoint_sha256": None, "variant": None},
         "dataset": {"name": "synthetic", "split": "test", "clip_count": 6, "video_count": 6},
         "protocol": {"frames": 32, "size": 64, "frame_step": 1, "conditioning_per_video": 10, "max_videos": None,
                      "seed": 0, "extractor": None, "extractor_weights_sha256": None, "dataset_options": {},
                      "extractors": {}, "dataset_fingerprint": "abc", "paired_frames": "predicted"},
         "metrics": {"ssim": {"value": 0.5, "ci95": [0.4, 0.6], "n": 6, "extractor": None}},
         "provenance": {"package_version": "0.1", "torch_version": "2", "device": "cpu", "wall_time_s": 0,
                        "created": "now"}}
    r["protocol"]["fingerprint"] = protocol_fingerprint(fingerprint_fields(r), FINGERPRINT_FIELDS_V1)
    return r


def test_fingerprint_is_sha256_of_the_canonical_json():
    import json

    from vbench_i2v.results import FINGERPRINT_FIELDS, fingerprint_fields, protocol_fingerprint

    r = _results()
    flat = fingerprint_fields(r)
    picked = {f: (int(flat[f]) if isinstance(flat[f], float) and flat[f].is_integer() else flat[f])
              for f in FINGERPRINT_FIELDS}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert protocol_fingerprint(flat) == hashlib.sha256(text.encode("ascii")).hexdigest()[:12]
    assert protocol_fingerprint({**flat, "size": 64.0}) == protocol_fingerprint(flat)
    assert protocol_fingerprint({**flat, "size": 64.5}) != protocol_fingerprint(flat)
    assert protocol_fingerprint({**flat, "unrelated": 1}) == protocol_fingerprint(flat)
    with pytest.raises(InputError, match="seed"):
        protocol_fingerprint({k: v for k, v in flat.items() if k != "seed"})


def _set(r, path, value):
    r = copy.deepcopy(r)
    d = r
    for k in path[:-1]:
        d = d[k]
    if value is KeyError:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return r


@pytest.mark.parametrize("path,value,ok", [
    (("metrics", "ssim", "value"), None, True), (("metrics", "ssim", "ci95"), None, True),
    (("metrics", "ssim", "ci95"), [0.6, 0.6], True), (("metrics", "ssim", "ci95"), [0.61, 0.6], False),
    (("metrics", "ssim", "ci95"), [0.4], False), (("metrics", "ssim", "ci95"), [0.4, float("inf")], False),
    (("metrics", "ssim", "ci95"), (0.4, 0.6), True), (("metrics", "ssim", "ci95"), [0.4, True], False),
    (("metrics", "ssim", "ci95"), [0.4, "0.6"], False), (("metrics", "ssim", "value"), float("nan"), False),
    (("metrics", "ssim", "value"), True, False), (("metrics", "ssim", "value"), 1, True),
    (("metrics", "ssim", "n"), 0, True), (("metrics", "ssim", "n"), -1, False), (("metrics", "ssim", "n"), 6.0, False),
    (("metrics", "ssim", "n"), True, False), (("metrics", "ssim", "n"), KeyError, False),
    (("metrics", "ssim", "extractor"), 3, False), (("metrics", "ssim", "extractor"), "x", True),
    (("metrics", "ssim", "weights_sha256"), ["x"], False), (("metrics", "ssim"), 0.5, False),
    (("metrics",), [], False), (("run_id",), "", False), (("run_id",), KeyError, False),
    (("schema_version",), True, False), (("schema_version",), 2, False), (("schema_version",), KeyError, False),
    (("generator", "checkpoint"), "", False), (("generator", "variant"), "v", True),
    (("dataset", "clip_count"), 0, True), (("dataset", "clip_count"), -1, False), (("dataset", "clip_count"), 6.0, True),
    (("dataset", "clip_count"), 6.5, False), (("dataset", "video_count"), False, False),
    (("protocol", "frames"), 0, False), (("protocol", "frames"), 1, True), (("protocol", "max_videos"), 0, False),
    (("protocol", "max_videos"), 1, True), (("protocol", "seed"), 0, True), (("protocol", "seed"), -1, False),
    (("protocol", "size"), float("inf"), False), (("provenance", "wall_time_s"), -0.1, False),
    (("provenance", "wall_time_s"), 0.0, True), (("provenance", "wall_time_s"), float("inf"), False),
    (("provenance", "wall_time_s"), "1", False), (("provenance", "device"), " ", False),
    (("dataset", "name"), None, False), (("protocol", "dataset_options"), [], False),
    (("generator", "config"), "x", False), (("provenance",), KeyError, False), (("provenance", "created"), KeyError, False),
])
def test_validate_results_field_by_field(path, value, ok):
    from vbench_i2v.results import FINGERPRINT_FIELDS_V1, fingerprint_fields, protocol_fingerprint, validate_results

    r = _set(_results(), path, value)
    if ok and path[0] in ("dataset", "protocol"):
        r["protocol"]["fingerprint"] = protocol_fingerprint(fingerprint_fields(r), FINGERPRINT_FIELDS_V1)
    if ok:
        assert validate_results(r, "f.json") is r
    else:
        with pytest.raises(InputError, match="f.json"):
            validate_results(r, "f.json")


def test_validate_results_checks_the_fingerprint_and_the_type():
    from vbench_i2v.results import validate_results

    r = _results()
    with pytest.raises(InputError, match="fingerprint"):
        validate_results(_set(r, ("protocol", "seed"), 1), "f")
    with pytest.raises(InputError, match="JSON object"):
        validate_results([r], "f")


# ----------------------------------------------------------------------------- engine summarising

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
    got = summarize_mean(values, Context(["psnr"], seed=7, bootstrap_reps=300), key="psnr")
    counts = _stream(7, "bootstrap", "psnr").multinomial(20, np.full(20, 0.05), size=300)
    np.testing.assert_allclose(got["ci95"], np.percentile(counts @ v / 20, [2.5, 97.5]), rtol=1e-12)
    other = _stream(7, "bootstrap", "mean").multinomial(20, np.full(20, 0.05), size=300)
    assert not np.allclose(got["ci95"], np.percentile(other @ v / 20, [2.5, 97.5]))
    assert got["value"] == pytest.approx(v.mean(), rel=1e-12) and got["n"] == 20 and got["per_video"] == values
    ints = summarize_mean({"a": 1, "b": 2}, Context(["psnr"]), key="k")
    assert isinstance(ints["value"], float) and ints["value"] == 1.5


def test_scored_frames_boundaries():
    from vbench_i2v.metrics.engine import Context

    ctx = Context(["ssim"])
    np.testing.assert_array_equal(ctx.scored_frames(1), [0])  # a one-frame video has only frame 0
    np.testing.assert_array_equal(ctx.scored_frames(2), [1])
    np.testing.assert_array_equal(ctx.scored_frames(32), np.arange(1, 32))
    everything = Context(["ssim"], include_conditioning_frame=True)
    np.testing.assert_array_equal(everything.scored_frames(2), [0, 1])
    np.testing.assert_array_equal(everything.scored_frames(1), [0])
