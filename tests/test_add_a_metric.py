"""Adding a metric is one new file plus one registration line (the issue's acceptance test).

A dummy metric module is written into a temporary folder, its module name is added to
``registry.METRIC_MODULES`` (the one line a real metric adds), and with nothing else changed the
metric shows up in ``vbench metrics --list``, is computed by ``vbench run`` into results.json, and
is shown on the leaderboard with its declared decimals and its direction deciding the bold cell.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vbench_i2v.metrics import registry

MODULE = "vbench_contract_dummy_metric"
DECIMALS = 5

DUMMY_SOURCE = f'''
"""dummy-mean: mean absolute pixel difference of each predicted frame with the real frame."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    import numpy as np

    frames = ctx.scored_frames(len(item.fake), item.name)
    return float(np.abs(item.fake[frames].astype(np.float64) - item.real[frames].astype(np.float64)).mean())


register(MetricSpec(
    name="dummy-mean", kind="paired", higher_is_better=False, decimals={DECIMALS},
    description="mean absolute pixel difference of each predicted frame with the real frame (test metric)",
    per_video=_per_video,
))
'''


@pytest.fixture
def dummy_metric(tmp_path, monkeypatch):
    """The new file on sys.path, its name appended to METRIC_MODULES, the registry reloaded;
    everything (registry contents, loaded flag, module list, sys.modules) restored afterwards."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(DUMMY_SOURCE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(registry, "_METRICS", dict(registry.all_metrics()))  # a copy: built-ins stay
    monkeypatch.setattr(registry, "METRIC_MODULES", [*registry.METRIC_MODULES, MODULE])
    monkeypatch.setattr(registry, "_loaded", False)
    yield registry.get_metric("dummy-mean")
    sys.modules.pop(MODULE, None)


def test_listed_by_vbench_metrics(dummy_metric):
    from vbench_i2v.cli import main

    assert registry.metric_names()[-1] == "dummy-mean"  # display order = registration order
    r = CliRunner().invoke(main, ["metrics", "--list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("dummy-mean"))
    assert re.search(rf"dummy-mean\s+paired\s+lower\s+{DECIMALS}\s", row), row
    assert "mean absolute pixel difference" in row
    # and the option parser accepts it by name (case-insensitive), as for built-in metrics
    assert registry.parse_metrics("SSIM,Dummy-Mean") == ["ssim", "dummy-mean"]


def _run(out: Path, generator: str) -> tuple[Path, dict]:
    from vbench_i2v.run import RunSpec, execute

    res = execute(RunSpec(generator=generator, dataset="synthetic", metrics=["dummy-mean", "ssim"], max_videos=2,
                          conditioning_per_video=1, out=str(out), device="cpu", batch_size=2))
    return out / res["run_id"], res


def _by_hand(run_dir: Path) -> float:
    """The metric's definition applied to the clips the run wrote (frames 1..T-1, mean per clip)."""
    from vbench_i2v.video_io import read_video

    per_clip = []
    for fake_path in sorted((run_dir / "fake").glob("*.npz")):
        fake = read_video(fake_path).astype(np.float64)
        real = read_video(run_dir / "real" / fake_path.name).astype(np.float64)
        per_clip.append(np.abs(fake[1:] - real[1:]).mean())
    assert len(per_clip) == 2
    return float(np.mean(per_clip))


def test_computed_by_a_run_and_ranked_on_the_leaderboard(dummy_metric, tmp_path, monkeypatch):
    from vbench_i2v import leaderboard
    from vbench_i2v.results import load_results

    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    runs = {}
    for gen in ("copy-first-frame", "imaginator"):  # imaginator: its shipped synthetic checkpoint
        run_dir, res = _run(tmp_path / "runs", gen)
        on_disk = load_results(run_dir)
        assert on_disk["metrics"]["dummy-mean"] == json.loads(json.dumps(res["metrics"]["dummy-mean"]))
        m = on_disk["metrics"]["dummy-mean"]
        assert m["n"] == 2 and m["value"] == pytest.approx(_by_hand(run_dir), rel=1e-12)
        assert m["ci95"][0] <= m["value"] <= m["ci95"][1] and m["frames"] == "predicted"
        assert "ssim" in on_disk["metrics"]  # the built-ins beside it are untouched
        runs[gen] = (run_dir, on_disk)
    values = {g: r["metrics"]["dummy-mean"]["value"] for g, (_, r) in runs.items()}
    assert values["copy-first-frame"] != values["imaginator"]

    def cells() -> dict[str, str]:
        boards = leaderboard.measured_boards([(str(d), r) for d, r in runs.values()])
        assert len(boards) == 1, "both runs share one protocol fingerprint"
        md = leaderboard.render(boards, [], "markdown")
        col = None
        out = {}
        for line in md.splitlines():
            parts = [p.strip() for p in line.strip().strip("|").split("|")]
            if "dummy-mean" in parts:
                col = parts.index("dummy-mean")
            elif col is not None and parts[0].split(" (")[0] in runs:  # "imaginator (width=0.125)"
                out[parts[0].split(" (")[0]] = parts[col]
        assert set(out) == set(runs), md
        return out

    def expect(cell: str, value: float, decimals: int, bold: bool) -> None:
        text = f"{value:.{decimals}f}"
        assert cell.startswith(f"**{text} [" if bold else f"{text} ["), (cell, text, bold)
        assert cell.endswith("]**") == bold, cell

    lower = min(values, key=values.get)
    higher = max(values, key=values.get)
    got = cells()  # declared: lower is better, 5 decimals
    expect(got[lower], values[lower], DECIMALS, bold=True)
    expect(got[higher], values[higher], DECIMALS, bold=False)

    # the board reads direction and decimals from the declaration: flip them and the bold moves
    flipped = dataclasses.replace(dummy_metric, higher_is_better=True, decimals=2)
    registry.unregister("dummy-mean")
    registry.register(flipped)
    got = cells()
    expect(got[higher], values[higher], 2, bold=True)
    expect(got[lower], values[lower], 2, bold=False)
