"""A generator that lives elsewhere, scored as a run: a folder of submitted clips (``vbench run --videos``).

The researcher exports the protocol kit (:mod:`vbench_i2v.kit`), generates one clip per kit image
anywhere, and submits the folder. This module is the submission's side of a run:

- :func:`open_submission` (called by the load stage, before anything is written) matches the
  folder to the protocol's clips - every clip exactly once, by file name; missing, extra and
  ambiguous names are refused in one line - decodes every clip to check its frame count, and
  hashes a manifest of the files (name, size, sha256) whose digest names the run folder;
- :meth:`Submission.clips_for` (called by the generate stage instead of a backend's ``generate``)
  reads the clips again, checks each file still matches the manifest, and brings any other size to
  the protocol's as the datasets do (:data:`CROP`, then :data:`RESIZE_KERNEL`); the stage writes them to ``fake/`` (lossless npz),
  so the run folder is self-contained like any other run;
- :func:`first_frame_checks` (after conversion, before scoring) compares each clip's frame 0 with
  its conditioning image and says when most clips look unlike theirs (names shuffled, a generator
  fed the wrong images).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vbench_i2v import protocol
from vbench_i2v.errors import InputError

log = logging.getLogger(__name__)

SOURCE = "videos"  # results.json generator.source of a submitted run
MANIFEST_FILE = "submission.json"  # in the run folder: the manifest and what was converted
# How a submitted clip of another size is brought to the protocol's: the datasets' own geometry
# (vbench_i2v.datasets.frames: central square crop, then resize), the same for every clip.
CROP = "central square crop (the datasets' center_square)"
RESIZE_KERNEL = "PIL bilinear (antialiased when shrinking), per frame, to the protocol's size"
SHOWN = 3  # names shown per kind of problem in an error line
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
NAMING_RULE = ("one entry per clip of clips.csv, named by its clip id: <clip>.<ext> for a file, or a folder "
               "<clip>/ of frames (.png/.jpg, read in name order)")


def accepted_formats() -> list[str]:
    """What a submitted clip may be: the suffixes :func:`vbench_i2v.video_io.read_video` reads,
    plus frame folders."""
    from vbench_i2v.video_io import FRAME_EXTS, VIDEO_EXTS

    return [*VIDEO_EXTS, "folder of " + "/".join(FRAME_EXTS) + " frames"]


def check_name(name: str, what: str = "--name") -> str:
    """A run name that is safe in a folder name and a leaderboard row."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InputError(f"{what} {name!r}: use 1-64 letters, digits, '.', '_', '+' or '-', starting with a "
                         "letter or digit")
    return name


@dataclass
class SubmissionConfig:
    """A submission has no config: what made its clips is outside this package."""


def _first(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (", ..." if len(items) > SHOWN else "")


def _entries(folder: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """``({stem: [paths]}, ignored names)`` of the folder's top level: video files by stem, frame
    folders by name; anything else is ignored."""
    from vbench_i2v.video_io import FRAME_EXTS, VIDEO_EXTS, is_frame_folder

    by_stem: dict[str, list[Path]] = {}
    ignored: list[str] = []
    try:
        children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    for p in children:
        suffix = p.suffix.lower()
        if p.is_file() and suffix in VIDEO_EXTS:
            by_stem.setdefault(p.name[: -len(suffix)], []).append(p)
        elif p.is_dir() and is_frame_folder(p):
            by_stem.setdefault(p.name, []).append(p)
        elif p.is_file() and suffix in FRAME_EXTS:
            ignored.append(p.name)  # a lone image is not a clip (frames go in a <clip>/ folder)
        else:
            ignored.append(p.name + ("/" if p.is_dir() else ""))
    return by_stem, ignored


def _match(folder: Path, clip_ids: list[str]) -> dict[str, Path]:
    """``{clip: path}``; anything but exactly one entry per clip is one InputError naming them."""
    by_stem, ignored = _entries(folder)
    wanted = set(clip_ids)
    missing = [c for c in clip_ids if c not in by_stem]
    extra = sorted(p.name for stem, ps in by_stem.items() if stem not in wanted for p in ps)
    ambiguous = [f"{stem} ({' and '.join(p.name for p in ps)})" for stem, ps in sorted(by_stem.items())
                 if stem in wanted and len(ps) > 1]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({_first(missing)})")
    if extra:
        problems.append(f"{len(extra)} extra ({_first(extra)})")
    if ambiguous:
        problems.append(f"{len(ambiguous)} ambiguous, given twice ({_first(ambiguous)})")
    if problems:
        hint = ""
        if len(missing) == len(clip_ids):
            hint = ("; none of the protocol's clip ids is here: was the kit exported with the same --dataset, "
                    "--seed, --max-videos, --conditioning-per-video and --option values as this run?")
        raise InputError(f"{folder}: the submission must hold each of the protocol's {len(clip_ids)} clips "
                         f"exactly once ({NAMING_RULE}): " + "; ".join(problems) + hint)
    if ignored:
        log.info("%s: ignored %d entr%s that are not clips (%s)", folder, len(ignored),
                 "y" if len(ignored) == 1 else "ies", _first(ignored))
    return {c: by_stem[c][0] for c in clip_ids}


def _files_of(path: Path) -> list[Path]:
    from vbench_i2v.video_io import frame_files

    return frame_files(path) if path.is_dir() else [path]


def manifest_rows(folder: Path, path: Path) -> list[dict]:
    """The manifest rows of one clip entry: ``{name, size, sha256}`` per file read (frames of a folder)."""
    from vbench_i2v.files import sha256_file

    rows = []
    for f in _files_of(path):
        try:
            size = f.stat().st_size
            digest = sha256_file(f)
        except OSError as exc:
            raise InputError(f"{f}: cannot read ({exc.strerror or exc})") from None
        rows.append({"name": f.relative_to(folder).as_posix(), "size": size, "sha256": digest})
    return rows


def manifest_sha256(rows: list[dict]) -> str:
    """sha256 of the canonical JSON of the manifest (rows sorted by name)."""
    text = json.dumps(sorted(rows, key=lambda r: r["name"]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Submission:
    """A validated folder of submitted clips, in the place of a generator in a run."""

    name: str
    variant: str | None
    folder: Path
    files: dict[str, Path]  # clip -> file or frame folder
    manifest: dict[str, list[dict]]  # clip -> its manifest rows
    sizes: dict[str, tuple[int, int]]  # clip -> (height, width) as submitted
    num_classes: int
    config: SubmissionConfig = field(default_factory=SubmissionConfig)
    source: str = SOURCE
    checks: dict | None = None  # first_frame_checks(), once the clips are converted

    @property
    def manifest_sha256(self) -> str:
        return manifest_sha256([r for rows in self.manifest.values() for r in rows])

    def identity_sha256(self) -> str:
        """What names the run folder in place of a checkpoint's sha256: the manifest's."""
        return self.manifest_sha256

    def conversions(self) -> list[str]:
        """What was done to the submitted pixels, in words, with counts (recorded in results.json)."""
        s = protocol.SIZE
        cropped = sum(h != w for h, w in self.sizes.values())
        resized = sum(min(h, w) != s for h, w in self.sizes.values())
        return ([f"crop {cropped} non-square clip(s): {CROP}"] if cropped else []) + \
            ([f"resize {resized} clip(s) to {s}x{s}: {RESIZE_KERNEL}"] if resized else []) + \
            [f"stored as lossless npz in fake/ ({len(self.files)} clips)"]

    def source_record(self) -> dict:
        """What results.json's ``generator`` section records about the route (beside name, variant)."""
        sizes: dict[str, int] = {}
        for h, w in self.sizes.values():
            sizes[f"{h}x{w}"] = sizes.get(f"{h}x{w}", 0) + 1
        kinds: dict[str, int] = {}
        for p in self.files.values():
            k = "frames" if p.is_dir() else p.suffix.lower()
            kinds[k] = kinds.get(k, 0) + 1
        return {"source": SOURCE, "manifest_sha256": self.manifest_sha256, "folder": str(self.folder.resolve()),
                "files": sum(len(r) for r in self.manifest.values()), "formats": dict(sorted(kinds.items())),
                "submitted_sizes": dict(sorted(sizes.items())),
                "conversions": self.conversions()}

    def write_manifest(self, run_dir: Path) -> None:
        """``submission.json`` in the run folder: the manifest the run id was made from."""
        from vbench_i2v.files import atomic_write_json

        path = Path(run_dir) / MANIFEST_FILE
        if not path.exists():
            atomic_write_json(path, {"name": self.name, "variant": self.variant, **self.source_record(),
                                     "resize_kernel": RESIZE_KERNEL,
                                     "manifest": {c: self.manifest[c] for c in sorted(self.manifest)}})

    def clips_for(self, refs) -> np.ndarray:
        """The submitted clips of ``refs`` at the protocol's size, uint8 ``B x T x S x S x 3``; a file
        changed since the folder was validated is refused (the run id was made from its hash)."""
        from vbench_i2v.datasets.frames import center_square, resize_frames
        from vbench_i2v.video_io import read_video

        out = []
        for ref in refs:
            clip = ref.clip_id
            path = self.files[clip]
            if manifest_rows(self.folder, path) != self.manifest[clip]:
                raise InputError(f"{path}: changed since the submission was validated; run the command again")
            frames = read_video(path)
            why = _check_clip(path, frames)
            if why:
                raise InputError(f"{self.folder}: {why}; changed since the submission was validated")
            out.append(resize_frames(center_square(frames), protocol.SIZE))
        return np.stack(out)


def _check_clip(path: Path, frames: np.ndarray) -> str | None:
    """Why a decoded clip cannot be scored, or None."""
    t = frames.shape[0]
    if t != protocol.CLIP_FRAMES:
        return f"{path.name}: {t} frames"
    return None


def open_submission(folder, refs, name: str | None, variant: str | None = None, num_classes: int = 0,
                    generator: str | None = None) -> Submission:
    """Validate a submitted folder against the protocol's clips ``refs``; nothing is written.

    Refused in one line each: missing, extra or ambiguous names; clips whose frame count is not the
    protocol's. Any frame size is accepted (brought to the protocol's when converted)."""
    from vbench_i2v.video_io import read_video

    folder = Path(folder)
    if generator is not None:
        raise InputError(f"--videos {folder} and --generator {generator}: give one of them (a submitted folder, "
                         "or a generator that makes the clips)")
    if name is None:
        raise InputError(f"--videos {folder}: needs --name NAME (the submission's row on the board)")
    if not folder.is_dir():
        raise InputError(f"{folder}: --videos must be a folder of clips")
    check_name(name)
    if variant is not None and not (isinstance(variant, str) and variant.strip()):
        raise InputError(f"--variant {variant!r}: must be non-empty text")
    files = _match(folder, [r.clip_id for r in refs])
    manifest, sizes, bad = {}, {}, []
    for clip, path in files.items():
        manifest[clip] = manifest_rows(folder, path)
        frames = read_video(path)
        why = _check_clip(path, frames)
        if why:
            bad.append(why)
        sizes[clip] = (int(frames.shape[1]), int(frames.shape[2]))
    if bad:
        raise InputError(f"{folder}: {len(bad)} clip(s) cannot be scored ({_first(bad)}); every clip must have "
                         f"the protocol's {protocol.CLIP_FRAMES} frames (frame 0 = the conditioning image)")
    return Submission(name=name, variant=variant, folder=folder, files=files, manifest=manifest, sizes=sizes,
                      num_classes=num_classes)


# ----------------------------------------------------------------------------- the mismatch guard

UNRELATED_PAIRS = 2000  # pairs of unrelated conditioning images drawn for the baseline
UNRELATED_QUANTILE = 0.95
WORST_SHOWN = 5


def _unrelated_pairs(groups: list[str], n: int, seed: int) -> np.ndarray:
    """Up to ``n`` distinct index pairs (i < j) whose clips come from different groups: all of them
    when there are at most ``n``, else a seeded sample."""
    g = np.asarray(groups)
    if len(g) * (len(g) - 1) // 2 <= 500_000:  # every pair
        i, j = np.triu_indices(len(g), k=1)
    else:  # many clips: a seeded draw of pairs, duplicates removed
        rng = protocol.rng_for(seed, "submission-check", "draw")
        i, j = rng.integers(len(g), size=(2, 4 * n))
        i, j = np.unique(np.stack([np.minimum(i, j), np.maximum(i, j)], 1), axis=0).T
    keep = g[i] != g[j]
    pairs = np.stack([i[keep], j[keep]], 1)
    if len(pairs) > n:
        pick = protocol.rng_for(seed, "submission-check", "unrelated").choice(len(pairs), size=n, replace=False)
        pairs = pairs[np.sort(pick)]
    return pairs


def first_frame_checks(run_dir, refs, seed: int = 0) -> dict:
    """Frame 0 of each submitted clip (``fake/``) against its conditioning image (``cond/``).

    Records PSNR (dB) and SSIM per clip. A clip *looks unlike* its conditioning image when its
    PSNR is no higher than the 95th percentile of PSNRs between unrelated conditioning images of
    this protocol (images of different subjects; of different videos when the split has one
    subject): its frame 0 is no closer to its own image than two unrelated images usually are.
    When most clips (more than half) look unlike theirs, the result says so and the run warns on
    stderr with the worst clips named: names shuffled, or a generator fed the wrong images.

    A relative rule on purpose: weak generators that keep only the coarse colours of the image
    (frame-0 PSNR ~18 dB on synthetic) stay above unrelated images (~14 dB) and are not flagged, while
    names swapped between clips of *different* subjects are. Swaps between two clips of one subject
    (same face, same background) can look right in frame 0 and are not caught by this check.
    """
    from PIL import Image

    from vbench_i2v.metrics.pixel import ssim_psnr_frames
    from vbench_i2v.video_io import read_video

    run_dir = Path(run_dir)
    clips = [r.clip_id for r in refs]
    conds, firsts = [], []
    for c in clips:
        with Image.open(run_dir / "cond" / f"{c}.png") as im:
            conds.append(np.asarray(im.convert("RGB")))
        firsts.append(read_video(run_dir / "fake" / f"{c}.npz")[0])
    conds_a, firsts_a = np.stack(conds)[:, None], np.stack(firsts)[:, None]
    ssim, psnr = (x[:, 0].numpy() for x in ssim_psnr_frames(firsts_a, conds_a))
    subjects = [r.record.subject for r in refs]
    groups = subjects if len(set(subjects)) > 1 else [r.record.video_id for r in refs]
    pairs = _unrelated_pairs(groups, UNRELATED_PAIRS, seed)
    threshold = None
    if len(pairs):
        base = ssim_psnr_frames(conds_a[pairs[:, 0]], conds_a[pairs[:, 1]])[1][:, 0].numpy()
        threshold = float(np.quantile(base, UNRELATED_QUANTILE))
    unlike = psnr <= threshold if threshold is not None else np.zeros(len(clips), bool)
    order = np.argsort(psnr, kind="stable")[:WORST_SHOWN]
    mismatch = bool(unlike.sum() * 2 > len(clips))
    block = {
        "rule": ("frame 0 vs the conditioning image; a clip looks unlike it when its PSNR is at most the "
                 f"{UNRELATED_QUANTILE:.0%} quantile of PSNR between unrelated conditioning images "
                 "(different subjects); most clips unlike -> mismatch"),
        "clip_count": len(clips),
        "unlike_count": int(unlike.sum()),
        "unrelated_psnr_db_q95": None if threshold is None else round(threshold, 3),
        "unrelated_pairs": int(len(pairs)),
        "frame0_psnr_db_mean": round(float(psnr.mean()), 3),
        "frame0_ssim_mean": round(float(ssim.mean()), 4),
        "mismatch": mismatch,
        "worst": [{"clip": clips[i], "psnr_db": round(float(psnr[i]), 3), "ssim": round(float(ssim[i]), 4)}
                  for i in order],
        "per_clip": {c: {"psnr_db": round(float(p), 3), "ssim": round(float(s), 4), "unlike": bool(u)}
                     for c, p, s, u in zip(clips, psnr, ssim, unlike)},
    }
    if mismatch:
        worst = ", ".join(f"{w['clip']} ({w['psnr_db']:.1f} dB)" for w in block["worst"])
        log.warning("Warning: %d of %d submitted clips look unlike their conditioning image in frame 0 "
                    "(PSNR at most %.1f dB, what unrelated conditioning images reach): are the files named "
                    "after the right clips, and was each made from its own cond/<clip>.png? Worst: %s",
                    block["unlike_count"], len(clips), threshold, worst)
    return block
