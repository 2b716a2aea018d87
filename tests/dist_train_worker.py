"""torchrun entry for tests/test_distributed_training.py: the real `vbench train` command, plus a
per-rank dump of what each process holds when training ends.

``DUMP_SNAPSHOT_AT=K`` also copies the run folder (rank 0's checkpoint) after global step K, so the
test can resume from the middle of a run. ``python dist_train_worker.py rank0-alone OUT`` instead
trains on rank 0 alone inside ``distributed.on_main`` (as ``vbench run`` does for a missing
checkpoint) while the other ranks wait.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import torch

from vbench_i2v import distributed
from vbench_i2v.generators import training


class DumpingTrainer(training.Trainer):
    """The real Trainer; after ``fit`` each rank saves its weights and optimiser states."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        snapshot_at = int(os.environ.get("DUMP_SNAPSHOT_AT", "0"))

        def on_step(step, losses):
            if step == snapshot_at and distributed.is_main():  # after this step's checkpoint was written
                shutil.copytree(self.out, f"{self.out}-step{step}")

        self.on_step = on_step

    def fit(self):
        result = super().fit()
        rank = distributed.rank()
        torch.save({"rank": rank, "world": distributed.world_size(), "nets": self.backend.nets.state_dict(),
                    "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}},
                   self.out / f"rank{rank}.pt")
        return result


def rank0_alone(out: str) -> None:
    """Train 2 steps on rank 0 only, inside on_main, then check every rank is still in step."""
    from generator_fakes import TinyDataset
    from vbench_i2v.generators.registry import get_generator

    distributed.init("cpu")
    ds = TinyDataset()
    cls = get_generator("imaginator")

    def fit():
        torch.manual_seed(0)
        model = cls(cls.make_config(width=1 / 16, overrides={"batch_size": 2}), ds.num_classes, ds.labels, ds.name)
        training.train(model, ds, out, steps=2, seed=4, progress_bar=False, sample_every=100, sample_inputs=1,
                       single_process=True)
        return distributed.world_size()

    world = distributed.on_main(fit, share=True)
    assert world == 2 and distributed.mean_over_ranks([1.0])[0] == 1.0  # the group still works afterwards
    print(f"rank {distributed.rank()} done")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1:2] == ["rank0-alone"]:
        sys.path.insert(0, str(Path(__file__).parent))
        rank0_alone(sys.argv[2])
        sys.exit(0)
    training.Trainer = DumpingTrainer  # the CLI looks it up at call time
    from vbench_i2v.cli import main

    main(sys.argv[1:], prog_name="vbench")
