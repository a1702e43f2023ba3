"""Objects as foreground blobs, and tracks by IoU matching from frame to frame.

:func:`detect` turns every 8-connected component of a frame's foreground mask into a
:class:`Detection` (box, mask, score); :func:`associate` links detections of consecutive frames
into tracks with the Hungarian algorithm on box IoU (an online IoU tracker, no motion model).

Boxes are ``(x1, y1, x2, y2)`` in pixels with ``x2``/``y2`` exclusive: pixel ``i`` covers
``[i, i + 1)``, so width = ``x2 - x1``. Frames are 0-based positions in the decoded video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from vidlab.taskbaselines.foreground import EIGHT, Foreground

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Detection:
    """One foreground blob in one frame.

    Attributes:
        frame: 0-based frame index.
        box: (x1, y1, x2, y2) pixels, x2/y2 exclusive.
        score: mean difference to the background over the blob / 255, in (0, 1].
        mask: (h, w) bool, the blob's pixels.
    """

    frame: int
    box: Box
    score: float
    mask: np.ndarray


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes with exclusive x2/y2 (0 if the
    union is empty)."""
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _frame_detections(frame: int, mask: np.ndarray, difference: np.ndarray) -> list[Detection]:
    """Every 8-connected component of ``mask`` as a :class:`Detection`."""
    labels, count = ndimage.label(mask, structure=EIGHT)
    out = []
    for index, where in enumerate(ndimage.find_objects(labels), start=1):
        blob = labels == index
        rows, cols = where
        score = float(np.clip(difference[blob].mean() / 255.0, 1e-6, 1.0))
        box = (cols.start, rows.start, cols.stop, rows.stop)
        out.append(Detection(frame, tuple(int(v) for v in box), score, blob))
    return out


def detect(fg: Foreground, *, max_objects: int = 5) -> list[Detection]:
    """Foreground blobs of every frame as detections.

    Args:
        fg: the video's :class:`~vidlab.taskbaselines.foreground.Foreground`.
        max_objects: most detections kept per frame (the highest scores).

    Returns:
        Detections sorted by frame, then score descending, then box.
    """
    out: list[Detection] = []
    for frame, (mask, difference) in enumerate(zip(fg.masks, fg.difference, strict=True)):
        found = _frame_detections(frame, mask, difference)
        found.sort(key=lambda d: (-d.score, d.box))
        out.extend(found[:max_objects])
    return out


def _match(previous: list[Box], current: list[Box], iou: float) -> dict[int, int]:
    """Current index -> previous index, maximising total IoU; pairs under ``iou`` unmatched."""
    if not previous or not current:
        return {}
    overlap = np.array([[box_iou(p, c) for p in previous] for c in current])
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True) if overlap[r, c] >= iou}


def associate(detections: list[Detection], *,
              iou: float = 0.3) -> list[tuple[int, Detection]]:
    """Online IoU tracking: link each frame's detections to the previous frame's tracks.

    A track is alive on frame ``f`` if it has a detection on frame ``f - 1``; the detections of
    frame ``f`` are matched to the alive tracks by the Hungarian algorithm on box IoU, pairs with
    IoU below ``iou`` are not matched, and every unmatched detection starts a new track (so a
    gap of one frame or more ends a track). Track ids count from 1 in order of creation, within a
    frame in the detections' input order.

    Args:
        detections: any order; several per frame allowed.
        iou: least box IoU for a match, in [0, 1].

    Returns:
        (track_id, detection) for every detection, in the input order.
    """
    by_frame: dict[int, list[int]] = {}
    for index, det in enumerate(detections):
        by_frame.setdefault(det.frame, []).append(index)
    ids = [0] * len(detections)
    alive: list[int] = []  # indices of the previous frame's detections
    next_id, last_frame = 1, None
    for frame in sorted(by_frame):
        current = by_frame[frame]
        previous = alive if last_frame == frame - 1 else []
        matched = _match([detections[i].box for i in previous],
                         [detections[i].box for i in current], iou)
        for position, index in enumerate(current):
            if position in matched:
                ids[index] = ids[previous[matched[position]]]
            else:
                ids[index], next_id = next_id, next_id + 1
        alive, last_frame = current, frame
    return list(zip(ids, detections, strict=True))
