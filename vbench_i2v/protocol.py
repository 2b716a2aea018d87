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


def subject_split(subjects, n_train: int, n_test: int, seed: int) -> dict[str, list[str]]:
    """Seeded, disjoint split of subject ids into ``n_train`` / ``n_test`` (sorted lists).

    When fewer subjects are present than ``n_train + n_test`` (a partial copy of a dataset),
    the same ratio is kept, with at least one subject on each side.
    """
    subjects = sorted(set(subjects))
    n = len(subjects)
    if n < 2:
        raise ValueError(f"need at least 2 subjects for a subject split, found {n}")
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
    last = n_frames - CLIP_FRAMES
    if last <= 0:
        return [0]
    k = min(per_video, last + 1)
    return sorted(int(s) for s in rng.choice(last + 1, size=k, replace=False))


def take_clip(frames: np.ndarray, start: int) -> np.ndarray:
    """The 32-frame clip at ``start``; a short video is padded by repeating its last frame."""
    import numpy as np

    clip = frames[start : start + CLIP_FRAMES]
    if len(clip) < CLIP_FRAMES:
        clip = np.concatenate([clip, np.repeat(clip[-1:], CLIP_FRAMES - len(clip), axis=0)])
    return clip
