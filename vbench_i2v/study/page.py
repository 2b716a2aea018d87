"""The rater page: one self-contained ``index.html`` that works from a local folder or any server.

Chromium blocks ``fetch()`` of local files under ``file://``, so the pair list (pair ids and clip
file names only: nothing that names a method) is embedded in the page as JSON. Clips are
referenced by relative file name: ``<video>`` for mp4, ``<img>`` for gif, both of which load
from ``file://``. Answers live in the browser's localStorage (keyed by study id and rater), so a
reload loses nothing, and a button downloads ``responses-<rater>.csv``.
"""

from __future__ import annotations

import hashlib
import html
import json
from importlib import resources
from pathlib import Path

from vbench_i2v.files import atomic_write_text

CONFIG_SLOT = "/*__STUDY_CONFIG__*/null"
TITLE_SLOT = "__STUDY_TITLE__"


def study_id_for(pairs: list[dict]) -> str:
    """A short id from the pair list, so two studies opened in one browser keep apart answers."""
    blob = json.dumps([[p["pair_id"], p["left_file"], p["right_file"]] for p in pairs])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def render_page(pairs: list[dict], question: str, allow_tie: bool, fmt: str, fps: float,
                shuffle_per_rater: bool = True, title: str = "Video study") -> tuple[str, str]:
    """The page's HTML and its study id. ``pairs``: dicts with pair_id, left_file, right_file."""
    study_id = study_id_for(pairs)
    config = {
        "study_id": study_id,
        "question": question,
        "allow_tie": bool(allow_tie),
        "format": fmt,
        "fps": fps,
        "shuffle_per_rater": bool(shuffle_per_rater),
        "pairs": [{"id": p["pair_id"], "left": p["left_file"], "right": p["right_file"]} for p in pairs],
    }
    # "</" would end the <script> element early if a file name or question contained it.
    blob = json.dumps(config, ensure_ascii=True).replace("</", "<\\/")
    template = resources.files("vbench_i2v.study").joinpath("rater_page.html").read_text(encoding="utf-8")
    if CONFIG_SLOT not in template or TITLE_SLOT not in template:
        raise RuntimeError("rater_page.html lost its config or title slot")
    page = template.replace(CONFIG_SLOT, blob).replace(TITLE_SLOT, html.escape(title))
    return page, study_id


def write_page(path, pairs: list[dict], **options) -> str:
    """Write the rater page atomically; returns the study id."""
    path = Path(path)
    page, study_id = render_page(pairs, **options)
    atomic_write_text(path, page)
    return study_id
