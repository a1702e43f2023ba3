"""Contact sheets: a grid of frames, one row per video, so a person can compare them by eye.

Drawn with Pillow alone (no matplotlib), at a fixed size and with Pillow's built-in bitmap font,
so the PNG bytes depend only on the frames. Rows are labelled with pseudonymous ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

THUMB_HEIGHT = 72
LABEL_WIDTH = 190
PAD = 4
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)


def _thumb(frame: np.ndarray) -> Image.Image:
    height, width = frame.shape[:2]
    size = (max(1, round(width * THUMB_HEIGHT / height)), THUMB_HEIGHT)
    return Image.fromarray(frame).resize(size, Image.Resampling.BOX)


def contact_sheet(rows: Sequence[tuple[str, Sequence[np.ndarray]]], out: Path, *,
                  title: str) -> Path:
    """Write a PNG with one labelled row of frames per video.

    Args:
        rows: (label, frames) per video; frames are (H, W, 3) uint8 RGB arrays.
        out: the PNG to write.
        title: a line of text above the grid.

    Returns:
        ``out``.
    """
    thumbs = [[_thumb(f) for f in frames] for _, frames in rows]
    width = LABEL_WIDTH + max(sum(t.width + PAD for t in row) for row in thumbs) + PAD
    line = THUMB_HEIGHT + PAD
    sheet = Image.new("RGB", (width, 20 + line * len(rows) + PAD), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 4), title, fill=TEXT)
    for r, ((label, _), row) in enumerate(zip(rows, thumbs, strict=True)):
        top = 20 + r * line
        for k, text in enumerate(label.split("\n")):
            draw.text((PAD, top + 4 + 12 * k), text, fill=TEXT)
        left = LABEL_WIDTH
        for thumb in row:
            sheet.paste(thumb, (left, top))
            left += thumb.width + PAD
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG", optimize=False)
    return out


STORED_HEIGHT = 96  # thumbnails the probe keeps per video: the tallest any sheet draws


def thumbnail(frame: np.ndarray) -> bytes:
    """An RGB frame as PNG bytes, shrunk to :data:`STORED_HEIGHT` px high (area averaging) if it
    is taller: what the probe keeps of each contact-sheet frame, so sheets never decode the
    video again."""
    import io

    height, width = frame.shape[:2]
    image = Image.fromarray(frame)
    if height > STORED_HEIGHT:
        size = (max(1, round(width * STORED_HEIGHT / height)), STORED_HEIGHT)
        image = image.resize(size, Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def unthumbnail(data: bytes) -> np.ndarray:
    """The (H, W, 3) uint8 RGB of a :func:`thumbnail`."""
    import io

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
