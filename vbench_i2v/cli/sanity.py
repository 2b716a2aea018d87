"""`vbench sanity`: how every selected metric responds to controlled corruptions of real videos.

docs/sanity.md explains the corruptions, the halves and how to read the FLAG lines.
"""

from __future__ import annotations

import click

from vbench_i2v.cli.help import extractor_help, metric_help, metric_list_type
from vbench_i2v.cli.types import device_option, BATCH_SIZE, BOOTSTRAP_REPS, SEED, TEXT, InputDir, OutputPath


@click.command("sanity")
@click.option("--real", required=True, type=InputDir(), help="folder of real videos (at least 4)")
@click.option("--metrics", "metric_list", type=metric_list_type(), default=None,
              help=metric_help("Comma-separated (default: the set metrics that run on --extractor and the "
                               "paired and per-video metrics that need no network)"))
@click.option("--extractor", type=TEXT, default=None,
              help=extractor_help("Network for set metrics that do not fix their own (default: each metric's)"))
@click.option("--strengths", type=click.IntRange(1, 10), default=3, show_default=True,
              help="strength levels per corruption, mild to strong (1 = the strong end only)")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="seeds the A/B split, the corruptions and the bootstrap")
@click.option("--out", "out_dir", type=OutputPath("dir"), default="sanity", show_default=True,
              help="folder for sanity.md, sanity.csv, sanity.json and plots/")
@device_option
@click.option("--batch-size", type=BATCH_SIZE, default=8, show_default=True)
@click.option("--bootstrap-reps", type=BOOTSTRAP_REPS, default=1000, show_default=True,
              help="resamples for per-video metrics and KID")
@click.option("--fid-bootstrap-reps", type=BOOTSTRAP_REPS, default=100, show_default=True,
              help="resamples for the FID interval")
@click.option("--cache", "cache_dir", type=OutputPath("dir"), default=None,
              help="feature store folder kept after the report (default: a temporary one); clips already "
                   "stored there for the same network are not recomputed")
def sanity_cmd(real, metric_list, extractor, strengths, seed, out_dir, device, batch_size, bootstrap_reps,
               fid_bootstrap_reps, cache_dir):
    """Corrupt half of --real (blur, noise, JPEG; frozen, shuffled, reversed, dropped frames) at
    graded strengths and score it against the other half with every metric.

    Set metrics (FID, KID) compare the corrupted half B' with the clean half A; paired metrics
    (SSIM, PSNR) compare B' with B itself. FLAG lines mark a metric that ranks a strongly
    temporally broken set better than a mildly blurred/noisy/compressed one (content bias).
    Runs offline with --extractor synthetic-probe.
    """
    from vbench_i2v.devices import setup_device
    from vbench_i2v.sanity.report import run_sanity, write_report

    setup_device(device, deterministic=True)  # on CUDA: deterministic kernels, IEEE fp32 (no TF32)
    report = run_sanity(real, metrics=metric_list, extractor=extractor, strengths=strengths, seed=seed,
                        device=device, batch_size=batch_size, bootstrap_reps=bootstrap_reps,
                        set_bootstrap_reps=fid_bootstrap_reps, progress=lambda msg: click.echo(msg, err=True),
                        cache=cache_dir)
    paths = write_report(report, out_dir)
    click.echo(paths[0].read_text(encoding="utf-8"))
    for w in report.meta["warnings"]:
        click.echo(f"Warning: {w}", err=True)
    click.echo(f"wrote {', '.join(str(p) for p in paths[:3])} and {len(paths) - 3} plot(s) under {out_dir / 'plots'}")
