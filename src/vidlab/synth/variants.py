"""Near-duplicate copies of a video, as phones and messaging apps make them.

Used to plant known near-duplicates for the dedup tests and benchmark. Each kind is one edit of
the decoded frames followed by a fresh H.264 encode, so every copy is also re-encoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidlab.media.encode import read_frames, write_video

KINDS = ("reencode", "resize", "crop", "trim", "brighter", "darker", "combined")


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def edit(frames: np.ndarray, kind: str) -> tuple[np.ndarray, dict]:
    """Apply one edit; returns the frames and extra ``write_video`` settings.

    Args:
        frames: (n, H, W, 3) uint8 RGB.
        kind: one of :data:`KINDS`. ``reencode``: 12 CRF steps worse (a lower bit rate);
            ``resize``: to 75 %; ``crop``: 5 % off the width and the height, from the top-left;
            ``trim``: the first 10 % of the frames cut; ``brighter``/``darker``: +-10 %;
            ``combined``: trim 6 % + 4 %, crop, resize and a worse encode together.
    """
    n, height, width = frames.shape[:3]
    settings: dict = {}
    if kind == "reencode":
        settings["crf"] = 32
    elif kind == "resize":
        settings["size"] = (_even(width * 0.75), _even(height * 0.75))
    elif kind == "crop":
        frames = frames[:, round(height * 0.05):, round(width * 0.05):]
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    elif kind == "trim":
        frames = frames[round(0.1 * n):]
    elif kind in ("brighter", "darker"):
        factor = 1.1 if kind == "brighter" else 0.9
        frames = np.clip(frames.astype(np.float32) * factor, 0, 255).astype(np.uint8)
    elif kind == "combined":
        frames = frames[round(0.06 * n): n - round(0.04 * n),
                        round(height * 0.025): height - round(height * 0.025),
                        round(width * 0.025): width - round(width * 0.025)]
        settings.update(crf=30, size=(_even(width * 0.8), _even(height * 0.8)))
    else:
        raise ValueError(f"Unknown near-duplicate kind {kind!r}; expected one of {KINDS}.")
    return np.ascontiguousarray(frames), settings


def write_variant(src: Path, dst: Path, kind: str, *, fps: int) -> Path:
    """Decode ``src``, apply :func:`edit` and encode the copy to ``dst``."""
    frames, settings = edit(read_frames(src), kind)
    settings.setdefault("crf", 23)
    write_video(dst, frames, fps=fps, **settings)
    return dst
