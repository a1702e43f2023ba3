"""Safe writes: every output is written to a temporary sibling path, then renamed into place."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from vidlab.errors import DataError

_CHUNK = 1 << 20
# Files in an output folder that belong to git/DVC bookkeeping, not to anyone's data.
KEEP = (".gitignore",)


def _foreign(folder: Path) -> bool:
    return any(p.name not in KEEP for p in folder.iterdir())


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """Rows as CSV text with a header and '\\n' line ends (stable bytes on every platform)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(out: Path, *, marker: str) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``out`` only if the block succeeds.

    Args:
        out: the final folder.
        marker: a file name that identifies vidlab's own previous output. An existing ``out``
            without it is refused rather than deleted, so nobody loses files to a wrong path.

    Raises:
        DataError: when ``out`` exists, is not empty and is not vidlab's own output.
    """
    out = Path(out)
    if out.exists() and _foreign(out) and not (out / marker).exists():
        raise DataError(
            f"Refusing to overwrite {out}: it holds files that vidlab did not write "
            f"(no {marker} in it). Choose an empty or new output folder."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        for name in KEEP:  # DVC's .gitignore for outputs inside this folder stays
            if (out / name).exists() and not (tmp / name).exists():
                shutil.copy2(out / name, tmp / name)
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
