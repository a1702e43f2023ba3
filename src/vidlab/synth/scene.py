"""Render one synthetic clip: a figure on a domain-specific background.

The label lives in motion only. An *achieved* figure travels across the frame (bouncing off the
edges) and its size oscillates, like a child crawling and waving; a *not achieved* figure stays
put with a constant size. Every per-frame quantity is drawn so that its distribution at any single
frame is the same for both labels:

* position: the achieved path is a reflection (triangle wave) of a uniform start on a circle of
  twice the track length, so the position at any time is uniform on the track, exactly like the
  static figure's uniform position;
* size: ``mid + amp * sin(phase)`` with a uniform phase for both; only the achieved phase advances;
* camera shake and sensor noise are drawn the same way for both labels.

So no single frame says anything about the label, while two frames do. The domain shows in the
background (stripe pattern and colour), as real milestone recordings differ by setting. Each
recording also has its own furniture: two solid blocks of random size, place and colour, drawn from
a separate random stream. Like real rooms and camera angles they make two recordings of the same
child in the same setting look different, which near-duplicate detection relies on; being the same
for both labels they say nothing about the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DOMAIN_STYLE: dict[str, tuple[tuple[int, int, int], str]] = {
    "motor": ((90, 140, 90), "horizontal"),
    "language": ((80, 110, 160), "vertical"),
    "social": ((170, 120, 80), "checker"),
    "cognitive": ((130, 95, 150), "diagonal"),
}


@dataclass(frozen=True)
class Scene:
    """Everything needed to render one clip deterministically."""

    domain: str
    achieved: bool
    figure_rgb: tuple[int, int, int]
    n_frames: int
    seed: int


def _background(rng: np.random.Generator, domain: str, height: int, width: int) -> np.ndarray:
    base, pattern = DOMAIN_STYLE[domain]
    color = np.clip(np.array(base) + rng.integers(-15, 16, 3), 0, 255).astype(np.float32)
    period = int(rng.integers(10, 22))
    yy, xx = np.mgrid[0:height, 0:width]
    coord = {"horizontal": yy, "vertical": xx, "diagonal": xx + yy}.get(pattern)
    if coord is None:
        wave = ((xx // (period // 2)) + (yy // (period // 2))) % 2
    else:
        wave = (coord // (period // 2)) % 2
    return color[None, None, :] + 22.0 * (wave[..., None] - 0.5)


def _furniture(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Two solid blocks (a sofa, a toy box) of random size, place and colour on ``canvas``."""
    height, width = canvas.shape[:2]
    out = canvas.copy()
    for _ in range(2):
        h, w = (int(rng.uniform(0.2, 0.45) * height), int(rng.uniform(0.2, 0.45) * width))
        top, left = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        out[top : top + h, left : left + w] = rng.uniform(40, 220, 3)
    return out


def _track(rng: np.random.Generator, n: int, lo: float, hi: float, moving: bool) -> np.ndarray:
    """Positions on [lo, hi]: uniform at every frame; moving ones bounce at a fixed speed."""
    length = hi - lo
    if not moving:
        return np.full(n, lo + rng.uniform(0, length))
    start = rng.uniform(0, 2 * length)
    speed = rng.uniform(1.2, 2.0) * rng.choice([-1.0, 1.0])
    unfolded = np.mod(start + speed * np.arange(n), 2 * length)
    return lo + np.where(unfolded <= length, unfolded, 2 * length - unfolded)


@dataclass(frozen=True)
class Truth:
    """Where the figure is in every frame of a rendered clip, in output pixels.

    A pixel belongs to the figure where its coverage (alpha) is at least 0.5, after the camera
    shake crop. Pixel ``i`` covers [i, i + 1), so boxes have exclusive x2/y2 and ``centre_x`` is
    the body's centre in the same continuous coordinates (0 = left edge, ``width`` = right edge)
    where the camera points on average: without the shake (at most 3 px), so that a still figure
    stays in one half of the room.
    """

    width: int
    height: int
    fps: int
    boxes: np.ndarray      # (n, 4) int: x1, y1, x2, y2, x2/y2 exclusive, clipped to the frame
    masks: np.ndarray      # (n, height, width) bool
    centre_x: np.ndarray   # (n,) float

    @property
    def n_frames(self) -> int:
        """Frames in the clip."""
        return len(self.boxes)


def render(scene: Scene, width: int, height: int, fps: int, noise_std: float) -> np.ndarray:
    """Return the clip as an (n_frames, height, width, 3) uint8 RGB array."""
    return _render(scene, width, height, fps, noise_std, truth=False)[0]


def render_with_truth(
    scene: Scene, width: int, height: int, fps: int, noise_std: float
) -> tuple[np.ndarray, Truth]:
    """The clip :func:`render` gives (the same bytes) and the figure's :class:`Truth`."""
    clip, truth = _render(scene, width, height, fps, noise_std, truth=True)
    assert truth is not None
    return clip, truth


def _render(
    scene: Scene, width: int, height: int, fps: int, noise_std: float, *, truth: bool
) -> tuple[np.ndarray, Truth | None]:
    # The truth only reads what the frames are made of: it draws nothing from ``rng``, so the
    # frames stay byte-identical with or without it (cached outputs depend on them).
    rng = np.random.default_rng(scene.seed)
    pad = 3  # camera shake crops a padded canvas
    canvas_h, canvas_w = height + 2 * pad, width + 2 * pad
    background = _background(rng, scene.domain, canvas_h, canvas_w)
    background = _furniture(np.random.default_rng([scene.seed, 7]), background)
    n = scene.n_frames
    mid, amp = 0.15 * min(width, height), 0.05 * min(width, height)
    margin = mid + amp + pad + 2
    xs = _track(rng, n, margin, canvas_w - margin, scene.achieved)
    ys = _track(rng, n, margin + 0.3 * mid, canvas_h - margin, scene.achieved)
    phase0 = rng.uniform(0, 2 * np.pi)
    period_frames = rng.uniform(0.8, 1.2) * fps
    step = 2 * np.pi / period_frames if scene.achieved else 0.0
    sizes = mid + amp * np.sin(phase0 + step * np.arange(n))
    steps = rng.choice([-1, 0, 1], size=(n, 2), p=[0.1, 0.8, 0.1])  # a hand-held phone
    shake = np.clip(np.cumsum(steps, axis=0), -pad, pad)
    yy, xx = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
    figure = np.array(scene.figure_rgb, dtype=np.float32)
    clip = np.empty((n, height, width, 3), dtype=np.uint8)
    masks = np.zeros((n, height, width), dtype=bool) if truth else None
    centre_x = np.empty(n) if truth else None
    for t in range(n):
        body = _soft_ellipse(xx, yy, xs[t], ys[t], 0.6 * sizes[t], sizes[t])
        head_r = 0.45 * sizes[t]
        head = _soft_ellipse(xx, yy, xs[t], ys[t] - 1.25 * sizes[t], head_r, head_r)
        alpha = np.maximum(body, head)[..., None]
        frame = background * (1 - alpha) + figure * alpha
        frame += rng.normal(0.0, noise_std, frame.shape) if noise_std else 0.0
        dy, dx = shake[t] + pad
        clip[t] = np.clip(frame[dy : dy + height, dx : dx + width], 0, 255).astype(np.uint8)
        if masks is not None and centre_x is not None:
            masks[t] = alpha[dy : dy + height, dx : dx + width, 0] >= 0.5
            centre_x[t] = xs[t] - pad + 0.5  # canvas pixel centres sit at integers
    if masks is None or centre_x is None:
        return clip, None
    boxes = np.array([_bbox(m) for m in masks], dtype=np.int64).reshape(n, 4)
    return clip, Truth(width, height, fps, boxes, masks, centre_x)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the set pixels, x2/y2 exclusive; all 0 for an empty mask."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    if not len(cols):
        return 0, 0, 0, 0
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _soft_ellipse(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float):
    """Anti-aliased ellipse coverage in [0, 1] (about one pixel of soft edge)."""
    dist = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return np.clip((1.0 - dist) * min(rx, ry) + 0.5, 0.0, 1.0)
