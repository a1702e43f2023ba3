"""The `vidlab` command line: fast start, version, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.depgraph import ROOT as REPO
from vidlab import __version__
from vidlab.cli.main import app

ROOT = REPO
HEAVY = ("torch", "torchvision", "pytorch_lightning", "lightning", "mlflow", "great_expectations",
         "decord")
runner = CliRunner()


def command_names() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)


@pytest.mark.parametrize("argv", [["--help"], *[[name, "--help"] for name in command_names()]])
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    """`vidlab --help` (and each command's help) must not pay for torch, MLflow or GX."""
    code = (
        "import json, sys\n"
        "from vidlab.cli.main import app\n"
        f"try:\n    app({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"vidlab {__version__}"


def test_installed_entry_point() -> None:
    exe = Path(sys.executable).parent / "vidlab"
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "demo" in done.stdout


def test_params_command_prints_resolved_values() -> None:
    result = runner.invoke(app, ["params", "--params", str(ROOT / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["demo"]["fps"] == 15


def test_bad_params_exit_2_with_message(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["demo"]["n_videos"] = -3
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["demo", "--params", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "The 'n_videos' parameter of demo must be an int in [4, 100000]. Got -3" in result.output
    assert not (tmp_path / "out").exists()


def test_demo_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.docx").write_text("years of work")
    result = runner.invoke(
        app, ["demo", "--params", str(ROOT / "params.yaml"), "--out", str(precious)]
    )
    assert result.exit_code == 2
    assert "Refusing to overwrite" in result.output
    assert (precious / "chapter1.docx").read_text() == "years of work"


def test_demo_is_skipped_for_custom_data(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"] = {"source": "custom", "csv": "/study/meta.csv", "videos": "/study/videos"}
    custom = tmp_path / "params.yaml"
    custom.write_text(yaml.safe_dump(raw))
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--params", str(custom), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["annotations", "faults.json"]
    assert [p.name for p in (out / "annotations").iterdir()] == ["README.txt"]  # only a note
    assert json.loads((out / "faults.json").read_text())["skipped"]
