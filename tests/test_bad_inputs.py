"""Every `vbench` command refuses bad input in exactly one `Error:` line, exit code 2, no traceback.

Part 1 sweeps every command and subcommand of the click group (walked recursively, so a new
command is covered without editing this file) with bad values chosen from each parameter's type:
numbers out of range, NaN, paths that do not exist, a file where a folder is expected and the
reverse, outputs under a file, empty strings. The bad value is given alone, so click parses it
before it could complain about a missing required option: the line must name the parameter.

Part 2 drives command bodies with malformed files the project reads (rater answers, study keys,
results.json, the paper CSV, sha256 records, training state).

Cases that fail because of code this file's author does not own are listed in ``KNOWN`` as
strict xfails naming the file that must change; fixing that file turns them into failures
until the entry is deleted.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v.cli import main
from vbench_i2v.cli.errors import OneLineErrors
from vbench_i2v.cli.types import NonEmptyText, OutputPath

# ---------------------------------------------------------------- helpers


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr into output unless told
    except TypeError:
        return CliRunner()  # click >= 8.2: result.stderr is always separate


def _group() -> click.Group:
    """The real group once it handles errors itself, else the same commands under OneLineErrors."""
    if isinstance(main, OneLineErrors):
        return main
    return OneLineErrors(name="vbench", commands=dict((p[0], main.get_command(click.Context(main), p[0]))
                                                      for p, _ in COMMANDS), context_settings=main.context_settings)


def walk(group: click.Group, path: tuple = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command, through list_commands/get_command (so lazily loaded ones count too)."""
    ctx = click.Context(group, info_name="vbench")
    out = []
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            out += walk(cmd, path + (name,))
        else:
            out.append((path + (name,), cmd))
    return out


COMMANDS = walk(main)


def invoke(args, cwd: Path):
    """Run ``vbench ARGS`` in ``cwd``; returns (exit code, stdout, stderr)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = _runner().invoke(_group(), [str(a) for a in args], prog_name="vbench", catch_exceptions=True)
    finally:
        os.chdir(old)
    err = result.stderr
    out = result.stdout
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        err += "".join(traceback.format_exception(result.exception))
    return result.exit_code, out, err


def assert_one_error_line(code, out, err, expect=()):
    text = out + err
    assert "Traceback" not in text, text
    lines = [line for line in err.splitlines() if line.strip()]
    error_lines = [line for line in lines if line.startswith("Error:")]
    assert code == 2, (code, text)
    assert len(error_lines) == 1 and len(lines) == 1, err
    for want in expect:
        assert want.lower() in error_lines[0].lower(), (want, error_lines[0])
    return error_lines[0]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VBENCH_I2V_DATA", str(tmp_path / "data"))


# ---------------------------------------------------------------- part 1: the sweep

OUTPUT_NAMES = {"out", "out_dir", "out_path", "json_out", "plot"}
# Options where 0 means something (a seed, "no attention checks", "keep every rater", "no bootstrap",
# "no identity branch", "no validation subjects", "no motionless clips").
ZERO_OK = {"seed", "split_seed", "attention_rate", "min_attention", "n_boot", "num_classes", "identity_steps",
           "val_subjects", "motionless_fraction"}
# Caps where a value beyond any dataset simply means "all".
HUGE_OK = {"max_videos", "limit", "max_minutes"}
# Text options where an empty string is meaningful.
EMPTY_OK: set[str] = set()


def _is_output(param) -> bool:
    return isinstance(param.type, OutputPath) or param.name in OUTPUT_NAMES


def _cases_for(param, tmp: Path):
    """(case id, value, expected words in the error line) of bad values for one parameter."""
    t = param.type
    if getattr(param, "is_flag", False) or isinstance(t, click.Choice):
        if isinstance(t, click.Choice):
            choice = str(t.choices[0])
            if choice.upper() != choice:
                yield "choice-wrong-case", choice.upper(), ()
            yield "choice-unknown", "no-such-choice", ()
        return
    if isinstance(t, (click.types.IntParamType, click.types.FloatParamType)):
        floaty = isinstance(t, click.types.FloatParamType)
        yield "not-a-number", "abc", ()
        yield "negative", "-1", ()
        if param.name not in ZERO_OK:
            yield "zero", "0", ()
        if param.name not in HUGE_OK:
            yield "huge", "1e300" if floaty else str(2**64), ()
        if param.name == "seed":
            yield "seed-2**63", str(2**63), ()
        if floaty:
            yield "nan", "nan", ()
            yield "inf", "inf", ()
        return
    if isinstance(t, click.Path):
        yield "empty-path", "", ()
        blocker = tmp / "a-file"
        if _is_output(param):
            yield "output-under-a-file", blocker / "sub" / ("x" if not t.file_okay else "x.png"), (str(blocker),)
        if t.exists:
            yield "missing-path", tmp / "does-not-exist", ("does-not-exist",)
        if not t.file_okay:
            yield "file-for-folder", blocker, (str(blocker),)
        if not t.dir_okay:
            yield "folder-for-file", tmp / "a-folder", ("a-folder",)
        return
    if isinstance(t, (click.types.StringParamType, NonEmptyText)):
        if param.name not in EMPTY_OK:
            yield "empty-string", "", ()


def _sweep_cases():
    cases = []
    probe = Path("/nonexistent-sweep-root")  # ids only; real paths are made per test
    for path, cmd in COMMANDS:
        for param in cmd.params:
            if param.name in ("help",):
                continue
            for case_id, _value, _expect in _cases_for(param, probe):
                cases.append(pytest.param(path, param.name, case_id,
                                          id=f"{' '.join(path)}:{param.name}:{case_id}",
                                          marks=_known_mark(path, param.name, case_id)))
    return cases


# Sweep cases that fail today in command modules this file's author does not own, as
# "command:parameter:case" ids. Each is a strict xfail whose reason names the module to change;
# once that module refuses the value, the case XPASSes (fails) and its id must be deleted here.
KNOWN_FAILURES: set[str] = set()  # empty: every command refuses every swept bad value


def _module_file(cmd: click.Command) -> str:
    return cmd.callback.__module__.replace(".", "/") + ".py"


def _known_mark(path, param, case_id):
    cid = f"{' '.join(path)}:{param}:{case_id}"
    if cid not in KNOWN_FAILURES:
        return ()
    cmd = dict(COMMANDS)[path]
    opt = next((p.opts[0] for p in cmd.params if p.name == param), param)
    return (pytest.mark.xfail(strict=True, reason=f"{_module_file(cmd)}: {opt} must refuse the {case_id} "
                              "case at parse time, in one line (types in vbench_i2v.cli.types)"),)


def _materialise(tmp: Path) -> None:
    (tmp / "a-file").write_text("not a folder\n")
    (tmp / "a-folder").mkdir()


def sweep_args(path, cmd, param, value, tmp: Path) -> list:
    """The command line that gives ``value`` to ``param`` alone; earlier positional arguments get
    valid stand-ins, so the bad value lands on this one."""
    if isinstance(param, click.Option):
        return [*path, param.opts[0], str(value)]
    before = []
    for other in cmd.params:
        if other is param:
            break
        if isinstance(other, click.Argument):
            t = other.type
            before.append(tmp / ("a-folder" if isinstance(t, click.Path) and not t.file_okay
                                 else "a-file") if isinstance(t, click.Path) else "x")
    return [*path, *before, str(value)]


@pytest.mark.parametrize("path, param_name, case_id", _sweep_cases())
def test_sweep(tmp_path, path, param_name, case_id):
    _materialise(tmp_path)
    cmd = dict(COMMANDS)[path]
    param = next(p for p in cmd.params if p.name == param_name)
    value, expect = next((v, e) for c, v, e in _cases_for(param, tmp_path) if c == case_id)
    args = sweep_args(path, cmd, param, value, tmp_path)
    names = (param.opts[0],) if isinstance(param, click.Option) else ()
    code, out, err = invoke(args, tmp_path)
    line = assert_one_error_line(code, out, err, expect)
    # The line must be about this parameter, not a later complaint (e.g. a missing option).
    about = [n.lower() for n in names] + [param.human_readable_name.lower(), str(value).lower()]
    assert not line.startswith("Error: Missing"), line
    assert any(a and a in line.lower() for a in about), line


def test_sweep_covers_every_command():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"metrics", "run", "train", "leaderboard", "study export", "study score", "weights import",
            "datasets export"} <= names
    assert all(any(True for _ in _cases_for(p, Path("/x"))) for _, c in COMMANDS for p in c.params
               if isinstance(p.type, (click.types.IntParamType, click.Path)))


@pytest.mark.xfail(not isinstance(main, OneLineErrors), strict=True,
                   reason="vbench_i2v/cli/__init__.py: _Main must subclass vbench_i2v.cli.errors.OneLineErrors")
def test_the_real_main_prints_usage_errors_in_one_line(tmp_path):
    result = _runner().invoke(main, ["study", "export", "--pairs", "0"], prog_name="vbench")
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "Error: Invalid value for '--pairs': 0 is not in the range 1<=x<=100000. (see 'vbench study export -h')"]


def test_one_line_group_keeps_help_and_success_exit_codes(tmp_path):
    code, out, err = invoke(["study", "--help"], tmp_path)
    assert code == 0 and "export" in out and err == ""
    code, out, err = invoke(["no-such-command"], tmp_path)
    assert_one_error_line(code, out, err, ("no such command",))


def test_oserror_and_memory_error_become_one_line(tmp_path, monkeypatch):
    import errno

    from vbench_i2v.cli import leaderboard as cli_lb

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(cli_lb, "collect_results", full)
    code, out, err = invoke(["leaderboard", "runs"], tmp_path)
    assert assert_one_error_line(code, out, err) == f"Error: {tmp_path / 'x'}: disk full"

    def oom(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(cli_lb, "collect_results", oom)
    code, out, err = invoke(["leaderboard", "runs"], tmp_path)
    assert "out of memory" in assert_one_error_line(code, out, err)
    monkeypatch.setenv("VBENCH_DEBUG", "1")
    with pytest.raises(MemoryError):
        _group().main(["leaderboard", "runs"], prog_name="vbench")


# ---------------------------------------------------------------- part 2: files the project reads

from study_helpers import make_run  # noqa: E402
from test_results import make_results  # noqa: E402


@pytest.fixture
def study(tmp_path):
    """A small exported study: 2 runs, 4 pairs each way (+1 attention check)."""
    runs = tmp_path / "runs"
    a = make_run(runs, "run-a", n_clips=4, shift=0)
    b = make_run(runs, "run-b", n_clips=4, shift=3)
    code, out, err = invoke(["study", "export", a, b, "--pairs", "2", "--out", tmp_path / "study",
                             "--format", "gif", "--scale", "1"], tmp_path)
    assert code == 0, err
    return tmp_path / "study"


def _answers(study: Path, rows) -> list[str]:
    import csv

    key = list(csv.DictReader(open(study / "key.csv")))
    return ["rater,pair_id,choice"] + [f"r1,{k['pair_id']},left" for k in key] if rows is None else rows


def test_study_score_bad_answer_files(tmp_path, study):
    good = _answers(study, None)
    cases = {
        "empty.csv": ("", ("empty.csv", "empty file")),
        "header-only-wrong.csv": ("who,what\nx,y\n", ("needs columns rater,pair_id,choice",)),
        "bad-choice.csv": ("\n".join(good[:2] + [good[2].replace(",left", ",LEFT")]) + "\n",
                           ("line 3", "choice", "'LEFT'")),
        "empty-rater.csv": ("\n".join(good[:1] + [good[1].replace("r1,", ",")]) + "\n",
                            ("line 2", "field rater is empty")),
        "ragged.csv": ("\n".join(good[:2]) + "\nr1,p001,left,extra,more\n", ("ragged.csv", "not a valid csv")),
        "binary.csv": (b"\xff\xfe\x00\x01", ("binary.csv", "not utf-8")),
        "other-study.csv": ("rater,pair_id,choice\nr1,p999,left\n", ("p999", "another study")),
    }
    for name, (content, expect) in cases.items():
        f = tmp_path / name
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
        code, out, err = invoke(["study", "score", study, f], tmp_path)
        assert_one_error_line(code, out, err, expect)
    ok = tmp_path / "ok.csv"
    ok.write_text("\n".join(good) + "\n")
    code, out, err = invoke(["study", "score", study, ok, "--min-attention", "0"], tmp_path)
    assert code == 0, err


@pytest.mark.parametrize("text, expect", [
    ("", "empty file"), ("\n\n", "empty file"),
    ("a,b\n1,2,3\n", "line 2: not a valid CSV t (expected 2 fields, saw 3)"),
    ("a,b\n1,2\n3\n", "line 3: not a valid CSV t (expected 2 fields, saw 1)"),
    ('a,b\n"x\ny",2\n', "line 3: a field holds a line break"),
    ("a,b\n\n1,2\n", "line 2: blank line inside the table"),
    ('a,b\n"x"y,2\n', "line 2: not a valid CSV t"),
    ("a,a\n1,2\n", "line 1: header names must be non-empty and distinct"),
], ids=["empty", "blank-only", "extra-field-first-row", "missing-field", "line-break", "blank-line",
        "bad-quote", "repeated-header"])
def test_read_table_refuses_malformed_csv(tmp_path, text, expect):
    from vbench_i2v.errors import InputError
    from vbench_i2v.tables import read_table

    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(InputError) as info:
        read_table(f, "t")
    assert str(info.value).startswith(f"{f}") and expect in str(info.value)


def test_read_table_reads_text_exactly(tmp_path):
    from vbench_i2v.tables import read_table

    f = tmp_path / "t.csv"
    f.write_bytes("\ufeffa,b\r\n007,\r\n\"x,y\",NA\r\n\n".encode())
    assert read_table(f, "t").to_dict("records") == [{"a": "007", "b": ""}, {"a": "x,y", "b": "NA"}]


def test_study_score_bad_key_and_study_json(tmp_path, study):
    answers = tmp_path / "ok.csv"
    answers.write_text("\n".join(_answers(study, None)) + "\n")
    key = (study / "key.csv").read_text()
    for content, expect in (
        (key.replace(",0,", ",yes,", 1), ("key.csv", "attention_check must be 0 or 1", "'yes'")),
        ("", ("key.csv", "empty file")),
        ("pair_id,left_run\np1,a\n", ("key.csv", "missing columns")),
    ):
        (study / "key.csv").write_text(content)
        assert_one_error_line(*invoke(["study", "score", study, answers], tmp_path), expect)
    (study / "key.csv").write_text(key)
    for content, expect in (("{not json", ("study.json", "not valid json")),
                            ('{"methods": "run-a"}', ("study.json", "field methods")),
                            ("[1, 2]", ("study.json", "expected a json object"))):
        (study / "study.json").write_text(content)
        assert_one_error_line(*invoke(["study", "score", study, answers], tmp_path), expect)


def test_study_export_bad_runs(tmp_path):
    runs = tmp_path / "runs"
    a = make_run(runs, "run-a", n_clips=4)
    b = make_run(runs, "run-b", n_clips=4, shift=3)
    out = tmp_path / "study"
    base = ["study", "export", a, b, "--out", out, "--pairs", "2"]
    (tmp_path / "blocker").write_text("x")
    cases = [
        (["study", "export", a, b, "--out", tmp_path / "blocker" / "s", "--pairs", "2"],
         ("--out", "blocker is a file, not a folder")),
        (base[:4] + ["--out", out, "--pairs", "5"], ("lower --pairs",)),
        (["study", "export", a, "--out", out, "--pairs", "2", "--attention-rate", "0"], ("at least two methods",)),
        (base + ["--fps", "nan"], ("--fps", "not a finite number")),
        (base + ["--scale", "100000"], ("--scale",)),
        (base + ["--question", "  "], ("--question", "must not be empty")),
        (base + ["--seed", str(2**63)], ("--seed",)),
    ]
    for args, expect in cases:
        assert_one_error_line(*invoke(args, tmp_path), expect)
    for change, expect in (
        (lambda r: r.__setitem__("run_id", 7), ("results.json", "field run_id")),
        (lambda r: r.__setitem__("protocol", "x"), ("results.json", "field protocol must be an object")),
        (lambda r: r["generator"].__setitem__("name", ["x"]), ("results.json", "field generator.name")),
    ):
        res = json.loads((b / "results.json").read_text())
        change(res)
        (b / "results.json").write_text(json.dumps(res))
        assert_one_error_line(*invoke(base, tmp_path), expect)
        shutil.rmtree(b)
        b = make_run(runs, "run-b", n_clips=4, shift=3)
    (b / "results.json").write_text("{")
    assert_one_error_line(*invoke(base, tmp_path), ("results.json", "not valid json"))
    shutil.rmtree(b)
    b = make_run(runs, "run-b", n_clips=4, shift=3)
    (b / "clips.csv").write_text("")
    assert_one_error_line(*invoke(base, tmp_path), ("clips.csv", "empty file"))
    (b / "clips.csv").write_text("clip,label\nc000,0\n,1\n")
    assert_one_error_line(*invoke(base, tmp_path), ("clips.csv", "line 3", "field clip is empty"))
    assert not (out / "key.csv").exists()


# results.json: every field of the wrong type is named with its file.
_WRONG_TYPES = [
    ("generator", "name", 3), ("generator", "name", ""), ("generator", "config", []),
    ("generator", "checkpoint", 5), ("generator", "variant", {}),
    ("dataset", "name", None), ("dataset", "split", 1), ("dataset", "clip_count", "20"),
    ("dataset", "clip_count", -1), ("dataset", "video_count", True), ("dataset", "video_count", 2.5),
    ("protocol", "frames", "32"), ("protocol", "frames", 0), ("protocol", "size", [64]),
    ("protocol", "frame_step", 1.5), ("protocol", "conditioning_per_video", False),
    ("protocol", "max_videos", 0), ("protocol", "seed", -1), ("protocol", "seed", "0"),
    ("protocol", "extractor", 1), ("protocol", "dataset_options", "none"),
    ("protocol", "extractors", ["x"]), ("protocol", "dataset_fingerprint", 5), ("protocol", "paired_frames", "some"),
    ("provenance", "package_version", 1), ("provenance", "torch_version", None),
    ("provenance", "device", ["cpu"]), ("provenance", "wall_time_s", "1.5"),
    ("provenance", "wall_time_s", -3), ("provenance", "created", 20260101),
]


@pytest.mark.parametrize("section, key, value", _WRONG_TYPES,
                         ids=[f"{s}.{k}={v!r}" for s, k, v in _WRONG_TYPES])
def test_results_field_of_wrong_type(tmp_path, section, key, value):
    from vbench_i2v.results import fingerprint_fields, protocol_fingerprint

    res = make_results()
    res[section][key] = value
    try:  # a well-formed fingerprint, so the type check (not the fingerprint check) must fire
        res["protocol"]["fingerprint"] = protocol_fingerprint(fingerprint_fields(res))
    except Exception:
        pass
    f = tmp_path / "r" / "results.json"
    f.parent.mkdir()
    f.write_text(json.dumps(res))
    line = assert_one_error_line(*invoke(["leaderboard", f, "--no-reported"], tmp_path),
                                 (str(f), f"{section}.{key}"))
    assert "must" in line


@pytest.mark.parametrize("mutate, expect", [
    (lambda r: r.__setitem__("run_id", 5), "field run_id"),
    (lambda r: r.__setitem__("schema_version", True), "schema_version"),
    (lambda r: r["metrics"]["fid"].__setitem__("n", "20"), "metrics.fid.n"),
    (lambda r: r["metrics"]["fid"].__setitem__("extractor", 3), "metrics.fid.extractor"),
    (lambda r: r["metrics"]["fid"].__setitem__("ci95", [1.0]), "metrics.fid.ci95"),
], ids=["run_id", "schema_version", "metric-n", "metric-extractor", "metric-ci95"])
def test_results_other_fields(tmp_path, mutate, expect):
    res = make_results()
    mutate(res)
    f = tmp_path / "results.json"
    f.write_text(json.dumps(res))
    assert_one_error_line(*invoke(["leaderboard", f, "--no-reported"], tmp_path), (str(f), expect))


@pytest.mark.parametrize("content, expect", [
    ("", "not valid json"), ("{", "not valid json"), ("[]", "expected a json object"),
    ("1" * 5000, "not valid json"), ("[" * 100000, "not valid json"),
], ids=["empty", "truncated", "list", "int-too-long", "too-deep"])
def test_results_not_json(tmp_path, content, expect):
    f = tmp_path / "results.json"
    f.write_text(content)
    assert_one_error_line(*invoke(["leaderboard", f, "--no-reported"], tmp_path), (str(f), expect))


def test_results_binary_and_folder_without_results(tmp_path):
    f = tmp_path / "results.json"
    f.write_bytes(b"\xff\xfe{}")
    assert_one_error_line(*invoke(["leaderboard", f, "--no-reported"], tmp_path), (str(f), "not utf-8"))
    (tmp_path / "empty").mkdir()
    assert_one_error_line(*invoke(["leaderboard", tmp_path / "empty", "--no-reported"], tmp_path),
                          ("no results.json",))


def test_leaderboard_outputs_checked_before_work(tmp_path):
    res = make_results()
    f = tmp_path / "results.json"
    f.write_text(json.dumps(res))
    (tmp_path / "blocker").write_text("x")
    for opt, target in (("--out", tmp_path / "blocker" / "b.md"), ("--plot", tmp_path / "blocker" / "p.png"),
                        ("--out", tmp_path), ("--plot", tmp_path / "p.jpg")):
        assert_one_error_line(*invoke(["leaderboard", f, "--no-reported", opt, target], tmp_path), (opt,))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "results.json"]


def test_paper_csv_wrong_columns(tmp_path):
    f = tmp_path / "paper.csv"
    f.write_text("table,page,dataset,generator,metric,value,note,extra\n1,2,mug,x,fid,1.0,,\n")
    assert_one_error_line(*invoke(["leaderboard", "--paper-csv", f], tmp_path), (str(f), "columns must be"))


def test_paper_csv_bad_number(tmp_path):
    from vbench_i2v.leaderboard import PAPER_COLUMNS

    f = tmp_path / "paper.csv"
    row = {c: "x" for c in PAPER_COLUMNS}
    f.write_text(",".join(PAPER_COLUMNS) + "\n" + ",".join(row[c] for c in PAPER_COLUMNS) + "\n")
    assert_one_error_line(*invoke(["leaderboard", "--paper-csv", f], tmp_path), (str(f),))


@pytest.mark.parametrize("content", ["", b"\xff\xfe\x00", "ragged"], ids=["empty", "binary", "ragged"])
def test_paper_csv_unreadable(tmp_path, content):
    from vbench_i2v.leaderboard import PAPER_COLUMNS

    f = tmp_path / "paper.csv"
    if content == "ragged":
        content = ",".join(PAPER_COLUMNS) + "\n" + ",".join(["1"] * (len(PAPER_COLUMNS) + 3)) + "\n"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_one_error_line(*invoke(["leaderboard", "--paper-csv", f], tmp_path), (str(f),))


def test_weights_bad_names_and_files(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"not weights")
    assert_one_error_line(*invoke(["weights", "fetch", "NO-SUCH"], tmp_path), ("no-such",))
    assert_one_error_line(*invoke(["weights", "import", "no-such", tmp_path / "w.pth"], tmp_path), ("no-such",))
    assert_one_error_line(*invoke(["weights", "fetch", ""], tmp_path), ("must not be empty",))


# Dataset loaders and protocol functions: each case that used to end in a ValueError traceback
# (or scored silently wrong pixels) is now one Error line naming the folder or file and the rule.
def _npz_clip(path: Path, frames: int = 4, size: int = 8, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, video=np.random.default_rng(seed).integers(0, 256, (frames, size, size, 3), dtype=np.uint8))
    return path


def _export(tmp_path, root, *extra, dataset="folder"):
    return invoke(["datasets", "export", dataset, "--data-root", root, "--out", tmp_path / "out", "--format", "npz",
                   *extra], tmp_path)


def test_folder_dataset_of_one_subject(tmp_path):
    _npz_clip(tmp_path / "one" / "only.npz")
    line = assert_one_error_line(*_export(tmp_path, tmp_path / "one"),
                                 (f"under {tmp_path / 'one'}", "one subject ('only')",
                                  "needs at least two subjects", "split_file"))
    assert line.startswith("Error: folder: all 1 video(s)")
    for n in ("anna_1", "anna_2"):
        _npz_clip(tmp_path / "same" / f"{n}.npz")
    assert_one_error_line(*_export(tmp_path, tmp_path / "same", "--option", r"pattern=^(?P<subject>[a-z]+)_"),
                          ("folder: all 2 video(s) under", "one subject ('anna')", "at least two subjects"))
    assert not (tmp_path / "out").exists()


def test_folder_dataset_split_files(tmp_path):
    root = tmp_path / "two"
    for n in ("a", "b"):
        _npz_clip(root / f"{n}.npz")
    split = tmp_path / "split.csv"
    split.write_text("video,split\na,train\nb,train\n")
    assert_one_error_line(*_export(tmp_path, root, "--option", f"split_file={split}"),
                          (f"folder: the test split of the videos under {root} is empty",
                           "the split_file lists no video in it"))
    split.write_bytes(b"\xff\xfe\x00v\x00")
    assert_one_error_line(*_export(tmp_path, root, "--option", f"split_file={split}"),
                          (f"{split}: not a CSV split file (not UTF-8 text)",))
    split.write_text("video,split\na," + "x" * 200_000 + "\n")  # beyond the csv module's field size limit
    assert_one_error_line(*_export(tmp_path, root, "--option", f"split_file={split}"),
                          (f"{split}: not a valid CSV split file", "field larger than field limit"))


def test_folder_dataset_frames_without_an_8bit_scale(tmp_path):
    """A frame folder holding a float TIFF frame is refused naming the frame, not clipped."""
    tifffile = pytest.importorskip("tifffile")
    from PIL import Image

    for name in ("a", "b"):
        clip = tmp_path / "frames" / name
        clip.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(clip / f"{i:03d}.png")
        tifffile.imwrite(clip / "003.tif", np.ones((8, 8), np.float32))
    line = assert_one_error_line(*_export(tmp_path, tmp_path / "frames", "--split", "train"),
                                 ("/003.tif: floating-point or signed samples have no agreed scale to 8 bits",))
    assert line.startswith(f"Error: {tmp_path / 'frames'}")


def test_face_crop_on_frames_too_small_for_the_detector(tmp_path):
    for n in ("a", "b"):
        _npz_clip(tmp_path / "tiny" / f"{n}.npz", size=12)
    assert_one_error_line(*_export(tmp_path, tmp_path / "tiny", "--option", "face_crop=true", "--split", "train"),
                          ("npz: frames of 12x12 pixels are too small for the face detector", "face_crop off"))


def test_natops_pattern_with_non_numeric_groups(tmp_path):
    for n in ("gAs1", "gBs2"):
        _npz_clip(tmp_path / "nat" / f"{n}.npz")
    (tmp_path / "nat" / "gAs1.npz").rename(tmp_path / "nat" / "gAs1.avi")  # natops reads containers only
    (tmp_path / "nat" / "gBs2.npz").rename(tmp_path / "nat" / "gBs2.avi")
    assert_one_error_line(*_export(tmp_path, tmp_path / "nat", "--option", r"pattern=^g(?P<label>\w)s(?P<subject>\w)$",
                                   dataset="natops"),
                          ("gAs1.avi matches pattern", "label ('A') and subject ('1') groups must be numbers"))


def test_dataset_and_protocol_functions_refuse_bad_arguments(tmp_path):
    """Through the Python API: each refusal is a VBenchError (one line), never a ValueError/TypeError."""
    from vbench_i2v import protocol
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.datasets.natops import parse_segmentation
    from vbench_i2v.errors import VBenchError

    for n in ("a", "b", "c"):
        _npz_clip(tmp_path / "f" / n / f"{n}.npz")
    ds = get_dataset("folder", data_root=tmp_path / "f", cache_dir=tmp_path / "c")
    rng = protocol.rng_for(0, "x")
    seg = tmp_path / "seg.txt"
    seg.write_text("// Subject 1\n1,1,1\n1:0,5\n")
    cases = [
        (lambda: protocol.subject_split(["a", "a"], 4, 1, 0), "a subject split needs at least 2 subjects, found 1 ('a')"),
        (lambda: protocol.clip_starts(40, 0, rng), "clips per video must be a positive integer, got 0"),
        (lambda: protocol.clip_starts(40, -3, rng), "got -3"),
        (lambda: protocol.take_clip(np.zeros((4, 2, 2, 3), np.uint8), 4), "clip start 4 is outside the video's 4 frames"),
        (lambda: ds.clips("test", per_video=-1), "folder: clips per video must be a positive integer, got -1"),
        (lambda: ds.clips("train", limit=0), "folder: video limit must be a positive integer, got 0"),
        (lambda: ds.label_id(None), "must be a label name or an integer id, got None"),
        (lambda: ds.label_id(1.5), "got 1.5"),
        (lambda: ds.label_id("\u00b2"), "unknown label '\u00b2'"),  # superscript two: isdigit() but not int()
        (lambda: get_dataset("folder", data_root=tmp_path / "f", seed="x"), "seed must be an integer, got 'x'"),
        (lambda: parse_segmentation(seg), "seg.txt:3: frame numbers start at 1, got 0"),
    ]
    for call, expect in cases:
        with pytest.raises(VBenchError) as info:
            call()
        assert expect in str(info.value) and "\n" not in str(info.value), (expect, str(info.value))
    assert ds.label_id("b") == 1 and ds.label_id(2) == 2 and ds.label_id("0") == 0


def test_weizmann_mocogan_folders_with_non_decimal_digit_names(tmp_path):
    """A class folder named with a digit int() cannot read (superscript two) is not a class folder."""
    from PIL import Image

    from vbench_i2v.datasets.weizmann import WeizmannDataset

    for cls in ("0", "\u00b2"):
        (tmp_path / "actions" / cls).mkdir(parents=True)
        for i in (0, 1):
            Image.fromarray(np.zeros((8, 8 * 4, 3), np.uint8)).save(tmp_path / "actions" / cls / f"{i}.jpg")
    with pytest.warns(UserWarning, match="no subject names"):
        recs = WeizmannDataset(data_root=tmp_path).records()
    assert {dict(r.extra)["mocogan_class"] for r in recs} == {0}


def test_weights_empty_sha256_record(tmp_path):
    from vbench_i2v import weights as W

    names = [n for n in W.names() if not W.spec(n).packaged and not W.spec(n).sha256]
    if not names:
        pytest.skip("every registered weight file has a published sha256")
    path = W.local_path(names[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    path.with_name(path.name + ".sha256").write_text("")
    assert_one_error_line(*invoke(["weights", "list"], tmp_path), (".sha256",))


def test_unknown_names_in_wrong_case(tmp_path):
    """Registry names are exact (lowercase); a wrong case is refused in one line naming the known ones."""
    for args, expect in ((["datasets", "export", "SYNTHETIC", "--out", tmp_path / "o"], ("'SYNTHETIC'", "known")),
                         (["train", "--generator", "ImaGINator", "--dataset", "synthetic", "--steps", "1",
                           "--out", tmp_path / "t"], ("'ImaGINator'", "known"))):
        assert_one_error_line(*invoke(args, tmp_path), expect)


def test_metric_names_are_case_insensitive():
    from vbench_i2v.metrics.registry import parse_metrics

    assert parse_metrics("FID, Ssim") == parse_metrics("fid,ssim")


# ---------------------------------------------------------------- training state on resume

@pytest.fixture
def trained(tmp_path):
    from generator_fakes import TinyDataset
    from vbench_i2v.generators import training
    from vbench_i2v.generators.registry import get_generator

    ds = TinyDataset()
    cls = get_generator("imaginator")
    torch.manual_seed(0)
    model = cls(cls.make_config(width=1 / 16, overrides={"batch_size": 2}), ds.num_classes, ds.labels, ds.name)
    out = tmp_path / "train"
    training.train(model, ds, out, steps=1, sample_every=100, checkpoint_every=1, progress_bar=False,
                   sample_inputs=1)
    return ds, cls, out


def _resume(ds, cls, out, width=1 / 16):
    from vbench_i2v.generators import training

    torch.manual_seed(0)
    cfg = cls.make_config(width=width, overrides={"batch_size": 2})
    model = cls(cfg, ds.num_classes, ds.labels, ds.name)
    training.train(model, ds, out, steps=2, resume=True, sample_every=100, checkpoint_every=1,
                   progress_bar=False, sample_inputs=1)


def test_resume_refuses_damaged_training_state(trained):
    from vbench_i2v.errors import InputError
    from vbench_i2v.generators.train_checkpoint import STATE_FILE

    ds, cls, out = trained
    state_path = out / STATE_FILE
    good = state_path.read_bytes()
    state = torch.load(state_path, weights_only=True)

    def one_line(exc, *words):
        text = str(exc.value)
        assert "\n" not in text and str(state_path if "weights" not in words else out) in text
        for w in words:
            assert w in text, (w, text)

    state_path.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError) as info:
        _resume(ds, cls, out)
    one_line(info, "damaged")
    for change, words in (
        (lambda s: s.pop("optimizers"), ("missing field optimizers",)),
        (lambda s: s.__setitem__("epoch", "3"), ("field epoch",)),
        (lambda s: s.__setitem__("step", -1), ("field step",)),
        (lambda s: s["optimizers"].clear(), ("field optimizers lacks",)),
        (lambda s: s.__setitem__("rng", {"torch": 1}), ("field rng",)),
    ):
        bad = {**state, "optimizers": dict(state["optimizers"])}
        change(bad)
        torch.save(bad, state_path)
        with pytest.raises(InputError) as info:
            _resume(ds, cls, out)
        one_line(info, *words)
    torch.save([1, 2], state_path)
    with pytest.raises(InputError, match="expected a dict"):
        _resume(ds, cls, out)
    state_path.write_bytes(good)
    _resume(ds, cls, out)  # the untouched file still resumes


def test_resume_refuses_mismatched_weights_and_losses(trained):
    from vbench_i2v.errors import InputError
    from vbench_i2v.generators.base import MODEL_FILE

    ds, cls, out = trained
    with pytest.raises(InputError, match="do not fit this model's config"):
        _resume(ds, cls, out, width=1 / 8)
    weights = (out / MODEL_FILE).read_bytes()
    (out / MODEL_FILE).write_bytes(weights[:100])
    with pytest.raises(InputError, match="not a readable safetensors file"):
        _resume(ds, cls, out)
    (out / MODEL_FILE).write_bytes(weights)
    (out / "losses.csv").write_text("step,epoch\nx,0\n")
    with pytest.raises(InputError, match=r"losses.csv, line 2: cannot resume, column step"):
        _resume(ds, cls, out)


def test_numbers_used_in_messages_are_exact():
    """The ranges in the messages are the documented ones (a seed is any signed 64-bit value >= 0)."""
    from vbench_i2v.cli.types import SEED, SEED_MAX

    assert SEED_MAX == 9223372036854775807 == np.iinfo(np.int64).max
    assert SEED.convert(str(SEED_MAX), None, None) == SEED_MAX
    assert math.isfinite(float(SEED_MAX))


# ---------------------------------------------------------------- hostile inputs to run, metrics, features

CLIP_NAMES = ["c000", "c001", "c002", "c003"]


def _clips(folder: Path, names=CLIP_NAMES, seed: int = 0, frames: int = 32, size: int = 64) -> Path:
    """Random uint8 T x H x W x 3 clips saved as <name>.npz (key ``video``, what export writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for n in names:
        np.savez(folder / f"{n}.npz", video=rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8))
    return folder


@pytest.fixture
def clip_sets(tmp_path):
    return _clips(tmp_path / "real", seed=0), _clips(tmp_path / "fake", seed=1)


def _run_args(tmp_path, *extra):
    return ["run", "--generator", "copy-first-frame", "--dataset", "synthetic", "--max-videos", "1",
            "--metrics", "ssim", "--device", "cpu", "--out", tmp_path / "runs", *extra]


def test_extractor_and_identity_names_refused_at_parse_time(tmp_path):
    """A misspelt network name fails before any video is read or generated, naming the option."""
    (tmp_path / "a-file").write_text("x")
    known = ("synthetic-probe", "resnext101-kinetics", "or a probe folder")
    for args, expect in (
        (_run_args(tmp_path, "--extractor", "nosuch"), ("'--extractor'", "unknown feature extractor 'nosuch'", *known)),
        (_run_args(tmp_path, "--extractor", "Synthetic-Probe"), ("'--extractor'", "'Synthetic-Probe'")),
        (_run_args(tmp_path, "--extractor", tmp_path / "a-file"), ("'--extractor'", f"{tmp_path / 'a-file'}: is a file")),
        (["metrics", "--real", tmp_path, "--fake", tmp_path, "--extractor", "nosuch"], ("'--extractor'", *known)),
        (["metrics", "--real", tmp_path, "--fake", tmp_path, "--identity", "nosuch"],
         ("'--identity'", "unknown identity embedder 'nosuch'", "facenet-vggface2")),
        (["features", tmp_path, "--extractor", "nosuch", "--out", tmp_path / "f.npz"], ("'--extractor'", "'nosuch'")),
    ):
        assert_one_error_line(*invoke(args, tmp_path), expect)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "f.npz").exists()


def test_extractor_type_accepts_names_and_folders(tmp_path):
    from vbench_i2v.catalog import EXTRACTORS, IDENTITY_EMBEDDERS
    from vbench_i2v.cli.metrics import ExtractorName

    assert [ExtractorName().convert(n, None, None) for n in EXTRACTORS] == list(EXTRACTORS)
    assert [ExtractorName("identity").convert(n, None, None) for n in IDENTITY_EMBEDDERS] == list(IDENTITY_EMBEDDERS)
    assert ExtractorName().convert(str(tmp_path), None, None) == str(tmp_path)  # checked when loaded
    with pytest.raises(click.BadParameter):
        ExtractorName("identity").convert("resnext101-kinetics", None, None)


@pytest.mark.parametrize("content, expect", [
    ("clip,label\nc000,1,9\n", "line 2: not a valid CSV labels file (expected 2 fields, saw 3)"),
    ("clip,label\nc000,1\nc000,2\n", "line 3: clip 'c000' is listed twice (first on line 2)"),
    ("clip,label\nc000,99999999999999999999999\n", "line 2: label must be a class index 0..1000000"),
    ("clip,label\nc000,-3\n", "line 2: label must be a class index 0..1000000, got '-3'"),
    ("clip,label\nc000,x\n", "line 2: label must be a class index 0..1000000, got 'x'"),
    ("clip,label\nc000,1_0\n", "got '1_0'"),
    ("clip,label\nc000,\n", "got ''"),
    ("clip,label\n,1\n", "line 2: field clip is empty"),
    ('clip,label\n"c0\n00",1\n', "line 3: a field holds a line break"),
    ("clip,label\n\nc000,1\n", "line 2: blank line inside the table"),
    ("", "empty file"),
    ("who,what\n1,2\n", "needs columns clip,label, found who,what"),
    (b"\xff\xfe\x00", "not utf-8"),
], ids=["ragged", "duplicate-clip", "huge-label", "negative-label", "text-label", "underscore-label",
        "empty-label", "empty-clip", "line-break", "blank-line", "empty", "wrong-columns", "binary"])
def test_metrics_labels_malformed(tmp_path, clip_sets, content, expect):
    """--labels is read row-checked before any scoring, even when no label metric runs."""
    real, fake = clip_sets
    f = tmp_path / "labels.csv"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = invoke(["metrics", "--real", real, "--fake", fake, "--metrics", "ssim", "--labels", f], tmp_path)
    line = assert_one_error_line(code, out, err, (str(f), expect))
    assert line.startswith(f"Error: {f}")


def test_metrics_labels_reads_a_run_folders_clips_csv(tmp_path):
    from vbench_i2v.cli.metrics import _read_labels

    f = tmp_path / "clips.csv"
    f.write_text("clip,label,label_name,subject\nc000,5,fear,id004\nc001, 0 ,happy,id009\n")
    assert _read_labels(f) == {"c000": 5, "c001": 0}


def _features_npz(tmp_path, real) -> Path:
    out = tmp_path / "feats.npz"
    code, _, err = invoke(["features", real, "--extractor", "synthetic-probe", "--out", out], tmp_path)
    assert code == 0, err
    return out


def test_hostile_inputs_already_refused_in_one_line(tmp_path, clip_sets, monkeypatch):
    """The by-hand list (docs/bad-inputs.md, 'Hostile inputs'): each ends in one Error line, exit 2."""
    real, fake = clip_sets
    (tmp_path / "empty").mkdir()
    feats = _features_npz(tmp_path, real)
    z = dict(np.load(feats))
    np.savez(tmp_path / "wrong-key.npz", foo=z["features"])
    np.savez(tmp_path / "other-extractor.npz", **{**z, "extractor": np.array("i3d-kinetics400")})
    cases = [
        (_run_args(tmp_path, "--checkpoint", tmp_path / "nosuch"), ("'--checkpoint'", "does not exist")),
        (["run", "--generator", "vgan", "--dataset", "synthetic", "--checkpoint", tmp_path / "empty", "--device", "cpu",
          "--out", tmp_path / "runs"], (f"{tmp_path / 'empty'}: not a generator checkpoint",)),
        (_run_args(tmp_path, "--dataset", "weizmann", "--data-root", tmp_path / "empty"),
         ("weizmann: no weizmann videos", str(tmp_path / "empty"))),
        (_run_args(tmp_path, "--option", "face_crpo=true"), ("--option: unknown option 'face_crpo'", "known:")),
        (_run_args(tmp_path, "--metrics", "nosuch"), ("'--metrics'", "unknown metric(s) nosuch")),
        (_run_args(tmp_path, "--extractor", tmp_path / "empty", "--metrics", "fid"),
         (f"{tmp_path / 'empty'}: no SHA256SUMS",)),
        (["metrics", "--real", tmp_path / "wrong-key.npz", "--fake", fake, "--metrics", "fid",
          "--extractor", "synthetic-probe"], ("wrong-key.npz: not a features file", "missing features")),
        (["metrics", "--real", tmp_path / "other-extractor.npz", "--fake", fake, "--metrics", "fid",
          "--extractor", "synthetic-probe"], ("features were made with 'i3d-kinetics400', not 'synthetic-probe'",)),
        (["metrics", "--real", feats, "--fake", fake, "--metrics", "ssim"], ("only gives set metrics",)),
    ]
    for args, expect in cases:
        assert_one_error_line(*invoke(args, tmp_path), expect)
    assert not (tmp_path / "runs").exists()


def test_metric_names_case_insensitive_at_the_cli():
    from vbench_i2v.cli.run import run_cmd

    param = next(p for p in run_cmd.params if p.name == "metrics")
    assert param.type.convert("FID,ssim", param, None) == ["fid", "ssim"]


def test_features_to_an_unwritable_out(tmp_path, clip_sets, monkeypatch):
    import errno

    from vbench_i2v import files

    real, _ = clip_sets
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root: permission bits do not bind, so the write probe is told EACCES
        real_mkstemp = files.tempfile.mkstemp

        def mkstemp(*a, dir=None, **k):
            if dir is not None and Path(dir) == ro:
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return real_mkstemp(*a, dir=dir, **k)

        monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)
    try:
        code, out, err = invoke(["features", real, "--extractor", "synthetic-probe", "--out", ro / "f.npz"], tmp_path)
    finally:
        ro.chmod(0o755)
    assert_one_error_line(code, out, err, ("'--out'", f"{ro / 'f.npz'}: cannot write (permission denied)"))
    assert list(ro.iterdir()) == []


def test_run_refuses_a_checkpoint_for_a_generator_without_weights(tmp_path):
    ckpt = tmp_path / "vgan-ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"backend": "vgan"}))
    assert_one_error_line(*invoke(_run_args(tmp_path, "--checkpoint", ckpt), tmp_path), ("--checkpoint",))


def test_run_refuses_a_data_root_for_a_built_in_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_error_line(*invoke(_run_args(tmp_path, "--data-root", tmp_path / "empty"), tmp_path),
                          ("--data-root", "synthetic"))


def test_metrics_one_fake_video_names_the_folder(tmp_path, clip_sets):
    real, _ = clip_sets
    one = _clips(tmp_path / "one", names=CLIP_NAMES[:1])
    assert_one_error_line(*invoke(["metrics", "--real", real, "--fake", one, "--metrics", "fid",
                                   "--extractor", "synthetic-probe"], tmp_path), ("one", "at least 2 videos"))


def test_metrics_fake_videos_of_another_size(tmp_path, clip_sets):
    import gc

    real, _ = clip_sets
    try:
        for folder, kw, metric, expect in (("small", {"size": 48}, "ssim", "c000: fake 32x48x48 and real 32x64x64"),
                                           ("short", {"frames": 16}, "psnr", "c000: fake 16x64x64")):
            fake = _clips(tmp_path / folder, **kw)
            assert_one_error_line(*invoke(["metrics", "--real", real, "--fake", fake, "--metrics", metric], tmp_path),
                                  (expect,))
    finally:
        gc.collect()  # finish the abandoned prefetch generator here, not in one of its own loader threads


# ---------------------------------------------------------------- the VBench dimensions (docs/vbench-dims.md)

@pytest.mark.parametrize("metric, case, expect", [
    ("temporal-flickering", "one-frame", ("c000: 1 frame, but this needs at least 2",)),
    ("subject-consistency", "no-weights", ("weights 'dino-vitb16'", "vbench weights fetch dino-vitb16")),
    ("i2v-subject", "no-conditioning", ("i2v-subject needs the real videos", "--conditioning")),
    ("i2v-subject", "no-weights", ("weights 'dino-vitb16'",)),
    ("background-consistency", "no-weights", ("weights 'clip-vit-b32'",)),
    ("aesthetic-quality", "no-weights", ("weights 'laion-aesthetic-linear'",)),
    ("dynamic-degree", "no-weights", ("weights 'raft-things'", "vbench weights import raft-things")),
])
def test_vbench_dimension_metrics_refuse_in_one_line(tmp_path, monkeypatch, metric, case, expect):
    """`vbench metrics --fake DIR` (no --real) with each new metric: a clip too short, no conditioning
    image, or the network's weights not imported (an empty weights home) is one Error line."""
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    fake = _clips(tmp_path / "fake", frames=1 if case == "one-frame" else 8)
    extra = ["--conditioning", _clips(tmp_path / "cond", frames=1)] if metric == "i2v-subject" and case != "no-conditioning" else []
    assert_one_error_line(*invoke(["metrics", "--fake", fake, "--metrics", metric, *extra], tmp_path), expect)
