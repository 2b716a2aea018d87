"""docs/architecture.md is tied to the code: every name it puts in backticks is checked here.

What a backticked span is taken for, and how it is checked (:func:`check_span`):

* ``vbench CMD ... --flag``: the command (and subcommand) exists and takes every flag named;
  a lone ``--flag`` is an option of some command;
* a path (``vbench_i2v/metrics/store.py``, ``metrics/store.py``, ``docs/...``, ``leaderboards/``):
  the file or folder exists (looked up from the repository root, then ``vbench_i2v/``, ``docs/``,
  ``generators/``); a path with a ``<placeholder>`` needs its folder before the placeholder; a file
  a run writes (``results.json``, ``losses.csv``...) must be named in the code that writes it
  (:data:`RUNTIME_FILES`); a file a worked example creates must not exist yet, its folder must
  (:data:`NEW_IN_EXAMPLES`); ``path/to/file.py:name``: the file defines ``name``;
* a dotted name (``results.measurement_id``, ``vbench_i2v.devices.setup_device``,
  ``MetricSpec.network``, ``ctx.warn``): it imports and every attribute exists (``importlib`` +
  ``getattr``; an instance attribute counts when the class assigns ``self.<name>``). The first part
  is a module (under ``vbench_i2v`` and its subpackages), an instance name the doc uses
  (:func:`_aliases`, e.g. ``ctx`` for the engine's ``Context``) or a name defined at module level
  somewhere in the package;
* a call as the doc writes it (``compute_metrics(real, fake, plan, store=None)``,
  ``_generate(images, labels, z)``, ``ExtractorSpec(name, family, ...)``): the callee resolves and
  the argument names the doc shows are its parameters, in that order (keywords: among them); an
  argument that is itself a call is checked the same way;
* a bare name (``METRIC_MODULES``, ``TrainWindows``, ``z_shape``): it exists in one of the modules
  or classes the doc's section is about (:data:`SECTION_SCOPES`) or, failing that, is defined at
  module level in exactly one place in the package;
* anything else (enum values, kinds, JSON fields, shapes, shell placeholders) is listed in
  :data:`VALUES` with a check of its own or in :data:`LITERALS` with the reason it is not code.
  Entries of both that the doc no longer contains fail too, so the lists do not go stale.

So renaming or removing a documented function, class, attribute, file, flag or command fails this
test until the doc follows. The worked example "add a metric" is run as written: its code block
is written to a temporary module, registered by adding the module name the doc gives to
``METRIC_MODULES`` at runtime, listed by ``vbench metrics --list`` and used by ``vbench metrics``
on two small folders whose value is computed by hand below. The "Imports" paragraph's claims are
checked on the modules' import statements.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
LOOKUP_DIRS = (ROOT, ROOT / "vbench_i2v", ROOT / "docs", ROOT / "generators")
PREFIXES = ("", "vbench_i2v.", "vbench_i2v.metrics.", "vbench_i2v.feature_extractors.", "vbench_i2v.generators.",
            "vbench_i2v.datasets.", "vbench_i2v.cli.")
FILE_EXTS = (".py", ".md", ".json", ".csv", ".pt", ".npz", ".toml", ".png", ".safetensors")
IDENT = r"[A-Za-z_]\w*"
DOTTED = rf"{IDENT}(?:\.{IDENT})*"


# ----------------------------------------------------------------------------- reading the doc

@dataclasses.dataclass(frozen=True)
class Span:
    text: str
    section: str
    line: int


def doc_parts(text: str | None = None) -> tuple[list[Span], list[tuple[str, str, str]]]:
    """(inline code spans outside fenced blocks, fenced blocks as (section, info, code))."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    prose_lines, fences = [], []
    section, fence, info, buf = "", False, "", []
    for line in text.splitlines():
        if line.startswith("```"):
            if fence:
                fences.append((section, info, "\n".join(buf) + "\n"))
                fence, buf = False, []
            else:
                fence, info = True, line[3:].strip()
            prose_lines.append("")
            continue
        if fence:
            buf.append(line)
            prose_lines.append("")
            continue
        prose_lines.append(line)
    spans = []
    prose = "\n".join(prose_lines)
    heads = [(m.start(), m.group(2).strip()) for m in re.finditer(r"^(#+)\s+(.*)$", prose, re.M)]
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
        sec = next((h for pos, h in reversed(heads) if pos < m.start()), "")
        spans.append(Span(" ".join(m.group(1).split()), sec, prose.count("\n", 0, m.start()) + 1))
    return spans, fences


# ----------------------------------------------------------------------------- resolving names

def _import(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None  # the module itself (or a parent) does not exist
        raise


def has_attr(obj, name: str) -> bool:
    """``getattr`` works, or ``obj`` is a class that declares ``name`` as a dataclass field or an
    annotation, or assigns ``self.<name>`` in its source (an instance attribute)."""
    if hasattr(obj, name):
        return True
    if not inspect.isclass(obj):
        return False
    for klass in obj.__mro__:
        if name in getattr(klass, "__dataclass_fields__", {}) or name in getattr(klass, "__annotations__", {}):
            return True
        try:
            src = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"\bself\.{re.escape(name)}\s*(:[^=]*)?=[^=]", src):
            return True
    return False


def _get(obj, name: str):
    """The attribute, or for an instance attribute / field without a class value, a marker."""
    try:
        return getattr(obj, name)
    except AttributeError:
        return _InstanceAttr(obj, name)


@dataclasses.dataclass(frozen=True)
class _InstanceAttr:
    owner: object
    name: str


MISSING = object()  # what the resolvers return for a name that does not resolve (None is a value)


def _walk(obj, parts: list[str]):
    for p in parts:
        if isinstance(obj, _InstanceAttr) or not has_attr(obj, p):
            return MISSING
        obj = _get(obj, p)
    return obj


_MODULES_OF_PACKAGE: list | None = None


def package_modules() -> list:
    """Every importable module of the package (optional extras' modules that fail to import are
    left out: their names are then found through their own module path)."""
    global _MODULES_OF_PACKAGE
    if _MODULES_OF_PACKAGE is None:
        names = set()
        for folder, pkg in ((ROOT / "vbench_i2v", "vbench_i2v"), (ROOT / "generators", "vbench_i2v.generators"),
                            (ROOT / "feature_extractors", "vbench_i2v.feature_extractors")):
            for f in folder.rglob("*.py"):
                rel = f.relative_to(folder).with_suffix("").parts
                if "__pycache__" in rel or "checkpoints" in rel or rel[-1] == "__main__":
                    continue
                rel = rel[:-1] if rel[-1] == "__init__" else rel
                names.add(".".join((pkg, *rel)))
        mods = []
        for n in sorted(names):
            try:
                mods.append(importlib.import_module(n))
            except Exception:  # noqa: BLE001 - an optional dependency; its names resolve by module path
                continue
        _MODULES_OF_PACKAGE = mods
    return _MODULES_OF_PACKAGE


def defined_at_module_level(name: str) -> list:
    """The distinct objects named ``name`` at module level anywhere in the package."""
    found = []
    for mod in package_modules():
        if name in vars(mod):
            obj = vars(mod)[name]
            if not any(obj is o for o in found):
                found.append(obj)
    return found


def _aliases() -> dict:
    """Instance names the doc uses for an object of a known class (``ctx.warn`` is ``Context.warn``)."""
    import torch.nn.functional

    from vbench_i2v.datasets.base import VideoDataset
    from vbench_i2v.generators.base import GeneratorBackend
    from vbench_i2v.metrics.engine import Context, Item
    from vbench_i2v.metrics.plan import ScorePlan
    from vbench_i2v.specs import FrameRecipe

    return {
        "ctx": Context,  # the Context every metric function receives
        "item": Item,  # the per-video Item a metric's per_video receives
        "plan": ScorePlan,  # a ScorePlan (``plan.tf32``), after the module vbench_i2v/metrics/plan.py
        "ds": VideoDataset,  # a dataset object (``ds.load_clip``)
        "model": GeneratorBackend,  # the generator a run loaded (``model.generate``)
        "self": GeneratorBackend,  # ``self.nets`` in the backend example
        "recipe": FrameRecipe,  # a FrameRecipe (``recipe.contract()``)
        "F": torch.nn.functional,  # torch's usual alias (``F.interpolate``)
    }


def resolve_dotted(dotted: str):
    """The object ``dotted`` names (``a.b.c`` or ``module:attr``), or MISSING."""
    dotted = dotted.replace(":", ".")
    parts = dotted.split(".")
    for prefix in PREFIXES:
        for i in range(len(parts), 0, -1):
            mod = _import(prefix + ".".join(parts[:i]))
            if mod is None:
                continue
            obj = _walk(mod, parts[i:])
            if obj is not MISSING:
                return obj
            break  # the longest importable module decides for this prefix
    aliases = _aliases()
    heads = [aliases[parts[0]]] if parts[0] in aliases else []
    heads += defined_at_module_level(parts[0])
    for head in heads:
        obj = _walk(head, parts[1:])
        if obj is not MISSING:
            return obj
    return MISSING


def _scope_objects(section: str) -> list:
    return [resolve_dotted(s) for s in SECTION_SCOPES.get(section, ())]


def resolve_bare(name: str, section: str):
    """``name`` in the section's modules and classes, else the one module-level definition."""
    for scope in _scope_objects(section):
        if scope is not MISSING and has_attr(scope, name):
            return _get(scope, name)
    found = defined_at_module_level(name)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise LookupError(f"{name!r} is defined in several modules: name it with its module in the doc, or add "
                          f"the module to SECTION_SCOPES[{section!r}]")
    return MISSING


# ----------------------------------------------------------------------------- the CLI

def _click_commands() -> dict:
    """``{"run": cmd, "protocol export": cmd, ...}`` for every command and subcommand."""
    import click

    from vbench_i2v.cli import COMMANDS, main

    out = {"": main}
    ctx = click.Context(main)
    for name in COMMANDS:
        cmd = main.get_command(ctx, name)
        out[name] = cmd
        for sub in getattr(cmd, "commands", {}):
            out[f"{name} {sub}"] = cmd.commands[sub]
    return out


def _options(cmd) -> set[str]:
    opts = {"--help"}
    for p in cmd.params:
        opts.update(o for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", []) if o.startswith("-"))
    return opts


def check_cli(text: str) -> str | None:
    cmds = _click_commands()
    words = [w for w in text.split()[1:]]
    key, i = "", 0
    while i < len(words) and not words[i].startswith("-") and not words[i].startswith("<"):
        cand = (key + " " + words[i]).strip()
        if cand not in cmds:
            break
        key, i = cand, i + 1
    if i < len(words) and not words[i].startswith(("-", "<")) and getattr(cmds[key], "commands", None) is not None:
        return f"`vbench {' '.join(words[: i + 1])}`: no such command"  # a group's unknown subcommand
    if i < len(words) and words[i].startswith("<"):
        return None  # `vbench <command> --help`: a placeholder for any command
    flags = [w.split("=")[0] for w in words[i:] if w.startswith("--")]
    missing = [f for f in flags if f not in _options(cmds[key])]
    return f"`vbench {key}` has no option {', '.join(missing)}" if missing else None


def check_flags(text: str) -> str | None:
    every = set().union(*(_options(c) for c in _click_commands().values()))
    missing = [w for w in text.split() if w.startswith("--") and w.split("=")[0] not in every]
    return f"no vbench command has the option {', '.join(missing)}" if missing else None


# ----------------------------------------------------------------------------- paths

def _source(rel: str) -> str:
    return (ROOT / rel).read_text(encoding="utf-8")


# Files and folders a run (or a training run, a kit export ...) writes: the code that writes them
# must name them.
RUNTIME_FILES = {
    "results.json": "vbench_i2v/results.py",
    "clips.csv": "vbench_i2v/kit.py",
    "confusion.csv": "vbench_i2v/metrics/defs/label_acc.py",
    "losses.csv": "generators/train_artifacts.py",
    "training_state.pt": "generators/train_checkpoint.py",
    "cond/": "vbench_i2v/run.py",
    "real/<clip>.npz": "vbench_i2v/run.py",
    "<out>/_features/": "vbench_i2v/run.py",
    "network.json": "vbench_i2v/metrics/store.py",
    "SHA256SUMS": "generators/registry.py",
    "config.json": "vbench_i2v/probes/folder.py",
    "<dataset>/sources/": "vbench_i2v/datasets/base.py",
    "$VBENCH_I2V_HOME/datasets": "vbench_i2v/datasets/base.py",
    "~/.cache/vbench_i2v": "vbench_i2v/datasets/base.py",
    "$VBENCH_I2V_HOME/weights/": "vbench_i2v/weights.py",
}

# Files the worked examples create: the folder they go in exists, the file itself does not yet
# (an example that became real would no longer show what a newcomer adds).
NEW_IN_EXAMPLES = {
    "vbench_i2v/metrics/defs/mae.py": "vbench_i2v/metrics/defs",
    "generators/mynet/__init__.py": "generators",
    "generators/mynet/model.py": "generators",
    "generators/checkpoints/mynet-synthetic/": "generators/checkpoints",
    "feature_extractors/meannet.py": "feature_extractors",
}


def _runtime_name(text: str) -> str:
    """The literal the writing code must contain: the last fixed path part (``_features``, ``real``)."""
    parts = [p for p in text.strip("/").split("/") if p and "<" not in p]
    return parts[-1] if parts else text


def looks_like_path(text: str) -> bool:
    if " " in text or "(" in text or text.startswith(("-", "@", '"')):
        return False
    if ":" in text:  # module:function, cuda:N
        return False
    return "/" in text or text.endswith(FILE_EXTS)


def check_path(text: str) -> str | None:
    if text in NEW_IN_EXAMPLES:
        if not (ROOT / NEW_IN_EXAMPLES[text]).is_dir():
            return f"`{text}`: the folder {NEW_IN_EXAMPLES[text]} it goes in does not exist"
        return f"`{text}` exists now: pick another name for the example" if (ROOT / text).exists() else None
    if text in RUNTIME_FILES:
        src = RUNTIME_FILES[text]
        name = _runtime_name(text)
        if f'"{name}' not in _source(src) and f"'{name}" not in _source(src) and f"/{name}" not in _source(src):
            return f"`{text}`: {src} does not name {name!r}"
        return None
    if "<" in text:  # a placeholder (a new file's name): its folder must exist
        fixed = text.split("<")[0]
        fixed = fixed[: fixed.rfind("/") + 1] if "/" in fixed else ""
        if not fixed:
            return f"`{text}`: a path made of placeholders; list it in RUNTIME_FILES or LITERALS"
        return None if any((d / fixed).is_dir() for d in LOOKUP_DIRS) else f"`{text}`: no folder {fixed}"
    if any((d / text.rstrip("/")).exists() for d in LOOKUP_DIRS):
        return None
    return f"`{text}`: no such file or folder (looked in {', '.join(str(d.relative_to(ROOT)) or '.' for d in LOOKUP_DIRS)})"


# ----------------------------------------------------------------------------- calls and names

def _split_call(text: str):
    """``name(args) -> ret`` -> (name, args or None); None for anything else."""
    m = re.fullmatch(rf"@?({DOTTED})(?:\((.*)\))?(?:\s*(?:->|=)\s*.*)?", text)
    if not m:
        return None
    return m.group(1), m.group(2)


def split_args(args: str) -> list[str]:
    """Top-level arguments of a call's text (commas inside brackets or strings do not split)."""
    out, depth, cur, quote = [], 0, "", None
    for ch in args:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return out + [cur.strip()] if cur.strip() else out


def _arg_names(args: str) -> tuple[list[str], list[str]] | None:
    """(positional names, keyword names) when every argument is a plain name or ``name=value``."""
    if not args.strip():
        return [], []
    pos, kw = [], []
    for a in split_args(args):
        if re.fullmatch(rf"{IDENT}\s*=.*", a):
            kw.append(a.split("=")[0].strip())
        elif re.fullmatch(IDENT, a) and not kw:
            pos.append(a)
        else:
            return None
    return pos, kw


def check_signature(obj, args: str | None, shown: str) -> str | None:
    if args is None:
        return None
    if not callable(obj) or isinstance(obj, _InstanceAttr):
        return None  # a callable field of a dataclass (``per_video(item, ctx)``): no signature to compare
    names = _arg_names(args)
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    if names is None:
        return None if len(split_args(args)) <= len(params) or any(p.kind == p.VAR_POSITIONAL for p in params) \
            else f"`{shown}`: more arguments than {sig}"
    pos, kw = names
    given = [p.name for p in params[: len(pos)]]
    if given != pos:
        return f"`{shown}`: the code's parameters are {sig}"
    bad = [k for k in kw if k not in sig.parameters]
    return f"`{shown}`: no parameter {', '.join(bad)} in {sig}" if bad else None


def check_name(text: str, section: str) -> str | None:
    call = _split_call(text)
    if call is None:
        return f"`{text}`: not a name, path, flag or command; add it to VALUES or LITERALS with a reason"
    name, args = call
    try:
        obj = resolve_dotted(name) if "." in name else resolve_bare(name, section)
    except LookupError as exc:
        return f"`{text}`: {exc}"
    if obj is MISSING:
        return f"`{text}` ({section}): {name} does not resolve to anything in the code"
    problems = [check_signature(obj, args, text)]
    for a in split_args(args or ""):  # an argument that is itself a call is checked as one
        if re.fullmatch(rf"{DOTTED}\(.*\)", a) and not a.startswith(("...",)):
            problems.append(check_name(a, section))
    if args:  # names used inside the arguments (string literals aside): nested calls and dotted names
        code = re.sub(r'"[^"]*"|\'[^\']*\'', '""', args)
        for inner in re.findall(rf"({DOTTED})\s*\(", code) + re.findall(rf"\b({IDENT}(?:\.{IDENT})+)\b", code):
            found = resolve_dotted(inner) if "." in inner else resolve_bare(inner, section)
            if found is MISSING:
                problems.append(f"`{text}`: {inner} does not resolve")
    return next((p for p in problems if p), None)


# ----------------------------------------------------------------------------- what is not a name

def _kinds():
    from vbench_i2v.metrics.registry import KINDS

    return KINDS


def _pixels():
    from vbench_i2v.specs import Pixels

    return {p.value for p in Pixels}


def _families():
    from vbench_i2v.catalog import MODEL_FAMILIES

    return set(MODEL_FAMILIES)


def _spec_families():
    from vbench_i2v import catalog

    return {s.family for t in (catalog.EXTRACTORS, catalog.IDENTITY_EMBEDDERS, catalog.IMAGE_NETWORKS)
            for s in t.values()} | {catalog.RAFT_THINGS.family}


def _reductions():
    from vbench_i2v.metrics.registry import all_metrics

    return {s.reduction for s in all_metrics().values()}


def _route_sources():
    from vbench_i2v import submission
    from vbench_i2v.generators import callable_backend
    from vbench_i2v.generators.base import GeneratorBackend

    return {GeneratorBackend.source_record(None)["source"], callable_backend.SOURCE, submission.SOURCE}


def _sanity_pairs():
    from vbench_i2v.metrics.registry import all_metrics

    return {repr(s.sanity) for s in all_metrics().values()}


def _resize_values():
    from vbench_i2v.specs import Resize

    return {f'"{r.value}"' for r in Resize}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _defines(test_file: str, name: str) -> bool:
    """A test module assigns ``name`` at module level (the tables a new entry must join)."""
    tree = ast.parse(_source(test_file))
    return any(isinstance(n, (ast.Assign, ast.AnnAssign)) and name in {
        t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        for n in tree.body)


def _store_layout() -> bool:
    """``<store>/<network key>/<h[:2]>/<h>.npz`` is where NetworkStore puts clip ``h``."""
    from vbench_i2v.metrics.store import FeatureStore

    net = FeatureStore(Path("S")).network({"name": "n", "weights_sha256": "w"})
    h = "ab" + "c" * 62
    return net.path(h) == Path("S") / net.key / "ab" / f"{h}.npz" and (net.folder / "network.json").parent == net.folder


def _metric_object_keys():
    from vbench_i2v.results import _METRIC_REQUIRED_V2

    return set(_METRIC_REQUIRED_V2)


# Words the doc uses as values (kinds, enum values, families, JSON fields), each with the check
# that it is one: span -> (what it is, a function returning True when the code agrees).
VALUES = {
    "paired": ("a metric kind", lambda: "paired" in _kinds()),
    "conditioned": ("a metric kind", lambda: "conditioned" in _kinds()),
    "per-video": ("a metric kind and a reduction", lambda: "per-video" in _kinds() and "per-video" in _reductions()),
    "set": ("a metric kind", lambda: "set" in _kinds()),
    "features": ("a reduction", lambda: "features" in _reductions()),
    "identity": ("a model family", lambda: "identity" in _families()),
    "lpips": ("a model family", lambda: "lpips" in _families()),
    "image": ("an ExtractorSpec family", lambda: "image" in _spec_families()),
    "flow": ("an ExtractorSpec family (RAFT)", lambda: "flow" in _spec_families()),
    "scaled": ("a Pixels value", lambda: "scaled" in _pixels()),
    "float": ("a Pixels value", lambda: "float" in _pixels()),
    "rounded": ("a Pixels value", lambda: "rounded" in _pixels()),
    "pil-uint8": ("a Pixels value", lambda: "pil-uint8" in _pixels()),
    '"bilinear, antialiased"': ("a Resize value", lambda: '"bilinear, antialiased"' in _resize_values()),
    "backend": ("generator.source of a backend run", lambda: "backend" in _route_sources()),
    "callable": ("generator.source of a callable run", lambda: "callable" in _route_sources()),
    "videos": ("generator.source of a submitted folder", lambda: "videos" in _route_sources()),
    "submission_checks": ("a results.json section", lambda: '"submission_checks"' in _source("vbench_i2v/run.py")),
    "generator.source": ("a results.json field", lambda: "source" in importlib.import_module(
        "vbench_i2v.generators.base").GeneratorBackend.source_record(None)),
    "protocol.fingerprint": ("a results.json field (results.protocol_fingerprint)",
                             lambda: "fingerprint" in importlib.import_module("vbench_i2v.results")._PROTOCOL_V2),
    "measurement": ("a metric object's field", lambda: "measurement" in _metric_object_keys()),
    "provenance": ("a metric object's field", lambda: "provenance" in _metric_object_keys()),
    "provenance.conversions": ("a metric provenance field", lambda: '"conversions"' in _source("vbench_i2v/metrics/engine.py")),
    "provenance.warnings": ("a metric provenance field", lambda: '"warnings"' in _source("vbench_i2v/metrics/engine.py")),
    "precision": ("a features file's record", lambda: '"precision"' in _source("vbench_i2v/metrics/features.py")),
    "device": ("a features file's record", lambda: '"device"' in _source("vbench_i2v/metrics/features.py")),
    '"device": "cuda"': ("the identity entry of a CUDA network",
                         lambda: importlib.import_module("vbench_i2v.metrics.plan").network_identity(
                             {"name": "x", "device": "cuda", "precision": "fp32"}).get("device") == "cuda"),
    'provenance["model_builder"]': ("a metric's own family builder",
                                    lambda: '"model_builder"' in _source("vbench_i2v/metrics/registry.py")),
    'provenance["networks"]': ("the networks such a builder loads",
                               lambda: '"networks"' in _source("vbench_i2v/catalog.py")),
    '(("frozen", "lower"),)': ("a MetricSpec.sanity value", lambda: "(('frozen', 'lower'),)" in _sanity_pairs()),
    "mynet.synthetic": ("the pretrained entry of generators/checkpoints/mynet-synthetic/",
                        lambda: importlib.import_module("vbench_i2v.generators.registry")._entry_name(
                            "mynet-synthetic") == "mynet.synthetic"),
    "[tool.setuptools]": ("a pyproject.toml table", lambda: "setuptools" in _pyproject()["tool"]),
    "packages": ("its package list", lambda: "vbench_i2v.generators" in _pyproject()["tool"]["setuptools"]["packages"]),
    '"vbench_i2v.metrics.defs.mae"': ("the example's module, in the package's defs folder",
                                      lambda: (ROOT / "vbench_i2v/metrics/defs").is_dir()),
    '"vbench_i2v.generators.mynet"': ("the example backend's package, under vbench_i2v.generators",
                                      lambda: "vbench_i2v.generators" in _pyproject()["tool"]["setuptools"]["packages"]),
    "VBENCH_THREADS": ("an environment variable", lambda: '"VBENCH_THREADS"' in _source("vbench_i2v/threads.py")),
    "VBENCH_I2V_HOME": ("an environment variable", lambda: '"VBENCH_I2V_HOME"' in _source("vbench_i2v/datasets/base.py")
                        and '"VBENCH_I2V_HOME"' in _source("vbench_i2v/weights.py")),
    "VBENCH_I2V_REHASH": ("an environment variable", lambda: '"VBENCH_I2V_REHASH"' in _source("vbench_i2v/datasets/cache.py")),
    "probe:<sha12>": ("a probe folder's network name", lambda: '"probe:' in _source("vbench_i2v/probes/folder.py")
                      or "f\"probe:" in _source("vbench_i2v/probes/folder.py")),
    "vbench_i2v": ("the package's logger name", lambda: importlib.import_module("vbench_i2v.logs").ROOT == "vbench_i2v"),
    "REFERENCES": ("the metric references' table", lambda: _defines("tests/test_metric_contract.py", "REFERENCES")),
    "RECIPES": ("the extractor round trips' table", lambda: _defines("tests/test_extractor_contract.py", "RECIPES")),
    "EXPECT": ("the backend expectations' table", lambda: _defines("tests/test_backend_contract.py", "EXPECT")),
    "<store>/<network key>/<h[:2]>/<h>.npz": ("a feature-store entry's path", _store_layout),
    "<cache_dir>/<dataset>/<params hash>/<video_id>.npz": (
        "a dataset-cache entry's path", lambda: "self.cache_dir / self.name / hashlib.sha256(" in _source(
            "vbench_i2v/datasets/base.py") and '/ f"{record.video_id}.npz"' in _source("vbench_i2v/datasets/base.py")),
}

# Spans that are not code references, with the reason.
LITERALS = {
    "uint8 T x H x W x 3": "a tensor layout",
    "float32 B x 3 x T x H x W": "a tensor layout",
    "B x 3 x 32 x 64 x 64": "a tensor layout",
    "[-1, 1]": "a value range",
    "round(v * 255 / 65535)": "a formula",
    "{value, ci95, n, measurement, ..., provenance}": "the shape of a metric object (checked in the mae test)",
    "fake: 16-bit samples scaled to 8 bits ... (2 of 2 clips)": "an example conversion line",
    "--generator module.path:callable": "a command-line form with placeholders",
    "file.py:callable": "a command-line form with placeholders",
    "--videos DIR --name N [--variant V]": "a command-line form with placeholders",
    "--generator NAME": "a command-line form with a placeholder",
    "cuda:N": "a device string",
    "resolve_data_config -> create_transform": "timm's functions, not this package's",
    "{name: optimizer}": "a return value's shape",
    "{loss: float}": "a return value's shape",
    "z": "the noise argument of _generate",
    "None": "Python's None",
    "docs/": "this folder",
    "B x T x H x W x 3": "a tensor layout",
    "B x dim": "a tensor layout",
    "DIR": "a command-line placeholder (the --cache folder)",
    '"module:function"': "the form of a WeightSpec loader (every entry's is resolved in tests/test_extractor_contract.py)",
    "h": "the clip hash in the entry path just before it",
}


# Where bare names of a section are looked up first (modules or classes, as dotted names).
SECTION_SCOPES = {
    "Data flow": ("vbench_i2v.run", "vbench_i2v.results", "vbench_i2v.metrics.engine", "ScorePlan", "Context",
                  "vbench_i2v.submission", "vbench_i2v.protocol", "vbench_i2v.kit", "VideoSet", "GeneratorBackend"),
    "One convention for tensors": ("vbench_i2v.video_io", "vbench_i2v.tensors", "VideoSet"),
    "The registries": ("vbench_i2v.metrics.registry", "vbench_i2v.generators.registry", "vbench_i2v.datasets",
                       "vbench_i2v.cli", "vbench_i2v.weights", "vbench_i2v.catalog", "WeightSpec", "ExtractorSpec",
                       "VideoDataset"),
    "What a metric declares (`vbench_i2v/metrics/registry.py`)": (
        "MetricSpec", "Context", "Item", "vbench_i2v.metrics.registry", "ScorePlan", "vbench_i2v.catalog"),
    "What an extractor declares (`vbench_i2v/specs.py`)": (
        "InputContract", "ExtractorSpec", "vbench_i2v.specs", "vbench_i2v.preprocess", "ImageEmbedder",
        "vbench_i2v.catalog", "FrameRecipe", "vbench_i2v.feature_extractors"),
    "State has one owner": ("vbench_i2v.generators.training", "vbench_i2v.generators.train_data",
                            "vbench_i2v.options", "vbench_i2v.devices", "vbench_i2v.generators.base"),
    "Caches": ("vbench_i2v.metrics.store", "FeatureStore", "NetworkStore", "vbench_i2v.datasets.cache",
               "VideoDataset", "vbench_i2v.weights", "InputContract"),
    "Where each kind of change goes": ("vbench_i2v.metrics.registry", "vbench_i2v.cli", "vbench_i2v.protocol",
                                       "vbench_i2v.results", "VideoDataset"),
    "Worked example: add a metric": ("vbench_i2v.metrics.registry", "MetricSpec", "Context"),
    "Worked example: add a scoring network": ("ExtractorSpec", "WeightSpec", "InputContract", "vbench_i2v.catalog",
                                              "vbench_i2v.weights", "vbench_i2v.feature_extractors"),
    "Worked example: add a backend": ("GeneratorBackend", "StepState", "GeneratorConfig",
                                      "vbench_i2v.generators.registry"),
    "Imports": ("vbench_i2v.weights",),
}


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("").parts
    top = {"feature_extractors": ("vbench_i2v", "feature_extractors"), "generators": ("vbench_i2v", "generators")}
    parts = (*top.get(rel[0], (rel[0],)), *rel[1:])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def check_file_attr(text: str) -> str | None:
    """``path/to/file.py:name``: the file exists and defines ``name``."""
    path, name = text.split(":")
    files = [d / path for d in LOOKUP_DIRS if (d / path).is_file()]
    if not files:
        return f"`{text}`: no such file {path}"
    obj = _walk(importlib.import_module(_module_of(files[0])), name.split("."))
    return None if obj is not MISSING else f"`{text}`: {path} has no {name}"


def check_span(span: Span) -> str | None:
    t = span.text
    if t in LITERALS:
        return None
    if t in VALUES:
        what, ok = VALUES[t]
        return None if ok() else f"`{t}` ({what}): the code says otherwise"
    if re.fullmatch(rf"[\w/]+\.py:{DOTTED}", t):
        return check_file_attr(t)
    if t.startswith("vbench ") or t == "vbench":
        return check_cli(t)
    if t.startswith("--"):
        return check_flags(t)
    if t in RUNTIME_FILES or looks_like_path(t):
        return check_path(t)
    return check_name(t, span.section)


# ----------------------------------------------------------------------------- the tests

def test_every_code_reference_in_the_doc_exists():
    spans, _ = doc_parts()
    assert len(spans) > 200, "the doc's code spans were not found (did the markup change?)"
    problems = []
    for s in dict.fromkeys(spans):  # each span once per place
        err = check_span(s)
        if err:
            problems.append(f"docs/architecture.md:{s.line}: {err}")
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_allow_lists_name_only_what_the_doc_says():
    texts = {s.text for s in doc_parts()[0]}
    stale = sorted((set(VALUES) | set(LITERALS) | set(RUNTIME_FILES) | set(NEW_IN_EXAMPLES)) - texts)
    assert not stale, f"no longer in docs/architecture.md, remove from this test: {stale}"
    unresolved = [n for names in SECTION_SCOPES.values() for n in names if resolve_dotted(n) is MISSING]
    assert not unresolved, f"SECTION_SCOPES entries that name nothing: {unresolved}"
    assert set(SECTION_SCOPES) <= {s.section for s in doc_parts()[0]}, \
        f"SECTION_SCOPES names a section the doc no longer has: {set(SECTION_SCOPES) - {s.section for s in doc_parts()[0]}}"


@pytest.mark.parametrize("renamed, expect", [
    ("`results.measurement_id`", "results.measurement_id"),
    ("`compute_metrics(real, fake, plan, store=None) -> Scores`", "compute_metrics"),
    ("`_generate(images, labels, z)`", "_generate"),
    ("`generators/train_ddp.py`", "train_ddp"),
    ("`vbench metrics --cache DIR`", "--cache"),
    ("`TrainWindows`", "TrainWindows"),
])
def test_a_renamed_reference_fails(renamed, expect):
    """The checker is not vacuous: each kind of reference, renamed in a copy of the doc, is caught."""
    text = DOC.read_text(encoding="utf-8")
    pattern = r"\s+".join(re.escape(w) for w in renamed.split())  # the doc wraps lines inside spans
    assert re.search(pattern, text), f"{renamed} is no longer in the doc; pick another example"
    broken = re.sub(pattern, renamed.replace(expect, expect + "_renamed").replace("\\", "\\\\"), text, count=1)
    spans, _ = doc_parts(broken)
    errors = [check_span(s) for s in spans if expect + "_renamed" in s.text]
    assert errors and all(errors), errors


def test_signature_shown_in_the_doc_is_checked():
    """A documented call with other parameter names than the code's fails."""
    assert check_name("compute_metrics(real, fake, options, store=None)", "Data flow")
    assert check_name("ctx.note(key, value)", "") is None
    assert check_name("ctx.note(value, key)", "")


# --- the imports paragraph -------------------------------------------------------------------------

def _top_level_imports(path: Path) -> set[str]:
    """Modules a file imports at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _all_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.update({node.module, *(f"{node.module}.{a.name}" for a in node.names)})
    return out


def test_the_imports_paragraph():
    """specs.py holds plain data; the catalog imports no network and no weights.py; weights.py reads
    the catalog; network modules import weights.py only inside functions (never at import time)."""
    text = DOC.read_text(encoding="utf-8")
    para = " ".join(text[text.index("## Imports"):].split())
    assert "`specs.py` holds plain data" in para and "inside the functions" in para

    spec_imports = _top_level_imports(ROOT / "vbench_i2v/specs.py")
    assert not {m for m in spec_imports if m.startswith(("vbench_i2v", "torch", "numpy"))}, spec_imports
    cat_imports = {m for m in _top_level_imports(ROOT / "vbench_i2v/catalog.py") if m.startswith("vbench_i2v")}
    assert {m.rsplit(".", 1)[0] if m.count(".") > 1 else m for m in cat_imports} <= {
        "vbench_i2v.specs", "vbench_i2v.i3d_routes"}, cat_imports
    assert "vbench_i2v.catalog" in _top_level_imports(ROOT / "vbench_i2v/weights.py")
    at_import, inside = [], []
    for f in sorted((ROOT / "feature_extractors").glob("*.py")):
        if "vbench_i2v.weights" in _top_level_imports(f):  # `import vbench_i2v.weights` or `from vbench_i2v import weights`
            at_import.append(f.name)
        if "vbench_i2v.weights" in _all_imports(f):
            inside.append(f.name)
    assert not at_import, f"network modules importing weights.py at import time: {at_import}"
    assert inside, "no network imports weights.py at all: the doc's Imports paragraph says some do"
    for name in inside:  # the doc names the ones that do
        assert f"`{Path(name).stem}`" in para or name == "__init__.py", f"{name} imports weights.py: name it in Imports"


# --- the worked example "add a metric", run as written ---------------------------------------------

T, H, W = 8, 16, 16


def _example() -> tuple[str, str, str]:
    """(file path, module name, code) of the worked example, as the doc gives them."""
    text = DOC.read_text(encoding="utf-8")
    sec = text[text.index("## Worked example: add a metric"):]
    sec = sec[: sec.index("\n## ", 3)]
    path = re.search(r"Create `(vbench_i2v/metrics/defs/\w+\.py)`", sec).group(1)
    module = re.search(r'Add `"([\w.]+)"` to `METRIC_MODULES`', sec).group(1)
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    return path, module, code


def _clips() -> tuple[dict, dict]:
    """Two real/fake pairs whose MAE is known by hand (frame 0 is the conditioning frame)."""
    real_a = np.full((T, H, W, 3), 50, np.uint8)
    fake_a = np.full((T, H, W, 3), 53, np.uint8)  # predicted frames: |53 - 50| = 3 everywhere
    fake_a[0] = 250  # frame 0 off by 200: scored only with --include-conditioning-frame
    real_b = np.full((T, H, W, 3), 100, np.uint8)
    fake_b = np.full((T, H, W, 3), 98, np.uint8)  # top half: |98 - 100| = 2
    fake_b[:, H // 2:] = 106  # bottom half: 6, so each predicted frame's mean is 4
    fake_b[0] = 100  # frame 0 exact
    return {"a": real_a, "b": real_b}, {"a": fake_a, "b": fake_b}


# By hand: clip a 3, clip b (2 + 6) / 2 = 4 over frames 1..7 -> mean of the two clips 3.5.
# With frame 0: clip a (200 + 7 * 3) / 8 = 27.625, clip b (0 + 7 * 4) / 8 = 3.5 -> 15.5625.
# Every sum is of small integers (exact in float64); only the final divisions round, so 1e-12 is ample.
EXPECTED = {"predicted": 3.5, "all": 15.5625}


@pytest.fixture
def example_metric(tmp_path, monkeypatch):
    """The doc's code block as the file it says, its module name added to METRIC_MODULES."""
    from vbench_i2v.metrics import defs, registry

    path, module, code = _example()
    assert module == path[:-3].replace("/", "."), (path, module)
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / Path(path).name).write_text(code, encoding="utf-8")
    # the temporary folder joins the defs package's search path: the module is importable by the
    # doc's name, and nothing is written into the package
    monkeypatch.setattr(defs, "__path__", [str(folder), *defs.__path__])
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_METRICS", dict(registry.all_metrics()))
    monkeypatch.setattr(registry, "METRIC_MODULES", [*registry.METRIC_MODULES, module])
    monkeypatch.setattr(registry, "_loaded", False)
    yield registry.get_metric(Path(path).stem)
    sys.modules.pop(module, None)


def test_the_worked_example_metric_scores_two_folders(example_metric, tmp_path):
    from vbench_i2v.cli import main
    from vbench_i2v.video_io import write_video

    assert example_metric.name == "mae" and example_metric.kind == "paired"
    r = CliRunner().invoke(main, ["metrics", "--list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("mae "))
    assert re.search(r"^mae\s+paired\s+lower\s+2\s", row), row

    reals, fakes = _clips()
    for side, clips in (("real", reals), ("fake", fakes)):
        for name, video in clips.items():
            write_video(tmp_path / side / f"{name}.npz", video)
    for frames, extra in (("predicted", []), ("all", ["--include-conditioning-frame"])):
        out = tmp_path / f"{frames}.json"
        r = CliRunner().invoke(main, ["metrics", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
                                      "--metrics", "mae", "--json", str(out), "--device", "cpu", *extra],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
        m = json.loads(out.read_text())["metrics"]["mae"]
        assert m["value"] == pytest.approx(EXPECTED[frames], rel=1e-12), (frames, m["value"])
        assert m["n"] == 2 and m["frames"] == frames and m["provenance"]["paired_frames"] == frames
        assert m["ci95"][0] <= m["value"] <= m["ci95"][1]
        assert m["measurement"] and m["provenance"]["extractor"] is None
