"""`vbench metrics` (score a folder of fake videos against real ones) and `vbench features`.

Both shard their work across processes when launched with torchrun
(``torchrun --nproc_per_node N -m vbench_i2v metrics ...``); only rank 0 prints and writes.
"""

from __future__ import annotations

from pathlib import Path

import click

from vbench_i2v.files import atomic_write_json
from vbench_i2v.metrics.engine import DEFAULT_METRICS, METRIC_NAMES

EXTRACTORS = ("resnext101-kinetics", "synthetic-probe")


def format_table(result: dict) -> str:
    from tabulate import tabulate

    rows = [[name, f"{m['value']:.6g}", f"[{m['ci95'][0]:.6g}, {m['ci95'][1]:.6g}]", m["n"]]
            for name, m in result["metrics"].items()]
    return tabulate(rows, headers=["metric", "value", "95% CI", "N"])


@click.command("metrics")
@click.option("--real", required=True, type=click.Path(exists=True), help="folder of real videos, or a features .npz")
@click.option("--fake", required=True, type=click.Path(exists=True), help="folder of generated videos, or a features .npz")
@click.option("--metrics", "metric_list", default=",".join(DEFAULT_METRICS), show_default=True,
              help=f"comma-separated, from {','.join(METRIC_NAMES)}")
@click.option("--extractor", type=click.Choice(EXTRACTORS), default="resnext101-kinetics", show_default=True,
              help="FID/KID features (synthetic-probe only means something on the synthetic dataset)")
@click.option("--identity", type=click.Choice(("facenet-vggface2", "synthetic-probe")), default=None,
              help="ACD embedder (default: synthetic-probe with that extractor, else facenet-vggface2)")
@click.option("--conditioning", type=click.Path(exists=True, file_okay=False), default=None,
              help="folder of conditioning images keyed like the fake videos (ACD-I); default: first real frame")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="write the results here")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--bootstrap-reps", default=1000, show_default=True, help="resamples for per-video metrics and KID")
@click.option("--fid-bootstrap-reps", default=100, show_default=True, help="resamples for the FID interval")
def metrics_cmd(real, fake, metric_list, extractor, identity, conditioning, json_out, seed, device, batch_size,
                bootstrap_reps, fid_bootstrap_reps):
    """Score --fake against --real with FID, KID, SSIM, PSNR, ACD-C, ACD-I (95% CI and N each).

    Under torchrun the videos are split across the processes; the numbers equal one process's.
    """
    from vbench_i2v import distributed
    from vbench_i2v.metrics.engine import compute_metrics

    import warnings

    with warnings.catch_warnings():  # each one is in provenance.warnings, printed once below
        warnings.simplefilter("ignore", UserWarning)
        result = compute_metrics(real, fake, metrics=metric_list, extractor=extractor, conditioning=conditioning,
                                 seed=seed, identity=identity, device=device, batch_size=batch_size,
                                 bootstrap_reps=bootstrap_reps, set_bootstrap_reps=fid_bootstrap_reps,
                                 progress=True)
    if not distributed.is_main():
        return  # rank 0 holds the same result and reports it
    click.echo(format_table(result))
    for w in result["provenance"]["warnings"]:
        click.echo(f"Warning: {w}", err=True)
    if "extractor_note" in result["provenance"]:
        click.echo(f"note: {result['provenance']['extractor_note']}", err=True)
    if json_out:
        atomic_write_json(Path(json_out), result)
        click.echo(f"wrote {json_out}")


@click.command("features")
@click.argument("videos", type=click.Path(exists=True, file_okay=False))
@click.option("--extractor", type=click.Choice(EXTRACTORS), default="resnext101-kinetics", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="FILE.npz (features, names, mu, sigma)")
@click.option("--device", default="cpu", show_default=True)
@click.option("--batch-size", default=8, show_default=True)
def features_cmd(videos, extractor, out, device, batch_size):
    """Save per-video features and their mean/covariance, reusable as --real in `vbench metrics`.

    Under torchrun the videos are split across the processes and rank 0 writes the file.
    """
    from vbench_i2v.errors import InputError
    from vbench_i2v.metrics.engine import features_file

    if not out.endswith(".npz"):
        raise InputError(f"{out}: the features file must end in .npz")
    ff = features_file(videos, extractor, out, device=device, batch_size=batch_size, progress=True)
    if ff is None:  # not rank 0: rank 0 wrote the file and reports it
        return
    click.echo(f"wrote {ff.path}: {len(ff.names)} videos x {ff.features.shape[1]} features ({ff.extractor})")


commands = [metrics_cmd, features_cmd]
