"""Blinded pairwise export for a rater study (the paper's Table 4).

Takes two or more ``vbench run`` directories (optionally plus the real clips of the first run as
a "method" of its own), picks ``pairs`` clip pairs per method pair, randomises left/right, adds
attention checks (a real clip against a visibly corrupted copy of itself), and writes:

- ``clips/<pair>_L|_R|_SBS.<fmt>``: the two clips, and both side by side in one file;
- ``key.csv``: which run sits on which side (raters never see it; the page never loads it);
- ``pairs.csv``: what raters see: pair ids and file names only;
- ``study.json``: how the study was made (runs, seed, options), for the scorer and for the record;
- ``index.html``: the self-contained rater page (see :mod:`vbench_i2v.study.page`).

File names and pair ids are drawn after shuffling, so nothing the page loads reveals a method.
Every random choice comes from :func:`vbench_i2v.protocol.rng_for` with the study seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from vbench_i2v.lazy import LazyModule

np = LazyModule("numpy")  # imported on first use: `vbench study --help` stays fast
pd = LazyModule("pandas")

from vbench_i2v import __version__
from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_write_csv, atomic_write_text, check_writable, read_json_object
from vbench_i2v.protocol import rng_for
video_io = LazyModule("vbench_i2v.video_io")

REAL = "real"                 # the method name of the first run's real clips (--include-real)
CHECK_REAL = "check:real"     # attention checks: the untouched real clip ...
CHECK_CORRUPT = "check:corrupted"  # ... and its corrupted copy
KEY_COLUMNS = ["pair_id", "left_run", "right_run", "left_file", "right_file", "attention_check",
               "left_clip", "right_clip"]
PAIRS_COLUMNS = ["pair_id", "left_file", "right_file", "sbs_file"]
FORMATS = ("mp4", "gif")
DEFAULT_QUESTION = "Which video looks more realistic?"


@dataclass(frozen=True)
class StudyRun:
    """One method in the study: a run's generated clips, or (``subdir="real"``) its real clips."""

    label: str
    root: Path
    subdir: str
    clips: pd.DataFrame
    fingerprint: str | None
    generator: str | None

    def clip_ids(self) -> list[str]:
        return list(self.clips["clip"])

    def clip_label(self, clip: str):
        return self._labels.get(clip)

    @property
    def _labels(self) -> dict:
        return dict(zip(self.clips["clip"], self.clips["label"])) if "label" in self.clips else {}

    def clip_path(self, clip: str) -> Path:
        """The clip's file: ``<subdir>/<clip>.npz`` (lossless), else any video with that stem."""
        folder = self.root / self.subdir
        for ext in (".npz",) + tuple(e for e in video_io.VIDEO_EXTS if e != ".npz"):
            p = folder / f"{clip}{ext}"
            if p.exists():
                return p
        raise InputError(f"{folder}: no clip file for clip {clip!r} (expected {clip}.npz)")


def _text_or_none(results: dict, section: str, key: str, where: Path) -> str | None:
    block = results.get(section)
    if block is None:
        return None
    if not isinstance(block, dict):
        raise InputError(f"{where}: field {section} must be an object, got {type(block).__name__}")
    value = block.get(key)
    if value is not None and not (isinstance(value, str) and value):
        raise InputError(f"{where}: field {section}.{key} must be a non-empty string or null, got {value!r:.60}")
    return value


def load_run(path) -> StudyRun:
    """Read ``results.json`` and ``clips.csv`` of a ``vbench run`` directory (fields used are checked)."""
    from vbench_i2v.tables import read_table

    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: not a run directory (no such folder)")
    results_path = root / "results.json"
    if not results_path.is_file():
        raise InputError(f"{root}: not a run directory (no results.json)")
    results = read_json_object(results_path, "results file")
    run_id = results.get("run_id")
    if run_id is not None and not (isinstance(run_id, str) and run_id.strip()):
        raise InputError(f"{results_path}: field run_id must be a non-empty string, got {run_id!r:.60}")
    fingerprint = _text_or_none(results, "protocol", "fingerprint", results_path)
    if results.get("schema_version") == 1:  # the clips' fingerprint of schema 2, so old and new runs match
        from vbench_i2v.results import migrate_results

        try:
            fingerprint = migrate_results(results, results_path)["protocol"]["fingerprint"]
        except InputError:
            pass  # an incomplete file: only the fields used here are checked
    generator = _text_or_none(results, "generator", "name", results_path)
    clips_path = root / "clips.csv"
    if not clips_path.is_file():
        raise InputError(f"{root}: no clips.csv (the run did not record its clips)")
    clips = read_table(clips_path, "clip list")
    if "clip" not in clips.columns or clips.empty:
        raise InputError(f"{clips_path}: needs a 'clip' column and at least one row")
    empty = clips["clip"].str.strip() == ""
    if empty.any():
        raise InputError(f"{clips_path}, line {int(np.flatnonzero(empty.to_numpy())[0]) + 2}: field clip is empty")
    if clips["clip"].duplicated().any():
        raise InputError(f"{clips_path}: clip ids repeat ({clips['clip'][clips['clip'].duplicated()].iloc[0]!r})")
    if "label" in clips.columns:  # labels are read as text; integers stay integers for matching
        clips["label"] = [int(v) if v.strip().lstrip("-").isdigit() else v for v in clips["label"]]
    if not (root / "fake").is_dir():
        raise InputError(f"{root}: no fake/ folder with the generated clips")
    label = str(run_id or root.name)
    return StudyRun(label=label, root=root, subdir="fake", clips=clips,
                    fingerprint=fingerprint, generator=generator)


def real_of(run: StudyRun) -> StudyRun:
    """The real clips a run was compared with, as a method named ``real``."""
    if not (run.root / "real").is_dir():
        raise InputError(f"{run.root}: no real/ folder, needed for --include-real and attention checks")
    return StudyRun(label=REAL, root=run.root, subdir="real", clips=run.clips,
                    fingerprint=run.fingerprint, generator=None)


@dataclass(frozen=True)
class Item:
    """One shown pair before blinding: run and clip on each side, and whether it is a check."""

    left_run: str
    left_clip: str
    right_run: str
    right_clip: str
    attention_check: bool


def _choose_clips(a: StudyRun, b: StudyRun, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (clip of a, clip of b): the same clip id on both sides when the runs share a protocol
    (same conditioning image and label); otherwise clips of the same label where possible."""
    rng = rng_for(seed, "study-pairs", a.label, b.label)
    if a.fingerprint is not None and a.fingerprint == b.fingerprint:
        common = sorted(set(a.clip_ids()) & set(b.clip_ids()))
        if len(common) < n:
            raise InputError(f"runs {a.label} and {b.label} share only {len(common)} clips; "
                             f"lower --pairs to at most {len(common)}")
        picked = rng.choice(len(common), size=n, replace=False)
        return [(common[i], common[i]) for i in picked]
    a_ids, b_ids = a.clip_ids(), b.clip_ids()
    if len(a_ids) < n or len(b_ids) < n:
        raise InputError(f"runs {a.label} ({len(a_ids)} clips) and {b.label} ({len(b_ids)} clips) "
                         f"are too small for --pairs {n}")
    left = [a_ids[i] for i in rng.choice(len(a_ids), size=n, replace=False)]
    unused = list(b_ids)
    out = []
    for clip in left:
        same = [c for c in unused if b.clip_label(c) == a.clip_label(clip)]
        pool = same or unused
        pick = pool[int(rng.integers(len(pool)))]
        unused.remove(pick)
        out.append((clip, pick))
    return out


def balanced_flips(n: int, rng: np.random.Generator) -> np.ndarray:
    """Which pairs swap sides: exactly half (the odd one out by coin), in random order, so each
    method appears on the left as often as on the right."""
    k = n // 2 + (int(rng.integers(2)) if n % 2 else 0)
    return rng.permutation(np.arange(n) < k)


def attention_count(n_comparisons: int, rate: float) -> int:
    """One check per ``1/rate`` comparison pairs, rounded up (0 when the rate is 0)."""
    if not 0 <= rate <= 1:
        raise InputError(f"--attention-rate must lie in [0, 1], got {rate}")
    return math.ceil(rate * n_comparisons - 1e-9) if rate > 0 else 0


def plan_items(methods: list[StudyRun], pairs: int, attention_rate: float, seed: int,
               checks_from: StudyRun | None) -> list[Item]:
    """Every shown pair, in presentation order, before file names are assigned."""
    if len(methods) < 2:
        raise InputError("a study needs at least two methods (two runs, or one run with --include-real)")
    if pairs < 1:
        raise InputError(f"--pairs must be at least 1, got {pairs}")
    items: list[Item] = []
    for i in range(len(methods)):
        for j in range(i + 1, len(methods)):
            a, b = methods[i], methods[j]
            chosen = _choose_clips(a, b, pairs, seed)
            flips = balanced_flips(pairs, rng_for(seed, "study-sides", a.label, b.label))
            for (ca, cb), flip in zip(chosen, flips):
                if flip:
                    items.append(Item(b.label, cb, a.label, ca, False))
                else:
                    items.append(Item(a.label, ca, b.label, cb, False))
    n_checks = attention_count(len(items), attention_rate)
    if n_checks:
        if checks_from is None:
            raise InputError("attention checks need real clips; none of the runs has a real/ folder")
        rng = rng_for(seed, "study-attention")
        ids = checks_from.clip_ids()
        picked = rng.choice(len(ids), size=n_checks, replace=n_checks > len(ids))
        flips = balanced_flips(n_checks, rng)
        for idx, flip in zip(picked, flips):
            clip = ids[idx]
            if flip:
                items.append(Item(CHECK_CORRUPT, clip, CHECK_REAL, clip, True))
            else:
                items.append(Item(CHECK_REAL, clip, CHECK_CORRUPT, clip, True))
    order = rng_for(seed, "study-order").permutation(len(items))
    return [items[i] for i in order]


def corrupt(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A visibly broken copy for attention checks: 8x8 blocks, strong noise, shuffled frames."""
    t, h, w, _ = clip.shape
    block = 8
    small = clip[:, ::block, ::block].astype(np.float32)
    blocky = np.repeat(np.repeat(small, block, axis=1), block, axis=2)[:, :h, :w]
    noisy = blocky + rng.normal(0.0, 50.0, size=blocky.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)[rng.permutation(t)]


def upscale(clip: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscale for display (64 px is tiny on screen, and H.264's chroma
    subsampling would smear a 64 px clip; upscaling first keeps the pixels as generated)."""
    return clip if scale == 1 else np.repeat(np.repeat(clip, scale, axis=1), scale, axis=2)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
    """Both clips in one frame, left | white gap | right (frame counts must agree)."""
    if left.shape != right.shape:
        raise InputError(f"clips of a pair differ in shape: {left.shape} vs {right.shape}")
    spacer = np.full((left.shape[0], left.shape[1], gap, 3), 255, np.uint8)
    return np.concatenate([left, spacer, right], axis=2)


def export_study(run_dirs, out_dir, pairs: int, include_real: bool = False, seed: int = 0,
                 fmt: str = "mp4", attention_rate: float = 0.1, scale: int = 4, fps: float = 8.0,
                 question: str = DEFAULT_QUESTION, allow_tie: bool = False,
                 shuffle_per_rater: bool = True, force: bool = False, progress=None) -> dict:
    """Write a blinded study to ``out_dir`` and return its ``study.json`` content."""
    from vbench_i2v.study.page import write_page

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if scale < 1:
        raise InputError(f"--scale must be at least 1, got {scale}")
    out = check_writable(out_dir, kind="dir")  # before any clip is rendered
    if (out / "key.csv").exists() and not force:
        raise InputError(f"{out}: already holds a study (key.csv); choose a new --out or pass --force")
    runs = [load_run(p) for p in run_dirs]
    labels = [r.label for r in runs]
    for name in labels:
        if labels.count(name) > 1:
            raise InputError(f"two runs share the run id {name!r}; a study compares distinct runs")
        if name in (REAL, CHECK_REAL, CHECK_CORRUPT):
            raise InputError(f"run id {name!r} is reserved in studies; rename the run")
    methods = list(runs)
    real = real_of(runs[0]) if (include_real or attention_rate > 0) else None
    if include_real:
        methods.append(real)
    items = plan_items(methods, pairs, attention_rate, seed, real)

    by_label = {m.label: m for m in methods}
    if real is not None:
        by_label[CHECK_REAL] = real
    clip_dir = out / "clips"
    clip_dir.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(items))))
    key_rows, pair_rows, cache = [], [], {}

    def frames(run_label: str, clip: str) -> np.ndarray:
        if (run_label, clip) not in cache:
            if run_label == CHECK_CORRUPT:
                rng = rng_for(seed, "study-corrupt", clip)
                cache[(run_label, clip)] = corrupt(frames(CHECK_REAL, clip), rng)
            else:
                cache[(run_label, clip)] = video_io.read_video(by_label[run_label].clip_path(clip))
        return cache[(run_label, clip)]

    for n, item in enumerate(items, start=1):
        pid = f"p{n:0{width}d}"
        left = upscale(frames(item.left_run, item.left_clip), scale)
        right = upscale(frames(item.right_run, item.right_clip), scale)
        names = {side: f"clips/{pid}_{side}.{fmt}" for side in ("L", "R", "SBS")}
        video_io.write_video(out / names["L"], left, fps=fps)
        video_io.write_video(out / names["R"], right, fps=fps)
        video_io.write_video(out / names["SBS"], side_by_side(left, right, gap=2 * scale), fps=fps)
        key_rows.append({"pair_id": pid, "left_run": item.left_run, "right_run": item.right_run,
                         "left_file": names["L"], "right_file": names["R"],
                         "attention_check": int(item.attention_check),
                         "left_clip": item.left_clip, "right_clip": item.right_clip})
        pair_rows.append({"pair_id": pid, "left_file": names["L"], "right_file": names["R"],
                          "sbs_file": names["SBS"]})
        if progress is not None:
            progress(n, len(items))

    atomic_write_csv(out / "key.csv", KEY_COLUMNS, key_rows)
    atomic_write_csv(out / "pairs.csv", PAIRS_COLUMNS, pair_rows)
    study_id = write_page(out / "index.html", pair_rows, question=question, allow_tie=allow_tie,
                          fmt=fmt, fps=fps, shuffle_per_rater=shuffle_per_rater)
    fingerprints = {r.fingerprint for r in runs}
    info = {
        "schema_version": 1,
        "study_id": study_id,
        "methods": [m.label for m in methods],
        "runs": {r.label: {"path": str(r.root), "generator": r.generator, "fingerprint": r.fingerprint}
                 for r in runs},
        "real_from": runs[0].label if real is not None else None,
        "shared_protocol": len(fingerprints) == 1 and None not in fingerprints,
        "pairs_per_method_pair": pairs,
        "comparisons": sum(not i.attention_check for i in items),
        "attention_checks": sum(i.attention_check for i in items),
        "attention_rate": attention_rate,
        "seed": seed,
        "format": fmt,
        "scale": scale,
        "fps": fps,
        "question": question,
        "allow_tie": allow_tie,
        "shuffle_per_rater": shuffle_per_rater,
        "vbench_i2v_version": __version__,
    }
    atomic_write_text(out / "study.json", json.dumps(info, indent=2) + "\n")
    return info
