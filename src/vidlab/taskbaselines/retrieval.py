"""Nearest-neighbour retrieval from the training split (a caption's or a box's class).

A video is summarised by :func:`video_descriptor` (colour of what moves, colour of what stays,
how much and how fast it moves); :func:`nearest` gives, for each query video, the training video
whose descriptor is closest, whose caption or class the caller then copies.
"""

from __future__ import annotations

import numpy as np

from vidlab.taskbaselines.foreground import Foreground, check_frames


def colour_histogram(pixels: np.ndarray, bins: int) -> np.ndarray:
    """(bins ** 3,) RGB histogram of (m, 3) uint8 pixels, summing to 1 (all zeros if m == 0).

    Bin of a channel value ``v`` is ``v * bins // 256``; the flat index is ``(r * bins + g) * bins
    + b`` over the channels' bins.
    """
    index = pixels.astype(np.int64) * bins // 256
    flat = (index[:, 0] * bins + index[:, 1]) * bins + index[:, 2]
    counts = np.bincount(flat, minlength=bins**3).astype(np.float64)
    return counts / counts.sum() if len(pixels) else counts


def motion_statistics(fg: Foreground) -> np.ndarray:
    """(4,): mean and std over frames of the foreground share; mean and std of the foreground
    centroid's displacement between consecutive frames with foreground, / the frame diagonal
    (both 0 when fewer than 2 frames have foreground)."""
    n, h, w = fg.masks.shape
    share = fg.masks.reshape(n, -1).mean(axis=1)
    present = [m for m in fg.masks if m.any()]
    if len(present) < 2:
        return np.array([share.mean(), share.std(), 0.0, 0.0])
    centroids = np.array([[rows.mean(), cols.mean()] for rows, cols in map(np.nonzero, present)])
    step = np.linalg.norm(np.diff(centroids, axis=0), axis=1) / np.hypot(h, w)
    return np.array([share.mean(), share.std(), step.mean(), step.std()])


def video_descriptor(frames: np.ndarray, fg: Foreground, *, bins: int = 4) -> np.ndarray:
    """A fixed-length summary of one video for nearest-neighbour retrieval.

    Args:
        frames: (n, h, w, 3) uint8 RGB frames.
        fg: their foreground (same n, h, w).
        bins: histogram bins per colour channel.

    Returns:
        (2 * bins ** 3 + 4,) float64: the normalised RGB histogram of the foreground pixels of all
        frames (zeros when there are none), the same of the background pixels, then
        :func:`motion_statistics`.

    Raises:
        ValueError: bad frames, or masks of another shape.
    """
    check_frames(frames)
    if fg.masks.shape != frames.shape[:3]:
        raise ValueError(f"foreground masks {fg.masks.shape} do not match frames {frames.shape}")
    return np.concatenate([colour_histogram(frames[fg.masks], bins),
                           colour_histogram(frames[~fg.masks], bins), motion_statistics(fg)])


def nearest(train: dict[str, np.ndarray], queries: dict[str, np.ndarray]) -> dict[str, str]:
    """The nearest training video of each query.

    Euclidean distance after standardising every dimension by the training descriptors' mean
    and std (a dimension with std 0 is only centred). Ties go to the smallest training id.

    Args:
        train: training id -> descriptor (all the same length).
        queries: query id -> descriptor.

    Returns:
        query id -> training id, in the queries' order.

    Raises:
        ValueError: ``train`` is empty.
    """
    if not train:
        raise ValueError("nearest needs at least one training descriptor; train is empty")
    ids = sorted(train)
    x = np.stack([np.asarray(train[i], dtype=np.float64) for i in ids])
    mean, std = x.mean(axis=0), x.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    x = (x - mean) / scale
    out = {}
    for qid, vector in queries.items():
        distance = np.linalg.norm(x - (np.asarray(vector, dtype=np.float64) - mean) / scale, axis=1)
        out[qid] = ids[int(np.argmin(distance))]  # first minimum: the smallest id
    return out
