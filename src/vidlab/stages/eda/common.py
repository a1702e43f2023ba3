"""Helpers shared by the eda views: decoding a few frames, picking items evenly, and the one place
that sets how big figures and their text are (so the page's text stays readable).

Readable means at least ~10 px tall on the page: text of ``FONT_PT`` points in a PNG of ``DPI``
dots per inch is ``FONT_PT * DPI / 72`` px tall in the PNG, and the page shows a PNG at most
``PAGE_WIDTH`` px wide (wider ones shrink by ``PAGE_WIDTH / png width``). Figures are sized to
fit ``PAGE_WIDTH`` so they are shown at their own size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vidlab.core.render import save_figure

log = logging.getLogger(__name__)

SPLIT_ORDER = ("train", "val", "test")

DPI = 100  # every PNG of the page (matplotlib figures and contact sheets)
FONT_PT = 10  # the smallest text on any figure: 10 pt at 100 dpi is 14 px
PAGE_WIDTH = 1200  # px: the page's column; a wider image is shown shrunk to this width
GIF_WIDTH = 256  # px: GIFs hold no text; shown at this width whatever their own size
FIGURE_INCHES = PAGE_WIDTH / DPI  # the widest a matplotlib figure is drawn (shown unshrunk)
STYLE = {"font.size": FONT_PT, "axes.titlesize": FONT_PT + 2, "axes.labelsize": FONT_PT,
         "xtick.labelsize": FONT_PT, "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT,
         "legend.title_fontsize": FONT_PT, "figure.titlesize": FONT_PT + 3,
         "figure.dpi": DPI, "savefig.dpi": DPI}


def font_px() -> int:
    """The smallest text's height in PNG pixels (contact sheets draw their text at this size)."""
    return round(FONT_PT * DPI / 72)


def display_width(png_width: int, gif: bool = False) -> int:
    """The width (px) the page shows an image of ``png_width`` at."""
    return GIF_WIDTH if gif else min(int(png_width), PAGE_WIDTH)


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


@contextmanager
def style() -> Iterator:
    """pyplot with the page's font sizes and dpi; draw *and save* a figure inside it (tick
    labels take their size when drawn)."""
    pyplot = plt()
    with pyplot.rc_context(STYLE):
        yield pyplot


def save(fig, path: Path) -> None:
    save_figure(fig, path, dpi=DPI)
