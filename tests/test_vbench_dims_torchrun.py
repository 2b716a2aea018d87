"""The VBench-I2V dimensions under torchrun (gloo, 2 CPU processes) give the 1-process numbers.

Networks: random weights in the published key formats (RAFT-things at full size, DINO ViT-B/16
reduced), imported through the real importer into a weights home that both runs read. The
published sha256 are lifted in every process the same way (a small launcher that patches the
weight table, then calls the CLI), since random weights cannot match them. The reference is the
same command in one process; every number (values, intervals, N, per-video values) must agree to
1e-6 relative: per-video values are computed by whichever rank holds the clip and gathered, and the
set statistics run once on rank 0 in the global order, so only the gather can differ, and it does
not change float values.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from test_distributed import _torchrun, assert_same_numbers
from test_vbench_dims_metrics import image_weights, moving_square, raft_file  # noqa: F401 (fixtures)
from vbench_i2v.video_io import write_video

N_VIDEOS = 7  # odd: the two shards differ in size

LAUNCHER = '''
import dataclasses, sys
from vbench_i2v import weights
for name in {names!r}:
    weights.WEIGHTS[name] = dataclasses.replace(weights.WEIGHTS[name], sha256=None, size=None)
from vbench_i2v.cli import main
sys.argv = ["vbench"] + sys.argv[1:]
main()
'''


@pytest.mark.slow
def test_vbench_dimensions_under_torchrun_equal_one_process(tmp_path, monkeypatch, raft_file, image_weights):
    import subprocess

    from PIL import Image

    from vbench_i2v import weights

    home = tmp_path / "home"
    monkeypatch.setenv("VBENCH_I2V_HOME", str(home))
    names = ["raft-things", "dino-vitb16"]
    for name in names:
        monkeypatch.setitem(weights.WEIGHTS, name, __import__("dataclasses").replace(
            weights.WEIGHTS[name], sha256=None, size=None))
    weights.import_file("raft-things", raft_file)
    weights.import_file("dino-vitb16", image_weights["dino-vitb16"])

    fake, cond = tmp_path / "fake", tmp_path / "cond"
    rng = np.random.default_rng(0)
    for i in range(N_VIDEOS):
        # moving (dynamic) and still (static) clips of different lengths and sizes
        video = moving_square(6 + i % 3, 64, 64 + 8 * (i % 2), speed=4 * (i % 2), seed=i)
        write_video(fake / f"v{i:02d}.npz", video)
        cond.mkdir(exist_ok=True)
        noisy = np.clip(video[0].astype(int) + rng.integers(-20, 21, video[0].shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(cond / f"v{i:02d}.png")
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER.format(names=names))
    args = ["metrics", "--fake", str(fake), "--conditioning", str(cond), "--metrics",
            "temporal-flickering,subject-consistency,i2v-subject,dynamic-degree", "--bootstrap-reps", "200"]
    env = {**__import__("os").environ, "VBENCH_I2V_HOME": str(home), "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, str(launcher), *args, "--json", str(tmp_path / "one.json")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert one.returncode == 0, one.stdout + one.stderr
    monkeypatch.setenv("VBENCH_I2V_HOME", str(home))  # _torchrun passes os.environ on
    two = _torchrun([str(launcher), *args, "--json", str(tmp_path / "two.json")], tmp_path)
    assert two.returncode == 0, two.stdout + two.stderr
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "two.json"))
    for name in ("temporal-flickering", "subject-consistency", "i2v-subject", "dynamic-degree"):
        assert a["metrics"][name]["n"] == N_VIDEOS
        assert len(b["metrics"][name]["per_video"]) == N_VIDEOS
    assert_same_numbers(a, b)
