"""Annotations drawn on frames for the eda sheets and GIFs: boxes and track ids in a colour per
id (per label without one), track trails, semi-transparent masks, a segment timeline and caption
text under the frame. Fixed fonts and colours keep the bytes reproducible."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from vidlab.annotations import rle
from vidlab.core.errors import DataError
from vidlab.stages.eda import sheet

TRAIL = 8  # frames of a track's past drawn as its trail
ALPHA = 0.45  # opacity of a mask's colour over the frame
BAR = 8  # px: the segments timeline's height
CAPTION_LINES = 3  # lines of caption text under a GIF frame (the sheet's labels hold them all)
# Sasha Trubetskoy's distinct colours: apart from each other and from grey or skin
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128))


class Shown(NamedTuple):
    """One video as its overlays are drawn: its rows of the task and its frames' times."""

    rows: pd.DataFrame
    times: np.ndarray  # of every frame: len(times) frames
    labels: tuple[str, ...]  # every label of the task, sorted: a label's colour is its place


def _colour(track_id, label, labels: tuple[str, ...]) -> tuple[int, int, int]:
    if pd.notna(track_id):
        return PALETTE[int(track_id) % len(PALETTE)]
    return PALETTE[(labels.index(label) if label in labels else 0) % len(PALETTE)]


def _tag(draw: ImageDraw.ImageDraw, tag: tuple, height: int) -> None:
    """A name wholly above its box (rows y1 .. y2 - 1), else below it, else inside its top."""
    x, y1, y2, text, colour = tag
    bottom = sheet.font().getbbox(text, stroke_width=1)[3]
    top = y1 - bottom - 1 if y1 - bottom - 1 >= 0 else (
        y2 if y2 + bottom <= height else y1 + 2)
    draw.text((x, top), text, fill=colour, font=sheet.font(), stroke_width=1,
              stroke_fill=(0, 0, 0))


def _fill_masks(frame: np.ndarray, here: pd.DataFrame, labels) -> tuple[np.ndarray, list]:
    out, tags = frame.astype(np.float32), []
    for r in here[here["mask"] != ""].itertuples():
        try:
            mask = rle.decode(r.mask, *frame.shape[:2])
        except DataError:  # a mask of another frame size: not drawn (QA reports it)
            continue
        colour = _colour(r.track_id, r.label, labels)
        out[mask] = out[mask] * (1 - ALPHA) + np.array(colour, np.float32) * ALPHA
        box = rle.bbox(mask)
        if box:
            tags.append((box[0], box[1], box[3], _name(r, "masks"), colour))
    return np.rint(out).astype(np.uint8), tags


def _name(r, task: str) -> str:
    """What a box or mask is called on the frame: boxes by label, tracks and masks by id."""
    if pd.isna(r.track_id) or (task == "boxes" and r.label):
        return r.label
    return str(int(r.track_id))


def _strip(image: Image.Image, task: str, index: int, video: Shown, text: bool,
           scale: int) -> Image.Image:
    """The frame with the segments timeline (and the active labels) or the caption under it."""
    (width, height), total = image.size, len(video.times)
    if task == "segments":
        lines = [", ".join(sorted({str(r.label) for r in video.rows.itertuples()
                                   if r.frame <= index <= r.frame_end})) or "(no segment)"]
    else:
        t = float(video.times[index]) if index < len(video.times) else 0.0
        now = video.rows[~(video.rows["t0"] > t) & ~(video.rows["t1"] <= t)]
        caption = str(now.sort_values(["t0", "text"])["text"].iloc[0]) if len(now) else ""
        lines = sheet.wrap(caption, width - 4)
        if len(lines) > CAPTION_LINES:
            lines = [*lines[:CAPTION_LINES - 1], lines[CAPTION_LINES - 1] + " ..."]
        lines += [""] * (CAPTION_LINES - len(lines))
    bar = BAR if task == "segments" else 0
    room = bar + 4 + (sheet.line_height() * len(lines) if text else 0)
    canvas = Image.new("RGB", (width, height + room), sheet.BACKGROUND)
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    if bar:
        draw.rectangle([0, height + 2, width - 1, height + 1 + bar], fill=(200, 200, 200))
        for r in video.rows.dropna(subset=["frame", "frame_end"]).itertuples():
            left = round(r.frame / total * width)
            right = max(left, round((r.frame_end + 1) / total * width) - 1)
            draw.rectangle([left, height + 2, right, height + 1 + bar],
                           fill=_colour(None, r.label, video.labels))
        x = round((index + 0.5) / total * width)
        draw.rectangle([x - scale // 2, height, x - scale // 2 + scale - 1, height + 3 + bar],
                       fill=(0, 0, 0))
    for k, line in enumerate(lines if text else []):
        draw.text((2, height + bar + 4 + k * sheet.line_height()), line, fill=sheet.TEXT,
                  font=sheet.font())
    return canvas


def draw(task: str, frame: np.ndarray, index: int, video: Shown, scale: int = 1, *,
         text: bool = True) -> np.ndarray:
    """Frame ``index`` of a video with its annotations of ``task`` drawn, ``scale`` times as
    large (nearest neighbour: a pixel of the frame is a square of ``scale`` px).

    Boxes are outlined ``scale`` px wide on their edge pixels (x1 .. x2 - 1, y1 .. y2 - 1) with
    their id or label above; ``text`` adds the words under a segments or captions frame.
    """
    rows, tags = video.rows, []
    here = rows[rows["frame"] == index]
    if task == "masks":
        frame, tags = _fill_masks(frame, here, video.labels)
    image = Image.fromarray(frame)
    if scale > 1:
        image = image.resize((frame.shape[1] * scale, frame.shape[0] * scale),
                             Image.Resampling.NEAREST)
    pen = ImageDraw.Draw(image)
    if task in ("boxes", "tracks"):
        for r in here.dropna(subset=["x1", "y1", "x2", "y2"]).itertuples():
            colour = _colour(r.track_id, r.label, video.labels)
            if task == "tracks" and pd.notna(r.track_id):
                past = rows[(rows["track_id"] == r.track_id) & (rows["frame"] <= index)
                            & (rows["frame"] >= index - TRAIL)].sort_values("frame")
                points = [((p.x1 + p.x2) / 2 * scale, (p.y1 + p.y2) / 2 * scale)
                          for p in past.itertuples()]
                if len(points) > 1:
                    pen.line(points, fill=colour, width=scale)
            pen.rectangle([round(r.x1 * scale), round(r.y1 * scale), round(r.x2 * scale) - 1,
                           round(r.y2 * scale) - 1], outline=colour, width=scale)
            tags.append((r.x1, r.y1, r.y2, _name(r, task), colour))
    for x, y1, y2, name, colour in tags:
        _tag(pen, (round(x * scale), round(y1 * scale), round(y2 * scale), name, colour),
             image.height)
    if task in ("segments", "captions"):
        image = _strip(image, task, index, video, text, scale)
    return np.asarray(image)
