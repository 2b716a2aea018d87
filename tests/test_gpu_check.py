"""benchmarks/gpu_check.py (the GPU check) and scripts/paper_budget_gpu.sh, rehearsed on the CPU.

The GPU check has not run on a GPU yet; what can be checked here is checked here: the dry run runs
every stage on the CPU end to end and writes the summary the GPU run will write; its helpers (step
times from losses.csv, the FID tolerance propagated from the features' tolerance, the junit reader,
the markdown, the import link folder for an uninstalled checkout, the time budget) are tested
against hand computations and independent references. Two ``cuda`` tests here join the GPU check's
``pytest -m cuda`` stage.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gc = importlib.util.module_from_spec(_spec)
sys.modules["gpu_check"] = gc
_spec.loader.exec_module(gc)

QUIET = {"OMP_NUM_THREADS": "1", "VBENCH_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _env(**extra):
    return {**os.environ, **QUIET, **extra}


# --- the dry run, end to end ------------------------------------------------------------------------

@pytest.mark.slow
def test_dry_run_runs_every_stage_and_writes_the_summary(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out),
                        "--work", str(work)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    # three files, so that a lent GPU machine (at most 8 files back) returns all of them
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.log", "summary.json", "summary.md"]
    assert not work.exists()  # the scratch folder is removed unless --keep-work
    s = json.loads((out / "summary.json").read_text())
    assert {"schema", "kind", "dry_run", "device_requested", "env", "stages", "checks", "ok", "started", "finished",
            "total_seconds", "budget_s"} <= set(s)
    assert s["dry_run"] is True and s["ok"] is True and s["device_requested"] == "cpu"
    assert list(s["stages"]) == list(gc.STAGES)
    assert all(st["status"] == "ok" for st in s["stages"].values()), {k: v["status"] for k, v in s["stages"].items()}
    assert s["env"]["torch"] == torch.__version__ and s["env"]["cuda_available"] == torch.cuda.is_available()
    names = {c["name"] for c in s["checks"]}
    expected = {"pytest.cuda_tests_passed", "determinism.train.weights", "determinism.train.losses",
                "compare.generate.z", "compare.generate.pixels", "compare.generate.uint8", "determinism.generate",
                "fvd.random_i3d", "table2.equal_parameters"}
    expected |= {f"{k}.{n}.features" for n in ("resnext101-kinetics", "i3d-kinetics400") for k in ("compare", "determinism")}
    expected |= {f"compare.{n}.fid" for n in ("resnext101-kinetics", "i3d-kinetics400")}
    expected |= {f"{stage}.{b}" for stage in ("train", "run") for b in gc.BACKENDS}
    assert expected <= names, expected - names
    assert all(c["passed"] for c in s["checks"])
    st = s["stages"]
    # the dry run's "CUDA" side is the CPU: the same code twice gives the same bits
    for net in st["compare"]["networks"].values():
        assert net["feature_max_rel"] == 0.0 and net["fid_cpu"] == net["fid_device"] and net["device_identical"]
        assert net["fid_cpu"] > 0 and net["fid_tolerance"] > 0
    pytest_counts = st["pytest"]["counts"]
    assert pytest_counts["tests"] >= 3 and pytest_counts["skipped"] == pytest_counts["tests"]  # no GPU here
    for b in gc.BACKENDS:
        tr = st["train"]["backends"][b]["main"]
        assert tr["rc"] == 0 and tr["steps_done"] == gc.PROFILES["dry"]["train"]["steps"] and tr["losses_finite"]
        run = st["run"]["backends"][b]
        assert run["checkpoint_from"].startswith("trained here") and run["clips"] == 2
        assert {"ssim", "psnr", "fid"} <= set(run["metrics"])
    assert st["fvd"]["fvd"] > 1e-6 and st["fvd"]["clips"] == gc.PROFILES["dry"]["fvd"]["clips"]
    t2 = st["table2"]
    assert [r["what"] for r in t2["rows"]] == ["G forward+backward", "training step (G and D)"]
    assert abs(t2["param_ratio"] - 1) <= 0.02 and all(r["ms"]["1+2d"] > 0 and r["ms"]["3d"] > 0 for r in t2["rows"])
    md = (out / "summary.md").read_text()
    for heading in ("# GPU check (dry run", "## Checks", "## CPU against CUDA", "## Training", "## `vbench run` on synthetic",
                    "## FVD on random-weight I3D", "## Table 2", "## Determinism", "## pytest -m cuda"):
        assert heading in md, heading
    _tables_are_well_formed(md)


def _tables_are_well_formed(md: str) -> None:
    """Every row of a markdown table has as many cells as its header (an unescaped '|' would add one)."""
    rows: list[str] = []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            rows.append(line)
            continue
        if rows:
            cells = [len(_split_cells(r)) for r in rows]
            assert len(set(cells)) == 1, rows
            rows = []


def _split_cells(row: str) -> list[str]:
    cells, cur, i = [], "", 1
    while i < len(row):
        if row[i] == "\\" and i + 1 < len(row):
            cur += row[i: i + 2]
            i += 2
            continue
        if row[i] == "|":
            cells.append(cur)
            cur = ""
        else:
            cur += row[i]
        i += 1
    return cells


# --- helpers against hand computations and references ---------------------------------------------

def test_step_times_from_losses_csv(tmp_path):
    seconds = [40.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.3, 0.2]  # step 1 holds the compilation
    lines = ["step,epoch,seconds,loss_G,loss_D"] + [f"{i + 1},0,{s},{0.5 + i},{1.0}" for i, s in enumerate(seconds)]
    (tmp_path / "losses.csv").write_text("\n".join(lines) + "\n")
    t = gc.step_times(tmp_path)
    # warm-up = max(3, 10% of 8) = 3 steps; the median of the remaining 5 (0.3 0.2 0.1 0.3 0.2) is 0.2
    assert t["steps_done"] == 8 and t["first_step_s"] == 40.0 and t["warmup_steps"] == 3
    assert t["steady_median_s"] == pytest.approx(0.2) and t["steps_per_s"] == pytest.approx(5.0)
    assert t["losses_finite"] and t["last_losses"] == {"loss_G": "7.5", "loss_D": "1.0"}
    (tmp_path / "losses.csv").write_text("\n".join(lines[:-1] + ["8,0,0.2,nan,1.0"]) + "\n")
    assert gc.step_times(tmp_path)["losses_finite"] is False
    assert gc.step_times(tmp_path / "nothing") == {"steps_done": 0}


def _frechet_scipy(x, y):
    """FID as the usual reference computes it: scipy's sqrtm of the product of 1/(N-1) covariances."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))


def test_fid_tolerance_bounds_the_change_the_feature_tolerance_allows():
    rng = np.random.default_rng(0)
    x1 = rng.normal(3.0, 1.0, (12, 6))  # a large common mean, as pooled ReLU features have
    x2 = rng.normal(3.2, 1.3, (12, 6))
    fid = float(gc.fid_torch(torch.tensor(x1), torch.tensor(x2)))
    assert fid == pytest.approx(_frechet_scipy(x1, x2), rel=1e-6)  # the formula whose gradient is taken
    rtol = 1e-4
    tol = gc.fid_tolerance(x1, x2, rtol)
    # the worst first-order perturbation: each feature vector moved by rtol of its norm along its gradient
    a, b = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    gc.fid_torch(a, b).backward()
    worst = []
    for x, g in ((x1, a.grad.numpy()), (x2, b.grad.numpy())):
        unit = g / np.linalg.norm(g, axis=1, keepdims=True)
        worst.append(x + rtol * np.linalg.norm(x, axis=1, keepdims=True) * unit)
    moved = abs(_frechet_scipy(*worst) - fid)
    assert 0.3 * tol <= moved <= tol  # the bound holds and is not loose by more than ~3x (it is 2x first order)
    for seed in range(5):  # random perturbations of the same size stay inside it
        r = np.random.default_rng(seed + 1)
        p1 = x1 + rtol * np.linalg.norm(x1, axis=1, keepdims=True) * _unit_rows(r.normal(size=x1.shape))
        p2 = x2 + rtol * np.linalg.norm(x2, axis=1, keepdims=True) * _unit_rows(r.normal(size=x2.shape))
        assert abs(_frechet_scipy(p1, p2) - fid) <= tol


def _unit_rows(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_batchnorm_calibration_takes_the_batch_statistics():
    net = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1), torch.nn.BatchNorm3d(4)).eval()
    x = torch.randn(3, 3, 2, 5, 5) * 4 + 1
    gc.calibrate_batchnorm(net, x)
    with torch.no_grad():
        y = net[0](x)
    assert not net.training and net[1].momentum == 0.1
    torch.testing.assert_close(net[1].running_mean, y.mean(dim=(0, 2, 3, 4)))
    torch.testing.assert_close(net[1].running_var, y.var(dim=(0, 2, 3, 4), unbiased=True))


def test_junit_counts_and_failures(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text('<?xml version="1.0"?><testsuites><testsuite tests="4" failures="1" errors="1" skipped="1">'
                   '<testcase classname="tests.test_a" name="test_ok"/>'
                   '<testcase classname="tests.test_a" name="test_bad"><failure message="assert 1 == 2"/></testcase>'
                   '<testcase classname="tests.test_b" name="test_err"><error message="boom"/></testcase>'
                   '<testcase classname="tests.test_b" name="test_skip"><skipped message="needs a CUDA device"/></testcase>'
                   '</testsuite></testsuites>')
    counts, failed = gc.parse_junit(xml)
    assert counts == {"tests": 4, "failures": 1, "errors": 1, "skipped": 1, "passed": 1}
    assert failed == ["tests.test_a::test_bad: assert 1 == 2", "tests.test_b::test_err: boom"]


def test_markdown_marks_failed_checks_and_keeps_tables_whole():
    s = {"dry_run": False, "started": "now", "budget_s": 560.0, "env": {"device_name": "GPU X", "cuda_available": True},
         "stages": {"env": {"status": "ok", "seconds": 1.0}, "fvd": {"status": "timeout", "seconds": 200.0},
                    "table2": {"status": "skipped", "reason": "out of time (3 s of the budget left)"}},
         "checks": [{"name": "compare.x.fid", "value": 0.5, "tolerance": "abs(a - b) <= 0.1 | really", "passed": False},
                    {"name": "compare.x.features", "value": 1e-7, "tolerance": "<= 1e-4", "passed": True}]}
    md = gc.render_markdown(s)
    assert "| compare.x.fid | 0.5 | abs(a - b) <= 0.1 \\| really | **NO** |" in md
    assert "| table2 | skipped (out of time (3 s of the budget left)) |" in md and "| fvd | timeout |" in md
    assert "GPU X" in md and "(not finished)" in md
    _tables_are_well_formed(md)


def test_import_link_folder_imports_the_checkout_without_installing(tmp_path):
    shim = gc.make_import_shim(tmp_path / "shim")
    code = ("import vbench_i2v, vbench_i2v.generators.imaginator as g, vbench_i2v.feature_extractors.i3d as f; "
            "print(vbench_i2v.__file__); print(g.__file__); print(f.__file__)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=_env(PYTHONPATH=str(shim), PYTHONSAFEPATH="1"))
    assert r.returncode == 0, r.stderr
    files = r.stdout.split()
    assert all(f.startswith(str(shim)) for f in files), files  # found through the links, not an install
    assert Path(files[1]).resolve() == ROOT / "generators" / "imaginator" / "__init__.py"
    assert Path(files[2]).resolve() == ROOT / "feature_extractors" / "i3d.py"
    assert gc.make_import_shim(tmp_path / "shim") == shim  # a second call reuses the folder


def test_out_of_budget_stages_are_skipped_and_recorded(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run", "--stages", "table2",
                        # 20 s: env gets exactly the 15 s minimum, and any time it takes leaves the next
                        # stage under it, however fast the machine (22 s depended on env taking > 2 s)
                        "--budget-s", "20", "--out", str(tmp_path / "out")], cwd=ROOT, env=_env(), capture_output=True,
                       text=True, timeout=300)
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(s["stages"]) == ["env", "table2"]  # env always runs first
    assert s["stages"]["env"]["status"] == "ok"
    assert s["stages"]["table2"] == {"status": "skipped", "reason": s["stages"]["table2"]["reason"]}
    assert s["stages"]["table2"]["reason"].startswith("out of time") and s["ok"] is False and r.returncode == 1


def test_bad_stage_name_is_one_line():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--stages", "env,warp"], cwd=ROOT,
                       env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip() == f"Error: --stages: unknown stage(s) warp (known: {', '.join(gc.STAGES)})"


def test_wrapper_names_what_a_python_lacks_and_installs_nothing():
    bare = shutil.which("python3", path="/usr/bin")
    if bare is None or subprocess.run([bare, "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("needs a Python without torch at /usr/bin/python3")
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=ROOT,
                       env=_env(PYTHON=bare), capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert "lacks: torch" in r.stderr and "nothing is installed" in r.stderr


# --- scripts/paper_budget_gpu.sh ---------------------------------------------------------------------

@pytest.mark.slow
def test_paper_budget_gpu_dry_run_tunes_chooses_and_runs_a_final(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    r = subprocess.run(["bash", str(ROOT / "scripts" / "paper_budget_gpu.sh"), "--dry-run", "--out", str(out),
                        "--work", str(work)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    runs = {p.name: json.loads((p / "run.json").read_text()) for p in (out / "runs").iterdir()}
    assert set(runs) == {"tune-vgan-lrd0.0002", "tune-vgan-lrd5e-05", "final-vgan-s0"}
    # the width and batch given reach every run (the CPU plan's constants are not used) ...
    assert {(row["width"], row["batch_size"], row["steps"], row["device"]) for row in runs.values()} == {(0.0625, 2, 2, "cpu")}
    assert runs["final-vgan-s0"]["config"]["width"] == 0.0625 and runs["final-vgan-s0"]["config"]["batch_size"] == 2
    # ... the final run uses the lr_d the rule picks from the two tune rows (lowest validation FID) ...
    tune = [runs["tune-vgan-lrd0.0002"], runs["tune-vgan-lrd5e-05"]]
    best = min(tune, key=lambda row: (row["val_fid"], -row["val_label_acc"]))
    assert runs["final-vgan-s0"]["lr_d"] == best["lr_d"]
    # ... and its test run scored the seeded subset of test videos with that checkpoint
    res = json.loads((out / "runs" / "final-vgan-s0" / "results.json").read_text())
    assert res["dataset"]["video_count"] == 2 and res["protocol"]["max_videos"] == 2
    from vbench_i2v.files import sha256_file

    assert res["generator"]["checkpoint_sha256"] == sha256_file(out / "runs" / "final-vgan-s0" / "model.safetensors")
    assert "train_amp_bf16" not in runs["final-vgan-s0"]  # CPU rows keep the CPU plan's fields


def test_paper_budget_defaults_are_the_cpu_plans():
    """The new --width/--batch options default to the CPU plan's constants (its rows stay as they were)."""
    spec = importlib.util.spec_from_file_location("paper_budget_for_gpu_test", ROOT / "scripts" / "paper_budget.py")
    pb = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = pb
    spec.loader.exec_module(pb)
    import inspect

    for fn in (pb.train_and_validate, pb.execute):
        sig = inspect.signature(fn)
        assert sig.parameters["width"].default == pb.WIDTH == 0.125 and sig.parameters["batch"].default == pb.BATCH == 8
        assert sig.parameters["amp"].default is None
    assert inspect.signature(pb.test_run).parameters["max_videos"].default is None


# --- on a GPU (pytest -m cuda; the GPU check's pytest stage runs these) --------------------------------

@pytest.mark.cuda
def test_engine_fid_on_cuda_matches_cpu_and_is_its_own_measurement():
    from vbench_i2v import devices
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    real = {f"r{i}": c for i, c in enumerate(gc.smooth_clips(8, 32, 64, 1))}
    fake = {f"f{i}": c for i, c in enumerate(gc.smooth_clips(8, 32, 64, 2, speed=3.0))}
    res = {}
    with devices.numerics_applied():
        for dev in ("cpu", "cuda"):
            if dev == "cuda":
                devices.setup_device("cuda:0")
            res[dev] = compute_metrics(real, fake, ScorePlan(metrics="fid", extractor="synthetic-probe",
                                                             set_bootstrap_reps=5, device=dev)).metrics["fid"]
    cpu, gpu = res["cpu"], res["cuda"]
    # The synthetic probe is a few fp32 layers (IEEE on both: TF32 off); its features agree to ~1e-6
    # relative, and FID between two distinct sets moves by a few times that: 1e-3 relative is a wide
    # margin, while a TF32 leak (~1e-3 per layer) would show at this size.
    assert gpu["value"] == pytest.approx(cpu["value"], rel=1e-3)
    assert gpu["provenance"]["device"] == "cuda" and gpu["provenance"]["precision"] == "fp32"
    assert cpu["measurement"] != gpu["measurement"]  # a CPU reference is never taken for a CUDA one


@pytest.mark.cuda
def test_dataloader_workers_with_pinned_memory_train_identically_on_cuda(tmp_path):
    """On CUDA batches come from 2 worker processes through pinned memory and non-blocking copies:
    the same weights as decoding in the training process (deterministic kernels)."""
    from generator_fakes import TinyDataset
    from vbench_i2v import devices
    from vbench_i2v.generators import training
    from vbench_i2v.generators.registry import get_generator

    ds = TinyDataset()
    runs = {}
    with devices.numerics_applied():
        devices.setup_device("cuda:0", deterministic=True)
        for workers in (0, 2):
            cls = get_generator("imaginator")
            torch.manual_seed(0)
            model = cls(cls.make_config(width=1 / 16, overrides={"batch_size": 2}), ds.num_classes, ds.labels, ds.name,
                        device="cuda:0")
            training.train(model, ds, tmp_path / f"w{workers}", steps=3, progress_bar=False, sample_every=100,
                           checkpoint_every=100, sample_inputs=1, workers=workers, amp="off", deterministic=True)
            runs[workers] = {k: v.cpu() for k, v in model.nets.state_dict().items()}
    for k, v in runs[0].items():
        assert torch.equal(v, runs[2][k]), k
