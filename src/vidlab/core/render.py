"""Rendering helpers every report shares: Markdown tables and PNG figures with stable bytes.

matplotlib is imported inside :func:`save_figure`, never here: importing this module (and the
CLI) stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vidlab.core.fsutil import atomic_write_bytes


def markdown_table(head: Sequence[Any], rows: Iterable[Sequence[Any]], *,
                   spaced_rule: bool = False) -> list[str]:
    """The lines of a Markdown table: header, alignment row, one line per row.

    Cells are written as ``str(cell)``, unescaped: format numbers (and escape ``|``) before.

    Args:
        head: the column titles.
        rows: the rows, each as many cells as ``head``.
        spaced_rule: write the alignment row as ``| --- | --- |`` instead of ``|---|---|``.
    """
    def line(cells: Iterable[Any]) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    rule = line(["---"] * len(head)) if spaced_rule else "|" + "---|" * len(head)
    return [line(head), rule, *map(line, rows)]


def save_figure(fig: Any, path: Path, *, dpi: int = 100, **savefig: Any) -> None:
    """Write ``fig`` as a PNG whose bytes are the same on every rerun, atomically; then close it.

    No "Software" text chunk (it holds the matplotlib version). A pyplot figure is closed; a
    plain ``matplotlib.figure.Figure`` (not registered with pyplot) is left to its owner.

    Args:
        fig: the matplotlib figure.
        path: the PNG to write (its folder is created).
        dpi: resolution.
        **savefig: further ``Figure.savefig`` arguments.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None}, **savefig)
    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot: unregister it
        from matplotlib import pyplot as plt

        plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
