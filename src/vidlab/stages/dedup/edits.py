"""The edits a calibration pair is made with (re-encode, frame-rate change, resize, crop, trim,
overlay, brightness, ...), and the encoder that writes each version."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

EDITS = ("reencode", "fps6", "resize", "upscale", "crop", "trim", "overlay", "brighter",
         "darker", "rotated", "fps6_overlay", "combined")


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def resample(frames: np.ndarray, fps: int, new_fps: int) -> np.ndarray:
    """The frames a ``new_fps`` encoder keeps: the nearest source frame to each new tick."""
    n = len(frames)
    count = max(1, math.floor(n * new_fps / fps))
    return frames[np.minimum(np.round(np.arange(count) * fps / new_fps).astype(int), n - 1)]


def overlay(frames: np.ndarray, seed: int) -> np.ndarray:
    """Boxes and text drawn on every frame, as an annotation tool or a screen recorder does.

    Two box outlines (a "detection" that drifts over the clip and a fixed one), a timestamp
    banner at the top and a caption at the bottom, all scaled to the frame size.
    """
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng([seed, 0x0B0C])
    n, height, width = frames.shape[:3]
    font = ImageFont.load_default(size=max(8, height // 9))
    line = max(1, height // 48)
    box = (rng.uniform(0.1, 0.4, 2) * (width, height)).astype(int)
    size = (rng.uniform(0.25, 0.4, 2) * (width, height)).astype(int)
    drift = rng.uniform(-0.3, 0.3, 2) * (width, height) / max(1, n)
    fixed = (rng.uniform(0.5, 0.7, 2) * (width, height)).astype(int)
    colours = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2)]
    out = np.empty_like(frames)
    for t in range(n):
        image = Image.fromarray(frames[t])
        draw = ImageDraw.Draw(image)
        x, y = (box + drift * t).astype(int)
        draw.rectangle((x, y, x + size[0], y + size[1]), outline=colours[0], width=line)
        draw.rectangle((*fixed, fixed[0] + width // 5, fixed[1] + height // 5),
                       outline=colours[1], width=line)
        draw.text((2, 1), f"2024-03-{1 + t // 90:02d} 10:{t // 15 % 60:02d}:{t % 15 * 4:02d}",
                  font=font, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
        draw.text((2, height - height // 8 - 2), f"child 0.{t % 10} conf", font=font,
                  fill=(255, 255, 0))
        out[t] = np.asarray(image)
    return out


def _scale(frames: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(frames.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def _crop(frames: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Cut ``low``..``high`` of the height and of the width, split at random between the sides."""
    height, width = frames.shape[1:3]
    cut = (rng.uniform(low, high, 2) * (height, width)).round().astype(int)
    first = (rng.uniform(0, 1, 2) * cut).round().astype(int)
    return frames[:, first[0]: height - cut[0] + first[0], first[1]: width - cut[1] + first[1]]


_EDIT_SETTINGS = {"fps": 0, "crf": 23, "size": None, "rotation": 0}


def edit(frames: np.ndarray, fps: int, kind: str, seed: int) -> tuple[np.ndarray, dict]:
    """Apply one edit of :data:`EDITS`, its strength drawn from ``seed``.

    Args:
        frames: (n, H, W, 3) uint8 RGB of the original.
        fps: its frame rate.
        kind: ``reencode`` CRF 30-36; ``fps6`` 6 fps; ``resize`` to 50-80 %; ``upscale`` to
            125-160 %; ``crop`` 2-6 % off each axis, split at random between its sides; ``trim``
            up to 15 % off the start and 10 % off the end; ``overlay`` boxes and text;
            ``brighter``/``darker`` x1.1-1.25 / x0.75-0.9; ``rotated`` pixels stored sideways
            with a 90 or 270 degree display matrix; ``fps6_overlay`` 6 fps with boxes and text at
            CRF 26; ``combined`` trimmed, 2-4 % cropped, 80 % size, x1.1 and CRF 30.
        seed: the recording's seed.

    Returns:
        The edited frames and ``fps``, ``crf``, ``size`` and ``rotation`` for :func:`write`.
    """
    if kind not in EDITS:
        raise ValueError(f"Unknown calibration edit {kind!r}; expected one of {EDITS}.")
    rng = np.random.default_rng([seed, EDITS.index(kind)])
    n, height, width = frames.shape[:3]
    out = dict(_EDIT_SETTINGS, fps=fps)
    if kind == "reencode":
        out["crf"] = int(rng.integers(30, 37))
    elif kind in ("fps6", "fps6_overlay"):
        frames, out["fps"] = resample(frames, fps, 6), 6
        if kind == "fps6_overlay":
            frames, out["crf"] = overlay(frames, seed), 26
    elif kind in ("resize", "upscale"):
        factor = rng.uniform(0.5, 0.8) if kind == "resize" else rng.uniform(1.25, 1.6)
        out["size"] = (_even(width * factor), _even(height * factor))
    elif kind == "crop":
        frames = _crop(frames, rng, 0.02, 0.06)
    elif kind == "trim":
        frames = frames[round(rng.uniform(0.0, 0.15) * n): n - round(rng.uniform(0.0, 0.1) * n)]
    elif kind == "overlay":
        frames = overlay(frames, seed)
    elif kind in ("brighter", "darker"):
        frames = _scale(frames, rng.uniform(*((1.1, 1.25) if kind == "brighter" else (0.75, 0.9))))
    elif kind == "rotated":  # a phone's sideways pixels; displayed = rot90(pixels, rotation / 90)
        out["rotation"] = int(rng.choice([90, 270]))
        frames = np.rot90(frames, k=-out["rotation"] // 90, axes=(1, 2))
    else:  # combined
        frames = _scale(_crop(frames[round(0.06 * n): n - round(0.04 * n)], rng, 0.02, 0.04), 1.1)
        out.update(crf=30, size=(_even(width * 0.8), _even(height * 0.8)))
    frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    return np.ascontiguousarray(frames), out


def write(path: Path, frames: np.ndarray, *, fps: int, crf: int, size: tuple[int, int] | None,
          rotation: int) -> Path:
    """Encode like :func:`vidlab.media.encode.write_video`, with a display rotation if any."""
    from vidlab.media.encode import rgb_to_yuv420p, write_video

    if not rotation:
        write_video(path, frames, fps=fps, crf=crf, size=size)
        return path
    with av.open(str(path), "w", format="mp4") as out:
        options = {"crf": str(crf), "preset": "veryfast", "x264-params": "mbtree=0"}
        stream = out.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.thread_count = 1  # reproducible bytes (see vidlab.media.encode)
        stream.codec_context.gop_size = fps
        stream.set_display_rotation(rotation)
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(image), format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path
