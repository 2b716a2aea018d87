"""The protocol kit: what a generator outside this package needs to make a dataset's test clips.

``vbench protocol export --dataset NAME --out KIT/`` writes, and nothing else (the real test clips,
their source videos and start frames stay out, so a generator cannot see what it will be compared
with):

- ``cond/<clip>.png``: each clip's conditioning frame, exactly the frame the built-in backends get
  (the first frame of the protocol clip, :func:`vbench_i2v.protocol.test_clips`, as the generate
  stage takes it);
- ``clips.csv``: ``clip,label,label_name,subject,noise_seed``; ``noise_seed`` is the per-clip seed
  a built-in backend's noise is drawn from (:func:`vbench_i2v.protocol.noise_seed`);
- ``protocol.json``: the clip protocol and its fingerprint (the one a run of these clips records),
  frames, size, what frame 0 means, the accepted formats and the naming rule, and the command that
  scores a submission;
- ``README.md``: the same for whoever runs the generator.
"""

from __future__ import annotations

import io
from pathlib import Path

from vbench_i2v import protocol
from vbench_i2v.errors import InputError

KIT_FORMAT = "vbench-i2v-protocol-kit"
KIT_VERSION = 1
KIT_COLUMNS = ["clip", "label", "label_name", "subject", "noise_seed"]
PROTOCOL_FILE = "protocol.json"
FRAME0 = ("frame 0 of every clip stands for the conditioning image itself (cond/<clip>.png): reproduce it; "
          "frames 1..T-1 are the prediction. Paired metrics (SSIM, PSNR) score frames 1..T-1 against the real "
          "clip unless the run asks for --include-conditioning-frame")
NOISE = ("noise_seed = the per-clip seed derived from the protocol seed and the clip id "
         "(sha256-seeded numpy draw, vbench_i2v.protocol.noise_seed): the built-in backends draw their noise "
         "from torch.Generator().manual_seed(noise_seed); use it so reruns give the same clips")


def png_bytes(image) -> bytes:
    """A uint8 ``H x W x 3`` image as PNG (lossless), as the run folder's ``cond/`` stores it."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def submit_command(ds, seed: int, max_videos: int | None, conditioning_per_video: int,
                   given_options: dict) -> str:
    """The ``vbench run`` line that scores a submission made from this kit."""
    parts = ["vbench run", f"--dataset {ds.name}"]
    if ds.user_supplied:
        parts.append("--data-root DATA")
    if seed:
        parts.append(f"--seed {seed}")
    if max_videos is not None:
        parts.append(f"--max-videos {max_videos}")
    if conditioning_per_video != protocol.CONDITIONING_PER_VIDEO:
        parts.append(f"--conditioning-per-video {conditioning_per_video}")
    for key, value in sorted(given_options.items()):
        if value is not None:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"--option {key}={text}")
    return " ".join(parts + ["--videos CLIPS/", "--name MY_MODEL"])


def _check_out(out: Path, fingerprint: str) -> None:
    """The kit folder must be new, empty, or a kit of the same protocol (then it is rewritten)."""
    if not out.exists() or not any(out.iterdir()):
        return
    meta = out / PROTOCOL_FILE
    if not meta.is_file():
        raise InputError(f"{out}: not empty and not a protocol kit; choose a new --out")
    from vbench_i2v.files import read_json_object

    old = read_json_object(meta, "protocol kit")
    if old.get("format") != KIT_FORMAT:
        raise InputError(f"{meta}: not a vbench-i2v protocol kit; choose a new --out")
    if old.get("fingerprint") != fingerprint:
        raise InputError(f"{out}: holds the kit of another protocol (fingerprint {old.get('fingerprint')}, this one "
                         f"{fingerprint}); choose a new --out")


def export_kit(dataset: str, out, data_root=None, seed: int = 0, max_videos: int | None = None,
               conditioning_per_video: int = protocol.CONDITIONING_PER_VIDEO, dataset_options: dict | None = None,
               progress: bool = False) -> dict:
    """Write the kit of ``dataset``'s test protocol to ``out``; returns ``protocol.json``'s content."""
    from tqdm.auto import tqdm

    import vbench_i2v
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.files import (atomic_write_bytes, atomic_write_csv, atomic_write_json, atomic_write_text,
                                  check_writable)
    from vbench_i2v.submission import CROP, NAMING_RULE, RESIZE_KERNEL, accepted_formats

    if conditioning_per_video < 1:
        raise InputError(f"--conditioning-per-video must be >= 1, got {conditioning_per_video}")
    if max_videos is not None and max_videos < 1:
        raise InputError(f"--max-videos must be >= 1, got {max_videos}")
    out = check_writable(out, kind="dir")
    ds = get_dataset(dataset, data_root=data_root, seed=seed, **(dataset_options or {}))
    if data_root and not getattr(ds, "user_supplied", True):
        raise InputError(f"{data_root}: --data-root given, but dataset {ds.name!r} is built in and reads no files")
    refs = protocol.test_clips(ds, conditioning_per_video, max_videos, seed)
    proto = protocol.clip_protocol(ds, conditioning_per_video, max_videos, seed)
    _check_out(out, proto["fingerprint"])
    rows = []
    for ref in tqdm(refs, desc=f"kit {ds.name}", unit="clip", disable=None if progress else True):
        cond = ds.load_clip(ref)[0]  # the conditioning frame: the clip's first frame, as generate_stage takes it
        atomic_write_bytes(out / "cond" / f"{ref.clip_id}.png", png_bytes(cond))
        label = ref.record.label
        rows.append({"clip": ref.clip_id, "label": "" if label is None else label,
                     "label_name": ds.label_name(label), "subject": ref.record.subject,
                     "noise_seed": protocol.noise_seed(seed, ref.clip_id)})
    atomic_write_csv(out / "clips.csv", KIT_COLUMNS, rows)
    command = submit_command(ds, seed, max_videos, conditioning_per_video, ds.given_options)
    meta = {
        "format": KIT_FORMAT, "version": KIT_VERSION, "package_version": vbench_i2v.__version__,
        "dataset": ds.name, "split": "test", "clip_count": len(refs), "video_count": len({r.record for r in refs}),
        "fingerprint": proto["fingerprint"], "protocol": proto,
        "frames": protocol.CLIP_FRAMES, "size": protocol.SIZE,
        "labels": list(ds.labels or []),
        "frame0": FRAME0, "noise_seed": NOISE,
        "conditioning": f"cond/<clip>.png: uint8 RGB {protocol.SIZE}x{protocol.SIZE}, one per row of clips.csv",
        "accepted_formats": accepted_formats(), "naming": NAMING_RULE,
        "sizes": (f"{protocol.SIZE}x{protocol.SIZE}, or any size: other sizes are cropped to their {CROP} and "
                  f"resized with {RESIZE_KERNEL} (recorded in the run)"),
        "submit": command,
    }
    atomic_write_json(out / PROTOCOL_FILE, meta)
    atomic_write_text(out / "README.md", readme(meta))
    return meta


def readme(meta: dict) -> str:
    """The kit's README.md: what to generate, how to name it, how it is scored."""
    t, s, n = meta["frames"], meta["size"], meta["clip_count"]
    labels = ", ".join(f"{i}={name}" for i, name in enumerate(meta["labels"])) or "none (unlabelled dataset)"
    return f"""# Protocol kit: {meta['dataset']} (test split, protocol {meta['fingerprint']})

Made by vbench-i2v {meta['package_version']}. It holds the {n} conditioning images of the protocol's
test clips and what your generator needs besides them. The real clips are not here: they are what
your clips are compared with.

## What to generate

For every row of `clips.csv` (`clip,label,label_name,subject,noise_seed`), one clip of **{t} frames**
made from `cond/<clip>.png` ({s}x{s} RGB) and the row's label (labels: {labels}).

- **Frame 0** stands for the conditioning image itself: reproduce it; frames 1..{t - 1} are your
  prediction. SSIM/PSNR score frames 1..{t - 1} against the real clip.
- **Size**: {s}x{s}, or any size (a non-square clip is cropped to its central square, then resized
  to {s}x{s} with PIL bilinear, antialiased, as the datasets' videos are; recorded with the results).
- **noise_seed**: the per-clip seed the built-in backends draw their noise from. Seed your sampler
  with it and the same kit gives the same clips.

## How to name the files

One entry per clip, named by its clip id, in one folder: `<clip>.mp4` (or `.avi .webm .mov .mkv
.gif .npz` with the array `video`, uint8 T x H x W x 3), or a folder `<clip>/` of `.png`/`.jpg`
frames read in name order. Every clip exactly once; nothing else that looks like a clip.

## How it is scored

```
{meta['submit']}
```

The run checks the folder first (every clip once, {t} frames each), stores your clips losslessly in
its run folder, warns when frame 0 of most clips looks unlike its conditioning image (files named
after the wrong clips), scores them like any built-in generator and writes `results.json`; the
leaderboard puts it in the same table as every run of protocol `{meta['fingerprint']}`.
"""


def read_kit(path) -> dict:
    """``protocol.json`` of a kit folder (checked to be one)."""
    from vbench_i2v.files import read_json_object

    meta = read_json_object(Path(path) / PROTOCOL_FILE, "protocol kit")
    if meta.get("format") != KIT_FORMAT:
        raise InputError(f"{Path(path) / PROTOCOL_FILE}: not a vbench-i2v protocol kit")
    return meta

