"""Per-file time limits that scale with the work: ``base + factor x gigapixels``.

A fixed limit either kills long high-resolution files that are fine (120 s of 1080p HEVC on a
busy machine) or waits minutes for a hang in a short one. The work a decode does grows with the
pixels it produces, so each file gets ``timeout_s + timeout_per_gigapixel_s x g``, where ``g``
is its duration x width x height x frame rate / 1e9 from the container's header (0 when the
header does not say; the file then gets the base). One gigapixel is about 16 s of 1080p at 30
fps. The headers are read in the same isolated workers as the work (a hostile header must not
crash the stage), each within the base limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def gigapixels(path: str | Path) -> float:
    """duration x width x height x frame rate / 1e9 of the first video stream; 0 if unknown."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return 0.0
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0)
        duration = 0.0
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1e6
        return max(0.0, duration * (ctx.width or 0) * (ctx.height or 0) * rate / 1e9)


def _item(path: str) -> float:
    try:
        return gigapixels(path)
    except Exception:  # an unreadable header: the worker that does the work will say why
        return 0.0


def timeouts(paths: Sequence[str | Path], *, base_s: float, per_gigapixel_s: float,
             workers: int, engine: str = "local", address: str | None = None) -> list[float]:
    """One time limit per path: ``base_s + per_gigapixel_s x`` :func:`gigapixels`."""
    if not per_gigapixel_s or not paths:
        return [base_s] * len(paths)
    from vidlab.core.engine import run_tasks

    sizes = [0.0] * len(paths)
    for outcome in run_tasks(_item, [str(p) for p in paths], workers=workers, timeout_s=base_s,
                             engine=engine, address=address):
        if outcome.status == "ok":
            sizes[outcome.index] = float(outcome.value)
    return [base_s + per_gigapixel_s * size for size in sizes]
