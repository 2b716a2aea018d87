"""One typed option parser for dataset --option, generator --set and on/off switches."""

from __future__ import annotations

import inspect
import json
import re

import pytest
from click.testing import CliRunner

from vbench_i2v.datasets import (DATASETS, DatasetOptionError, dataset_names, dataset_option_schema, get_dataset,
                                 parse_dataset_options)
from vbench_i2v.errors import DatasetError, InputError
from vbench_i2v.options import (MAX_WORKERS, Option, OptionError, Schema, parse_bool, parse_options, parse_switch,
                                parse_workers, switch_on)

BUILT_IN = ["folder", "mug", "natops", "synthetic", "uva-nemo", "weizmann"]

SCHEMA = Schema(
    Option("flag", "bool", False),
    Option("n", "int", 1, min=1, max=10),
    Option("x", "float", 0.5, min=0.0),
    Option("name", "str", ""),
    Option("kind", "choice", "a", choices=("a", "b")),
    Option("rx", "regex", None, groups=("subject",)),
    Option("map", "mapping", None, keys=r"\d+", choices=("wave", "bend")),
)


# --- the parser -----------------------------------------------------------------------------
@pytest.mark.parametrize("word,value", [("true", True), ("ON", True), ("Yes", True), ("1", True),
                                        ("false", False), ("Off", False), ("NO", False), ("0", False)])
def test_bool_words_any_case(word, value):
    assert parse_options([f"flag={word}"], SCHEMA, "t") == {"flag": value}


@pytest.mark.parametrize("word", ["maybe", "2", "", "tru", "y", "enabled", "-1"])
def test_bool_refuses_everything_else(word):
    with pytest.raises(OptionError, match=r"'flag' expects bool \(true/false, on/off, yes/no, 1/0\)"):
        parse_options([f"flag={word}"], SCHEMA, "t")
    with pytest.raises(OptionError):
        parse_bool(2)


def test_values_are_canonical():
    got = parse_options(["n=+3", "x=1e-3", "name=abc", "kind=b", "rx=^(?P<subject>\\w+)$", "map=3=bend, 0=wave"],
                        SCHEMA, "t")
    assert got == {"n": 3, "x": 0.001, "name": "abc", "kind": "b", "rx": r"^(?P<subject>\w+)$",
                   "map": {"0": "wave", "3": "bend"}}
    assert type(got["n"]) is int and type(got["x"]) is float
    assert list(got["map"]) == ["0", "3"]  # key-sorted, so its JSON does not depend on the spelling
    # the Python API spells the same values natively and gets the same canonical dict
    assert SCHEMA.validate({"n": 3.0, "x": 1e-3, "name": "abc", "kind": "b", "rx": r"^(?P<subject>\w+)$",
                            "map": {"3": "bend", "0": "wave"}}) == got
    assert json.dumps(parse_options(["flag=yes"], SCHEMA)) == json.dumps(parse_options(["flag=TRUE"], SCHEMA))


@pytest.mark.parametrize("pair,message", [
    ("n=1.5", "'n' expects int"), ("n=two", "'n' expects int"), ("n=0", "n must be between 1 and 10, got 0"),
    ("n=11", "n must be between 1 and 10"), ("x=-1", "x must be >= 0"), ("x=nan", "'x' expects a finite number"),
    ("x=abc", "'x' expects float"), ("kind=c", "kind must be one of a, b; got 'c'"),
    ("rx=(", "rx: invalid pattern"), ("rx=^(?P<who>x)$", "lacks the named group.* subject"),
    ("map=a=wave", "bad key 'a'"), ("map=1=jump", "bad value 'jump'"), ("map=1", "bad entry '1'"),
])
def test_bad_values_are_refused_naming_the_key(pair, message):
    with pytest.raises(OptionError, match=message):
        parse_options([pair], SCHEMA, "t")


def test_unknown_duplicate_and_malformed():
    with pytest.raises(OptionError, match=r"--option: unknown option 'nn' for thing \(known: flag, n, x, name, kind"):
        parse_options(["nn=1"], SCHEMA, "thing")
    with pytest.raises(OptionError, match="'n' given twice"):
        parse_options(["n=1", "n=2"], SCHEMA, "t")
    with pytest.raises(OptionError, match="expects key=value, got 'n'"):
        parse_options(["n"], SCHEMA, "t")
    with pytest.raises(OptionError, match="unknown option 'a'.*none: it takes no options"):
        parse_options(["a=1"], Schema(), "t")
    assert issubclass(OptionError, InputError)
    assert parse_options(["flag-x=1"], Schema(Option("flag_x", "bool")), "t") == {"flag_x": True}  # - reads as _


def test_path_option_is_absolute_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "s.csv").write_text("video,split\n")
    monkeypatch.chdir(tmp_path)
    schema = Schema(Option("split_file", "path", must_exist=True))
    assert parse_options(["split_file=s.csv"], schema) == {"split_file": str(tmp_path / "s.csv")}
    with pytest.raises(OptionError, match="split_file: .*nope.csv does not exist"):
        parse_options(["split_file=nope.csv"], schema)


def test_switches():
    assert [parse_switch(v, "--amp") for v in ("auto", "AUTO", "on", "True", "1", "off", "no")] == \
        ["auto", "auto", "on", "on", "on", "off", "off"]
    with pytest.raises(OptionError, match="--amp must be auto, true/false"):
        parse_switch("maybe", "--amp")
    with pytest.raises(OptionError):
        parse_switch("auto", "--x", allow_auto=False)


def test_switch_on_resolves_auto_to_the_given_default():
    assert [switch_on(v, True, "amp") for v in ("auto", "off", "No", False)] == [True, False, False, False]
    assert [switch_on(v, False, "amp") for v in ("AUTO", "on", "yes", True)] == [False, True, True, True]
    with pytest.raises(OptionError, match="compile must be true/false"):
        switch_on("auto", False, "compile", allow_auto=False)


def test_workers_parse_once_for_the_api_and_the_cli():
    assert [parse_workers(v) for v in ("auto", " AUTO ", None, "0", "3", 5, str(MAX_WORKERS))] == \
        ["auto", "auto", "auto", 0, 3, 5, MAX_WORKERS]
    for bad, words in (("-1", "between 0 and 64, got '-1'"), (65, "between 0 and 64, got 65"),
                       ("two", "a whole number, got 'two'"), ("1.5", "a whole number"), (True, "a whole number"),
                       (2.0, "a whole number")):
        with pytest.raises(OptionError, match="workers must be auto or a "):
            parse_workers(bad)
        with pytest.raises(OptionError, match=re.escape(words)):
            parse_workers(bad)


def test_train_options_store_the_parsed_switches():
    from vbench_i2v.generators.training import TrainOptions

    opts = TrainOptions(amp="ON", channels_last=False, sync_bn="yes", compile=True, workers=" 4")
    assert (opts.amp, opts.channels_last, opts.sync_bn, opts.compile, opts.workers) == ("on", "off", "on", "on", 4)
    assert (TrainOptions().compile, TrainOptions().amp, TrainOptions().workers) == ("off", "auto", "auto")
    with pytest.raises(InputError, match="deterministic must be True, False or None"):
        TrainOptions(deterministic="yes")


# --- datasets -----------------------------------------------------------------------------------
def test_every_built_in_loader_declares_every_option_it_reads():
    """Each key a loader reads from ``self.options`` is in its schema, and each declared key is read."""
    assert set(BUILT_IN) <= set(dataset_names())
    for name in BUILT_IN:
        cls = DATASETS.get(name)
        source = inspect.getsource(inspect.getmodule(cls))
        read = set(re.findall(r"self\.options\[\"(\w+)\"\]", source))
        assert read == set(cls.option_schema.names()), name
        assert "options.get(" not in source, name  # no silent fallback for a key the schema does not know


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_typo_is_refused_through_the_api_and_the_cli_parser(name, tmp_path):
    known = ", ".join(dataset_option_schema(name).names())
    with pytest.raises(DatasetOptionError, match=rf"unknown option 'patern' for dataset '{name}' \(known: {re.escape(known)}\)"):
        get_dataset(name, data_root=tmp_path, patern="x")
    with pytest.raises(DatasetOptionError, match=r"--option: unknown option 'patern'"):
        parse_dataset_options(name, ["patern=x"])
    # one error for both kinds of caller: bad user input about a dataset
    assert issubclass(DatasetOptionError, InputError) and issubclass(DatasetOptionError, DatasetError)


def test_face_crop_maybe_is_refused_and_yes_equals_true(tmp_path):
    with pytest.raises(DatasetOptionError, match="'face_crop' expects bool"):
        parse_dataset_options("folder", ["face_crop=maybe"])
    with pytest.raises(DatasetOptionError, match="'face_crop' expects bool"):
        get_dataset("folder", data_root=tmp_path, face_crop="maybe")
    yes = get_dataset("folder", data_root=tmp_path, **parse_dataset_options("folder", ["face_crop=yes"]))
    true = get_dataset("folder", data_root=tmp_path, face_crop="true")
    native = get_dataset("folder", data_root=tmp_path, face_crop=True)
    assert yes.options == true.options == native.options and yes.face_crop is True
    assert yes.preprocess_params() == true.preprocess_params()
    off = get_dataset("folder", data_root=tmp_path, face_crop="off")
    assert off.options == get_dataset("folder", data_root=tmp_path).options  # the default, spelt out or not


def test_loader_values_are_typed(tmp_path):
    assert get_dataset("synthetic", identities="4", takes=1).n_identities == 4
    with pytest.raises(DatasetOptionError, match="identities must be >= 2"):
        get_dataset("synthetic", identities=1)
    with pytest.raises(DatasetOptionError, match="smiles must be one of spontaneous, deliberate, all"):
        get_dataset("uva-nemo", data_root=tmp_path, smiles="fake")
    with pytest.raises(DatasetOptionError, match="mocogan_classes: bad value 'dance'"):
        get_dataset("weizmann", data_root=tmp_path, mocogan_classes="0=dance")
    assert get_dataset("weizmann", data_root=tmp_path, mocogan_classes="1=bend,0=wave1").options[
        "mocogan_classes"] == {"0": "wave1", "1": "bend"}
    assert get_dataset("natops", data_root=tmp_path, segments="off").options["segments"] is False
    with pytest.raises(DatasetOptionError, match="frame_step must be >= 1"):
        get_dataset("folder", data_root=tmp_path, frame_step="0")


def test_cli_refuses_a_typo_before_any_work(tmp_path):
    from vbench_i2v.cli import main

    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["datasets", "export", "synthetic", "--out", str(out), "--option", "identitis=4"])
    assert r.exit_code == 2
    assert "Error: --option: unknown option 'identitis' for dataset 'synthetic' (known: identities, takes)" in r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["datasets", "options", "folder"])
    assert r.exit_code == 0 and "face_crop (bool, default false)" in r.output and "frame_step (int >= 1" in r.output


def test_old_cli_parser_keeps_its_signature_and_defers_to_the_schema(tmp_path):
    from vbench_i2v.cli.datasets import parse_dataset_options as old

    raw = old(["face_crop=yes", "frame_step=2"])  # no dataset name: strings, checked by the constructor
    ds = get_dataset("folder", data_root=tmp_path, **raw)
    assert ds.options["face_crop"] is True and ds.options["frame_step"] == 2
    assert old(["face_crop=yes"], "folder") == {"face_crop": True}
    with pytest.raises(InputError, match="expects key=value"):
        old(["face_crop"])


# --- generator configs -------------------------------------------------------------------------
def test_generator_schema_comes_from_the_config_dataclass():
    from vbench_i2v.generators.registry import get_generator

    cls = get_generator("imaginator")
    schema = cls.config_schema()
    fields = cls.config_fields()
    assert schema.names() == list(fields)
    kinds = {bool: "bool", int: "int", float: "float", str: "str"}
    for name, typ in fields.items():
        assert schema[name].type in (kinds[typ], "choice")
        assert schema[name].default == getattr(cls.Config(), name)
    assert cls.parse_overrides(["fusion=OFF", "lr_g=1e-3", "dim_z=8"]) == {"fusion": False, "lr_g": 1e-3, "dim_z": 8}
    with pytest.raises(InputError, match="'dim_z' expects int"):
        cls.parse_overrides(["dim_z=8.5"])
    with pytest.raises(InputError, match="'fusion' given twice"):
        cls.parse_overrides(["fusion=on", "fusion=off"])


def test_declared_config_choices_are_enforced():
    from dataclasses import dataclass, field

    from vbench_i2v.generators.base import GeneratorBackend, GeneratorConfig

    @dataclass
    class Cfg(GeneratorConfig):
        conv: str = "1+2d"
        act: str = field(default="relu", metadata={"choices": ("relu", "elu")})

    class B(GeneratorBackend):
        name = "choice-test"
        Config = Cfg
        config_choices = {"conv": ("1+2d", "3d")}

    assert B.parse_overrides(["conv=3d", "act=elu"]) == {"conv": "3d", "act": "elu"}
    with pytest.raises(InputError, match="conv must be one of 1\\+2d, 3d; got '2d'"):
        B.parse_overrides(["conv=2d"])
    with pytest.raises(InputError, match="act must be one of relu, elu"):
        B.config_from_dict({"act": "tanh"})  # a saved config is checked the same way


def test_train_cli_switches_and_dataset_options(tmp_path):
    from vbench_i2v.cli import _Main
    from vbench_i2v.cli.train import commands
    from vbench_i2v.generators.registry import get_generator

    cli = _Main(name="vbench", commands={c.name: c for c in commands})
    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a], catch_exceptions=False)  # noqa: E731
    r = run("train", "--generator", "imaginator", "--dataset", "synthetic", "--out", tmp_path / "a", "--amp", "maybe")
    assert r.exit_code == 2 and "--amp must be auto, true/false" in r.output
    r = run("train", "--generator", "imaginator", "--dataset", "synthetic", "--out", tmp_path / "a",
            "--option", "takes=0")
    assert r.exit_code == 2 and "takes must be >= 1" in r.output and not (tmp_path / "a").exists()
    # --resume with other dataset options than the run was started with is refused
    ckpt = tmp_path / "copy"
    get_generator("copy-first-frame")(num_classes=7).save(ckpt)
    (ckpt / "dataset.json").write_text(json.dumps({"name": "synthetic", "root": None,
                                                   "options": {"identities": 5, "takes": 3}}))
    r = run("train", "--generator", "copy-first-frame", "--dataset", "synthetic", "--out", ckpt, "--resume",
            "--option", "identities=4", "--device", "cpu")
    assert r.exit_code == 2 and "--resume with another dataset options" in r.output and "'identities': 5" in r.output
