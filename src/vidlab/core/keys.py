"""The HMAC key and the re-identification mapping: both live outside the repository.

The key comes from ``VIDLAB_HMAC_KEY`` or a key file (``$VIDLAB_KEY_DIR``, default
``~/.config/vidlab``, file ``hmac.key``) created with mode 0600 on first use. The demo uses a fixed,
published key so that anyone can reproduce it; that key is refused for any other data. The mapping
original -> pseudonym is the re-identification key: it is written beside the HMAC key, mode 0600,
never under data/ or reports/, and never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from pathlib import Path

from vidlab.core.errors import DataError
from vidlab.core.paths import key_dir

log = logging.getLogger(__name__)

DEMO_KEY = b"vidlab-demo-key-published-not-secret-v1"
ENV_KEY = "VIDLAB_HMAC_KEY"
KEY_FILE = "hmac.key"
MAPPING_FILE = "video_mapping.json"  # original file name -> pseudonymous file name


def load_key(source: str) -> bytes:
    """Return the HMAC key for a data source ('demo' or 'custom').

    Raises:
        DataError: when the demo key is offered for real data, or the key is too short.
    """
    if source == "demo":
        return DEMO_KEY
    value = os.environ.get(ENV_KEY)
    key = value.encode() if value else _key_file()
    if key == DEMO_KEY:
        raise DataError("The published demo key cannot de-identify real data: anyone could "
                        f"recompute the pseudonyms. Unset {ENV_KEY} to use a private key file.")
    return check_key(key)


MIN_KEY_LENGTH = 16


def check_key(key: object) -> bytes:
    """A key given by a caller (the CLI's environment, the Python API) as bytes, or a clear error:
    text is encoded as UTF-8; anything shorter than 16 bytes is refused (guessable).

    Raises:
        DataError: when ``key`` is not text or bytes, or is too short.
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes | bytearray):
        raise DataError(f"The HMAC key must be text or bytes, not {type(key).__name__}.")
    if len(key) < MIN_KEY_LENGTH:
        raise DataError(f"The HMAC key must have at least {MIN_KEY_LENGTH} characters; it has "
                        f"{len(key)}.")
    return bytes(key)


def require_demo(csv_path: Path, videos: Path) -> None:
    """Refuse the published demo key unless ``csv_path`` and ``videos`` are exactly the demo
    that `vidlab demo` generated: recognised by content (every file's sha256 as its answer key
    records them), not by ``data.source``, which a user can forget to change.

    Raises:
        DataError: when they are anything else.
    """
    from vidlab.core.fsutil import content_digests
    from vidlab.core.paths import DEMO_FAULTS

    folder = Path(csv_path).parent
    why = ""
    try:
        marker = folder / DEMO_FAULTS.name
        recorded = json.loads(marker.read_text(encoding="utf-8")).get("content")
    except (OSError, ValueError):
        recorded = None
    if not recorded:
        why = "they are not a folder `vidlab demo` wrote"
    elif Path(csv_path).name != "metadata.csv" or \
            Path(videos).resolve() != (folder / "videos").resolve():
        why = "the CSV and the video folder are not the demo's pair"
    else:
        try:
            found = content_digests(folder)
        except OSError:
            found = {}
        if found != recorded:
            changed = sorted(set(found) ^ set(recorded)) + sorted(
                k for k in set(found) & set(recorded) if found[k] != recorded[k])
            why = f"{len(changed)} file(s) differ from the generated demo"
    if why:
        raise DataError(
            f"The published demo key de-identifies only vidlab's own generated demo, and "
            f"{csv_path} with {videos} is not it ({why}). With the demo key anyone could "
            "recompute every pseudonym of your files. Set data.source: custom in params.yaml "
            f"(and data.csv, data.videos to your files): vidlab then makes a private key in "
            f"{key_dir()}.")


def _key_file() -> bytes:
    folder = key_dir()
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        log.warning("Created a new HMAC key at %s (mode 0600). Back it up: without it the "
                    "pseudonyms cannot be reproduced.", path)
    return path.read_text().strip().encode()


def write_private(name: str, data: dict, *, label: str) -> Path:
    """Write ``data`` as JSON beside the key, mode 0600, atomically. Returns its path.

    Args:
        name: file name, e.g. video_mapping.json.
        data: the mapping or report (identifying: never copy it under data/ or reports/).
        label: sub-folder per dataset, so that several datasets keep separate mappings.
    """
    folder = key_dir_for(label)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    tmp = folder / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=True)
    os.replace(tmp, path)
    return path


def key_dir_for(label: str) -> Path:
    """The private folder of one dataset (see :func:`dataset_label`), beside the key."""
    return key_dir() / "mappings" / label


def dataset_label(key: bytes, csv_path: Path) -> str:
    """A folder name for a dataset's private files that reveals nothing about it."""
    if key == DEMO_KEY:
        return "demo"
    digest = hashlib.sha256(key + str(Path(csv_path).resolve()).encode()).hexdigest()
    return f"dataset-{digest[:12]}"
