"""The VBench-I2V dimensions (docs/vbench-dims.md): the pure formulas of
``vbench_i2v.metrics.vbench_dims`` against hand computations on fixed features, and the metrics
(``temporal-flickering``, ``subject-consistency``, ``i2v-subject``, ``background-consistency``,
``aesthetic-quality``, ``dynamic-degree``) end to end through the engine and the CLI.

Hand values are written as the arithmetic they come from (e.g. ``0.4 * sqrt(3) / 2 + 0.075``), so a
reader can check them without running anything. Tolerances: the formulas do float64 arithmetic on
a handful of numbers, so 1e-12 absolute is many orders above the rounding error and far below any
change a formula slip would make (the smallest such change below is 0.1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.metrics import vbench_dims as D

TOL = 1e-12


def unit(deg: float, scale: float = 1.0) -> list[float]:
    """A 2-d vector at ``deg`` degrees of length ``scale`` (cosines between them are known by hand)."""
    r = math.radians(deg)
    return [scale * math.cos(r), scale * math.sin(r)]


# Three frames at 0, 60 and 180 degrees, of different lengths (the formulas normalise first):
# cos(f0, f1) = 0.5, cos(f1, f2) = -0.5, cos(f0, f2) = -1.
THREE = np.array([unit(0, 3.0), unit(60, 0.5), unit(180, 2.0)])


# ------------------------------------------------------------------ subject / background consistency

def test_consistency_pairs_are_clipped_at_zero():
    # s_1 = (max(0, cos f0 f1) + max(0, cos f0 f1)) / 2 = (0.5 + 0.5) / 2
    # s_2 = (max(0, cos f1 f2) + max(0, cos f0 f2)) / 2 = (0 + 0) / 2   (unclipped: (-0.5 - 1) / 2)
    np.testing.assert_allclose(D.consistency_pair_sims(THREE), [0.5, 0.0], atol=TOL)
    score, total, pairs = D.consistency_score(THREE)
    assert score == pytest.approx(0.25, abs=TOL) and total == pytest.approx(0.5, abs=TOL) and pairs == 2
    # without the clipping the score would be (0.5 - 0.75) / 2 = -0.125


def test_consistency_uses_the_first_frame_and_the_previous_one():
    # four frames at 0, 90, 90, 0 degrees: s_1 = (0 + 0)/2, s_2 = (1 + 0)/2, s_3 = (0 + 1)/2
    f = np.array([unit(0), unit(90), unit(90), unit(0)])
    np.testing.assert_allclose(D.consistency_pair_sims(f), [0.0, 0.5, 0.5], atol=TOL)


def test_pair_weighted_mean_weights_videos_by_their_frame_pairs():
    # video A: THREE (pair sum 0.5 over 2 pairs, mean 0.25); video B: two equal frames (1 over 1 pair)
    b = np.array([unit(10), unit(10, 7.0)])
    _, sa, pa = D.consistency_score(THREE)
    mb, sb, pb = D.consistency_score(b)
    assert mb == pytest.approx(1.0, abs=TOL)
    assert D.pair_weighted_mean([sa, sb], [pa, pb]) == pytest.approx((0.5 + 1.0) / 3, abs=TOL)  # 0.5
    assert (0.25 + 1.0) / 2 - 0.5 > 0.1  # the plain mean of the videos (0.625) is a different number
    # with equal frame counts the pair-weighted mean is the plain mean of the per-video scores
    c = np.array([unit(0), unit(45), unit(90)])
    mc, sc, pc = D.consistency_score(c)
    assert D.pair_weighted_mean([sa, sc], [pa, pc]) == pytest.approx((0.25 + mc) / 2, abs=TOL)


def test_pair_weighted_interval_is_the_mean_bootstrap_when_pairs_are_equal():
    """Same seeded draws as ``bootstrap.mean_ci``: with equal pair counts the resampled ratio is the
    resampled mean, so the two independent implementations must agree; and the interval brackets
    the value."""
    from vbench_i2v.metrics.bootstrap import mean_ci

    rng = np.random.default_rng(0)
    means = rng.uniform(0.5, 1.0, 30)
    got = D.pair_weighted_ci95(means * 7, np.full(30, 7), seed=4, reps=200, key="k")
    np.testing.assert_allclose(got, mean_ci(means, seed=4, reps=200, key="k"), rtol=1e-12)
    sums, pairs = means * np.arange(1, 31), np.arange(1, 31)
    lo, hi = D.pair_weighted_ci95(sums, pairs, seed=4, reps=200)
    assert lo < D.pair_weighted_mean(sums, pairs) < hi
    assert D.pair_weighted_ci95([0.5], [1]) == [0.5, 0.5]


def test_one_frame_is_refused():
    with pytest.raises(InputError, match="clip7: 1 frame, but this needs at least 2"):
        D.consistency_score(THREE[:1], "clip7")
    with pytest.raises(InputError, match="at least 2"):
        D.i2v_consistency_score(THREE[:1], THREE[0])


# ------------------------------------------------------------------ i2v_subject

def test_i2v_order_statistic_formula():
    # image at 90 degrees: conformity = max(0, cos) over all frames = (0, sin 60, 0) -> max sqrt(3)/2
    # consecutive: (0.5, max(0, -0.5)) -> mean 0.25, min 0
    g = np.array(unit(90, 4.0))
    want = 0.4 * math.sqrt(3) / 2 + 0.3 * 0.25 + 0.3 * 0.0
    assert D.i2v_consistency_score(THREE, g) == pytest.approx(want, abs=TOL)
    # the pre-July-2024 weights 0.5/0.5/0 would give 0.5 * sqrt(3)/2 + 0.125: a different number
    assert abs((0.5 * math.sqrt(3) / 2 + 0.125) - want) > 0.1


def test_i2v_conformity_includes_frame_zero_and_is_clipped():
    # image equal to frame 0: max conformity 1 (frame 0 itself); an image opposite to every frame: 0
    f = np.array([unit(0), unit(30), unit(60)])  # consecutive cosines both cos 30
    c30 = math.cos(math.radians(30))
    assert D.i2v_consistency_score(f, unit(0)) == pytest.approx(0.4 + 0.3 * c30 + 0.3 * c30, abs=TOL)
    far = np.array([unit(0), unit(10), unit(20)])
    c10 = math.cos(math.radians(10))
    assert D.i2v_consistency_score(far, unit(200)) == pytest.approx(0.3 * c10 + 0.3 * c10, abs=TOL)


# ------------------------------------------------------------------ temporal_flickering

def test_flicker_by_hand():
    v = np.zeros((4, 2, 2, 3), np.uint8)
    v[1] = 10
    v[2, 0] = 10  # top row 10, bottom row 40
    v[2, 1] = 40
    v[3] = 0
    # MAE: |10-0| = 10; mean(|10-10|, |40-10|) = 15; mean(|0-10|, |0-40|) = 25  -> mean 50/3
    assert D.flicker_score(v) == pytest.approx((255 - 50 / 3) / 255, abs=TOL)
    # no uint8 wrap-around: 0 -> 255 is a difference of 255 (a wrapped subtraction would give 1)
    w = np.zeros((2, 3, 3, 3), np.uint8)
    w[0] = 255
    assert D.flicker_score(w) == pytest.approx(0.0, abs=TOL)
    assert D.flicker_score(np.repeat(v[:1], 5, 0)) == 1.0


def test_flicker_refuses_one_frame_and_non_uint8():
    with pytest.raises(InputError, match="c1: 1 frame"):
        D.flicker_score(np.zeros((1, 4, 4, 3), np.uint8), "c1")
    with pytest.raises(InputError, match="uint8"):
        D.flicker_score(np.zeros((3, 4, 4, 3), np.float32))


# ------------------------------------------------------------------ aesthetic_quality

def test_aesthetic_is_the_mean_head_score_over_ten():
    # frame scores 6.5, 4.5 and 3.0 (N x 1, as the head gives them) -> mean 14/3 -> / 10
    assert D.aesthetic_from_scores(np.array([[6.5], [4.5], [3.0]])) == pytest.approx(14 / 30, abs=TOL)
    with pytest.raises(InputError, match="no frames"):
        D.aesthetic_from_scores(np.zeros((0, 1)))


# ------------------------------------------------------------------ dynamic_degree

@pytest.mark.parametrize("n, need", [(1, 0), (2, 0), (3, 1), (6, 2), (10, 2), (14, 4), (16, 4), (30, 8)])
def test_count_needed_is_bankers_rounded(n, need):
    # 4n/16: 0.25, 0.5 (-> 0, to even), 0.75, 1.5 (-> 2), 2.5 (-> 2, to even), 3.5 (-> 4), 4, 7.5 (-> 8)
    assert D.dynamic_count_needed(n) == need


def test_threshold_scales_with_the_shorter_side():
    assert D.dynamic_threshold(256, 256) == 6.0
    assert D.dynamic_threshold(240, 320) == pytest.approx(6 * 240 / 256, abs=TOL)
    assert D.dynamic_threshold(720, 64) == pytest.approx(1.5, abs=TOL)


@pytest.mark.parametrize("fps, step", [(None, 1), (8, 1), (4, 1), (12, 2), (20, 2), (24, 3), (25, 3), (30, 4), (60, 8)])
def test_fps_step(fps, step):
    # max(1, round(fps/8)): 0.5 -> 1 (max), 1.5 -> 2, 2.5 -> 2 (to even), 3, 3.125 -> 3, 3.75 -> 4, 7.5 -> 8
    assert D.fps_interval(fps) == step
    assert D.kept_frames(17, fps).tolist() == list(range(0, 17, step))


def test_fps_must_be_positive():
    for bad in (0, -3, float("nan")):
        with pytest.raises(InputError, match="frame rate"):
            D.fps_interval(bad)


def test_flow_pair_score_is_the_mean_of_the_top_five_percent():
    flow = np.zeros((2, 8, 8))  # 64 px -> int(3.2) = 3 largest magnitudes
    flow[0] += 0.6  # every other pixel: |(0.6, 0.8)| = 1
    flow[1] += 0.8
    flow[:, 0, 0] = (6.0, 8.0)  # 10
    flow[:, 3, 5] = (3.0, 4.0)  # 5
    flow[:, 7, 7] = (0.0, -2.0)  # 2
    assert D.flow_pair_score(flow) == pytest.approx((10 + 5 + 2) / 3, abs=TOL)
    small = np.zeros((2, 4, 5))  # 20 px -> 1 magnitude
    small[:, 1, 1] = (5.0, 12.0)
    assert D.flow_pair_score(small) == pytest.approx(13.0, abs=TOL)


def test_dynamic_decision_scans_with_early_exit():
    looked = []

    def lazy(scores):
        for s in scores:
            looked.append(s)
            yield s

    # 256 x 256 -> threshold 6; 6 kept frames -> 2 moving pairs needed
    assert D.dynamic_decision(lazy([7, 1, 7, 9, 9]), 256, 256, 6) == (True, 3)
    assert looked == [7, 1, 7]  # the pairs after the decision were never computed
    assert D.dynamic_decision([7, 1, 1, 1, 1], 256, 256, 6) == (False, 5)
    assert D.dynamic_decision([6.0, 6.0, 6.0], 256, 256, 4) == (False, 3)  # strictly above the threshold
    # count_num = 0 (2 kept frames): the first pair decides "dynamic" whatever its score
    assert D.dynamic_decision([0.0], 256, 256, 2) == (True, 1)
    assert D.dynamic_decision([], 256, 256, 1) == (False, 0)  # one frame: no pairs, not dynamic


def test_share_with_wilson_against_the_closed_form():
    """Wilson score interval by hand: centre (p + z^2/2n) / (1 + z^2/n), half-width
    z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2), z = 1.959963984540054 (the 97.5% normal quantile)."""
    z = 1.959963984540054
    for k, n in ((3, 10), (0, 7), (12, 12), (1, 1)):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        got = D.share_with_wilson([True] * k + [False] * (n - k))
        assert got["value"] == pytest.approx(p, abs=TOL) and got["n"] == n and got["dynamic"] == k
        np.testing.assert_allclose(got["ci95"], [centre - half, centre + half], rtol=1e-9, atol=1e-12)
    # k=3, n=10 once more as plain numbers (computed by hand from the formula above): [0.1078, 0.6032]
    np.testing.assert_allclose(D.share_with_wilson([1, 1, 1] + [0] * 7)["ci95"], [0.10779, 0.60323], atol=5e-5)


# ------------------------------------------------------------------ end to end: shared helpers

def _runner():
    from click.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def vbench(*args):
    """``vbench ARGS`` in-process: (exit code, stdout, stderr)."""
    from vbench_i2v.cli import main

    r = _runner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def import_random_weights(monkeypatch, tmp_path, name: str, path) -> None:
    """``path`` (a random network in the published key format) imported as ``name`` into a fresh
    weights home through the real importer (its loader validates the file); the published sha256
    is lifted for the test only."""
    import dataclasses

    from vbench_i2v import weights

    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(weights.WEIGHTS, name, dataclasses.replace(weights.WEIGHTS[name], sha256=None, size=None))
    weights.import_file(name, path)


def moving_square(t: int, h: int, w: int, speed: int = 3, seed: int = 0) -> np.ndarray:
    """A textured square sliding right ``speed`` px a frame over a noisy still background."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(40, 90, (h, w, 3), dtype=np.uint8)
    tex = rng.integers(150, 255, (h // 3, h // 3, 3), dtype=np.uint8)
    out = np.repeat(bg[None], t, 0)
    for i in range(t):
        x = (4 + speed * i) % max(1, w - h // 3)
        out[i, h // 3:h // 3 + h // 3, x:x + h // 3] = tex
    return out


# ------------------------------------------------------------------ dynamic-degree with RAFT

@pytest.fixture(scope="module")
def raft_file(tmp_path_factory):
    """A random-weight RAFT-things saved as the published checkpoint (``module.`` keys)."""
    import torch

    from vbench_i2v.feature_extractors import raft

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("raft") / "raft-things.pth"
    raft.save_published(raft.RAFT(), path)
    return path


def test_dynamic_degree_end_to_end_equals_the_formula_on_the_same_flows(tmp_path, monkeypatch, raft_file):
    """`vbench metrics --fake DIR --metrics dynamic-degree` (no real videos) with the real RAFT builder
    on imported random weights, against the decision computed here pair by pair (one pair per
    forward, so the metric's batching is checked too) with frames kept by the fps rule by hand:
    a 25 fps mp4 keeps every 3rd frame, npz videos (no fps) keep every frame."""
    from vbench_i2v.feature_extractors import raft
    from vbench_i2v.video_io import read_video, write_video

    import_random_weights(monkeypatch, tmp_path, "raft-things", raft_file)
    fake = tmp_path / "fake"
    write_video(fake / "a.mp4", moving_square(10, 64, 72, seed=1), fps=25)
    write_video(fake / "b.npz", moving_square(6, 64, 64, speed=0, seed=2))
    write_video(fake / "c.npz", moving_square(1, 64, 64, seed=3))  # one frame: no pairs, not dynamic
    code, out, err = vbench("metrics", "--fake", fake, "--metrics", "dynamic-degree", "--json", tmp_path / "r.json")
    assert code == 0, err
    import json

    got = json.loads((tmp_path / "r.json").read_text())["metrics"]["dynamic-degree"]

    net = raft.RAFTFlow(raft_file)
    want, computed = {}, 0
    for name, kept in (("a", [0, 3, 6, 9]), ("b", list(range(6))), ("c", [0])):
        v = read_video(next(fake.glob(name + ".*")))
        h, w = v.shape[1:3]
        thres, need = 6 * min(h, w) / 256, {4: 1, 6: 2, 1: 0}[len(kept)]  # round(4n/16) by hand
        moved, dynamic = 0, False
        for i, j in zip(kept[:-1], kept[1:]):
            f = net.flow(v[i:i + 1], v[j:j + 1])[0].numpy().astype(np.float64)
            assert f.shape == (2, 64, 72 if name == "a" else 64)  # already multiples of 8: padded = native
            mag = np.sqrt(f[0] ** 2 + f[1] ** 2).ravel()
            score = np.sort(mag)[-int(0.05 * mag.size):].mean()
            assert abs(score - thres) > 1e-3 * thres  # far from the threshold: batching cannot flip it
            moved += score > thres
            computed += 1
            if moved >= need:
                dynamic = True
                break
        want[name] = float(dynamic)
    assert got["per_video"] == want
    assert got["value"] == pytest.approx(np.mean(list(want.values())), abs=TOL) and got["n"] == 3
    assert got["ci95"] == pytest.approx(D.share_with_wilson([x > 0 for x in want.values()])["ci95"], abs=TOL)
    assert got["frame_rate"]["videos_without_fps"] == 2
    assert got["pairs_computed"] <= computed + 2  # batches of 2 (the catalog's CPU batch) may overrun by one pair
    assert want["c"] == 0.0


def test_dynamic_degree_refuses_frames_raft_cannot_take(tmp_path, monkeypatch, raft_file):
    from vbench_i2v.video_io import write_video

    import_random_weights(monkeypatch, tmp_path, "raft-things", raft_file)
    write_video(tmp_path / "fake" / "tiny.npz", moving_square(4, 32, 48))
    code, out, err = vbench("metrics", "--fake", tmp_path / "fake", "--metrics", "dynamic-degree")
    assert code == 2 and err.startswith("Error: tiny: RAFT") and "too small" in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ sanity responses

class DifferenceFlow:
    """A flow stand-in with a flow estimator's one property the sanity check relies on: identical
    frames give zero flow. u = |b - a| averaged over colour, v = 0 (what RAFT itself does is
    tests/test_raft.py's business; here the metric's response to frozen clips is checked)."""

    name = "difference-flow"
    weights_sha256 = None
    batch_size = 4

    def flow(self, a, b):
        d = np.abs(np.asarray(b, np.float64) - np.asarray(a, np.float64)).mean(-1)
        return np.stack([d, np.zeros_like(d)], 1)


def test_expectation_check_by_hand():
    from vbench_i2v.sanity.expectations import check_expectations, markdown_lines

    rows = [{"metric": "m", "corruption": "none", "corruption_kind": "clean", "level": 0, "value": 0.8},
            {"metric": "m", "corruption": "frozen", "corruption_kind": "temporal", "level": 2, "value": 0.1},
            {"metric": "m", "corruption": "frozen", "corruption_kind": "temporal", "level": 1, "value": 0.9},
            {"metric": "m", "corruption": "blur", "corruption_kind": "spatial", "level": 1, "value": 0.8}]
    got = check_expectations(rows, {"m": (("frozen", "lower"), ("blur", "lower"), ("jpeg", "higher"))})
    assert [(c["corruption"], c["level"], c["ok"]) for c in got] == [("frozen", 2, True), ("blur", 1, False),
                                                                      ("jpeg", None, None)]
    text = "\n".join(markdown_lines(got))
    assert "- ok: m must be lower under frozen: frozen level 2 = 0.1, clean = 0.8" in text
    assert "- FAILED: m must be lower under blur" in text and "- not run: m must be higher under jpeg" in text


def test_sanity_frozen_lowers_dynamic_degree_and_shuffled_lowers_flicker_score(monkeypatch):
    """`vbench sanity` on moving clips: the declared responses hold (and are reported as ok)."""
    from vbench_i2v.metrics.registry import get_metric
    from vbench_i2v.sanity.report import markdown, run_sanity

    assert get_metric("dynamic-degree").sanity == (("frozen", "lower"),)
    assert get_metric("temporal-flickering").sanity == (("shuffled", "lower"),)
    monkeypatch.setitem(get_metric("dynamic-degree").provenance, "model_builder", lambda *a: DifferenceFlow())
    videos = {f"v{i}": moving_square(8, 64, 64, speed=3 + i % 2, seed=i) for i in range(4)}
    report = run_sanity(videos, metrics="temporal-flickering,dynamic-degree", strengths=1, seed=0,
                        bootstrap_reps=20)
    checks = {(c["metric"], c["corruption"]): c for c in report.meta["expectations"]}
    assert set(checks) == {("dynamic-degree", "frozen"), ("temporal-flickering", "shuffled")}
    assert all(c["ok"] for c in checks.values()), checks
    assert report.value("dynamic-degree", "none", 0) == 1.0 and report.value("dynamic-degree", "frozen", 1) == 0.0
    assert report.value("temporal-flickering", "shuffled", 1) < report.value("temporal-flickering", "none", 0) < 1
    assert "## Expected responses" in markdown(report)


# ------------------------------------------------------------------ DINO / CLIP metrics end to end

def _randomise(model, seed: int):
    """Every parameter drawn N(0, 0.05^2) (norm scales 1 + that), seeded: the published architectures
    leave some tensors uninitialised (CLIP's class and position embeddings)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05 + (1.0 if name.endswith("weight") and p.ndim == 1 else 0.0))
    return model.eval()


@pytest.fixture(scope="module")
def image_weights(tmp_path_factory):
    """Reduced random networks saved in the published key formats: DINO's plain state dict, CLIP's
    ``visual.*`` names (as a state dict; the loader also reads OpenAI's TorchScript archive), the
    LAION head's ``weight``/``bias``."""
    import torch

    from vbench_i2v.feature_extractors import clip_vit, dino_vit

    d = tmp_path_factory.mktemp("image-nets")
    dino = _randomise(dino_vit.dino_vitb16(embed_dim=64, depth=2, num_heads=1), 1)
    dino_vit.save_published(dino, d / "dino.pth")
    for name, cfg, seed in (("clip-b32.pt", clip_vit.VIT_B32.reduced(width=64, layers=2, heads=1, output_dim=32), 2),
                            ("clip-l14.pt", clip_vit.VIT_L14.reduced(width=64, layers=2, heads=1), 3)):
        tower = _randomise(clip_vit.ClipVisionTransformer(cfg), seed)
        torch.save({"visual." + k: v for k, v in tower.state_dict().items()}, d / name)
    head = _randomise(torch.nn.Linear(768, 1), 4)
    with torch.no_grad():
        head.weight.mul_(20.0)  # w ~ N(0, 1): w . e varies by ~1 between frames (e has norm 1)
        head.bias.fill_(5.0)  # scores around LAION's 1..10
    torch.save(head.state_dict(), d / "laion.pth")
    return {"dino-vitb16": d / "dino.pth", "clip-vit-b32": d / "clip-b32.pt", "clip-vit-l14": d / "clip-l14.pt",
            "laion-aesthetic-linear": d / "laion.pth"}


def colour_steps(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Each frame a random colour plus pixel noise: random-weight ViTs pool over patches, so a
    moving object changes their CLS features little, while a changing colour moves them a lot."""
    r = np.random.default_rng(seed)
    return np.stack([np.clip(r.integers(0, 256, (1, 1, 3)) + r.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
                     for _ in range(t)])


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_image_metrics_end_to_end_equal_the_formulas_on_the_same_features(tmp_path, monkeypatch, image_weights):
    """The README's command, `vbench metrics --fake DIR --conditioning DIR --metrics ...`, with no real
    videos, any size and length, through the real catalog builders on imported reduced networks;
    each value against the formula computed here on the same networks' features."""
    import json

    import torch
    from PIL import Image

    from vbench_i2v import weights
    from vbench_i2v.feature_extractors.clip_vit import ClipEmbedder
    from vbench_i2v.feature_extractors.dino_vit import DinoEmbedder
    from vbench_i2v.video_io import read_video, write_video

    for name, path in image_weights.items():
        import_random_weights(monkeypatch, tmp_path, name, path)
    fake, cond = tmp_path / "fake", tmp_path / "cond"
    cond.mkdir()
    shapes = {"a": (6, 48, 64), "b": (9, 40, 40), "c": (4, 72, 56)}  # lengths and sizes differ
    for i, (n, (t, h, w)) in enumerate(shapes.items()):
        write_video(fake / f"{n}.npz", colour_steps(t, h, w, seed=10 + i))
        Image.fromarray(colour_steps(1, 50 + 10 * i, 60, seed=20 + i)[0]).save(cond / f"{n}.png")
    metrics = "subject-consistency,background-consistency,i2v-subject,aesthetic-quality,temporal-flickering"
    code, out, err = vbench("metrics", "--fake", fake, "--conditioning", cond, "--metrics", metrics,
                            "--bootstrap-reps", "50", "--json", tmp_path / "r.json")
    assert code == 0, err
    got = json.loads((tmp_path / "r.json").read_text())["metrics"]

    dino = DinoEmbedder(image_weights["dino-vitb16"])
    clip_b = ClipEmbedder(image_weights["clip-vit-b32"])
    clip_l = ClipEmbedder(image_weights["clip-vit-l14"])
    head = torch.load(image_weights["laion-aesthetic-linear"], weights_only=True)
    w, b = head["weight"].double().numpy()[0], float(head["bias"][0])
    want = {m: {} for m in metrics.split(",")}
    pair_sums = {"subject-consistency": [0.0, 0], "background-consistency": [0.0, 0]}
    for n in shapes:
        v = read_video(fake / f"{n}.npz")
        img = np.asarray(Image.open(cond / f"{n}.png").convert("RGB"))
        for metric, f in (("subject-consistency", dino.embed_frames(v, "subject-consistency")),
                          ("background-consistency", clip_b.embed_frames(v, "background-consistency"))):
            f = _unit(f)
            s = [(max(0, f[i - 1] @ f[i]) + max(0, f[0] @ f[i])) / 2 for i in range(1, len(f))]
            want[metric][n] = float(np.mean(s))
            pair_sums[metric][0] += sum(s)
            pair_sums[metric][1] += len(s)
        f = _unit(dino.embed_frames(v, "i2v-subject-frames"))
        g = _unit(dino.embed_frames(img[None], "i2v-subject-image"))[0]
        c = [max(0, f[i - 1] @ f[i]) for i in range(1, len(f))]
        want["i2v-subject"][n] = 0.4 * max(max(0, g @ x) for x in f) + 0.3 * np.mean(c) + 0.3 * min(c)
        e = _unit(clip_l.embed_frames(v, "aesthetic-quality"))  # LAION: linear head on the normalised embedding
        want["aesthetic-quality"][n] = float(np.mean(e @ w + b) / 10)
        d = np.abs(np.diff(v.astype(np.float64), axis=0)).mean(axis=(1, 2, 3))
        want["temporal-flickering"][n] = float((255 - d.mean()) / 255)
    # float32 networks, features compared through float64 formulas: the metric batches frames
    # differently from the calls here, so allow float32 rounding (1e-5 relative) and no more
    for m in want:
        for n in shapes:
            assert got[m]["per_video"][n] == pytest.approx(want[m][n], rel=1e-5, abs=1e-6), (m, n)
        assert np.ptp(list(want[m].values())) > 1e-4, m  # the videos differ: a mixed-up video would show
        assert got[m]["n"] == 3 and got[m]["ci95"][0] <= got[m]["value"] <= got[m]["ci95"][1]
    for m, (total, pairs) in pair_sums.items():  # unequal lengths: pair-weighted differs from the plain mean
        assert got[m]["value"] == pytest.approx(total / pairs, rel=1e-5) and got[m]["frame_pairs"] == pairs == 16
        assert abs(total / pairs - np.mean(list(want[m].values()))) > 1e-5
    for m in ("i2v-subject", "aesthetic-quality", "temporal-flickering"):
        assert got[m]["value"] == pytest.approx(np.mean(list(want[m].values())), rel=1e-5)
    prov = got["i2v-subject"]["provenance"]
    assert prov["extractor"] == "dino-vitb16" and prov["weights_sha256"] == weights.require("dino-vitb16").sha256
    assert got["aesthetic-quality"]["provenance"]["extractor"] == "laion-aesthetic-linear"
