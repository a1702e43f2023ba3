"""`vidlab release <version>`: pin the current dataset version for a paper.

In order, stopping at the first failure (nothing is tagged or pushed before every check passed):

1. the version is a valid git tag name that does not exist yet;
2. the git working tree is clean (no modified, staged or untracked files);
3. the workspace is reproduced: ``dvc status`` reports nothing to do, so dvc.lock (committed)
   describes exactly the data in the workspace;
4. ``reports/readiness.json`` says Go (``--allow-nogo`` overrides, and the tag message says so);
5. ``dvc push`` puts every DVC-tracked output in the remote (``--remote`` or the default one);
6. ``CITATION.cff`` is written (title, authors, version, date, dataset fingerprints, the commit
   the data is pinned at) and committed;
7. that commit gets an annotated tag ``<version>``.

It returns (and the CLI prints) how others get exactly this version: ``dvc get`` / ``dvc import
--rev <version>`` for single outputs, ``git checkout <version> && dvc pull`` for all of it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from vidlab import contracts
from vidlab.config import Params
from vidlab.core.errors import VidlabError
from vidlab.core.fsutil import atomic_write_text
from vidlab.tracking.versions import git

CITATION = "CITATION.cff"
SPDX_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
GET_EXAMPLES = ("data/interim/manifest.parquet", "data/interim/metadata.csv")


class ReleaseError(VidlabError):
    """The workspace cannot be released as it is (the message says why and what to do)."""


def _stdout(cmd: list[str], done: subprocess.CompletedProcess, what: str) -> str:
    """``done``'s stdout; a ReleaseError naming ``what`` and ``cmd`` when it failed."""
    if done.returncode != 0:
        raise ReleaseError(f"{what} failed ({' '.join(cmd[:4])} ...): "
                           f"{(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def _run(cmd: list[str], root: Path, what: str) -> str:
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    return _stdout(cmd, done, what)


def _git(root: Path, *args: str, what: str = "git") -> str:
    return _stdout(["git", *args], git(root, *args), what)


def _dvc(root: Path, *args: str, what: str = "dvc") -> str:
    return _run([sys.executable, "-m", "dvc", *args], root, what)


def check(params: Params, version: str, *, root: Path, allow_nogo: bool = False,
          remote: str | None = None) -> dict:
    """Every precondition of a release; returns what the release will record."""
    root = Path(root).resolve()
    if git(root, "rev-parse", "--show-toplevel").returncode != 0:
        raise ReleaseError(f"{root} is not a git repository; a release is a git tag.")
    valid = git(root, "check-ref-format", f"refs/tags/{version}")
    if valid.returncode != 0 or not version.strip():
        raise ReleaseError(f"{version!r} is not a valid git tag name; use e.g. v1.0.")
    if git(root, "rev-parse", "-q", "--verify", f"refs/tags/{version}").returncode == 0:
        raise ReleaseError(f"Tag {version} already exists; a released version never changes. "
                           "Choose a new version.")
    dirty = _git(root, "status", "--porcelain", what="git status").splitlines()
    if dirty:
        listed = ", ".join(line[3:] for line in dirty[:8])
        raise ReleaseError(f"The git working tree is not clean ({len(dirty)} path(s): {listed}). "
                           "Commit or remove them (after `dvc repro`, commit dvc.lock and the "
                           "metrics), then release.")
    status = _dvc(root, "status", "--json", what="dvc status").strip() or "{}"
    changed = json.loads(status)
    if changed:
        raise ReleaseError(f"The workspace is not reproduced: `dvc status` lists "
                           f"{', '.join(sorted(changed)[:8])}. Run `dvc repro`, commit dvc.lock, "
                           "then release.")
    readiness_file = root / "reports" / "readiness.json"
    if not readiness_file.is_file():
        raise ReleaseError(f"No {readiness_file.relative_to(root)}: run `dvc repro card` first.")
    readiness = contracts.read(readiness_file, contracts.Readiness)
    if readiness.verdict != "Go" and not allow_nogo:
        open_items = readiness.failed + readiness.not_proven
        raise ReleaseError(f"Readiness is {readiness.verdict} on "
                           f"{', '.join(open_items)} (reports/readiness.md). "
                           "Fix them, or release anyway with --allow-nogo (the tag says so).")
    remotes = [line.split()[0] for line in _dvc(root, "remote", "list",
                                                what="dvc remote list").splitlines()
               if line.strip()]
    default = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], cwd=root,
                             capture_output=True, text=True, check=False).stdout.strip()
    chosen = remote or default
    if not chosen or chosen not in remotes:
        raise ReleaseError(f"No DVC remote {chosen or '(none set)'} to push to; configured: "
                           f"{remotes or 'none'}. Add one with `dvc remote add -d NAME URL`.")
    summary_file = root / "reports" / "summary" / "summary.json"
    summary = (contracts.read(summary_file, contracts.DatasetSummary) if summary_file.is_file()
               else None)
    from vidlab import tracking
    from vidlab.tracking.pipeline import DATA_OUTS

    return {"version": version, "commit": _git(root, "rev-parse", "HEAD").strip(),
            "remote": chosen, "verdict": readiness.verdict,
            "failed": readiness.failed,
            "dataset_fingerprint": summary.dataset_fingerprint if summary else None,
            "processed_fingerprint": tracking.dvc_fingerprint(root / "dvc.lock", DATA_OUTS),
            "origin": git(root, "remote", "get-url", "origin").stdout.strip() or None}


def citation(params: Params, info: dict, today: dt.date) -> str:
    """The CITATION.cff text (Citation File Format 1.2.0) of a release."""
    c = params.card
    authors = [{"name": name} for name in c.authors] or [{"name": "Unknown (set card.authors)"}]
    entry: dict = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite this exact version.",
        "type": "dataset",
        "title": c.title,
        "version": info["version"],
        "date-released": today.isoformat(),
        "authors": authors,
        "abstract": " ".join(filter(None, [c.motivation, f"Licence: {c.licence}" if c.licence
                                           else None])) or c.title,
        "commit": info["commit"],
        "identifiers": [
            {"type": "other", "value": f"vidlab-dataset-fingerprint:{info['dataset_fingerprint']}",
             "description": "Content fingerprint of the de-identified metadata"},
            {"type": "other",
             "value": f"vidlab-processed-fingerprint:{info['processed_fingerprint']}",
             "description": "Fingerprint of the splits and clips (dvc.lock md5s)"}],
        "keywords": ["video", "dataset", "vidlab"],
    }
    first = (c.licence or "").split()[0] if c.licence else ""
    if first and SPDX_LIKE.match(first):
        entry["license"] = first
    if info.get("origin"):
        entry["repository-code"] = info["origin"]
    return yaml.safe_dump(entry, sort_keys=False, allow_unicode=True)


def instructions(info: dict, root: Path) -> str:
    where = info.get("origin") or str(Path(root).resolve())
    v = info["version"]
    lines = [f"Released {v}: tag {v} on the commit holding {CITATION}; data pushed to DVC remote "
             f"'{info['remote']}'.",
             f"Dataset fingerprint {info['dataset_fingerprint']}, processed data "
             f"{info['processed_fingerprint']}.", "",
             "Others get exactly this version with:",
             f"  git clone {where} && cd <it> && git checkout {v} && uv run dvc pull",
             "or single outputs, without cloning:"]
    lines += [f"  dvc get {where} {path} --rev {v}" for path in GET_EXAMPLES]
    lines += [f"  dvc import {where} data/processed/splits.csv --rev {v}   # keeps the link; "
              "`dvc update --rev <newer>` moves it"]
    return "\n".join(lines)


def release(params: Params, version: str, *, root: Path, allow_nogo: bool = False,
            remote: str | None = None, today: dt.date | None = None) -> dict:
    """Check, push, write and commit CITATION.cff, tag. Returns the release info."""
    root = Path(root).resolve()
    info = check(params, version, root=root, allow_nogo=allow_nogo, remote=remote)
    _dvc(root, "push", *(["-r", info["remote"]] if remote else []), what="dvc push")
    atomic_write_text(root / CITATION, citation(params, info, today or dt.date.today()))
    _git(root, "add", CITATION, what="git add")
    _git(root, "commit", "-q", "-m", f"Release {version}: {CITATION} (dataset "
         f"{info['dataset_fingerprint']}, processed {info['processed_fingerprint']})",
         what="git commit")
    note = (f"vidlab dataset {version}\n\ndataset fingerprint {info['dataset_fingerprint']}\n"
            f"processed fingerprint {info['processed_fingerprint']}\ndata commit "
            f"{info['commit']}\nreadiness {info['verdict']}"
            + (f" (released with --allow-nogo; No-Go on {', '.join(info['failed'])})"
               if info["verdict"] != "Go" else ""))
    _git(root, "tag", "-a", version, "-m", note, what="git tag")
    info["tag_commit"] = _git(root, "rev-parse", "HEAD").strip()
    info["instructions"] = instructions(info, root)
    return info
