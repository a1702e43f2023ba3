"""Foreground by background subtraction against the video's temporal median.

A static camera sees the same background in most frames, so the per-pixel median over time is the
background and whatever differs from it is foreground. Steps, per frame: the difference
``max over R, G, B of |frame - background|`` (grey levels, 0..255), a 3 x 3 median filter, a
threshold, a 3 x 3 binary opening (drops specks of sensor noise), and removal of connected
components (8-connectivity) smaller than ``min_area`` of the frame.

The camera of a phone held by hand shakes by a few pixels, which would light up every strong
edge of the background; so frames are first lined up with the median by whole-pixel shifts
(:func:`background_of`) and compared with the background shifted back to each frame.

Known weakness: an object that never moves (or stays in one place for more than half the video)
is part of the median background and is not found. Shake beyond ``max_shift`` pixels, rotation,
zoom and lighting changes show up as foreground along the background's edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity structuring element


@dataclass(frozen=True)
class Foreground:
    """Foreground of every frame of one video.

    Attributes:
        masks: (n, h, w) bool, the foreground pixels of each frame.
        difference: (n, h, w) float32, max over R, G, B of ``|frame - background|`` in grey
            levels (0..255), before smoothing.
    """

    masks: np.ndarray
    difference: np.ndarray


def check_frames(frames: np.ndarray) -> None:
    """Raise ValueError unless ``frames`` is an (n, h, w, 3) uint8 array with n, h, w >= 1."""
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames is a {type(frames).__name__}; expected a numpy array")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames has shape {frames.shape}; expected (n, h, w, 3) RGB")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames has dtype {frames.dtype}; expected uint8")
    if min(frames.shape[:3]) < 1:
        raise ValueError(f"frames has shape {frames.shape}; expected at least one 1 x 1 frame")


def _clean(mask: np.ndarray, min_pixels: float) -> np.ndarray:
    """``mask`` opened with a 3 x 3 square, without 8-connected components under min_pixels."""
    opened = ndimage.binary_opening(mask, structure=EIGHT)
    labels, count = ndimage.label(opened, structure=EIGHT)
    if count == 0:
        return opened
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[labels]


def _shift(images: np.ndarray, dy: int, dx: int, pad: int) -> np.ndarray:
    """``out[..., y, x] = images[..., y + dy, x + dx]`` for (n, h, w[, c]) images, with the
    nearest edge pixel outside the frame; |dy|, |dx| <= pad."""
    widths = [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (images.ndim - 3)
    padded = np.pad(images, widths, mode="edge")
    h, w = images.shape[1:3]
    return padded[:, pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def _register(grey: np.ndarray, reference: np.ndarray, max_shift: int) -> np.ndarray:
    """(n, 2) int shifts (dy, dx), per frame the one that best lines ``grey`` up with
    ``reference`` (least mean absolute difference inside a ``max_shift`` border); ties go to the
    smallest shift, so a still camera keeps (0, 0)."""
    r = max_shift
    shifts = sorted(((dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)),
                    key=lambda s: (abs(s[0]) + abs(s[1]), s))
    h, w = reference.shape
    inner = reference[r : h - r, r : w - r]
    costs = [np.abs(grey[:, r + dy : h - r + dy, r + dx : w - r + dx] - inner).mean(axis=(1, 2))
             for dy, dx in shifts]
    return np.array(shifts)[np.argmin(np.stack(costs, axis=1), axis=1)]


def background_of(frames: np.ndarray, max_shift: int = 3) -> np.ndarray:
    """(n, h, w, 3) float32: the static background as each frame sees it, in grey levels.

    Camera shake is undone first: each frame is shifted by whole pixels (up to ``max_shift``,
    at most a third of the smaller side) to line up with the temporal median, the median of the
    shifted frames taken, and that done twice; the per-pixel median is then shifted back to each
    frame (edge pixels repeated). With ``max_shift=0`` simply the median of the frames.
    """
    frames = frames.astype(np.float32)
    median = np.median(frames, axis=0)
    r = max(0, min(max_shift, min(frames.shape[1:3]) // 3))
    if r == 0:
        return np.broadcast_to(median, frames.shape)
    grey = frames.mean(axis=-1)
    for _ in range(2):
        shifts = _register(grey, median.mean(axis=-1), r)
        aligned = np.stack([_shift(f[None], dy, dx, r)[0]
                            for f, (dy, dx) in zip(frames, shifts, strict=True)])
        median = np.median(aligned, axis=0)
    return np.stack([_shift(median[None], -dy, -dx, r)[0] for dy, dx in shifts])


def foreground(frames: np.ndarray, *, threshold: float = 25.0, min_area: float = 0.002,
               max_shift: int = 3) -> Foreground:
    """Foreground masks of a static-camera video by median background subtraction.

    Args:
        frames: (n, h, w, 3) uint8 RGB frames of one video.
        threshold: grey levels (0..255) the smoothed difference must exceed to be foreground.
        min_area: smallest component kept, as a share of the frame's pixels (``h * w``).
        max_shift: largest camera shake compensated, in whole pixels (0: none).

    Returns:
        The :class:`Foreground` masks and the raw difference to the background.

    Raises:
        ValueError: ``frames`` is not a non-empty (n, h, w, 3) uint8 array.
    """
    check_frames(frames)
    _, h, w, _ = frames.shape
    background = background_of(frames, max_shift)
    difference = np.abs(frames.astype(np.float32) - background).max(axis=-1)
    smooth = ndimage.median_filter(difference, size=(1, 3, 3), mode="nearest")
    min_pixels = min_area * h * w
    masks = np.stack([_clean(frame > threshold, min_pixels) for frame in smooth])
    return Foreground(masks=masks, difference=difference)
