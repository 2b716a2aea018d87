"""FID (ResNeXt-101) and FVD (I3D) with the networks in bf16 against fp32, on N real + N fake clips.

Values, not timings, are the point: each network computes the features of the same 2N clips in fp32
(the path reported numbers use) and in bf16, and the Frechet distances of the two are compared
(relative change printed; the issue's limit is 1% at N >= 200). Both networks are random-weight
copies in their published checkpoint formats (ResNeXt-101 with non-trivial BatchNorm statistics, I3D
as tests/test_i3d.py builds it), loaded back through the loaders the product uses.

- Clips: the synthetic dataset's 32 x 64 x 64 clips, "real" from seed 0 and "fake" from seed 1 made
  generator-like (per-frame Gaussian blur sigma 0.8, a small colour shift, noise sd 6), N of each,
  spread over identities and expressions. Weizmann has only 72 clips, too few for N >= 200.
- Networks: PyTorch's default init and random BatchNorm statistics, as the tests build them, except
  where ``--calibrate`` names the net (default: I3D): its BatchNorm running statistics are then those
  of 8 clips of a third seed (``calibrate_bn``). Why per net: a random network is only a proxy for the
  trained one, and the two recipes put them in different regimes. I3D (no residual paths) with
  random statistics has features that hardly depend on the input (spread across clips 5e-6 of
  their mean, FVD ~3e-8), so bf16 rounding is all FVD sees; calibrated, its features spread like a
  trained network's and true bf16 was ~3e-2 (max abs diff / max feature) off fp32 on 2 clips.
  ResNeXt-101 with random statistics keeps input-dependent features through its residual paths
  (spread ~0.2) and bf16 is ~5e-3 off, as tests/test_bf16_features.py measures; calibrated (unit-
  scale branches added over 33 residual blocks) it amplifies any rounding: bf16 features were
  20-35% off fp32 (He init as well), a chaotic random network and no model of a trained one.
- FID: ``ResNeXtFIDExtractor`` at its contract (central 16 frames at 112x112); fp32 = its default fast
  path (folded BN, oneDNN), bf16 = its ``bf16=True`` mode (what ``--bf16`` runs).
- FVD: ``I3DFVDExtractor`` on the VideoGPT route (all 32 frames at 224x224) or, with ``--i3d-route
  fvd-styleganv``, stylegan-v's (16 frames stretched to 224x224, 1/N covariances: half the cost);
  fp32 = its default fast path; I3D has no bf16 mode in the product, so bf16 here = the eager model under
  ``torch.autocast("cpu", torch.bfloat16)``, what such a mode would run.
- Where the CPU has no native bf16 (see ``vbench_i2v.devices.cpu_bf16_flags``) true bf16 is emulated
  by torch and ~27x slower, so ``--emulate auto`` (the default) then *simulates* it at scale: every
  conv3d's input, weight, bias and output rounded to bf16, fp32 accumulation (the eager model with
  ``torch.nn.functional.conv3d`` replaced); the first ``--val`` clips are also run in true bf16 to
  show both differ from fp32 by the same order. On a native-bf16 CPU true bf16 is used throughout.
- Each Frechet distance is cross-checked against an independent one (scipy ``sqrtm`` of the
  covariance product), and the features' max relative difference bf16 vs fp32 is printed.

Run with one torch thread on a shared machine: VBENCH_THREADS=1 python benchmarks/bench_bf16_fid.py
[--clips 200] [--nets resnext,i3d] [--calibrate i3d] [--i3d-route fvd|fvd-styleganv]
[--emulate auto|on|off] [--val 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(tempfile.gettempdir()) / "vbench_bf16_fid"


def clips(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(real, fake)``: n synthetic clips each, uint8 n x 32 x 64 x 64 x 3 (see the module doc)."""
    import scipy.ndimage

    from vbench_i2v.datasets.synthetic import SyntheticFaces

    out = []
    for seed in (0, 1):
        ds = SyntheticFaces(seed=seed)
        recs = ds.discover()
        if n > len(recs):
            raise SystemExit(f"--clips {n}: the synthetic dataset has {len(recs)} clips")
        idx = np.linspace(0, len(recs) - 1, n).round().astype(int)  # spread over identities and expressions
        out.append(np.stack([ds.read_raw(recs[i]) for i in idx]))
    real, fake = out
    rng = np.random.default_rng(1)
    f = scipy.ndimage.gaussian_filter(fake.astype(np.float32), sigma=(0, 0, 0.8, 0.8, 0))
    f += np.array([4.0, -3.0, 2.0], np.float32) + rng.normal(0, 6, f.shape).astype(np.float32)
    return real, np.clip(np.round(f), 0, 255).astype(np.uint8)


def calibrate_bn(model, forward, ex, n: int = 8) -> None:
    """Set every BatchNorm's running statistics to those of ``n`` synthetic clips of another seed (2).

    With PyTorch's default init and arbitrary running statistics the activations of a deep random
    network shrink layer by layer, and its features hardly depend on the input (measured: I3D logits
    varied by 5e-6 across clips around a mean of 0.8, so FVD was ~3e-8 and bf16 rounding dominated
    it). Calibrated statistics keep activations near unit scale, as in a trained network."""
    import torch

    from vbench_i2v.datasets.synthetic import SyntheticFaces

    ds = SyntheticFaces(seed=2)
    recs = ds.discover()
    videos = np.stack([ds.read_raw(recs[i]) for i in np.linspace(0, len(recs) - 1, n).round().astype(int)])
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for i in range(0, n, 4):
            forward(ex.preprocess(videos[i:i + 4]))
    model.eval()
    for m, mom in zip(bns, saved):
        m.momentum = mom


def resnext_model(calibrated: bool):
    """A random ResNeXt-101 saved in the published format and loaded back (the product's loader):
    BatchNorm statistics drawn at random as tests/test_bf16_features.py does, or calibrated."""
    import torch

    from vbench_i2v.feature_extractors import resnext3d as rx

    path = ROOT / f"resnext-101-kinetics{'-calibrated' if calibrated else ''}.pth"
    if not path.exists():
        torch.manual_seed(0)
        m = rx.resnext101().eval()
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
        if calibrated:
            calibrate_bn(m, m.features, rx.ResNeXtFIDExtractor.from_model(m, channels_last=False, fast=False))
        rx.save_published(m, path)
    return rx.load_published(path)


def i3d_model(calibrated: bool):
    """A random I3D as tests/test_i3d.py builds it (non-trivial BN, logits x30), BatchNorm statistics
    random or calibrated, in the published format."""
    import torch

    from vbench_i2v.feature_extractors import i3d as I

    path = ROOT / f"i3d_pretrained_400{'-calibrated' if calibrated else ''}.pt"
    if not path.exists():
        torch.manual_seed(0)
        m = I.i3d().eval()
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.1, 0.1)
        m.logits.conv3d.weight.data.mul_(30)
        if calibrated:
            calibrate_bn(m, m, I.I3DFVDExtractor.from_model(m, channels_last=False, fast=False))
        I.save_published(m, path)
    return I.load_published(path)


@contextlib.contextmanager
def simulated_bf16():
    """Every conv3d (eager modules call ``torch.nn.functional.conv3d``) with bf16-rounded operands and
    output, accumulating in fp32."""
    import torch
    import torch.nn.functional as F

    conv = F.conv3d
    r = lambda t: t.bfloat16().float()  # noqa: E731

    def emu(x, w, b=None, *args):
        return r(conv(r(x), r(w), None if b is None else r(b), *args))

    F.conv3d = emu
    try:
        yield
    finally:
        F.conv3d = conv
    assert torch.nn.functional.conv3d is conv


def extractors(net: str, calibrated: bool, route: str):
    """``(fp32 extractor, bf16 extractor, eager fp32 extractor for simulation, bf16 context)``."""
    import torch

    if net == "resnext":
        from vbench_i2v.feature_extractors.resnext3d import ResNeXtFIDExtractor as E

        m = resnext_model(calibrated)
        return (E.from_model(m, batch_size=4), E.from_model(m, batch_size=4, bf16=True),
                E.from_model(m, batch_size=4, fast=False), contextlib.nullcontext)
    from vbench_i2v.feature_extractors.i3d import I3DFVDExtractor as E

    m = i3d_model(calibrated)
    return (E.from_model(m, batch_size=2, route=route), E.from_model(m, batch_size=2, route=route, fast=False),
            E.from_model(m, batch_size=2, route=route, fast=False),
            lambda: torch.autocast("cpu", dtype=torch.bfloat16))


def ref_frechet(a, b, biased: bool = False) -> float:
    """Independent Frechet distance: scipy's sqrtm of the covariance product."""
    import scipy.linalg

    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False, bias=biased), np.cov(b, rowvar=False, bias=biased)
    c = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * c))


def route_covariance(route: str) -> str:
    """How the FVD route's reference code estimates covariances ("unbiased (N-1)" or "biased (1/N)")."""
    from vbench_i2v import i3d_routes

    r = getattr(i3d_routes, "ROUTES", {}).get(route)
    return r.covariance if r is not None else i3d_routes.CONTRACTS[route].covariance


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run_net(net: str, real, fake, emulate: bool, val: int, calibrated: bool, route: str) -> dict:
    from vbench_i2v.metrics.frechet import frechet_from_features

    fp, bf, eager, ctx = extractors(net, calibrated, route)
    biased = net == "i3d" and route_covariance(route).startswith("biased")
    both = np.concatenate([real, fake])
    n = len(real)
    f32, t32 = timed(lambda: fp.features(both))
    print(f"{net}: fp32 features of {2 * n} clips {t32:.1f} s", flush=True)
    if emulate:
        with simulated_bf16():
            f16, t16 = timed(lambda: eager.features(both))
    else:
        with ctx():
            f16, t16 = timed(lambda: bf.features(both))
    kind = "simulated bf16" if emulate else "bf16"
    print(f"{net}: {kind} features {t16:.1f} s", flush=True)
    scale = np.abs(f32).max()
    res = {"clips_per_side": n, "bf16": kind, "bn_statistics": "calibrated" if calibrated else "random",
           "route": route if net == "i3d" else "resnext101-kinetics", "biased_covariance": biased,
           "feature_spread": float(f32.std(0).mean() / np.abs(f32).mean()),
           "s_per_clip_fp32": t32 / (2 * n), "s_per_clip_bf16": t16 / (2 * n),
           "feature_rel_max_diff": float(np.abs(f16 - f32).max() / scale)}
    if emulate and val:
        with ctx():
            tb = bf.features(both[:val])
        res["val_true_bf16_vs_fp32"] = float(np.abs(tb - f32[:val]).max() / scale)
        res["val_simulated_vs_true_bf16"] = float(np.abs(f16[:val] - tb).max() / scale)
        print(f"{net}: on {val} clips, true bf16 vs fp32 {res['val_true_bf16_vs_fp32']:.2e}, simulated vs true "
              f"bf16 {res['val_simulated_vs_true_bf16']:.2e} (max abs diff / max |fp32 feature|)", flush=True)
    d32 = frechet_from_features(f32[:n], f32[n:], biased=biased)
    d16 = frechet_from_features(f16[:n], f16[n:], biased=biased)
    res.update(fd_fp32=d32, fd_bf16=d16, fd_fp32_scipy=ref_frechet(f32[:n], f32[n:], biased),
               fd_bf16_scipy=ref_frechet(f16[:n], f16[n:], biased), rel_change=(d16 - d32) / d32)
    name = "FID" if net == "resnext" else f"FVD {route}"
    print(f"{name} ({net}) fp32 {d32:.6g} (scipy {res['fd_fp32_scipy']:.6g}), {kind} {d16:.6g} "
          f"(scipy {res['fd_bf16_scipy']:.6g}); relative change {res['rel_change']:+.3e}; features max rel diff "
          f"{res['feature_rel_max_diff']:.2e}", flush=True)
    return res


def machine() -> dict:
    import torch

    from vbench_i2v import devices

    caps = dict(getattr(torch.cpu, "get_capabilities", dict)())
    flags = sorted(k for k, v in caps.items() if v is True and k.startswith(("avx", "amx", "bf16", "sve")))
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": model, "cpu_flags": flags, "bf16_flags": list(devices.cpu_bf16_flags()),
            "capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpus": os.cpu_count()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=200, help="clips per side (real and fake)")
    ap.add_argument("--nets", default="resnext,i3d", help="comma list of resnext (FID) and i3d (FVD)")
    ap.add_argument("--emulate", choices=["auto", "on", "off"], default="auto",
                    help="simulate bf16 (auto: where the CPU has no native bf16)")
    ap.add_argument("--val", type=int, default=2, help="clips also run in true bf16 when simulating")
    ap.add_argument("--calibrate", default="i3d", help="nets whose BatchNorm statistics are calibrated "
                    "(comma list of resnext, i3d; 'none'): see the module doc")
    ap.add_argument("--i3d-route", default="fvd", choices=["fvd", "fvd-styleganv"],
                    help="FVD route: fvd (VideoGPT, all frames) or fvd-styleganv (16 frames, half the cost)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)

    from vbench_i2v import devices, threads

    threads.apply(large=True)  # VBENCH_THREADS=1 gives one thread
    ROOT.mkdir(parents=True, exist_ok=True)
    info = machine()
    emulate = args.emulate == "on" or (args.emulate == "auto" and not devices.has_native_bf16("cpu"))
    print(f"{info['cpu']}, {info['cpus']} CPUs, torch {info['torch']} ({info['capability']}), "
          f"{info['threads']} thread(s); bf16 flags: {', '.join(info['bf16_flags']) or 'none'}; "
          f"{'simulated' if emulate else 'true'} bf16; load average {os.getloadavg()}", flush=True)
    print("CPU flags: " + " ".join(info["cpu_flags"]), flush=True)
    (real, fake), t = timed(lambda: clips(args.clips))
    print(f"{args.clips} real + {args.clips} fake clips {real.shape[1:]} rendered in {t:.1f} s", flush=True)
    out = {"machine": info, "load_before": os.getloadavg(), "nets": {}}
    for net in [s.strip() for s in args.nets.split(",") if s.strip()]:
        if net not in ("resnext", "i3d"):
            raise SystemExit(f"--nets: unknown {net!r} (resnext, i3d)")
        out["nets"][net] = run_net(net, real, fake, emulate, args.val, net in args.calibrate.split(","),
                                   args.i3d_route)
        if args.json:  # after each network: a later failure keeps what was measured
            args.json.write_text(json.dumps(out, indent=1))
    out["load_after"] = os.getloadavg()
    print(f"load average {out['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
