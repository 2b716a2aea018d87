"""torchrun entry for tests/test_distributed_training.py: the real `vbench train` command, plus a
per-rank dump of what each process holds when training ends.

``DUMP_SNAPSHOT_AT=K`` also copies the run folder (rank 0's checkpoint) after global step K, so the
test can resume from the middle of a run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import torch

from vbench_i2v import distributed
from vbench_i2v.generators import training

_train = training.train


def train_and_dump(backend, dataset, out, **options):
    snapshot_at = int(os.environ.get("DUMP_SNAPSHOT_AT", "0"))

    def on_step(step, losses):
        if step == snapshot_at and distributed.is_main():  # after this step's checkpoint was written
            shutil.copytree(out, f"{out}-step{step}")

    result = _train(backend, dataset, out, on_step=on_step, **options)
    rank = distributed.rank()
    torch.save({"rank": rank, "world": distributed.world_size(), "nets": backend.nets.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in backend.optimizers.items()}},
               Path(out) / f"rank{rank}.pt")
    return result


if __name__ == "__main__":
    torch.set_num_threads(1)
    training.train = train_and_dump  # the CLI looks it up at call time
    from vbench_i2v.cli import main

    main(sys.argv[1:], prog_name="vbench")
