"""`vbench metrics` (score a folder of fake videos against real ones) and `vbench features`.

Both shard their work across processes when launched with torchrun
(``torchrun --nproc_per_node N -m vbench_i2v metrics ...``); only rank 0 prints and writes.
Metric names, choices and help come from the metric registry.
"""

from __future__ import annotations

import click

from vbench_i2v.cli.help import extractor_help, metric_help, metric_list_type, metrics_table
from vbench_i2v.cli.types import (device_option, BATCH_SIZE, BOOTSTRAP_REPS, SEED, InputDir, InputFile, NonEmptyPath, NonEmptyText,
                                  OutputPath, int_range)

# KID's subsets each cost a subset_size^2 kernel sum; beyond these a run would never end (the size is
# capped at the set sizes anyway).
KID_SUBSETS = int_range(1, 100_000)
KID_SUBSET_SIZE = int_range(1, 1_000_000)


def format_table(result: dict) -> str:
    from tabulate import tabulate

    rows = [[name, f"{m['value']:.6g}", f"[{m['ci95'][0]:.6g}, {m['ci95'][1]:.6g}]", m["n"]]
            for name, m in result["metrics"].items()]
    return tabulate(rows, headers=["metric", "value", "95% CI", "N"])


# Class indices: far above any dataset's class count, and inside every integer type numpy uses
# (a bigger number would reach the label metric as a Python object and fail there with a traceback).


def _read_labels(path) -> dict:
    """``{clip: label}`` from a CSV with columns ``clip,label`` (see :func:`vbench_i2v.clips_table.read_labels`)."""
    from vbench_i2v.clips_table import read_labels

    return read_labels(path)


class ExtractorName(NonEmptyText):
    """A registered network name or an existing folder (a probe, verified when it is loaded).

    Checked at parse time so a misspelt name fails in one line before videos are read or generated.
    """

    def __init__(self, family: str = "video"):
        self.family = family
        self.name = "extractor" if family == "video" else "embedder"

    def convert(self, value, param, ctx):
        from pathlib import Path

        from vbench_i2v.catalog import EXTRACTORS, IDENTITY_EMBEDDERS

        text = super().convert(value, param, ctx)
        table = EXTRACTORS if self.family == "video" else IDENTITY_EMBEDDERS
        if text in table or Path(text).is_dir():
            return text
        what = "feature extractor" if self.family == "video" else "identity embedder"
        known = f"known: {', '.join(sorted(table))}, or a probe folder"
        if Path(text).exists():
            self.fail(f"{text}: is a file, expected a probe folder or a {what} name ({known})", param, ctx)
        self.fail(f"unknown {what} {text!r} ({known})", param, ctx)


@click.command("metrics")
@click.option("--real", type=NonEmptyPath(exists=True), default=None, help="folder of real videos, or a features .npz (not needed by per-video metrics, nor by conditioned ones given --conditioning)")
@click.option("--fake", type=NonEmptyPath(exists=True), default=None, help="folder of generated videos, or a features .npz")
@click.option("--metrics", "metric_list", type=metric_list_type(), default=None,
              help=metric_help("Comma-separated (default: the registry's defaults)"))
@click.option("--list", "list_metrics", is_flag=True, help="List the registered metrics and exit.")
@click.option("--extractor", type=ExtractorName(), default=None,
              help=extractor_help("Network for set metrics that do not fix their own (default: each metric's)"))
@click.option("--identity", type=ExtractorName("identity"), default=None,
              help="ACD embedder: facenet-vggface2, dlib-resnet (no weights to import; pip install "
                   "\"vbench-i2v[dlib]\") or synthetic-probe (default: synthetic-probe with that "
                   "extractor, else facenet-vggface2)")
@click.option("--conditioning", type=InputDir(), default=None,
              help="folder of conditioning images keyed like the fake videos (ACD-I); default: first real frame")
@click.option("--labels", "labels_csv", type=InputFile(), default=None,
              help="CSV clip,label: the class each fake video was conditioned on (label metrics); "
                   "a run folder's clips.csv works")
@click.option("--include-conditioning-frame", is_flag=True,
              help="paired metrics also score frame 0 (the conditioning frame); default: frames 1..T-1")
@click.option("--json", "json_out", type=OutputPath("file"), default=None, help="write the results here")
@click.option("--seed", type=SEED, default=0, show_default=True)
@device_option
@click.option("--batch-size", type=BATCH_SIZE, default=8, show_default=True)
@click.option("--bootstrap-reps", type=BOOTSTRAP_REPS, default=1000, show_default=True,
              help="resamples for per-video metrics and KID")
@click.option("--fid-bootstrap-reps", type=BOOTSTRAP_REPS, default=100, show_default=True,
              help="resamples for the FID interval")
@click.option("--kid-subsets", type=KID_SUBSETS, default=100, show_default=True)
@click.option("--kid-subset-size", type=KID_SUBSET_SIZE, default=1000, show_default=True)
@click.option("--bf16", is_flag=True,
              help="feature networks in bf16 (opt-in, faster on CPUs/GPUs with bf16 units; features a little "
                   "off fp32's, recorded in provenance; refused for networks without a bf16 mode)")
@click.option("--tf32", is_flag=True,
              help="on CUDA: let the networks use TF32 matmuls and convolutions (opt-in, faster on Ampere and "
                   "later, ~1e-3 relative error; recorded as precision tf32, never mixed with fp32; refused on "
                   "the CPU). Default: IEEE fp32")
@click.option("--cache", "cache_dir", type=OutputPath("dir"), default=None,
              help="feature store folder: each clip's features are computed once per network and reused "
                   "(keyed by the network's name, contract, weights, precision and device type and the clip's "
                   "content)")
def metrics_cmd(real, fake, metric_list, list_metrics, extractor, identity, conditioning, labels_csv,
                include_conditioning_frame, json_out, seed, device, batch_size, bootstrap_reps, fid_bootstrap_reps,
                kid_subsets, kid_subset_size, bf16, tf32, cache_dir):
    """Score --fake against --real with the registered metrics (95% CI and N each).

    Under torchrun the videos are split across the processes; the numbers equal one process's.
    """
    if list_metrics:
        click.echo(metrics_table())
        return
    from vbench_i2v.errors import InputError

    if fake is None:
        raise InputError("vbench metrics: --fake is required (or --list); --real too unless every metric "
                         "scores the fake videos alone")
    import warnings

    from vbench_i2v import distributed, logs, threads

    threads.apply(large=True)  # before torch's first use: passive OpenMP wait, idle cores (see threads.py)
    logs.setup()  # e.g. the expected CPU time of a large network, before it starts
    from vbench_i2v.devices import setup_device

    setup_device(device, deterministic=True, tf32=tf32)  # on CUDA: deterministic kernels, IEEE fp32 unless --tf32
    from vbench_i2v.files import atomic_write_json
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    labels = _read_labels(labels_csv) if labels_csv else None
    plan = ScorePlan(metrics=metric_list, extractor=extractor, identity=identity, conditioning=conditioning,
                     labels=labels, seed=seed, device=device, batch_size=batch_size, bootstrap_reps=bootstrap_reps,
                     set_bootstrap_reps=fid_bootstrap_reps, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                     include_conditioning_frame=include_conditioning_frame, progress=True, bf16=bf16, tf32=tf32)
    with warnings.catch_warnings():  # each one is in provenance.warnings, printed once below
        warnings.simplefilter("ignore", UserWarning)
        result = compute_metrics(real, fake, plan, store=cache_dir).to_json()
    if not distributed.is_main():
        return  # rank 0 holds the same result and reports it
    click.echo(format_table(result))
    for w in result["provenance"]["warnings"]:
        click.echo(f"Warning: {w}", err=True)
    if "extractor_note" in result["provenance"]:
        click.echo(f"note: {result['provenance']['extractor_note']}", err=True)
    if json_out:
        atomic_write_json(json_out, result)
        click.echo(f"wrote {json_out}")


@click.command("features")
@click.argument("videos", type=InputDir())
@click.option("--extractor", type=ExtractorName(), default="resnext101-kinetics", show_default=True, help=extractor_help("Network"))
@click.option("--out", required=True, type=OutputPath("file", suffixes=(".npz",)),
              help="FILE.npz (features, names, mu, sigma)")
@device_option
@click.option("--batch-size", type=BATCH_SIZE, default=8, show_default=True)
@click.option("--bf16", is_flag=True,
              help="feature networks in bf16 (opt-in, faster on CPUs/GPUs with bf16 units; features a little "
                   "off fp32's, recorded in the file; refused for networks without a bf16 mode)")
@click.option("--tf32", is_flag=True,
              help="on CUDA: let the networks use TF32 matmuls and convolutions (opt-in, faster on Ampere and "
                   "later, ~1e-3 relative error; recorded in the file as precision tf32, never mixed with fp32; "
                   "refused on the CPU). Default: IEEE fp32")
@click.option("--cache", "cache_dir", type=OutputPath("dir"), default=None,
              help="feature store folder (as in `vbench metrics --cache`): stored clips are not recomputed")
def features_cmd(videos, extractor, out, device, batch_size, bf16, tf32, cache_dir):
    """Save per-video features and their mean/covariance, reusable as --real in `vbench metrics`.

    Under torchrun the videos are split across the processes and rank 0 writes the file.
    """
    from vbench_i2v import logs, threads
    from vbench_i2v.metrics.features import features_file

    threads.apply(large=True)  # before torch's first use: passive OpenMP wait, idle cores (see threads.py)
    logs.setup()
    from vbench_i2v.devices import setup_device

    setup_device(device, deterministic=True, tf32=tf32)  # on CUDA: deterministic kernels, IEEE fp32 unless --tf32

    ff = features_file(videos, extractor, out, device=device, batch_size=batch_size, progress=True, bf16=bf16,
                       store=cache_dir, tf32=tf32)
    if ff is None:  # not rank 0: rank 0 wrote the file and reports it
        return
    made = [ff.precision] if ff.precision != "fp32" else []
    made += [ff.device] if ff.device != "cpu" else []
    click.echo(f"wrote {ff.path}: {len(ff.names)} videos x {ff.features.shape[1]} features "
               f"({', '.join([ff.extractor] + made)})")


commands = [metrics_cmd, features_cmd]
