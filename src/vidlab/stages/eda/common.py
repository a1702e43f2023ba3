"""Helpers shared by the eda views: decoding a few frames, picking items evenly, saving figures."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vidlab.core.render import save_figure

log = logging.getLogger(__name__)

SPLIT_ORDER = ("train", "val", "test")


def frames(path: str, indices: list[int] | None = None, count: int = 3) -> list[np.ndarray]:
    """Frames of a video: ``indices``, or ``count`` evenly spaced. [] when it cannot be decoded."""
    from vidlab.media.decode import open_video

    try:
        reader = open_video(path, "pyav")
        try:
            total = len(reader.times)
            if indices is None:
                indices = sorted({round(k * (total - 1) / max(1, count - 1))
                                  for k in range(count)}) if total else []
            return list(reader.get_frames([min(i, total - 1) for i in indices]))
        finally:
            reader.close()
    except Exception as exc:  # an undecodable file is itself an outlier, shown without frames
        log.warning("eda: cannot decode %s (%s)", Path(path).name, exc)
        return []


def spread(items: list, count: int) -> list:
    """``count`` items evenly over a sorted list (deterministic)."""
    if len(items) <= count:
        return list(items)
    return [items[round(k * (len(items) - 1) / max(1, count - 1))] for k in range(count)]


def plt():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def save(fig, path: Path) -> None:
    save_figure(fig, path, dpi=90)
