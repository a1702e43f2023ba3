"""Canonical locations. dvc.yaml spells every path out; these are the defaults the CLI uses."""

from __future__ import annotations

import os
from pathlib import Path


def project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` holding params.yaml, else the cwd.

    Args:
        start: folder to search from; defaults to the current working directory.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file():
            return folder
    return here


PARAMS_FILE = Path("params.yaml")
DATA = Path("data")
RAW = DATA / "raw"
DEMO = RAW / "demo"
DEMO_CSV = DEMO / "metadata.csv"
DEMO_VIDEOS = DEMO / "videos"
DEMO_FAULTS = DEMO / "faults.json"
INTERIM = DATA / "interim"
PROCESSED = DATA / "processed"
MODELS = Path("models")
REPORTS = Path("reports")
MLFLOW_DB = Path("mlflow.db")


def key_dir() -> Path:
    """Folder for secrets (HMAC key, re-identification mapping): outside the repository.

    ``VIDLAB_KEY_DIR`` overrides the default ``~/.config/vidlab``.
    """
    configured = os.environ.get("VIDLAB_KEY_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".config" / "vidlab"
