"""Atomic outputs: a failed run leaves the previous output untouched and no debris."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir, atomic_write_text, sha256_file


def test_atomic_dir_replaces_own_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_dir(out, marker="MARK") as tmp:
        (tmp / "MARK").write_text("1")
    with atomic_dir(out, marker="MARK") as tmp:
        (tmp / "MARK").write_text("2")
    assert (out / "MARK").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_keeps_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_dir(out, marker="MARK") as tmp:
        (tmp / "MARK").write_text("good")
    with pytest.raises(RuntimeError), atomic_dir(out, marker="MARK") as tmp:
        (tmp / "MARK").write_text("half")
        raise RuntimeError("stage failed")
    assert (out / "MARK").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="Refusing to overwrite"), atomic_dir(tmp_path, marker="M"):
        pass
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_atomic_write_text_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.txt"
    atomic_write_text(path, "hello\n")
    assert path.read_text() == "hello\n"
    assert sha256_file(path) == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert [p.name for p in path.parent.iterdir()] == ["b.txt"]


def test_dvc_gitignore_is_not_foreign_and_survives(tmp_path: Path) -> None:
    """DVC deletes a stage's outputs before a rerun but leaves its .gitignore in the folder."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".gitignore").write_text("/docs\n")
    with atomic_dir(out, marker="MARK") as tmp:
        (tmp / "MARK").write_text("1")
    assert (out / ".gitignore").read_text() == "/docs\n"


def _dead_pid() -> int:
    """A process id that no longer runs (a child that has exited and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_kill_during_publishing_is_completed_by_the_next_command(tmp_path: Path) -> None:
    """The journal a killed OutputSet left is completed (every output moves, not some), and what
    killed writers staged but never published is removed, wherever the outputs live."""
    import json

    from vidlab.core.fsutil import JOURNAL_PREFIX, finish_pending

    out = tmp_path / "results" / "stage"
    out.mkdir(parents=True)
    (out / "a.csv").write_text("old a")
    (out / "b.json").write_text("old b")
    dead = _dead_pid()
    staged_a = out / f".a.csv.{dead}.abcd1234.tmp"
    staged_a.write_text("new a")
    staged_b = out / f".b.json.{dead}.efgh5678.tmp"
    staged_b.write_text("new b")
    # killed after moving nothing: the journal names both
    (out / f"{JOURNAL_PREFIX}stage.json").write_text(json.dumps(
        [{"staged": str(staged_a), "final": str(out / "a.csv")},
         {"staged": str(staged_b), "final": str(out / "b.json")}]))
    orphan = tmp_path / "results" / f".clips.{dead}.x1y2z3w4.tmp"
    orphan.mkdir()
    (orphan / "big.npy").write_bytes(b"0" * 10)
    alive = tmp_path / "results" / f".clips.{os.getpid()}.q1w2e3r4.tmp"  # a running writer's
    alive.mkdir()

    assert finish_pending(tmp_path) == [out / f"{JOURNAL_PREFIX}stage.json"]
    assert (out / "a.csv").read_text() == "new a" and (out / "b.json").read_text() == "new b"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.json"]
    assert not orphan.exists() and alive.exists()
