"""The eda page's contact sheets: one row of frames per item, with its label wrapped in full.

Not :func:`vidlab.media.sheets.contact_sheet`: that one cuts labels to a 190 px column in a
10 px bitmap font, too small for the page. Here the text is ``common.font_px()`` tall (the page's
one font size) and a label wraps onto as many lines as it needs; the row grows to fit. Drawn
with Pillow's bundled font at a fixed size, so the PNG bytes depend only on the frames, the text
and the Pillow version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidlab.media.sheets import BACKGROUND, TEXT  # the colours of every contact sheet
from vidlab.stages.eda import common

THUMB_HEIGHT = 96  # at most: a row of many frames gets smaller ones to fit the page's width
LABEL_WIDTH = 300  # px of text beside the frames at most (about 40 characters a line)
PAD = 6


@cache
def font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=common.font_px())


def line_height() -> int:
    return common.font_px() + 5


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines no wider than ``width`` px: at spaces, at ``\\n``, and inside a word
    only where the word alone is wider than the line. No character is dropped."""
    lines: list[str] = []
    measure = font().getlength
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if measure(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while measure(word) > width:
                cut = max([k for k in range(1, len(word)) if measure(word[:k]) <= width] or [1])
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _thumb(frame: np.ndarray, height: int) -> Image.Image:
    size = (max(1, round(frame.shape[1] * height / frame.shape[0])), height)
    return Image.fromarray(frame).resize(size, Image.Resampling.BOX)


def _thumb_height(rows: Sequence[Sequence[np.ndarray]], room: int) -> int:
    """The tallest thumbnails (up to ``THUMB_HEIGHT``) whose widest row fits ``room`` px: the
    sheet is then never wider than the page shows it, so its text is never shrunk."""
    height = THUMB_HEIGHT
    for frames in rows:
        aspect = sum(f.shape[1] / f.shape[0] for f in frames)
        if aspect:
            height = min(height, int((room - PAD * len(frames)) / aspect))
    return max(8, height)


def contact_sheet(rows: Sequence[tuple[str, Sequence[np.ndarray]]], out: Path, *,
                  title: str) -> Path:
    """Write a PNG with one labelled row of frames per item.

    Args:
        rows: (label, frames) per item; frames are (H, W, 3) uint8 RGB arrays.
        out: the PNG to write.
        title: the text above the grid (wrapped to the sheet's width).

    Returns:
        ``out``.
    """
    most = LABEL_WIDTH if any(len(frames) for _, frames in rows) else 2 * LABEL_WIDTH
    column = min(most, max(1, *(math.ceil(font().getlength(line)) for label, _ in rows
                                for line in label.split("\n"))))
    height = _thumb_height([frames for _, frames in rows], common.PAGE_WIDTH - column - 2 * PAD)
    thumbs = [[_thumb(f, height) for f in frames] for _, frames in rows]
    width = column + 2 * PAD + max(sum(t.width + PAD for t in row) for row in thumbs)
    step = line_height()
    heading = wrap(title, max(width, min(common.PAGE_WIDTH, LABEL_WIDTH * 2)) - 2 * PAD)
    width = max(width, max(math.ceil(font().getlength(line)) for line in heading) + 2 * PAD)
    labels = [wrap(label, column) for label, _ in rows]
    heights = [max(height, step * len(lines)) + PAD for lines in labels]
    top = PAD + step * len(heading) + PAD
    sheet = Image.new("RGB", (width, top + sum(heights) + PAD), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for k, text in enumerate(heading):
        draw.text((PAD, PAD + step * k), text, fill=TEXT, font=font())
    for lines, row, row_height in zip(labels, thumbs, heights, strict=True):
        for k, text in enumerate(lines):
            draw.text((PAD, top + step * k), text, fill=TEXT, font=font())
        left = column + 2 * PAD
        for thumb in row:
            sheet.paste(thumb, (left, top))
            left += thumb.width + PAD
        top += row_height
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG", optimize=False, dpi=(common.DPI, common.DPI))
    return out
