"""The real `dvc repro`, in a temporary git repository holding a copy of this project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SMALL_DEMO

# What a fresh clone has: tracked sources and configuration, no data, caches or environments.
IGNORE = shutil.ignore_patterns(".git", ".venv", ".tools", "data", "models", "reports", "mlflow.db",
                                "mlruns", "cache", "tmp", ".dvc-remote", "__pycache__",
                                ".pytest_cache", ".ruff_cache")


def run(cmd: list[str], cwd: Path) -> str:
    env = os.environ | {
        # the venv's bin holds `vidlab`, which dvc.yaml's commands call
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project in a fresh git repository, with the demo shrunk."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=IGNORE)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["demo"].update(SMALL_DEMO)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "copy"], repo)
    return repo


@pytest.mark.slow
def test_dvc_repro_builds_demo_then_has_nothing_to_do(project: Path) -> None:
    first = run(["dvc", "repro"], project)
    assert "Running stage 'demo'" in first
    demo = project / "data" / "raw" / "demo"
    faults = json.loads((demo / "faults.json").read_text())["faults"]
    assert len(faults) == 12
    planted_files = 9
    assert len(list((demo / "videos").iterdir())) == SMALL_DEMO["n_videos"] + planted_files
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert lock["stages"]["demo"]["outs"][0]["path"] == "data/raw/demo"

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second
    assert "Data and pipelines are up to date." in run(["dvc", "status"], project)

    # The outputs are in the DVC cache and can be pushed to the default local remote.
    run(["dvc", "push"], project)
    assert any((project / ".dvc-remote").rglob("*"))
