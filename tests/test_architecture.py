"""The code's shape: dvc.yaml's code deps follow the import graph, the layers hold, no module
reaches into another's private names, no module is over 400 lines."""

from __future__ import annotations

import ast
import functools
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests import depgraph

ROOT = depgraph.ROOT
SRC = ROOT / "src" / "vidlab"
MAX_LINES = 400


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of src/ and dvc.yaml to plant changes in."""
    shutil.copytree(ROOT / "src", tmp_path / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    return tmp_path


def test_dvc_yaml_lists_exactly_the_code_each_stage_runs():
    assert depgraph.check() == []


def test_every_stage_finds_its_command_and_package():
    source = depgraph.Source(ROOT / "src")
    for name, spec in depgraph.stages(ROOT / "dvc.yaml").items():
        stage = name.split("@")[0]
        modules = source.stage_modules(depgraph.command_of(spec))
        assert f"vidlab.stages.{stage}" in modules, name  # one package per stage, named alike
        others = {m.split(".")[2] for m in modules if m.startswith("vidlab.stages.")
                  and m.count(".") >= 2}
        assert others == {stage}, f"{name} runs code of other stages: {others - {stage}}"


def test_a_planted_import_without_its_dep_fails(copy):
    stage = copy / "src" / "vidlab" / "stages" / "split" / "stage.py"
    stage.write_text(stage.read_text(encoding="utf-8")
                     + "\n\ndef planted():\n    from vidlab.synth import scene\n\n"
                       "    return scene\n", encoding="utf-8")
    problems = depgraph.check(copy, src=copy / "src", dvc_yaml=copy / "dvc.yaml")
    assert "split: runs src/vidlab/synth/scene.py but dvc.yaml does not list it" in problems
    assert all(p.startswith("split: ") for p in problems), problems  # nothing else uses split


def test_a_shared_library_change_reaches_every_stage_that_imports_it(copy):
    # a module-level import in a library: every stage whose code imports that library now runs it
    lib = copy / "src" / "vidlab" / "data" / "usable.py"
    lib.write_text(lib.read_text(encoding="utf-8") + "\nfrom vidlab.media import sheets  # noqa\n",
                   encoding="utf-8")
    problems = depgraph.check(copy, src=copy / "src", dvc_yaml=copy / "dvc.yaml")
    flagged = {p.split(":")[0].split("@")[0] for p in problems if "media/sheets.py" in p}
    # use usable, not the contact sheets
    assert flagged == {"split", "annotations", "task_baselines", "score_task"}
    # dedup also imports usable, but runs the contact sheets already and lists them


def test_a_dep_on_code_the_stage_does_not_run_fails(copy):
    text = (copy / "dvc.yaml").read_text(encoding="utf-8")
    marker = "      - src/vidlab/stages/split\n"
    assert marker in text
    (copy / "dvc.yaml").write_text(text.replace(marker, marker + "      - src/vidlab/synth\n"),
                                   encoding="utf-8")
    problems = depgraph.check(copy, src=copy / "src", dvc_yaml=copy / "dvc.yaml")
    assert problems == ["split: lists src/vidlab/synth, which it does not run"]


def _lint_imports(src: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(src)}  # the package under src, not the installed one
    return subprocess.run([str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_layers_and_stage_independence_hold():
    done = _lint_imports(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_a_stage_importing_another_stage_breaks_the_contract(copy):
    stage = copy / "src" / "vidlab" / "stages" / "card" / "stage.py"
    stage.write_text(stage.read_text(encoding="utf-8")
                     + "\nfrom vidlab.stages.eda import stage as _eda  # noqa\n", encoding="utf-8")
    done = _lint_imports(copy / "src")
    assert done.returncode != 0
    assert "vidlab.stages.card is not allowed to import vidlab.stages.eda" in done.stdout


@functools.cache
def _modules() -> frozenset[str]:
    return frozenset(depgraph.Source(ROOT / "src").files)


def _private_uses(path: Path) -> list[str]:
    """``from vidlab.x import _name`` and ``module._name`` on an imported vidlab module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, modules = [], set()
    files = _modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vidlab"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in files:
                    modules.add(alias.asname or alias.name)
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} imports {full}")
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name.startswith("vidlab") and a.asname}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    found = [use for path in sorted(SRC.rglob("*.py")) for use in _private_uses(path)]
    assert found == []


def test_the_private_names_check_can_fail(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from vidlab.core.fsutil import _foreign\nfrom vidlab.core import paths "
                       "as p\n\nx = p._hidden\n", encoding="utf-8")
    assert len(_private_uses(planted)) == 2


def test_no_source_module_is_over_the_line_limit():
    long = {path.relative_to(ROOT).as_posix(): n for path in SRC.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_version_is_written_once():
    from vidlab import __version__
    from vidlab.core.version import VERSION

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert VERSION == __version__ == project["version"]


def test_tests_mirror_the_layout():
    """Every stage package has its tests under tests/stages/<stage>/, and no test module sits
    at the top of tests/ unless it is end-to-end (it exercises several stages or the repo)."""
    stages = sorted(p.name for p in (ROOT / "src" / "vidlab" / "stages").iterdir()
                    if (p / "stage.py").is_file())
    missing = [s for s in stages if not list((ROOT / "tests" / "stages" / s).glob("test_*.py"))]
    # compare is tested on the evaluated models (tests/stages/evaluate), release end to end
    # (test_pipeline)
    assert missing == ["compare", "release"], missing
    top = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert top == ["test_architecture.py", "test_custom_acceptance.py", "test_docs.py",
                   "test_hostile.py", "test_media_pipeline.py", "test_pipeline.py",
                   "test_platforms.py"], top
