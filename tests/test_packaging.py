"""The explicit package list in pyproject.toml must cover every package folder."""

import tomllib
from pathlib import Path

from click.testing import CliRunner

import vbench_i2v
from vbench_i2v.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _expected_packages() -> set[str]:
    mapping = {"vbench_i2v": "vbench_i2v", "generators": "vbench_i2v.generators",
               "feature_extractors": "vbench_i2v.feature_extractors"}
    found = set()
    for folder, name in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in rel:
                found.add(".".join((name,) + rel))
    return found


def test_pyproject_lists_every_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data_only = {"vbench_i2v.leaderboards"}  # leaderboards/: the paper's numbers, no code
    assert set(cfg["packages"]) - data_only == _expected_packages()
    assert cfg["package-dir"]["vbench_i2v.leaderboards"] == "leaderboards"


def test_generators_and_extractors_import_under_vbench_name():
    import vbench_i2v.feature_extractors as fe
    import vbench_i2v.generators as gen

    assert Path(gen.__file__).parent == ROOT / "generators"
    assert Path(fe.__file__).parent == ROOT / "feature_extractors"


def test_cli_help_and_version():
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and vbench_i2v.__version__ in r.output
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0 and "datasets" in r.output
