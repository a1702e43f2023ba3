"""Safe writes: every output is written to a temporary sibling path, then renamed into place."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from vidlab.core.errors import DataError

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


def content_digests(folder: Path) -> dict[str, str]:
    """sha256 of metadata.csv and of every entry under videos/ (a link or non-file by kind)."""
    found = {}
    for path in sorted([folder / "metadata.csv", *(folder / "videos").rglob("*")]):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink() or not path.is_file():
            found[rel] = "link" if path.is_symlink() else "dir" if path.is_dir() else "other"
        else:
            found[rel] = sha256_file(path)
    return found


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
    if path.is_dir():
        raise DataError(f"{path} is a folder; an output file is needed there. Move it or choose "
                        "another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
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
    _check_output_folder(out, marker)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out.parent, out.name)  # what a killed run left
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp",
                                dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name in KEEP:  # DVC's .gitignore for outputs inside this folder stays
        if (out / name).exists() and not (tmp / name).exists():
            shutil.copy2(out / name, tmp / name)
    _replace(tmp, out)


def _check_output_folder(out: Path, marker: str) -> None:
    """Refuse an output folder path that holds a file, or a folder vidlab did not write."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; an output folder is needed there. Move it or choose "
                        "another path.")
    if out.is_dir() and _foreign(out) and not (out / marker).exists():
        raise DataError(
            f"Refusing to overwrite {out}: it holds files that vidlab did not write "
            f"(no {marker} in it). Choose an empty or new output folder."
        )


# --- a stage's outputs as one set -------------------------------------------------------------

JOURNAL_PREFIX = ".vidlab-publish-"
# What a writer stages beside a final path: ``.name.<pid>.<random>.tmp`` (mkstemp/mkdtemp) and
# ``.name.old-<pid>`` (the previous output while it is being replaced).
_STAGED = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp|old-(?P<old>\d+))$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(folder: Path, name: str | None = None) -> list[Path]:
    """Remove what a killed writer of ``folder/name`` (None: of anything in ``folder``) left: its
    staged ``.name.<pid>.*.tmp`` and ``.name.old-<pid>`` siblings whose process is gone. Returns
    what was removed."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for path in Path(folder).iterdir():
        found = _STAGED.match(path.name)
        if not found or name is not None and found["name"] != name:
            continue
        pid = int(found["pid"] or found["old"])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        _remove(path)
        removed.append(path)
    return removed


def _remove(path: Path) -> None:
    """Delete a file, link or folder tree; nothing there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _replace(staged: Path | None, final: Path) -> None:
    """Put ``staged`` at ``final`` (None: remove ``final``), whatever either is."""
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        _remove(old)
        os.replace(final, old)
    if staged is not None:
        os.replace(staged, final)
    if old is not None:
        _remove(old)


def finish_publish(journal: Path) -> bool:
    """Complete a publication a killed process left half done (its journal says what was
    staged). Returns whether there was one."""
    import json

    journal = Path(journal)
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except ValueError:  # the journal itself was cut: nothing had been moved yet
        journal.unlink()
        return False
    for entry in entries:
        staged = Path(entry["staged"]) if entry["staged"] else None
        final = Path(entry["final"])
        if staged is None or staged.exists():
            _replace(staged, final)
    journal.unlink()
    return True


# Folders of a project never holding vidlab's outputs, and too big to walk at every start.
_SKIP = frozenset({"node_modules", "venv", "__pycache__", "mlruns", "src", "tests"})


def _output_folders(root: Path, depth: int) -> Iterator[Path]:
    """``root``'s non-hidden folders down to ``depth`` levels (links not followed)."""
    level = [Path(root)]
    for _ in range(depth):
        below = []
        for folder in level:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            below += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)
                      and not e.name.startswith(".") and e.name not in _SKIP]
        yield from below
        level = below


def finish_pending(root: Path, depth: int = 3) -> list[Path]:
    """What every command does first, so none reads half of another's outputs: complete each
    publication a killed stage left half done (:func:`finish_publish` on its journal), then
    remove what killed writers staged and never published (their process is gone). Looks in
    the project's non-hidden folders down to ``depth`` levels; returns the journals completed."""
    done = []
    folders = list(_output_folders(root, depth))
    for folder in folders:
        for journal in sorted(folder.glob(f"{JOURNAL_PREFIX}*.json")):
            if finish_publish(journal):
                done.append(journal)
    for folder in folders:
        with contextlib.suppress(OSError):
            clean_stale(folder)
    return done


class OutputSet:
    """Stage every output of a stage, then publish them together.

    ``folder()`` and ``file()`` hand out staging paths beside each final path; when the ``with``
    block ends without an error, a journal listing them is written, then each is renamed into
    place, then the journal goes. A process killed during the renames leaves the journal, and
    :func:`finish_publish` (run by the next command) completes them. On an error nothing is
    published and the staging paths are removed. ``remove()`` adds a final path to delete
    with the set (a failed run's stale outputs)."""

    def __init__(self, journal: Path) -> None:
        self.journal = Path(journal)
        self.entries: list[tuple[Path | None, Path]] = []

    def __enter__(self) -> OutputSet:
        finish_publish(self.journal)
        return self

    def _prepare(self, final: Path) -> str:
        """Make ``final``'s folder, clear what a killed writer left there; the staging prefix."""
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(final.parent, final.name)
        return f".{final.name}.{os.getpid()}."

    def folder(self, final: Path, *, marker: str) -> Path:
        """A staging folder for ``final`` (refused when ``final`` is someone else's folder)."""
        final = Path(final)
        _check_output_folder(final, marker)
        staged = Path(tempfile.mkdtemp(prefix=self._prepare(final), suffix=".tmp",
                                       dir=final.parent))
        for name in KEEP:  # DVC's .gitignore for outputs inside this folder stays
            if (final / name).is_file():
                shutil.copy2(final / name, staged / name)
        self.entries.append((staged, final))
        return staged

    def file(self, final: Path) -> Path:
        """A staging path (an empty file beside ``final``) to write ``final``'s content to."""
        final = Path(final)
        if final.is_dir():
            raise DataError(f"{final} is a folder; an output file is needed there. Move it or "
                            "choose another path.")
        fd, staged = tempfile.mkstemp(prefix=self._prepare(final), suffix=".tmp",
                                      dir=final.parent)
        os.close(fd)
        self.entries.append((Path(staged), final))
        return Path(staged)

    def text(self, final: Path, text: str) -> None:
        self.file(final).write_text(text, encoding="utf-8", newline="\n")

    def remove(self, final: Path) -> None:
        self.entries.append((None, Path(final)))

    def discard(self, *, keep: Sequence[Path] = ()) -> None:
        """Drop everything staged so far but the finals in ``keep``."""
        kept = {Path(k) for k in keep}
        for staged, final in self.entries:
            if staged is not None and final not in kept:
                _remove(staged)
        self.entries = [(s, f) for s, f in self.entries if f in kept]

    def __exit__(self, kind, exc, tb) -> None:
        import json

        if kind is not None:
            self.discard()
            return
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.journal, json.dumps(
            [{"staged": str(s.resolve()) if s else None, "final": str(f.resolve())}
             for s, f in self.entries]))
        finish_publish(self.journal)
