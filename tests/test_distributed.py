"""Sharded scoring under torchrun (gloo, 2 CPU processes) gives the 1-process numbers.

The reference for every sharded result is the same command run in one process; every number in the
JSON (values, 95% intervals, N, per-video values, FID included) must agree to 1e-6 relative.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vbench_i2v.feature_extractors as fx
from vbench_i2v import distributed
from vbench_i2v.cli.metrics import features_cmd, metrics_cmd
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.sources import FeatureFile
from vbench_i2v.video_io import write_video

HERE = Path(__file__).parent
N_VIDEOS = 11  # odd: the two shards differ in size


# --- helpers ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], cwd: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node nproc ...`` on 127.0.0.1 with a free port (gloo: CPU only)."""
    exe = Path(sys.executable).with_name("torchrun")
    launcher = [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]
    cmd = launcher + ["--nnodes", "1", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
                      "--master_port", str(_free_port())] + args
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def assert_same_numbers(a, b, path="", rel=1e-6):
    """Same structure, same strings, every number equal to ``rel`` relative."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_same_numbers(a[k], b[k], f"{path}/{k}", rel)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_numbers(x, y, f"{path}[{i}]", rel)
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        assert isinstance(b, (int, float)), f"{path}: {a!r} vs {b!r}"
        assert b == pytest.approx(a, rel=rel, abs=1e-300), f"{path}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def _folders(root: Path, n=N_VIDEOS, t=8, size=24, seed=0):
    """Real and fake videos (fake = real + noise), some in a subfolder, plus conditioning images."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    real, fake, cond = root / "real", root / "fake", root / "cond"
    for i in range(n):
        r = rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8)
        f = np.clip(r.astype(int) + rng.integers(-40, 41, r.shape), 0, 255).astype(np.uint8)
        key = f"{'s/' if i % 3 == 0 else ''}v{i:02d}"
        write_video(real / f"{key}.npz", r)
        write_video(fake / f"{key}.npz", f)
        (cond / key).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(cond / f"{key}.png")
    return real, fake, cond


def _one_process(cmd, args):
    r = CliRunner().invoke(cmd, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


# --- the helpers themselves ------------------------------------------------------------------

def test_shard_is_a_strided_partition_of_the_sorted_items():
    items = [f"v{i:02d}" for i in (7, 3, 10, 0, 5, 1, 9, 2, 8, 4, 6)]
    for world in (1, 2, 3, 4, 16):
        shards = [distributed.shard(items, rank_=r, world=world) for r in range(world)]
        assert sorted(x for s in shards for x in s) == sorted(items)  # every item exactly once
        for r, s in enumerate(shards):
            assert s == sorted(items)[r::world]
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
    by_len = distributed.shard(["ccc", "a", "bb"], key=len, rank_=0, world=2)
    assert by_len == ["a", "ccc"]
    with pytest.raises(ValueError):
        distributed.shard(items, rank_=2, world=2)


def test_helpers_are_no_ops_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init("cpu") is False and not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.shard(["b", "a", "c"]) == ["a", "b", "c"]
    assert distributed.collect(lambda: 5) == [5]
    assert distributed.on_main(lambda: 6, share=True) == 6
    x = np.arange(4.0)
    y = distributed.all_reduce_sum(x)
    assert np.array_equal(x, y) and y is not x
    assert distributed.local_device("cuda") == "cuda"
    with pytest.raises(InputError, match="bad video"):  # errors surface unchanged
        distributed.collect(lambda: (_ for _ in ()).throw(InputError("bad video")))


def test_local_device_maps_cuda_to_local_rank_under_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert distributed.local_device("cuda") == "cuda:3"
    assert distributed.local_device("cuda:3") == "cuda:3"  # its own index is fine
    with pytest.raises(InputError, match="under torchrun each process uses the GPU of its LOCAL_RANK"):
        distributed.local_device("cuda:1")  # kept for every rank it would put all of them on one GPU
    assert distributed.local_device("cpu") == "cpu"
    assert distributed.backend_for("cuda:3") == "nccl" and distributed.backend_for("cpu") == "gloo"


# --- torchrun end to end ---------------------------------------------------------------------

def _probe_weights_present() -> bool:
    from vbench_i2v import weights

    try:
        weights.require("synthetic-probe")
        return True
    except Exception:  # noqa: BLE001 - missing or not yet trained: test without it
        return False


def test_torchrun_module_metrics_equal_one_process(tmp_path):
    """`torchrun --nproc_per_node 2 -m vbench_i2v metrics ...` == `vbench metrics ...` (1 process)."""
    metrics, extra, shape = "ssim,psnr", [], {"t": 8, "size": 32}
    if _probe_weights_present():  # the shipped probe: FID/KID/ACD on a real network too, protocol-sized clips
        metrics += ",fid,kid,acd-c,acd-i"
        extra, shape = ["--extractor", "synthetic-probe"], {"t": 32, "size": 64}
    real, fake, _ = _folders(tmp_path, **shape)
    common = ["--real", str(real), "--fake", str(fake), "--metrics", metrics, "--bootstrap-reps", "200",
              "--fid-bootstrap-reps", "20", *extra]
    _one_process(metrics_cmd, common + ["--json", str(tmp_path / "one.json")])
    r = _torchrun(["-m", "vbench_i2v", "metrics", *common, "--json", str(tmp_path / "two.json")], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("wrote ") == 1 and r.stdout.count("psnr") == 1  # only rank 0 reports
    one, two = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "two.json"))
    assert two["metrics"]["psnr"]["n"] == N_VIDEOS
    assert_same_numbers(one, two)


@pytest.mark.filterwarnings("ignore:FID with fewer videos")  # 11 videos, 128-d probe features
def test_torchrun_fid_kid_acd_and_features_equal_one_process(tmp_path, monkeypatch):
    """FID, KID (same seeded subsets), ACD, `vbench features`, and an error on one rank, sharded."""
    import dist_fakes

    real, fake, cond = _folders(tmp_path)
    all_metrics = ["--real", str(real), "--fake", str(fake), "--metrics", "fid,kid,ssim,psnr,acd-c,acd-i",
                   "--bootstrap-reps", "300", "--fid-bootstrap-reps", "30", "--seed", "4"]
    with_cond = ["--real", str(real), "--fake", str(fake), "--metrics", "acd-i,acd-c", "--conditioning", str(cond),
                 "--bootstrap-reps", "100"]
    from_npz = ["--real", "PLACEHOLDER", "--fake", str(fake), "--metrics", "kid,fid", "--bootstrap-reps", "100",
                "--fid-bootstrap-reps", "10"]

    def out(tag, n):
        return str(tmp_path / f"{tag}{n}")

    # one process, in this interpreter
    monkeypatch.setattr(fx, "build_video_extractor", lambda name, **kw: dist_fakes.MomentsExtractor())
    monkeypatch.setattr(fx, "build_identity_embedder", lambda name, **kw: dist_fakes.MeanColourEmbedder())
    _one_process(metrics_cmd, all_metrics + ["--json", out("all", "1.json")])
    _one_process(metrics_cmd, with_cond + ["--json", out("cond", "1.json")])
    monkeypatch.setattr(fx, "build_video_extractor", lambda name, **kw: dist_fakes.probe_extractor())
    _one_process(features_cmd, [str(real), "--out", out("feats", "1.npz")])
    _one_process(metrics_cmd, ["--real", out("feats", "1.npz")] + from_npz[2:] + ["--json", out("npz", "1.json")])

    # a video whose real partner has another size: it lands on rank 1 (sorted order v00, s/v03, ...)
    bad = tmp_path / "bad"
    shutil.copytree(real, bad / "real")
    shutil.copytree(fake, bad / "fake")
    write_video(bad / "real" / "s" / "v03.npz", np.zeros((8, 16, 16, 3), np.uint8))
    keys = [f"{'s/' if i % 3 == 0 else ''}v{i:02d}" for i in range(N_VIDEOS)]
    assert "s/v03" in distributed.shard(keys, rank_=1, world=2)

    # the same commands, sharded over 2 gloo processes in one torchrun launch
    seq = (["--fake-nets", "moments", "metrics", *all_metrics, "--json", out("all", "2.json"),
            "--then", "metrics", *with_cond, "--json", out("cond", "2.json"),
            "--then", "--fake-nets", "probe", "features", str(real), "--out", out("feats", "2.npz"),
            "--then", "metrics", "--real", out("feats", "2.npz"), *from_npz[2:], "--json", out("npz", "2.json"),
            "--then", "metrics", "--real", str(bad / "real"), "--fake", str(bad / "fake"), "--metrics", "psnr"])
    r = _torchrun([str(HERE / "dist_fakes.py"), *seq], tmp_path)
    log = r.stdout + r.stderr

    for tag in ("all", "cond", "npz"):
        one, two = (json.loads(Path(out(tag, f"{n}.json")).read_text()) for n in (1, 2))
        if tag == "npz":  # --real names a different (equal) features file
            assert two["provenance"].pop("real") == out("feats", "2.npz")
            one["provenance"].pop("real")
        assert_same_numbers(one, two)
    one, two = json.loads(Path(out("all", "1.json")).read_text()), json.loads(Path(out("all", "2.json")).read_text())
    assert two["provenance"]["face_fallback"]["frames"] == N_VIDEOS * 9  # counts summed over ranks
    assert set(two["metrics"]["ssim"]["per_video"]) == set(one["metrics"]["ssim"]["per_video"])
    f1, f2 = FeatureFile.load(out("feats", "1.npz")), FeatureFile.load(out("feats", "2.npz"))
    assert f1.names == f2.names and len(f2.names) == N_VIDEOS
    np.testing.assert_allclose(f2.features, f1.features, rtol=1e-6, atol=1e-9)  # global order restored
    np.testing.assert_allclose(f2.mu, f1.mu, rtol=1e-9, atol=1e-12)  # all-reduced float64 sums
    np.testing.assert_allclose(f2.sigma, f1.sigma, rtol=1e-6, atol=1e-12)

    # the failing last command: both ranks stop with a clear error, nobody hangs
    assert r.returncode != 0
    assert "Error: s/v03: fake 8x24x24 and real 8x16x16" in log, log
    assert "Error: rank 1 failed: s/v03" in log, log


@pytest.mark.slow
def test_torchrun_run_equals_one_process(tmp_path):
    """`torchrun -m vbench_i2v run`: each rank generates its clips, rank 0 writes the same results.json."""
    import torch

    from vbench_i2v.cli import main
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.generators import training
    from vbench_i2v.generators.registry import get_generator
    from vbench_i2v.video_io import read_video

    ckpt = tmp_path / "ckpt"
    ds = get_dataset("synthetic", seed=0)
    cls = get_generator("imaginator")
    torch.manual_seed(0)
    model = cls(cls.make_config(width=1 / 16, overrides={"batch_size": 2}), ds.num_classes, ds.labels, ds.name)
    training.train(model, ds, ckpt, steps=2, seed=0, progress_bar=False, sample_every=1000)
    args = ["run", "--generator", "imaginator", "--dataset", "synthetic", "--checkpoint", str(ckpt),
            "--max-videos", "3", "--conditioning-per-video", "2", "--metrics", "ssim,psnr", "--seed", "1",
            "--batch-size", "1", "--device", "cpu"]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "one")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = _torchrun(["-m", "vbench_i2v", *args, "--out", str(tmp_path / "two")], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    (d1,), (d2,) = ([p for p in (tmp_path / o).iterdir() if not p.name.startswith("_")] for o in ("one", "two"))
    assert d1.name == d2.name
    clips = sorted(p.name for p in (d1 / "fake").iterdir())
    assert clips == sorted(p.name for p in (d2 / "fake").iterdir()) and len(clips) >= 3
    for c in clips:  # per-clip seeded noise: the same clip whichever rank made it
        a, b = read_video(d1 / "fake" / c), read_video(d2 / "fake" / c)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    one, two = (json.loads((d / "results.json").read_text()) for d in (d1, d2))
    assert_same_numbers(one["metrics"], two["metrics"])
    assert one["protocol"] == two["protocol"] and one["dataset"] == two["dataset"]
