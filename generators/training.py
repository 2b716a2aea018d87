"""The training loop every backend shares: :class:`Trainer`, described by one :class:`TrainOptions`.

A backend only says what one step does (:meth:`GeneratorBackend.train_step`) and which
optimisers it has (:meth:`GeneratorBackend.configure_optimizers`). One :class:`Trainer` owns
everything else a run changes: the optimisers, the AMP and other fast-path switches
(:class:`FastPaths`), the CUDA numerics of the run (TF32, deterministic kernels), the
DistributedDataParallel wrappers, the RNG states and the data position, checkpoints and logs.
The jobs it delegates live beside it, one module each:

- :mod:`.train_data`: seeded random 32-frame windows (:class:`TrainWindows`), the data position
  (:class:`Progress`) and how a global batch is split over processes;
- :mod:`.train_checkpoint`: the ``training_state.pt`` format (optimisers, RNG states, position)
  and exact resume;
- :mod:`.train_artifacts`: ``losses.csv`` and the sample sheets;
- :mod:`.train_ddp`: the DistributedDataParallel wrappers a step calls under torchrun.

:func:`train` is the short call for scripts. Output folder layout (also a loadable checkpoint, so
``vbench generate --checkpoint DIR`` works)::

    DIR/model.safetensors  DIR/config.json      latest weights + config (+ step)
    DIR/training_state.pt                        optimisers, RNG states, step, data position
    DIR/losses.csv                               one row per step
    DIR/samples/step_000100.{png,gif}            fixed inputs x every label, fixed noise

Under ``torchrun`` every process runs this loop on its own slice of each global batch, each step
calls DistributedDataParallel wrappers around the networks, and rank 0 alone logs, draws samples
and saves. A caller that trains on one rank while the others wait (``vbench run`` training a
missing checkpoint) says so with ``TrainOptions(single_process=True)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from vbench_i2v import devices, distributed
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import CONFIG_FILE, GeneratorBackend, StepState, read_checkpoint_meta
from vbench_i2v.generators.train_artifacts import LOSS_FILE, SAMPLES_DIR, LossLog, SampleSheet
from vbench_i2v.generators.train_checkpoint import (STATE_FILE, load_training_state, rank_seed, rng_state,
                                                    save_checkpoint, seed_everything)
from vbench_i2v.generators.train_data import Progress, TrainWindows, global_position, step_batches, to_batch
from vbench_i2v.generators.train_ddp import ddp_nets
from vbench_i2v.options import parse_switch, parse_workers, switch_on

log = logging.getLogger(__name__)


# --- what a run is ---------------------------------------------------------------------------
@dataclass
class TrainOptions:
    """Everything that describes one training run, checked (and made canonical) when it is made.

    ``steps`` (or ``epochs``, default 1 epoch) is the total the run trains to, counting global steps
    under torchrun; ``seed`` is None for "0" on a new run and "the run's own" on ``resume`` (a
    different one is refused there). ``device`` None keeps the backend's. The fast paths
    ``amp`` (bf16 autocast; ``auto``: on for a CUDA device with native bf16, compute capability 8.0
    or later), ``channels_last`` and ``sync_bn`` (``auto``: on for CUDA; ``sync_bn`` only under
    torchrun) are ``auto``, ``on`` or ``off``; ``compile`` is ``on`` or ``off`` (default off: only
    when asked, and refused together with SyncBatchNorm under torchrun); ``workers`` is ``auto``
    (2 DataLoader processes with pinned memory on CUDA, 0 on CPU) or a number. ``deterministic`` and
    ``tf32`` set the CUDA numerics for the run (:func:`vbench_i2v.devices.set_numerics`; restored
    afterwards); None keeps the process's (what the command line set up). ``max_seconds`` ends the
    run early (with samples and a checkpoint). ``single_process`` trains in this process alone even
    when a torchrun process group is up (the other ranks are waiting elsewhere and must not be asked
    to join). Switch values are parsed by :mod:`vbench_i2v.options` and stored as ``auto``/``on``/``off``.
    """

    steps: int | None = None
    epochs: float | None = None
    seed: int | None = None
    resume: bool = False
    device: str | torch.device | None = None
    sample_every: int = 200
    checkpoint_every: int = 200
    sample_inputs: int = 2
    max_seconds: float | None = None
    progress_bar: bool = True
    amp: str | bool = "auto"
    compile: str | bool = "off"
    channels_last: str | bool = "auto"
    sync_bn: str | bool = "auto"
    workers: int | str = "auto"
    ddp_find_unused: bool = False
    single_process: bool = False
    deterministic: bool | None = None
    tf32: bool | None = None

    def __post_init__(self):
        if self.steps is not None and self.epochs is not None:
            raise InputError("give steps or epochs, not both")
        for name in ("steps", "sample_every", "checkpoint_every", "sample_inputs"):
            value = getattr(self, name)
            if value is None and name == "steps":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value!r}")
        if self.epochs is not None and not (isinstance(self.epochs, (int, float)) and math.isfinite(self.epochs)
                                            and self.epochs > 0):
            raise InputError(f"epochs must be a finite number > 0, got {self.epochs!r}")
        if self.max_seconds is not None and not (self.max_seconds >= 0):  # NaN fails too
            raise InputError(f"max_seconds must be >= 0, got {self.max_seconds!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise InputError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("amp", "channels_last", "sync_bn"):
            setattr(self, name, parse_switch(getattr(self, name), name))
        self.compile = parse_switch(self.compile, "compile", allow_auto=False)
        self.workers = parse_workers(self.workers)
        for name in ("deterministic", "tf32"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be True, False or None, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class FastPaths:
    """The switches of :class:`TrainOptions` resolved for one device and process count."""

    amp: bool
    compile: bool
    channels_last: bool
    sync_bn: bool
    workers: int
    pin_memory: bool

    @classmethod
    def resolve(cls, options: TrainOptions, device: torch.device, multi: bool) -> "FastPaths":
        cuda = device.type == "cuda"
        workers = (2 if cuda else 0) if options.workers == "auto" else options.workers
        sync_bn = multi and switch_on(options.sync_bn, cuda, "sync_bn")
        if sync_bn and not cuda:
            raise InputError("sync_bn needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); use sync_bn off "
                             "or auto on CPU")
        compile_ = switch_on(options.compile, False, "compile", allow_auto=False)
        if compile_ and sync_bn:
            raise InputError("compile with sync_bn under torchrun is refused (compiled SyncBatchNorm and "
                             "spectral-norm parametrizations meet open PyTorch issues under DDP); use compile off "
                             "or sync_bn off")
        if options.tf32 and not cuda:
            raise InputError(f"tf32: device {str(device)!r} is not a CUDA device (TF32 is a CUDA matmul and "
                             "convolution mode)")
        amp = options.amp == "on" or (options.amp == "auto" and devices.bf16_native(device))
        return cls(amp=amp, compile=compile_,
                   channels_last=switch_on(options.channels_last, cuda, "channels_last"), sync_bn=sync_bn,
                   workers=workers, pin_memory=cuda and workers > 0)


def to_channels_last(nets: torch.nn.Module) -> None:
    """Store 5-D weights as ``channels_last_3d`` and 4-D ones as ``channels_last``, in place.

    ``Module.to(memory_format=...)`` takes one format for all, and video GANs mix 3D and 2D convs.
    The Parameter objects stay the same (optimisers keep working); state-dict values are equal.
    """
    with torch.no_grad():
        for t in list(nets.parameters()) + list(nets.buffers()):
            fmt = {5: torch.channels_last_3d, 4: torch.channels_last}.get(t.dim())
            if fmt is not None:
                t.data = t.data.contiguous(memory_format=fmt)


# --- the loop ------------------------------------------------------------------------------
class Trainer:
    """One training run of ``backend`` on ``dataset``'s training split, into the folder ``out``.

    The trainer is the one owner of what a run changes besides the weights: the optimisers
    (``self.optimizers``), the resolved switches (``self.fast``), the CUDA numerics during the
    run (``options.deterministic``/``tf32``, restored afterwards), the DDP wrappers, the RNG
    states and the data position (``self.progress``), the seed and device (resolved once, in
    :meth:`fit`), the loss log, the sample sheet and the checkpoints. Each step receives a
    :class:`StepState` with the networks to call, the optimisers and the AMP switch.

    ``on_step(step, losses)`` is called after every step (after that step's checkpoint).
    """

    def __init__(self, backend: GeneratorBackend, dataset, out, options: TrainOptions | None = None,
                 on_step: Callable[[int, dict], None] | None = None):
        self.backend, self.dataset, self.out = backend, dataset, Path(out)
        self.options = options if options is not None else TrainOptions()
        self.on_step = on_step
        # Resolved by fit(): the process layout, device, seed, switches and the run's state.
        self.multi, self.rank, self.world = False, 0, 1
        self.device: torch.device = backend.device
        self.seed: int = 0
        self.fast: FastPaths | None = None
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.progress = Progress()
        self.total = 0
        self.data: TrainWindows | None = None
        self._log: LossLog | None = None
        self._sheet: SampleSheet | None = None
        self._state: StepState | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    # --- setting up --------------------------------------------------------------------------
    def fit(self) -> Path:
        """Train until ``options.steps`` (or ``epochs``) in total; returns the run folder.

        With ``resume`` the run continues from the checkpoint in ``out`` (same seed, same data
        order, restored RNG and optimisers), so N steps, or N/2 steps then a resume to N, give the
        same weights. Under torchrun, ``config.batch_size`` is per process and a failure while
        setting up on any rank stops every rank with the message.
        """
        backend, dataset, opts = self.backend, self.dataset, self.options
        if not backend.trainable:
            raise InputError(f"generator {backend.name!r} has nothing to train")
        if backend.num_classes != dataset.num_classes:
            raise InputError(f"model has {backend.num_classes} classes, dataset {dataset.name!r} "
                             f"has {dataset.num_classes}")
        if not opts.single_process:
            distributed.init(opts.device if opts.device is not None else backend.device)  # no-op without torchrun
            self.multi = distributed.is_distributed()
        if self.multi:
            self.rank, self.world = distributed.rank(), distributed.world_size()
        distributed.everywhere(self._setup) if self.multi else self._setup()
        backend.dataset = dataset.name  # the checkpoint records what it was trained on
        backend.label_names = list(dataset.labels) if dataset.labels else None
        numerics = (devices.numerics_applied(opts.deterministic, opts.tf32) if self.device.type == "cuda"
                    else contextlib.nullcontext())  # CPU kernels give the same numbers run after run already
        with numerics:
            nets = ddp_nets(backend.nets, self.device, opts.ddp_find_unused) if self.multi else backend.nets
            self._state = StepState(nets, self.optimizers, amp=self.fast.amp, device=self.device)
            self._describe()
            self._loop()
        log.info("wrote %s (model.safetensors, config.json, losses.csv, samples/)", self.out)
        return self.out

    def _setup(self) -> None:
        backend, dataset, opts, out = self.backend, self.dataset, self.options, self.out
        out.mkdir(parents=True, exist_ok=True)
        if opts.device is not None:
            backend.to(distributed.local_device(opts.device) if self.multi else opts.device)
        self.device = backend.device
        devices.use_device(self.device)
        self.fast = FastPaths.resolve(opts, self.device, self.multi)
        saved_seed = self._saved_seed() if opts.resume else None
        if opts.resume and opts.seed is not None and opts.seed != saved_seed:
            raise InputError(f"{out}: cannot resume with seed {opts.seed}, the run was started with seed {saved_seed}")
        self.seed = saved_seed if opts.resume else (opts.seed or 0)
        if not opts.resume:
            seed_everything(self.seed if self.main else rank_seed(self.seed, self.rank))
        self.optimizers = backend.configure_optimizers()
        if opts.resume:
            self.progress, state_seed = load_training_state(backend, self.optimizers, out, self.rank)
            if state_seed != self.seed:
                raise InputError(f"{out}: {STATE_FILE} (seed {state_seed}) and {CONFIG_FILE} (seed {self.seed}) "
                                 "disagree; the last checkpoint was interrupted")
        elif (out / STATE_FILE).exists():
            raise InputError(f"{out} already holds a training run; pass --resume to continue it or pick another --out")
        if self.fast.sync_bn:
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(backend.nets)  # in place; same parameters and keys
        if self.fast.channels_last:
            to_channels_last(backend.nets)
        if self.fast.compile:
            backend.compile()
        self.data = data = TrainWindows(dataset, backend.config.batch_size, self.seed)
        if self.world > 1 and len(data.records) < data.batch_size * self.world:
            raise InputError(f"dataset {dataset.name!r} has {len(data.records)} training videos, fewer than one "
                             f"global batch ({data.batch_size} per process x {self.world} processes)")
        per_epoch = max(1, len(data.records) // (data.batch_size * self.world))
        epochs = opts.epochs if opts.epochs is not None else 1
        self.total = opts.steps if opts.steps is not None else math.ceil(epochs * per_epoch)
        if self.main:
            self._log = LossLog(out / LOSS_FILE, self.progress.step if opts.resume else None)
            self._sheet = SampleSheet(backend, dataset, self.seed, inputs=opts.sample_inputs)

    def _saved_seed(self) -> int:
        """The seed a resumed run was started with (its config.json), after checking the run fits."""
        meta = read_checkpoint_meta(self.out)
        if meta.get("dataset") and self.dataset.name and meta["dataset"] != self.dataset.name:
            raise InputError(f"{self.out}: cannot resume, checkpoint was trained on {meta['dataset']!r}, "
                             f"not {self.dataset.name!r}")
        seed = meta.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"{self.out / CONFIG_FILE}: cannot resume, field seed must be a non-negative integer, "
                             f"got {seed!r}")
        return seed

    def _describe(self) -> None:
        b = self.backend
        counts = ", ".join(f"{k} {v:,}" for k, v in b.parameter_counts().items())
        layout = f", {self.world} processes, global batch {b.config.batch_size * self.world}" if self.world > 1 else ""
        log.info("%s on %s (%s%s): %s; config %s", b.name, self.dataset.name, self.device, layout, counts, b.config)
        numerics = ""
        if self.device.type == "cuda":
            numerics = (f"; precision {devices.precision_name(self.device, self.fast.amp)}, deterministic "
                        f"{'on' if devices.numerics()['deterministic'] else 'off'}")
        log.info("steps %d..%d of %d, seed %d; %s%s", self.progress.step + 1, self.total, self.total, self.seed,
                 ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(self.fast).items()), numerics)

    # --- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        backend, opts, data, prog, fast = self.backend, self.options, self.data, self.progress, self.fast
        global_batch = data.batch_size * self.world
        from tqdm.auto import tqdm

        bar = tqdm(total=self.total, initial=prog.step, disable=not (opts.progress_bar and self.main),
                   desc=f"train {backend.name}", unit="step")
        for module in backend.nets.values():
            module.train()
        started = time.perf_counter()
        batches = step_batches(data, prog, self.total - prog.step, self.rank, self.world, fast.workers,
                               fast.pin_memory)
        try:
            for epoch, pos, clips, labels in batches:
                batch = to_batch(data, clips, labels, self.device, fast.pin_memory)
                if fast.channels_last:
                    batch.video = batch.video.contiguous(memory_format=torch.channels_last_3d)
                t0 = time.perf_counter()
                losses = backend.train_step(batch, self._state)
                seconds = time.perf_counter() - t0
                out_of_time = opts.max_seconds is not None and time.perf_counter() - started >= opts.max_seconds
                if self.multi:  # log the mean over ranks; stop together when any rank is out of time
                    agreed = distributed.mean_over_ranks([float(v) for v in losses.values()] + [float(out_of_time)])
                    losses = dict(zip(losses, (float(v) for v in agreed[:-1])))
                    out_of_time = bool(agreed[-1] > 0)
                bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
                if bad:
                    raise InputError(f"training diverged at step {prog.step + 1}: loss {bad[0]} is {losses[bad[0]]}")
                prog.step += 1
                prog.epoch, prog.sample_in_epoch = global_position(
                    Progress(epoch=epoch, sample_in_epoch=pos), global_batch, len(data.records), 1)
                prog.batch_in_epoch = prog.sample_in_epoch // global_batch
                if self.main:
                    self._log.write(prog.step, prog.epoch, seconds, losses)
                bar.update(1)
                bar.set_postfix({k: f"{float(v):.3g}" for k, v in losses.items()})
                last = prog.step == self.total or out_of_time
                if (prog.step % opts.sample_every == 0 or last) and self.main:
                    self._sheet.render(backend, self.out / SAMPLES_DIR / f"step_{prog.step:06d}", self._state.autocast)
                if prog.step % opts.checkpoint_every == 0 or last:
                    self._checkpoint()
                if self.on_step is not None:
                    self.on_step(prog.step, losses)
                if out_of_time:
                    if prog.step < self.total:
                        log.info("stopped at step %d of %d: max_seconds %g reached", prog.step, self.total,
                                 opts.max_seconds)
                    break
        finally:
            del batches  # stops DataLoader workers when the run ends early
        bar.close()

    def _checkpoint(self) -> None:
        prog, seed = self.progress, self.seed
        if not self.multi:
            save_checkpoint(self.backend, self.optimizers, self.out, prog, seed)
        else:
            distributed.broadcast_buffers(self.backend.nets)  # every rank now holds exactly what rank 0 saves
            rngs = distributed.collect(rng_state)
            distributed.on_main(lambda: save_checkpoint(self.backend, self.optimizers, self.out, prog, seed,
                                                        world_size=self.world, rank_rngs=rngs))
        log.debug("step %d: checkpoint in %s", prog.step, self.out)


def train(backend: GeneratorBackend, dataset, out, *, steps: int | None = None, seed: int | None = None,
          resume: bool = False, on_step: Callable[[int, dict], None] | None = None, **options) -> Path:
    """Train ``backend`` on ``dataset`` into ``out``: ``Trainer(backend, dataset, out, TrainOptions(...)).fit()``.

    ``options`` are further :class:`TrainOptions` fields (``epochs``, ``sample_every``, ``amp``, ...).
    """
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(TrainOptions)})
    if unknown:
        raise TypeError(f"train() got unknown option(s) {', '.join(unknown)} (see TrainOptions)")
    opts = TrainOptions(steps=steps, seed=seed, resume=resume, **options)
    return Trainer(backend, dataset, out, opts, on_step=on_step).fit()
