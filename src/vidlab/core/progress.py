"""Progress bars that stay silent under --quiet and in CI logs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (or re-enable) every progress bar of this process."""
    global _quiet
    _quiet = quiet


def enabled() -> bool:
    """Bars show only on an interactive terminal, outside CI, when not --quiet."""
    return not _quiet and not os.environ.get("CI") and sys.stderr.isatty()


def worker_count(requested: int, jobs: int | None = None) -> int:
    """Processes to use: ``requested``, or every core when it is 0; never more than ``jobs``."""
    count = requested or (os.cpu_count() or 1)
    return max(1, min(count, jobs) if jobs is not None else count)


def track(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """Wrap ``items`` in a tqdm bar when bars are enabled, else return them unchanged."""
    if not enabled():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="video", leave=False)
