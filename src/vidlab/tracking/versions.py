"""Data versions: the git commit (and whether the tree is dirty), the dataset fingerprint of the
de-identified metadata, content hashes of files and folders, and fingerprints read from
dvc.lock. No MLflow here."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import yaml

from vidlab.core.errors import DataError
from vidlab.core.fsutil import sha256_file
from vidlab.core.paths import project_root

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

_GIT_TIMEOUT_S = 10


def git(root: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``git <args>`` in ``root``, output captured as text, whatever its exit status.

    Args:
        root: the working directory.
        *args: git's arguments.
        timeout: seconds before it is killed (``subprocess.TimeoutExpired``); None: no limit.

    Raises:
        OSError: when git cannot be started.
    """
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _git(args: list[str], root: Path) -> str | None:
    """Run ``git <args>`` in ``root``; return stdout, or None on any failure (no git, no repo)."""
    try:
        done = git(root, *args, timeout=_GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("git %s failed: %s", " ".join(args), exc)
        return None
    if done.returncode != 0:
        log.debug("git %s exited %d: %s", " ".join(args), done.returncode, done.stderr.strip())
        return None
    return done.stdout


def git_commit(root: Path | None = None) -> tuple[str, bool]:
    """Return the commit checked out in ``root`` and whether the working tree is dirty.

    Untracked files that git does not ignore count as dirty: a new, un-added module changes what
    runs just as much as an edit does.

    Args:
        root: folder inside the checkout; defaults to the project root.

    Returns:
        ``(sha, dirty)``; ``("unknown", False)`` when git is missing or ``root`` is no checkout.
    """
    root = Path(root) if root is not None else project_root()
    sha = _git(["rev-parse", "HEAD"], root)
    if sha is None or not sha.strip():
        return "unknown", False
    status = _git(["status", "--porcelain", "--no-renames", "--untracked-files=all"], root)
    # A failing status after a working rev-parse is odd; call it dirty rather than vouch for it.
    if status is None:
        return sha.strip(), True
    top = _git(["rev-parse", "--show-toplevel"], root)
    produced = pipeline_outputs(Path(top.strip()) if top else root)
    changed = [line[3:].strip().strip('"') for line in status.splitlines() if line.strip()]
    dirty = any(not _produced(path, produced) for path in changed)
    return sha.strip(), dirty


def pipeline_outputs(top: Path) -> list[str]:
    """What `dvc repro` itself writes in a checkout: dvc.lock and every out, metric and plot
    path of dvc.yaml (a templated path counts up to its first ``${``). DVC removes a stage's
    outputs before running it and rewrites dvc.lock as it goes, so a change to these alone does
    not make the code that ran differ from the commit."""
    dvc_yaml = top / "dvc.yaml"
    if not dvc_yaml.is_file():
        return []
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    except yaml.YAMLError:
        return []
    paths = ["dvc.lock"]
    for stage in stages.values():
        body = (stage or {}).get("do", stage) or {}
        for kind in ("outs", "metrics", "plots"):
            for entry in body.get(kind) or []:
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                if isinstance(path, str) and not path.startswith("${"):
                    paths.append(path.split("${")[0].rstrip("/") or path)
    return paths


def _produced(path: str, produced: list[str]) -> bool:
    path = path.rstrip("/")
    return any(path == out or path.startswith(out + "/") for out in produced)


def _file_sha256(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise DataError(f"Cannot read {path} to fingerprint it: {exc.strerror or exc}.") from None


def _tree_files(top: Path) -> list[tuple[str, Path]]:
    """Files under ``top`` as (POSIX path relative to top's parent, path), sorted by the former.

    Keying by top's own name (not its absolute location) lets a copy elsewhere hash the same.
    """
    if top.is_file():
        return [(top.name, top)]
    found = []
    # followlinks: DVC and users often symlink data folders; the content is what counts.
    for folder, _dirs, files in os.walk(top, followlinks=True):
        for name in files:
            path = Path(folder, name)
            found.append((path.relative_to(top.parent).as_posix(), path))
    return sorted(found)


def data_version(metadata_csv_text: str) -> str:
    """THE dataset fingerprint: it names one data version in the summary report, the EDA page,
    the dataset card, the release and every MLflow run. It hashes the de-identified metadata CSV
    that ingest writes, which holds every video's sha256 beside its labels, so any changed video
    byte, label, age or added/removed row changes it; params and derived data (splits, clips)
    do not: those are the processed fingerprint's."""
    return "fp-" + hashlib.sha256(metadata_csv_text.encode()).hexdigest()[:16]


def data_version_of(metadata: Path | None) -> str | None:
    """:func:`data_version` of a metadata CSV on disk; None when it is not there."""
    if metadata is None or not Path(metadata).is_file():
        return None
    return data_version(Path(metadata).read_text(encoding="utf-8"))


def content_hash(*paths: Path) -> str:
    """Hash the content of files and folders into a short, location-independent string (not
    the dataset fingerprint: see :func:`data_version`).

    The hash covers each file's path relative to the parent of the argument it was found under
    (so ``data/videos`` contributes ``videos/a.mp4``) and the sha256 of its bytes. Modification
    times and absolute locations do not count; any changed byte or file name does. Arguments are
    hashed in the order given, so call it with a fixed order.

    Args:
        *paths: files or folders (folders are walked recursively).

    Returns:
        ``"h-"`` followed by 16 hex characters.

    Raises:
        DataError: when a path does not exist or a file cannot be read.
        ValueError: when no path is given.
    """
    if not paths:
        raise ValueError("content_hash needs at least one path.")
    digest = hashlib.sha256()
    for index, raw in enumerate(paths):
        path = Path(raw)
        if not path.exists():
            raise DataError(f"Cannot fingerprint {path}: no such file or folder.")
        # The argument index separates e.g. (a/, b/) from (a/ holding both); NUL cannot occur in
        # a path, so the encoding is unambiguous.
        digest.update(f"arg\0{index}\0".encode())
        for rel, file in _tree_files(path):
            digest.update(f"{rel}\0{_file_sha256(file)}\n".encode())
    return "h-" + digest.hexdigest()[:16]


def read_lock(dvc_lock: Path) -> dict:
    """dvc.lock as a mapping ({} when it is empty).

    Raises:
        DataError: when it is not valid YAML.
    """
    try:
        lock = yaml.safe_load(Path(dvc_lock).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{dvc_lock} is not valid YAML: {exc}") from None
    return lock if isinstance(lock, dict) else {}


def lock_outs(lock: dict) -> dict[str, str]:
    """Map every output path of a parsed dvc.lock (all stages) to its md5."""
    outs: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") and out.get("md5"):
                outs[str(PurePosixPath(out["path"]))] = str(out["md5"])
    return outs


def dvc_fingerprint(dvc_lock: Path, outs: list[str]) -> str | None:
    """Fingerprint data from the md5s DVC already recorded, instead of re-hashing it.

    Args:
        dvc_lock: path of dvc.lock.
        outs: output paths as written in dvc.yaml (e.g. ``data/raw/demo/videos``).

    Returns:
        ``"pd-"`` (processed data) plus 16 hex characters over the sorted (path, md5) pairs of
        ``outs``, or None
        when dvc.lock is missing or any of ``outs`` is not an output in it.

    Raises:
        DataError: when dvc.lock is not valid YAML.
    """
    dvc_lock = Path(dvc_lock)
    if not dvc_lock.is_file() or not outs:
        return None
    return outs_fingerprint(lock_outs(read_lock(dvc_lock)), outs)


def outs_fingerprint(recorded: dict[str, str], outs: list[str]) -> str | None:
    """:func:`dvc_fingerprint` of outputs already read with :func:`lock_outs`."""
    wanted = sorted({str(PurePosixPath(out)) for out in outs})
    missing = [out for out in wanted if out not in recorded]
    if missing or not wanted:
        log.debug("No md5 in dvc.lock for %s", ", ".join(missing))
        return None
    digest = hashlib.sha256()
    for out in wanted:
        digest.update(f"{out}\0{recorded[out]}\n".encode())
    return "pd-" + digest.hexdigest()[:16]
