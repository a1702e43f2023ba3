"""The README documents every command, and every command documents itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
import yaml

from vidlab.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(app).commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_and_is_in_readme(name: str) -> None:
    assert (COMMANDS[name].help or "").strip(), f"`vidlab {name}` has no help text"
    assert f"`vidlab {name}" in README, f"`vidlab {name}` is not in the README"


def test_every_stage_is_in_the_readme_stage_table() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        if "foreach" in stage:  # a stage template, e.g. train@<model>: its cmd with ${item}
            name, stage = f"{name}@model", stage["do"]
        assert re.search(rf"^\| {name} \| `{re.escape(stage['cmd'])}`", README, re.M), name


def test_readme_two_commands_are_what_ci_runs() -> None:
    assert "make repro" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()
