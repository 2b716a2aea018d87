"""The paper's evaluation protocol (section 4.3) as constants and seeded choices.

All clips are ``CLIP_FRAMES`` frames of ``SIZE x SIZE``; splits are by subject; each test video
gives ``CONDITIONING_PER_VIDEO`` seeded conditioning frames, each starting one real clip.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy is imported inside the functions: the CLI reads these constants for its --help without it
CLIP_FRAMES = 32
SIZE = 64
CONDITIONING_PER_VIDEO = 10


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """A generator derived from the run seed and a purpose, so choices do not shift each other."""
    import numpy as np

    h = hashlib.sha256(("/".join((str(seed),) + keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def noise_seed(seed: int, clip_id: str) -> int:
    """The per-clip noise seed (0..2^62-1) of a protocol clip: derived from the run seed and the
    clip id, so a clip gets the same noise whatever the batch, the process or the route (a built-in
    backend's ``torch.Generator``, a callable's ``seeds``, the kit's ``clips.csv``)."""
    return int(rng_for(seed, "noise", clip_id).integers(1 << 62))


def test_clips(ds, conditioning_per_video: int = CONDITIONING_PER_VIDEO, max_videos: int | None = None,
               seed: int = 0) -> list:
    """The protocol's test clips of a dataset (``ClipRef``s): what a run generates and scores, and
    what the kit (:mod:`vbench_i2v.kit`) hands to an outside generator. Each clip's conditioning
    frame is its first frame, ``ds.load_clip(ref)[0]``."""
    return ds.clips("test", per_video=conditioning_per_video, seed=seed, limit=max_videos)


def clip_protocol(ds, conditioning_per_video: int = CONDITIONING_PER_VIDEO, max_videos: int | None = None,
                  seed: int = 0) -> dict:
    """The fields that say which clips are scored (``protocol`` in results.json), with their
    ``fingerprint`` (:func:`vbench_i2v.results.protocol_fingerprint` over the test split)."""
    from vbench_i2v.results import protocol_fingerprint

    fields = {"frames": CLIP_FRAMES, "size": SIZE, "frame_step": ds.frame_step,
              "conditioning_per_video": conditioning_per_video, "max_videos": max_videos, "seed": seed,
              "dataset_options": ds.provenance()["options"],  # canonical, defaults included
              "dataset_fingerprint": ds.dataset_fingerprint()}
    return {**fields, "fingerprint": protocol_fingerprint({**fields, "dataset": ds.name, "split": "test"})}


def subject_split(subjects, n_train: int, n_test: int, seed: int) -> dict[str, list[str]]:
    """Seeded, disjoint split of subject ids into ``n_train`` / ``n_test`` (sorted lists).

    When fewer subjects are present than ``n_train + n_test`` (a partial copy of a dataset),
    the same ratio is kept, with at least one subject on each side.
    """
    from vbench_i2v.errors import InputError

    subjects = sorted(set(subjects))
    n = len(subjects)
    if n < 2:
        raise InputError(f"a subject split needs at least 2 subjects, found {n}"
                         + (f" ({subjects[0]!r})" if subjects else ""))
    if n != n_train + n_test:
        n_test = min(n - 1, max(1, round(n * n_test / (n_train + n_test))))
    order = rng_for(seed, "subject-split").permutation(n)
    test = sorted(subjects[i] for i in order[:n_test])
    train = sorted(subjects[i] for i in order[n_test:])
    return {"train": train, "test": test}


def clip_starts(n_frames: int, per_video: int, rng: np.random.Generator) -> list[int]:
    """Start indices (in sampled frames) of up to ``per_video`` distinct 32-frame clips.

    Videos shorter than one clip give the single start 0 (the clip is padded by the loader).
    """
    from numbers import Integral

    from vbench_i2v.errors import InputError

    if isinstance(per_video, bool) or not isinstance(per_video, Integral) or per_video < 1:
        raise InputError(f"clips per video must be a positive integer, got {per_video!r}")
    last = n_frames - CLIP_FRAMES
    if last <= 0:
        return [0]
    k = min(per_video, last + 1)
    return sorted(int(s) for s in rng.choice(last + 1, size=k, replace=False))


def take_clip(frames: np.ndarray, start: int) -> np.ndarray:
    """The 32-frame clip at ``start``; a short video is padded by repeating its last frame."""
    import numpy as np

    from vbench_i2v.errors import InputError

    if not 0 <= start < len(frames):
        raise InputError(f"clip start {start} is outside the video's {len(frames)} frames")
    clip = frames[start : start + CLIP_FRAMES]
    if len(clip) < CLIP_FRAMES:
        clip = np.concatenate([clip, np.repeat(clip[-1:], CLIP_FRAMES - len(clip), axis=0)])
    return clip
