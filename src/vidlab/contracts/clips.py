"""What the clips stage writes for others: ``reports/clips/summary.json``."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model


class ClipFailure(Model):
    """A video that could not be decoded into clips."""

    video_id: str
    reason: str


class ClipsSummary(Model):
    """``reports/clips/summary.json``: the cache's counts, the backend and decoder that built it,
    failures."""

    backend: Literal["decord", "pyav"]  # what clips.backend resolved to ("auto" is resolved)
    fallback_pyav: int  # videos the backend refused, decoded by PyAV instead
    # the decoder with its version ("decord 0.6.0", "PyAV 14.2.0 (FFmpeg libavcodec 61.3.100)"),
    # and PyAV's where it decoded videos the backend refused
    decoder: str
    failed: list[ClipFailure]
