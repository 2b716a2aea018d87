"""Data-parallel training under torchrun: the DistributedDataParallel wrappers the Trainer hands a step.

Under torchrun every rank runs the same loop. Choices, and why:

- Gradients: each network of ``backend.nets`` with trainable parameters is wrapped in
  DistributedDataParallel (:func:`ddp_nets`), and the trainer hands the wrappers to every step as
  ``StepState.nets``. Backends need no change: ``state.nets["G"](...)`` calls DDP's forward,
  attribute look-ups (``state.nets["G"].dim_z``) reach the network (:class:`DDP`), and the
  trainer's optimisers step the same Parameter objects. ``backend.nets`` itself always holds the
  plain networks (sample grids, save, load), so rank 0 can generate alone and checkpoints keep
  their keys (no ``module.`` prefix).
- GAN steps call a network several times per step (D on real, on fake, then again for G's loss)
  and backward through D into G. DDP supports several forwards before one backward (autograd sums
  a parameter's gradients before DDP's hook sees them) as long as every parameter gets a gradient
  in that backward; D's gradients from G's loss are all-reduced too and then zeroed by the
  backend's next ``zero_grad``, which costs bandwidth but not correctness. Networks with
  parameters that some steps do not use need ``find_unused_parameters`` (``--ddp-find-unused``,
  off by default: it walks the graph after every forward).
- Buffers: DDP broadcasts rank 0's buffers before each forward (``broadcast_buffers``), so
  BatchNorm running statistics are rank 0's (per-rank BN: each rank normalises with its own batch
  statistics in training mode; the running averages only matter at evaluation, and rank 0's is
  what the checkpoint keeps). Spectral norm's power-iteration vectors (``_u``, ``_v``) depend only
  on the weight and the previous vectors, never on data, so they stay identical on every rank
  without communication; the broadcast makes that hold even if a kernel were non-deterministic.
  (DDP's ``broadcast_buffers`` default, left on.) Before each checkpoint all buffers are broadcast
  once more (:func:`vbench_i2v.distributed.broadcast_buffers`), so every rank holds the saved state.
- SyncBatchNorm (``sync_bn``): batch statistics over the global batch. PyTorch implements it for
  GPUs only ("SyncBatchNorm expected input tensor to be on GPU", checked with gloo on CPU), so
  ``auto`` turns it on for distributed CUDA runs and leaves per-rank BN on CPU. ``torch.compile``
  together with SyncBatchNorm under DDP is refused (open upstream issues with compiled
  SyncBatchNorm and spectral-norm parametrizations; never measured to work here).
- Data: see :mod:`vbench_i2v.generators.train_data` (one global block of the seeded order per
  step, rank r takes its r-th ``batch_size``).
- RNG: rank 0 keeps ``seed``'s stream (so 1 process is unchanged); rank r > 0 gets its own
  stream for noise (:func:`~vbench_i2v.generators.train_checkpoint.rank_seed`). Checkpoints keep
  every rank's RNG state.
"""

from __future__ import annotations

import torch


class DDP(torch.nn.parallel.DistributedDataParallel):
    """DistributedDataParallel that lets backends read the wrapped network's attributes."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def ddp_nets(nets: torch.nn.ModuleDict, device: torch.device, find_unused: bool = False) -> torch.nn.ModuleDict:
    """The networks a distributed step calls: DDP around each one with trainable parameters.

    Construction broadcasts rank 0's parameters and buffers, so every rank starts equal. DDP's
    default buffer sync (rank 0's buffers before every forward) is left on.
    """
    ids = [device.index] if device.type == "cuda" else None
    wrapped = torch.nn.ModuleDict()
    for name, net in nets.items():
        if any(p.requires_grad for p in net.parameters()):
            wrapped[name] = DDP(net, device_ids=ids, find_unused_parameters=find_unused)
        else:
            wrapped[name] = net
    return wrapped
