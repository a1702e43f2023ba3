"""Decoding backends behind one small interface: decord (default) and PyAV.

A reader knows each frame's presentation time (``times``, seconds from the first frame, in
display order) and returns the frames at given indices as RGB uint8 ``(T, H, W, 3)``. Indices are
sorted and de-duplicated before decoding, so a clip whose indices repeat (padding, slow motion) or
run backwards (reversal) costs one forward pass; the frames come back in the order asked for.

Decoder threads: every DataLoader worker runs its own decoder, so ``threads`` defaults to the
cores divided by the workers (:func:`decoder_threads`); two workers each running a decoder with as
many threads as cores would oversubscribe the machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

BACKENDS = ("decord", "pyav")


class VideoReader(Protocol):
    """What every backend offers."""

    times: np.ndarray

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        """RGB frames ``(len(indices), H, W, 3)`` uint8, in the order of ``indices``."""

    def close(self) -> None:
        """Release the file."""


def decoder_threads(requested: int = 0, loader_workers: int = 0) -> int:
    """Threads per decoder: ``requested``, or the cores shared among the loader's workers."""
    if requested:
        return requested
    return max(1, (os.cpu_count() or 1) // max(1, loader_workers))


def open_video(path: str | Path, backend: str = "decord", *, threads: int = 1) -> VideoReader:
    """Open ``path`` with a backend by name.

    Raises:
        ValueError: for an unknown backend.
    """
    if backend == "decord":
        return DecordReader(path, threads=threads)
    if backend == "pyav":
        return PyAVReader(path, threads=threads)
    raise ValueError(
        f"Unknown decoding backend {backend!r}; expected one of {', '.join(BACKENDS)}.")


def _plan(indices: Sequence[int], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique indices to decode, and where each requested index is among them."""
    wanted = np.asarray(indices, dtype=np.int64)
    if wanted.ndim != 1 or not len(wanted):
        raise ValueError("Ask for at least one frame index.")
    if wanted.min() < 0 or wanted.max() >= count:
        raise IndexError(f"Frame index out of range: the video has {count} frames, "
                         f"asked for {int(wanted.min())}..{int(wanted.max())}.")
    unique, inverse = np.unique(wanted, return_inverse=True)
    return unique, inverse


class DecordReader:
    """decord's VideoReader: fast random access from its own frame index."""

    def __init__(self, path: str | Path, *, threads: int = 1) -> None:
        import decord

        self._reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads)
        count = len(self._reader)
        stamps = self._reader.get_frame_timestamp(range(count))[:, 0] if count else np.zeros(0)
        self.times = np.asarray(stamps, dtype=np.float64) - (stamps[0] if count else 0.0)

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        unique, inverse = _plan(indices, len(self.times))
        frames = self._reader.get_batch(unique.tolist()).asnumpy()
        return frames[inverse]

    def close(self) -> None:
        del self._reader


class PyAVReader:
    """FFmpeg through PyAV: seeks to the keyframe before a wanted frame, then decodes forward.

    The frame table (timestamps, keyframes) comes from demuxing packets, which reads no pixels.
    Decoding continues through a gap between wanted frames when no keyframe lies inside it, and
    seeks when one does (seeking is then never slower than decoding on).
    """

    def __init__(self, path: str | Path, *, threads: int = 1) -> None:
        import av

        self._container = av.open(str(path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        packets = sorted((p.pts, p.is_keyframe) for p in self._container.demux(self._stream)
                         if p.pts is not None)
        self._pts = np.array([pts for pts, _ in packets], dtype=np.int64)
        keyframe = np.array([key for _, key in packets], dtype=bool)
        # index of the last keyframe at or before each frame (0 when the first is missing)
        self._keyframe_of = np.maximum.accumulate(np.where(keyframe, np.arange(len(packets)), 0))
        base = self._pts[0] if len(packets) else 0
        self.times = (self._pts - base).astype(np.float64) * float(self._stream.time_base)
        self._index_of = {int(pts): i for i, pts in enumerate(self._pts)}

    def get_frames(self, indices: Sequence[int]) -> np.ndarray:
        unique, inverse = _plan(indices, len(self.times))
        wanted = set(unique.tolist())
        found: dict[int, np.ndarray] = {}
        decoder, position = None, -1  # position: index of the last frame decoded
        for index in unique.tolist():
            if index in found:
                continue
            keyframe = int(self._keyframe_of[index])
            if decoder is None or index <= position or keyframe > position:
                self._container.seek(int(self._pts[keyframe]), stream=self._stream,
                                     backward=True, any_frame=False)
                decoder, position = self._container.decode(self._stream), -1
            while position < index:
                frame = next(decoder, None)
                if frame is None:
                    raise RuntimeError(f"The decoder stopped before frame {index}.")
                position = (position + 1 if frame.pts is None
                            else self._index_of.get(int(frame.pts), position))
                if position in wanted and position not in found:
                    found[position] = frame.to_ndarray(format="rgb24")
            if index not in found:
                raise RuntimeError(f"Frame {index} was not among the decoded frames.")
        return np.stack([found[i] for i in unique.tolist()])[inverse]

    def close(self) -> None:
        self._container.close()
