"""What the clips stage writes for others: ``reports/clips/summary.json``."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model


class ClipFailure(Model):
    """A video that could not be decoded into clips."""

    video_id: str
    reason: str


class ClipsSummary(Model):
    """``reports/clips/summary.json``: the cache's counts, the backend that built it, failures."""

    backend: Literal["decord", "pyav"]  # what clips.backend resolved to ("auto" is resolved)
    fallback_pyav: int  # videos the backend refused, decoded by PyAV instead
    failed: list[ClipFailure]
