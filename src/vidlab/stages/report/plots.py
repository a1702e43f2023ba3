"""PNG charts of a summary: three distributions and the age-group × domain heatmap.

The PNGs must be byte-identical on rerun (DVC tracks them), so: the Agg backend, matplotlib's own
default style rather than the user's matplotlibrc, a fixed size and dpi, and no "Software" text
chunk (it holds the matplotlib version). Figures are built with the object API rather than pyplot,
so none is registered globally and none is left open. matplotlib is imported inside the functions
so that importing this package stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from vidlab.core.render import save_figure

FIGSIZE = (8.0, 4.5)
DPI = 100
COLOR = "#4C72B0"
PLOT_FILES = {
    "age_groups.png": ("age_group_distribution", "Videos by age group", "age group"),
    "domains.png": ("domain_distribution", "Videos by domain", "domain"),
    "labels.png": ("label_distribution", "Videos by label", "label"),
}
HEATMAP_FILE = "age_domain_heatmap.png"


@contextlib.contextmanager
def _figure() -> Iterator[Any]:
    """Yield a new Agg figure drawn under matplotlib's default style."""
    import matplotlib
    import matplotlib.style

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        try:
            yield fig
        finally:
            fig.clear()


def _save(fig: Any, path: Path) -> None:
    save_figure(fig, path, dpi=DPI)


def bar_chart(counts: Mapping[str, int], *, title: str, xlabel: str, path: Path) -> None:
    """Write a bar chart of ``counts`` (zeros included, in their order) to ``path``.

    Args:
        counts: category -> number of videos.
        title: the chart title.
        xlabel: the x-axis label.
        path: the PNG to write.
    """
    names, values = list(counts), list(counts.values())
    with _figure() as fig:
        ax = fig.add_subplot()
        bars = ax.bar(range(len(names)), values, color=COLOR)
        # Long names (e.g. not_achieved, several domains) would overlap when horizontal.
        rotation = 30 if sum(len(n) for n in names) > 60 else 0
        ax.set_xticks(range(len(names)), names, rotation=rotation,
                      ha="right" if rotation else "center")
        ax.bar_label(bars)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("videos")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.margins(y=0.12)
        _save(fig, path)


def heatmap(table: Mapping[str, Mapping[str, int]], *, title: str, path: Path) -> None:
    """Write an annotated heatmap of a cross-tab {row: {column: count}} to ``path``.

    Args:
        table: the cross-tab; every row has the same columns in the same order.
        title: the chart title.
        path: the PNG to write.
    """
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    rows = list(table)
    cols = list(next(iter(table.values()), {}))
    data = np.array([[table[r][c] for c in cols] for r in rows], dtype=int).reshape(
        len(rows), len(cols)
    )
    peak = int(data.max()) if data.size else 0
    with _figure() as fig:
        ax = fig.add_subplot()
        image = ax.imshow(data, cmap="Blues", aspect="auto", vmin=0, vmax=max(peak, 1))
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        for (i, j), value in np.ndenumerate(data):
            # White on the dark half of the colour map, black on the light half.
            color = "white" if value > peak / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=color)
        ax.set_title(title)
        colorbar = fig.colorbar(image, ax=ax, label="videos")
        colorbar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _save(fig, path)


def write_plots(summary: Mapping[str, Any], folder: Path) -> list[Path]:
    """Write every chart of ``summary`` into ``folder``.

    Args:
        summary: the dict returned by :func:`vidlab.stages.report.summary.summarize`.
        folder: an existing folder.

    Returns:
        The PNG paths written, in a fixed order.
    """
    written = []
    for name, (key, title, xlabel) in PLOT_FILES.items():
        bar_chart(summary[key], title=title, xlabel=xlabel, path=folder / name)
        written.append(folder / name)
    heatmap(summary["age_domain_crosstab"], title="Videos by age group × domain",
            path=folder / HEATMAP_FILE)
    written.append(folder / HEATMAP_FILE)
    return written
