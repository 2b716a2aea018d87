"""One call that scores a set of fake videos against real ones: ``compute_metrics(real, fake, ...)``.

Used by `vbench metrics` and by `vbench run`. Each metric comes back as
``{"value", "ci95": [lo, hi], "n", "per_video"?}`` plus a ``provenance`` block naming the
extractor, the sha256 of every weight file used, the seed and the pairing.

Under torchrun the per-video work (features, SSIM/PSNR, identity embeddings) is split across ranks
by :func:`vbench_i2v.distributed.shard`; feature sums are all-reduced and per-video features and
values are gathered to rank 0 in the global sorted order, where the unchanged statistics (FID, KID
subsets, bootstrap) run, so the numbers do not depend on the number of processes.
"""

from __future__ import annotations

import platform
import warnings
from typing import Iterable

import numpy as np

from vbench_i2v import distributed
from vbench_i2v.devices import resolve_device
from vbench_i2v.errors import InputError
from vbench_i2v.metrics import bootstrap
from vbench_i2v.metrics.acd import acd_c, acd_i
from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features
from vbench_i2v.metrics.kid import KernelMatrices
from vbench_i2v.metrics.pixel import psnr_video, ssim_video
from vbench_i2v.metrics.sources import FeatureFile, ImageSet, VideoSet, is_features_file
from vbench_i2v.metrics.streaming import StreamingStats

METRIC_NAMES = ("fid", "kid", "ssim", "psnr", "acd-c", "acd-i")
DEFAULT_METRICS = ("fid", "kid", "ssim", "psnr")
PAIRED = ("ssim", "psnr", "acd-i")
SET_LEVEL = ("fid", "kid")


def parse_metrics(metrics) -> list[str]:
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    metrics = [m.lower() for m in metrics]
    bad = [m for m in metrics if m not in METRIC_NAMES]
    if bad or not metrics:
        raise InputError(f"unknown metric(s) {', '.join(bad) or '(none)'} (known: {', '.join(METRIC_NAMES)})")
    return list(dict.fromkeys(metrics))


def extract_features(videos: VideoSet, extractor, names: Iterable[str] | None = None,
                     progress: bool = False) -> tuple[list[str], np.ndarray, StreamingStats]:
    """Features of every video (batched by frame shape), with float64 streaming mean/cov."""
    names = list(videos.names() if names is None else names)
    stats = StreamingStats(extractor.dim)
    out: list[np.ndarray] = []
    batch: list[np.ndarray] = []

    def flush():
        if batch:
            f = extractor.features(np.stack(batch))
            stats.update(f)  # raises on NaN/Inf
            out.append(f)
            batch.clear()

    it = videos.iter(names)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(names), desc=f"features {videos.label}", unit="video")
    bs = getattr(extractor, "batch_size", 8)
    for _, v in it:
        if batch and (v.shape != batch[0].shape or len(batch) >= bs):
            flush()
        batch.append(v)
    flush()
    feats = np.concatenate(out) if out else np.zeros((0, extractor.dim))
    return names, feats, stats


def extract_features_sharded(videos: VideoSet, extractor, progress: bool = False):
    """:func:`extract_features` split across torchrun ranks: returns ``(names, features, stats)`` with
    ``names`` in the global sorted order, ``stats`` all-reduced on every rank, and ``features`` the
    full global-order matrix on rank 0 (``None`` on the others). Without torchrun: unchanged."""
    names = videos.names()
    if not distributed.is_distributed():
        return extract_features(videos, extractor, names, progress=progress)
    local = {}

    def mine():
        n, f, local["stats"] = extract_features(videos, extractor, distributed.shard(names),
                                                progress=progress and distributed.is_main())
        return n, f

    parts = distributed.collect(mine)
    stats = distributed.reduce_stats(local["stats"])
    if parts is None:
        return names, None, stats
    rows = {n: row for part_names, part_feats in parts for n, row in zip(part_names, part_feats)}
    return names, np.stack([rows[n] for n in names]), stats


def features_file(videos, extractor_name: str, out_path, device: str = "cpu", batch_size: int = 8,
                  progress: bool = False) -> FeatureFile | None:
    """Compute and save per-video features + mu/sigma (what `vbench features` does).

    Under torchrun every rank extracts its shard and rank 0 writes the file; the others return
    ``None`` once it is written.
    """
    from vbench_i2v.feature_extractors import build_video_extractor

    distributed.init(device)
    device = resolve_device(distributed.local_device(device))
    vs = VideoSet.from_source(videos, "videos")
    ex = build_video_extractor(extractor_name, device=device, batch_size=batch_size)
    names, feats, stats = extract_features_sharded(vs, ex, progress=progress)

    def save():
        mu, sigma = stats.compute()
        ff = FeatureFile(path=__import__("pathlib").Path(out_path), features=feats, names=names, mu=mu,
                         sigma=sigma, extractor=ex.name, weights_sha256=ex.weights_sha256)
        ff.save()
        return ff

    return distributed.on_main(save)


def _pairing(real: VideoSet, fake: VideoSet) -> dict:
    fake_only = [n for n in fake.names() if n not in real]
    real_only = [n for n in real.names() if n not in fake]
    if fake_only:
        shown = ", ".join(fake_only[:5]) + (f" (+{len(fake_only) - 5} more)" if len(fake_only) > 5 else "")
        raise InputError(f"paired metrics need a real video for every fake one; no real partner in "
                         f"{real.label} for: {shown}")
    return {"pairs": len(fake), "real_without_fake": real_only}


def _summary(values: dict[str, float], seed: int, reps: int, key: str) -> dict:
    v = np.array(list(values.values()), np.float64)
    return {"value": float(v.mean()), "ci95": bootstrap.mean_ci(v, seed=seed, reps=reps, key=key),
            "n": int(len(v)), "per_video": {k: float(x) for k, x in values.items()}}


def compute_metrics(real, fake, metrics=DEFAULT_METRICS, extractor: str = "resnext101-kinetics",
                    conditioning=None, seed: int = 0, identity: str | None = None, device: str = "cpu",
                    batch_size: int = 8, bootstrap_reps: int = bootstrap.DEFAULT_REPS,
                    set_bootstrap_reps: int = 100, kid_subsets: int = 100, kid_subset_size: int = 1000,
                    progress: bool = False) -> dict:
    """Score ``fake`` against ``real`` (folders, ``{name: uint8 video}`` dicts, or features .npz).

    ``extractor`` picks the FID/KID features (``resnext101-kinetics`` or ``synthetic-probe``);
    ``identity`` the ACD embedder (default: the probe with the probe extractor, else facenet).
    ``conditioning`` (folder of images keyed like the fake videos) is used by ACD-I; without it the
    first frame of each paired real video is the conditioning image (the protocol's definition).
    """
    from vbench_i2v import __version__
    from vbench_i2v.feature_extractors import build_identity_embedder, build_video_extractor

    metrics = parse_metrics(metrics)
    distributed.init(device)  # joins torchrun's process group; a no-op in a single process
    device = resolve_device(distributed.local_device(device))
    progress = progress and distributed.is_main()
    warn: list[str] = []
    prov: dict = {"vbench_i2v": __version__, "seed": seed, "metrics": metrics, "device": str(device),
                  "python": platform.python_version(), "weights": {}, "warnings": warn,
                  "bootstrap": {"per_video_reps": bootstrap_reps, "set_level_reps": set_bootstrap_reps,
                                "method": "percentile, videos resampled with replacement"}}

    real_ff = FeatureFile.load(real) if is_features_file(real) else None
    fake_ff = FeatureFile.load(fake) if is_features_file(fake) else None
    real_vs = None if real_ff else VideoSet.from_source(real, "real")
    fake_vs = None if fake_ff else VideoSet.from_source(fake, "fake")
    prov["real"] = str(real_ff.path) if real_ff else real_vs.label
    prov["fake"] = str(fake_ff.path) if fake_ff else fake_vs.label
    needs_videos = [m for m in metrics if m not in SET_LEVEL]
    if fake_ff and needs_videos:
        raise InputError(f"{fake_ff.path}: a features file only gives fid/kid; {', '.join(needs_videos)} need the fake videos")
    if real_ff:
        need_real = [m for m in metrics if m in ("ssim", "psnr") or (m == "acd-i" and conditioning is None)]
        if need_real:
            raise InputError(f"{real_ff.path}: a features file only gives fid/kid; {', '.join(need_real)} need the real videos")

    pairing_needed = any(m in ("ssim", "psnr") for m in metrics) or ("acd-i" in metrics and conditioning is None)
    if pairing_needed:
        prov["pairing"] = _pairing(real_vs, fake_vs)
        if prov["pairing"]["real_without_fake"]:
            warn.append(f"{len(prov['pairing']['real_without_fake'])} real videos have no fake partner "
                        "(ignored by paired metrics)")

    # --- set-level metrics: FID and KID on extractor features ---------------------------------
    # Every rank extracts its shard; the statistics run on rank 0 in `finish` below.
    set_level = None
    if any(m in SET_LEVEL for m in metrics):
        ex = None

        def side(ff: FeatureFile | None, vs: VideoSet | None, what: str):
            nonlocal ex
            if ff is not None:
                if ff.extractor != extractor:
                    raise InputError(f"{ff.path}: features were made with {ff.extractor!r}, not {extractor!r}")
                return ff.features, ff.mu, ff.sigma, ff.weights_sha256
            if ex is None:
                ex = build_video_extractor(extractor, device=device, batch_size=batch_size)
            _, feats, stats = extract_features_sharded(vs, ex, progress=progress)
            mu, sigma = stats.compute()
            return feats, mu, sigma, ex.weights_sha256

        fr, mu_r, s_r, sha_r = side(real_ff, real_vs, "real")
        ff_, mu_f, s_f, sha_f = side(fake_ff, fake_vs, "fake")
        if sha_r and sha_f and sha_r != sha_f:
            raise InputError(f"real and fake features come from different {extractor} weights ({sha_r[:12]} vs {sha_f[:12]})")
        prov["extractor"] = extractor
        prov["weights"][extractor] = sha_r or sha_f
        if extractor != "resnext101-kinetics":
            prov["extractor_note"] = (f"features from {extractor}: these FID/KID values are not ResNeXt-101 "
                                      "Video FID and are not comparable with published numbers")
        if extractor == "resnext101-kinetics":
            prov["fid_recipe"] = ("G3AN: central 16 frames (start T//2-8), 112x112 bilinear antialiased (PIL-like, "
                                  "rounded), 0-255 minus ActivityNet mean, 2048-d avgpool, float64 stats")
        set_level = (fr, mu_r, s_r, ff_, mu_f, s_f)

    # --- paired pixel metrics: each rank scores its shard of the fake videos ------------------
    pix = [m for m in metrics if m in ("ssim", "psnr")]
    pix_parts = None
    if pix:
        def pixel_values():
            per = {m: {} for m in pix}
            for name, fv in fake_vs.iter(distributed.shard(fake_vs.names())):
                rv = real_vs.load(name)
                if fv.shape != rv.shape:
                    raise InputError(f"{name}: fake {fv.shape[0]}x{fv.shape[1]}x{fv.shape[2]} and real "
                                     f"{rv.shape[0]}x{rv.shape[1]}x{rv.shape[2]} (frames x H x W) differ; "
                                     "SSIM/PSNR need equal frame counts and sizes")
                if "ssim" in per:
                    per["ssim"][name] = float(ssim_video(fv, rv)[0])
                if "psnr" in per:
                    per["psnr"][name] = float(psnr_video(fv, rv)[0])
            return per

        pix_parts = distributed.collect(pixel_values)

    # --- identity metrics: each rank embeds its shard of the fake videos ----------------------
    acd = [m for m in metrics if m in ("acd-c", "acd-i")]
    acd_parts = None
    if acd:
        ident = identity or ("synthetic-probe" if extractor == "synthetic-probe" else "facenet-vggface2")
        emb = build_identity_embedder(ident, device=device)
        prov["identity_embedder"] = ident
        prov["weights"][ident] = emb.weights_sha256
        cond = ImageSet(conditioning) if conditioning is not None else None
        if "acd-i" in metrics:
            if cond is not None:
                missing = [n for n in fake_vs.names() if n not in cond]
                if missing:
                    raise InputError(f"ACD-I: no conditioning image in {cond.label} for: "
                                     + ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
                prov["conditioning"] = cond.label
            else:
                prov["conditioning"] = "first frame of the paired real video"

        def identity_values():
            per = {m: {} for m in acd}
            fallback = frames = 0
            for name, fv in fake_vs.iter(distributed.shard(fake_vs.names())):
                if "acd-i" in per:
                    img = cond.load(name) if cond is not None else real_vs.load(name)[0]
                    e, fb = emb.embed(np.concatenate([fv, img[None]]))
                    e, ce = e[:-1], e[-1]
                    per["acd-i"][name] = acd_i(e, ce)
                else:
                    e, fb = emb.embed(fv)
                if "acd-c" in per:
                    per["acd-c"][name] = acd_c(e)
                fallback += fb
                frames += len(fv) + (1 if "acd-i" in per else 0)
            return per, fallback, frames

        acd_parts = distributed.collect(identity_values)

    def in_global_order(parts: list[dict], m: str) -> dict[str, float]:
        """Per-video values of metric ``m`` from every rank, in the 1-process (sorted) order."""
        merged = {k: v for part in parts for k, v in part[m].items()}
        return {n: merged[n] for n in fake_vs.names()}

    def finish() -> dict:
        """The statistics, on rank 0 only, over everything gathered (the same computation as 1 process)."""
        results: dict[str, dict] = {}
        if set_level is not None:
            fr, mu_r, s_r, ff_, mu_f, s_f = set_level
            n_r, n_f, dim = len(fr), len(ff_), fr.shape[1]
            if "fid" in metrics:
                value = frechet_distance(mu_r, s_r, mu_f, s_f)
                if min(n_r, n_f) < dim:
                    msg = (f"FID with fewer videos than feature dimensions (real {n_r}, fake {n_f}, dim {dim}) "
                           "is strongly biased upwards; compare only at equal N, and see KID")
                    warnings.warn(msg)
                    warn.append(msg)
                ci = bootstrap.two_sample_ci(lambda cx, cy: frechet_from_features(fr, ff_, cx, cy), n_r, n_f,
                                             seed=seed, reps=set_bootstrap_reps, key="fid",
                                         point=value, lower=0.0)
                results["fid"] = {"value": value, "ci95": ci, "n": n_f, "n_real": n_r, "extractor": extractor}
            if "kid" in metrics:
                from vbench_i2v.protocol import rng_for

                km = KernelMatrices(fr, ff_)
                value = km.subset_kid(kid_subsets, kid_subset_size, rng_for(seed, "kid-subsets"))
                ci = bootstrap.two_sample_ci(km.weighted_mmd2, n_r, n_f, seed=seed, reps=bootstrap_reps, key="kid",
                                         point=value)
                results["kid"] = {"value": value, "ci95": ci, "n": n_f, "n_real": n_r, "extractor": extractor,
                                  "subsets": kid_subsets, "subset_size": min(n_r, n_f, kid_subset_size)}
        for m in pix:
            results[m] = _summary(in_global_order(pix_parts, m), seed, bootstrap_reps, m)
        if acd:
            fallback = sum(p[1] for p in acd_parts)
            frames = sum(p[2] for p in acd_parts)
            prov["face_fallback"] = {"frames_without_face": fallback, "frames": frames}
            if fallback:
                warn.append(f"no face found in {fallback} of {frames} frames: the whole frame was embedded instead")
            for m in acd:
                results[m] = _summary(in_global_order([p[0] for p in acd_parts], m), seed, bootstrap_reps, m)
        return {"metrics": {m: results[m] for m in metrics}, "provenance": prov}

    return distributed.on_main(finish, share=True)
