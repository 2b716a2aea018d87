"""A probe folder: a trained probe with everything needed to use and trust it.

::

    <probe>/model.safetensors   the network (the synthetic-probe safetensors format)
    <probe>/config.json         architecture, labels, input contract, training, validation, data
    <probe>/command             the command line that trained it
    <probe>/SHA256SUMS          sha256 of the three files above (checked on every load)

:func:`load_probe_folder` verifies the sums and the input contract and returns a
:class:`ProbeExtractor`, which has the feature-extractor interface (``name``, ``weights_name``,
``weights_sha256``, ``dim``, ``features``, ``contract``), the identity-embedder one where the probe
has an identity branch (``embed``), and ``predict``/``labels`` for label accuracy. Its name is
``probe:<first 12 hex of the weights' sha256>``: numbers from it are probe numbers, never
ResNeXt-101 FID or I3D FVD.

The config's ``input`` is read as an :class:`~vbench_i2v.specs.InputContract`
(:func:`video_contract`): the probe's ``contract``, which provenance, measurement ids and the
feature store's key record, and from which ``vbench_i2v/preprocess.py`` builds the input, so what is
recorded is what is computed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from vbench_i2v import protocol
from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors import synthetic_probe as sp
from vbench_i2v.files import atomic_write_json, atomic_write_text, sha256_file
from vbench_i2v.preprocess import frames_input, videos_input
from vbench_i2v.specs import InputContract, Resize

FORMAT = "vbench-probe/1"
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
COMMAND_FILE = "command"
SUMS_FILE = "SHA256SUMS"
ARCHITECTURE = "vbench_i2v.feature_extractors.synthetic_probe:SyntheticProbe"

# What the network's input must be; stored in config.json as data and checked on load, since
# this code implements exactly this contract (sp.video_input / sp.frame_input).
INPUT_CONTRACT = {
    "clip_frames": protocol.CLIP_FRAMES,
    "frames": sp.PROBE_FRAMES,
    "sampling": "every 2nd frame of a 32-frame clip; other lengths are first resampled (nearest) to 32 frames",
    "frame_stride": 2,
    "size": sp.SIZE,
    "resize": "bilinear, antialiased, when frames are not 64x64",
    "value_range": [-1.0, 1.0],
    "layout": "B x 3 x T x H x W float32 RGB (video); N x 3 x H x W (identity frames)",
    "first_layer": "each frame and its difference from the clip's first frame (6 channels)",
}




def _contract_error(what: str) -> WeightsError:
    return WeightsError(f"probe input contract: {what}")


def video_contract(inp: dict) -> InputContract:
    """A probe config's ``input`` as the video :class:`InputContract` its features are built from:
    ``frames`` frames every ``frame_stride``-th (2: ``every-2nd``) of a ``clip_frames`` clip, other
    lengths first resampled (nearest) to ``clip_frames``; ``size`` x ``size`` frames by the named
    ``resize`` (not resampled when already that size); ``value_range``. A config this code cannot
    read is one WeightsError line."""
    try:
        stride, size = int(inp["frame_stride"]), int(inp["size"])
        if stride != 2:
            raise _contract_error(f"frame_stride {stride} (this version reads every 2nd frame)")
        resize = Resize.parse(str(inp["resize"]).split(", when ")[0], "resize")
        lo, hi = (float(v) for v in inp["value_range"])
        return InputContract(
            frames=int(inp["frames"]), sampling="every-2nd", size=(size, size), resize=resize, value_range=(lo, hi),
            native_frames=int(inp["clip_frames"]),
            note=f"probe folder: {inp['sampling']}; clips shorter than {int(inp['frames'])} frames are refused")
    except (KeyError, TypeError, ValueError) as exc:
        raise _contract_error(f"cannot read {inp!r} ({type(exc).__name__}: {exc})") from None


def frame_contract(inp: dict) -> InputContract:
    """The identity branch's per-frame input: the video contract's frame steps, frame by frame."""
    v = video_contract(inp)
    return InputContract(frames=None, sampling="per-frame", size=v.size, resize=v.resize, value_range=v.value_range)


# Every probe folder of this format takes this input (config.json's ``input`` is INPUT_CONTRACT).
VIDEO_CONTRACT = video_contract(INPUT_CONTRACT)


def probe_name(sha256: str) -> str:
    return f"probe:{sha256[:12]}"


def write_probe_folder(out, trained, command: list[str] | str) -> dict:
    """Write ``trained`` (a :class:`vbench_i2v.probes.train.TrainedProbe`) as a probe folder,
    atomically: everything goes to a temp folder beside ``out`` that is renamed into place, so a
    reader never sees half a probe. ``out`` must not exist or be empty. Returns the config."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not empty (choose another --out or remove it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        meta = {"trained_by": "vbench probes train", "dataset": trained.fingerprint["name"],
                "seed": trained.training["seed"]}
        model_sha = sp.save_probe(trained.model, tmp / MODEL_FILE, meta)
        cfg = trained.model.config
        config = {
            "format": FORMAT,
            "name": probe_name(model_sha),
            "model_sha256": model_sha,
            "architecture": {"class": ARCHITECTURE, "config": cfg},
            "labels": trained.labels,
            "head_labels": list(trained.head_labels),
            "feature_dim": cfg["feature_dim"],
            "embed_dim": cfg["embed_dim"] if cfg["identity_width"] > 0 else None,
            "input": INPUT_CONTRACT,
            "training": trained.training,
            "validation": trained.validation,
            "dataset": trained.fingerprint,
        }
        atomic_write_json(tmp / CONFIG_FILE, config)
        text = command if isinstance(command, str) else " ".join(_quote(a) for a in command)
        atomic_write_text(tmp / COMMAND_FILE, text.rstrip("\n") + "\n")
        sums = "".join(f"{sha256_file(tmp / f)}  {f}\n" for f in (COMMAND_FILE, CONFIG_FILE, MODEL_FILE))
        atomic_write_text(tmp / SUMS_FILE, sums)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return config


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(str(arg))


def verify_probe_folder(path) -> dict:
    """Check the folder's files against SHA256SUMS and return its config (raises WeightsError)."""
    path = Path(path)
    if not path.is_dir():
        raise WeightsError(f"{path}: not a probe folder (expected a folder with {MODEL_FILE}, {CONFIG_FILE}, "
                           f"{SUMS_FILE}; make one with `vbench probes train`)")
    sums_path = path / SUMS_FILE
    if not sums_path.is_file():
        raise WeightsError(f"{path}: no {SUMS_FILE} (not a probe folder written by `vbench probes train`)")
    sums = {}
    for line in sums_path.read_text().splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise WeightsError(f"{sums_path}: bad line {line!r} (expected '<sha256>  <file>')")
        sums[name.strip()] = digest.lower()
    for name in (MODEL_FILE, CONFIG_FILE):
        if name not in sums:
            raise WeightsError(f"{sums_path}: does not list {name}")
    for name, digest in sums.items():
        f = path / name
        if not f.is_file():
            raise WeightsError(f"{f}: missing (listed in {SUMS_FILE})")
        got = sha256_file(f)
        if got != digest:
            raise WeightsError(f"{f}: sha256 {got} does not match {SUMS_FILE} ({digest}): corrupt or replaced")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except ValueError as exc:
        raise WeightsError(f"{path / CONFIG_FILE}: not JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise WeightsError(f"{path / CONFIG_FILE}: not a probe config (format is not {FORMAT!r})")
    if config.get("model_sha256") != sums[MODEL_FILE]:
        raise WeightsError(f"{path / CONFIG_FILE}: model_sha256 does not match {SUMS_FILE}")
    if config.get("input") != INPUT_CONTRACT:
        raise WeightsError(f"{path / CONFIG_FILE}: input contract {config.get('input')!r} is not the one this "
                           f"version implements ({INPUT_CONTRACT!r})")
    if config.get("architecture", {}).get("class") != ARCHITECTURE:
        raise WeightsError(f"{path / CONFIG_FILE}: unknown architecture {config.get('architecture')!r}")
    return config


class ProbeExtractor:
    """A trained probe as a feature extractor (``features``), identity embedder (``embed``, when
    it has an identity branch) and classifier (``predict`` -> indices into ``labels``)."""

    def __init__(self, folder, device: str = "cpu", batch_size: int = 32):
        self.folder = Path(folder)
        self.config = verify_probe_folder(self.folder)
        self.weights_sha256 = self.config["model_sha256"]
        self.name = probe_name(self.weights_sha256)
        self.weights_name = self.name
        self.device = torch.device(device)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")  # no class head
            model = sp.load_probe(self.folder / MODEL_FILE)
        if model.config != self.config["architecture"]["config"]:
            raise WeightsError(f"{self.folder}: {CONFIG_FILE} architecture does not match {MODEL_FILE}")
        self.model = model.to(self.device)
        self.dim = model.config["feature_dim"]
        self.embed_dim = self.config["embed_dim"]
        self.labels = self.config["labels"]
        self.head_labels = list(self.config["head_labels"])
        if len(self.head_labels) != model.config["num_classes"]:
            raise WeightsError(f"{self.folder}: head_labels lists {len(self.head_labels)} labels, "
                               f"the class head has {model.config['num_classes']}")
        self.validation = self.config.get("validation")
        self.batch_size = batch_size
        # what the network takes, read from the config: recorded (provenance, measurement ids, the
        # feature store's key) and the recipe the input is built from
        self.contract = video_contract(self.config["input"])
        self.frame_contract = frame_contract(self.config["input"])

    @property
    def has_class_head(self) -> bool:
        return bool(self.head_labels)

    def _batches(self, videos):
        videos = np.asarray(videos)
        for i in range(0, len(videos), self.batch_size):
            yield videos_input(videos[i : i + self.batch_size], self.contract, self.name, device=self.device)

    @torch.inference_mode()
    def features(self, videos) -> np.ndarray:
        """128-d penultimate-layer features (float64 ``B x dim``) for FID/KID-style statistics."""
        out = [self.model.video.features(x).double().cpu().numpy() for x in self._batches(videos)]
        return np.concatenate(out) if out else np.zeros((0, self.dim))

    @torch.inference_mode()
    def logits(self, videos) -> np.ndarray:
        """Class-head logits, ``B x len(head_labels)`` (column j is label ``head_labels[j]``)."""
        if not self.has_class_head:
            raise WeightsError(f"{self.name}: this probe has no class head (its dataset has no labels)")
        out = [self.model.video(x)[1].double().cpu().numpy() for x in self._batches(videos)]
        return np.concatenate(out) if out else np.zeros((0, len(self.head_labels)))

    def predict(self, videos) -> np.ndarray:
        """The predicted label of each video, as an index into ``labels`` (int64 ``B``)."""
        logits = self.logits(videos)
        return np.asarray(self.head_labels, dtype=np.int64)[logits.argmax(1)] if len(logits) else \
            np.zeros(0, dtype=np.int64)

    @torch.inference_mode()
    def embed(self, frames) -> tuple[np.ndarray, int]:
        """Per-frame unit identity embeddings (``N x embed_dim``, 0 fallbacks), like the
        synthetic probe's identity embedder."""
        if self.model.identity is None:
            raise WeightsError(f"{self.name}: this probe has no identity branch (trained on a dataset without faces)")
        frames = np.asarray(frames)
        out = [self.model.identity(frames_input(frames[i : i + 8 * self.batch_size], self.frame_contract, self.name,
                                                device=self.device)).double().cpu().numpy()
               for i in range(0, len(frames), 8 * self.batch_size)]
        return (np.concatenate(out) if out else np.zeros((0, self.embed_dim))), 0


def load_probe_folder(path, device: str = "cpu", batch_size: int = 32) -> ProbeExtractor:
    """The probe in folder ``path``, sums and input contract verified (what ``--extractor PATH``
    resolves to)."""
    return ProbeExtractor(path, device=device, batch_size=batch_size)


def is_probe_folder(path) -> bool:
    """Whether ``path`` looks like a probe folder (to tell ``--extractor PATH`` from a name)."""
    p = Path(path)
    return p.is_dir() and (p / SUMS_FILE).is_file() and (p / CONFIG_FILE).is_file()
