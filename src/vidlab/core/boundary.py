"""The one error boundary of the CLI: no traceback and no original file name reaches a user.

Every command runs inside :func:`guard`:

* a :class:`~vidlab.core.errors.VidlabError` (bad params, bad data, a refused path) is printed as
  ``Error: <message>``, exit code 2;
* an error of the machine the user can act on (a file that cannot be read or written, a full
  disk, a folder where a file was expected) is printed the same way, with what to check;
* Ctrl-C prints one line saying the command stopped and that outputs are as before it started
  (every stage publishes its outputs as one set, see :mod:`vidlab.core.fsutil`), exit code 130;
* anything else is a bug: a short message plus the path of a log file holding the traceback.

Original names (the researchers' video files, which often hold a child's name) are replaced by
``<file n>`` in every message, log record and traceback text once a command has registered them
with :func:`register_names` (ingest does, before it opens any original).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path

from vidlab.core.errors import VidlabError

LOG_DIR = Path(".vidlab") / "logs"
INTERRUPTED = 130

_names: list[str] = []  # longest first
_pattern: re.Pattern[str] | None = None


def register_names(names: Iterable[str]) -> None:
    """Names (file names, relative paths, stems) never to show; replaced by ``<file n>``."""
    global _pattern
    known = set(_names) | {n for n in names if n and len(n) >= 3}
    _names[:] = sorted(known, key=lambda n: (-len(n), n))
    _pattern = re.compile("|".join(re.escape(n) for n in _names)) if _names else None
    _install_filter()


def register_folder(folder: Path) -> None:
    """Register every file name under ``folder`` (names only; nothing is opened)."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for parent, dirs, files in os.walk(folder):
            for name in [*files, *dirs]:
                rel = Path(parent, name).relative_to(folder)
                found |= {name, Path(name).stem, rel.as_posix(), str(Path(parent, name))}
    register_names(found)


def scrub(text: str) -> str:
    """``text`` with every registered original name replaced by ``<file n>``."""
    if _pattern is None or not text:
        return text
    numbers: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        return f"<file {numbers.setdefault(match.group(0), len(numbers) + 1)}>"

    return _pattern.sub(replace, text)


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is not None:
            record.msg, record.args = scrub(record.getMessage()), None
        return True


_FILTER = _ScrubFilter()


def _install_filter() -> None:
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def _write_log(command: str, exc: BaseException) -> Path | None:
    """The scrubbed traceback in .vidlab/logs/ (in the project); None if it cannot be written."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    from vidlab.core.paths import project_root

    path = project_root() / LOG_DIR / f"{command}-{stamp}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"vidlab {command} on {sys.platform}, Python "
                        f"{sys.version.split()[0]}\n\n{scrub(text)}", encoding="utf-8")
    except OSError:
        return None
    return path


_OS_HINTS = {
    errno.EACCES: "check its permissions (vidlab needs to read every input and write its "
                  "output folders)",
    errno.EPERM: "check its permissions",
    errno.ENOENT: "check the path",
    errno.ENOSPC: "free some disk space (the DVC cache and the clips cache can be large), then "
                  "run it again",
    errno.EISDIR: "a folder is where a file was expected; check the path",
    errno.ENOTDIR: "a file is where a folder was expected; check the path",
    errno.EEXIST: "a file is in the way; move it or choose another path",
    errno.EROFS: "the file system is read-only; choose a writable output folder",
}


def os_message(exc: OSError) -> str:
    """One sentence about a failed file operation, without an original name."""
    what = exc.strerror or type(exc).__name__
    where = f" ({scrub(str(exc.filename))})" if exc.filename else ""
    hint = _OS_HINTS.get(exc.errno or 0, "check the path and the disk")
    return f"{what}{where}: {hint}."


@contextlib.contextmanager
def guard(command: str, echo) -> Iterator[None]:
    """Run a command's body; turn every failure into a message and an exit code.

    Args:
        command: the command's name (for the message and the log file).
        echo: ``echo(text)`` printing to stderr.

    Raises:
        SystemExit: 2 on any failure, 130 on Ctrl-C; other exits pass through.
    """
    import click

    try:
        yield
    except (SystemExit, click.exceptions.Exit, click.exceptions.ClickException,
            click.exceptions.Abort):
        raise
    except VidlabError as exc:
        echo(f"Error: {scrub(str(exc))}")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        echo(f"Interrupted: vidlab {command} stopped. Its outputs are as they were before it "
             "started (a stage publishes its outputs together or not at all); run it again.")
        raise SystemExit(INTERRUPTED) from None
    except OSError as exc:
        log = _write_log(command, exc)
        echo(f"Error: vidlab {command} could not use a file: {os_message(exc)}"
             + (f" Details: {log}" if log else ""))
        raise SystemExit(2) from None
    except Exception as exc:  # the boundary: everything else is a bug, reported as one
        log = _write_log(command, exc)
        where = f"The traceback is in {log}" if log else "No log could be written"
        echo(f"Error: vidlab {command} failed unexpectedly ({type(exc).__name__}: "
             f"{scrub(str(exc))[:300]}). This is a bug in vidlab, not a problem with your data. "
             f"{where} (original file names are replaced in it); please report it with that "
             "file.")
        raise SystemExit(2) from None
