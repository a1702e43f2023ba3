"""Decoding backends behind one small interface: decord (default) and PyAV.

A reader knows each frame's presentation time (``times``, seconds from the first frame, in
display order) and returns the frames at given indices as RGB uint8 ``(T, H, W, 3)``. Indices are
sorted and de-duplicated before decoding, so a clip whose indices repeat (padding, slow motion) or
run backwards (reversal) costs one forward pass; the frames come back in the order asked for.
With ``per_frame``, each frame is handed to that function as soon as it is decoded and only its
result is kept (the clips cache fits frames to the model size this way), so a full-resolution
frame lives only while it is processed: one at a time with PyAV, a batch of at most
:data:`DECORD_BATCH` with decord.

Both backends return what a player shows: frame ``i`` is the ``i``-th frame of a sequential
decode (:func:`vidlab.media.reference.reference_decode`), turned by the display matrix. Each
guards the cases where it would otherwise be wrong, and raises :class:`UnsupportedVideo` rather
than return a wrong frame:

* PyAV seeks only where packet timestamps identify frames (not in AVI, whose timestamps are
  decode-order counters with B-frames); elsewhere it decodes sequentially from the start.
* decord applies rotation for MP4/MOV but not for Matroska: the reader checks its first frame
  against PyAV's and turns frames where decord did not. decord's random access returns wrong
  frames for HEVC and MPEG-4 Part 2 with B-frames and for anything in AVI (seen on the
  conformance matrix: asked for frame 13, it gave 15, or 1), so it serves only the codecs and
  containers the matrix proves (:data:`DECORD_PROVEN`); its timestamps, unusable in AVI, are
  replaced by the container's where they do not rise.

Decoder threads: every DataLoader worker runs its own decoder, so ``threads`` defaults to the
cores divided by the workers (:func:`decoder_threads`); two workers each running a decoder with as
many threads as cores would oversubscribe the machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

BACKENDS = ("decord", "pyav")
# What `clips.backend` may say: a backend, or "auto" (decord where it is installed, else PyAV)
CHOICES = ("auto", *BACKENDS)
# decord serves these codecs (outside AVI) only: the ones whose random access the conformance
# matrix (tests/mediamatrix.py) shows to return the right frame.
DECORD_PROVEN = frozenset({"h264", "vp9", "mjpeg"})
ROTATION_MATCH = 12.0  # mean absolute difference (0-255) under which two decodes agree
# frames decord decodes per call, their full-resolution frames alive together (a 1080p clips
# worker peaked at 250-350 MB with 4, up to 450 MB with 8)
DECORD_BATCH = 4

# What ``get_frames(..., per_frame=f)`` calls as each frame is decoded: ``f(index, rgb)``, with the
# frame's index in the video and its RGB uint8 ``(H, W, 3)`` as displayed; what it returns (an
# array, the same shape for every frame) is kept in place of the frame. A reader may call it
# again for the same index when it starts over (PyAV falling back to a sequential decode).
PerFrame = Callable[[int, np.ndarray], np.ndarray]


class UnsupportedVideo(RuntimeError):
    """A backend cannot return this file's frames with certainty (use the other one)."""


class VideoReader(Protocol):
    """What every backend offers."""

    times: np.ndarray

    def get_frames(self, indices: Sequence[int], per_frame: PerFrame | None = None) -> np.ndarray:
        """RGB frames ``(len(indices), H, W, 3)`` uint8, in the order of ``indices``; with
        ``per_frame``, what it returned for each frame instead (see :data:`PerFrame`)."""

    def close(self) -> None:
        """Release the file."""


def decoder_threads(requested: int = 0, loader_workers: int = 0) -> int:
    """Threads per decoder: ``requested``, or the cores shared among the loader's workers."""
    if requested:
        return requested
    return max(1, (os.cpu_count() or 1) // max(1, loader_workers))


def decord_available() -> bool:
    """Whether decord imports here (it has wheels for Linux x86_64 and Windows, its fork
    eva-decord for macOS arm64 with Python 3.11; not for Linux aarch64)."""
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(name: str) -> str:
    """The backend ``name`` means here: "auto" is decord where it is installed, else PyAV.

    Raises:
        ValueError: for an unknown name, or "decord" where decord is not installed.
    """
    if name not in CHOICES:
        raise ValueError(f"Unknown decoding backend {name!r}; expected one of "
                         f"{', '.join(CHOICES)}.")
    if name == "auto":
        return "decord" if decord_available() else "pyav"
    if name == "decord" and not decord_available():
        raise ValueError("clips.backend is decord, but decord is not installed here (it has no "
                         "build for this platform). Set clips.backend to auto or pyav: both "
                         "decode the same frames.")
    return name


def open_video(path: str | Path, backend: str = "auto", *, threads: int = 1) -> VideoReader:
    """Open ``path`` with a backend by name ("auto": see :func:`resolve_backend`).

    Raises:
        ValueError: for an unknown backend, or decord asked for where it is not installed.
    """
    reader = DecordReader if resolve_backend(backend) == "decord" else PyAVReader
    return reader(path, threads=threads)


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


def _gather(unique: Sequence[int], found: dict[int, np.ndarray], inverse: np.ndarray) -> np.ndarray:
    """The kept frames, in the order asked for (``inverse`` repeats and reorders them)."""
    first = found[unique[0]]
    out = np.empty((len(unique), *first.shape), dtype=first.dtype)
    for k, index in enumerate(unique):
        out[k] = found[index]
    return out[inverse]


class FrameTable:
    """Frame times and seekability of a file's first video stream, from its packets (no pixels).

    Attributes:
        times: display-order presentation times, seconds from the first frame.
        pts: sorted packet timestamps (stream time base), when they identify frames.
        keyframe_of: per frame, the index of the last keyframe at or before it.
        seekable: whether a frame decoded after a seek can be placed by its timestamp.
        rotation: display rotation of the stream, degrees counter-clockwise.
    """

    def __init__(self, container, stream) -> None:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.size]
        pts = [p for p, _ in packets]
        rate = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 30)
        avi = "avi" in container.format.name
        self.seekable = (not avi and bool(pts) and None not in pts
                         and len(set(pts)) == len(pts))
        if self.seekable:
            order = np.argsort(pts, kind="stable")
            self.pts = np.asarray(pts, dtype=np.int64)[order]
            keyframe = np.asarray([k for _, k in packets], dtype=bool)[order]
            self.times = (self.pts - self.pts[0]).astype(np.float64) * float(stream.time_base)
        else:  # frame n is the n-th out of the decoder; times from the nominal rate
            self.pts = np.zeros(0, dtype=np.int64)
            keyframe = np.zeros(len(packets), dtype=bool)
            self.times = np.arange(len(packets), dtype=np.float64) / rate
        self.keyframe_of = np.maximum.accumulate(np.where(keyframe, np.arange(len(keyframe)), 0))
        self.rotation = 0


def _times_usable(times: np.ndarray) -> bool:
    return bool(len(times)) and bool(np.all(np.isfinite(times))) and bool(
        np.all(np.diff(times) > 0))


class DecordReader:
    """decord's VideoReader: fast random access from its own frame index, checked against PyAV
    for orientation and, where its timestamps are unusable, timed from the container's packets."""

    def __init__(self, path: str | Path, *, threads: int = 1) -> None:
        import av
        import decord

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            codec = stream.codec_context.codec.canonical_name
            if "avi" in container.format.name or codec not in DECORD_PROVEN:
                raise UnsupportedVideo(f"decord's random access is not proven for {codec} in "
                                       f"{container.format.name.split(',')[0]}")
            first = next(container.decode(stream), None)
        self._reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads)
        count = len(self._reader)
        if not count or first is None:
            raise UnsupportedVideo("no frame could be decoded")
        stamps = np.asarray(self._reader.get_frame_timestamp(range(count))[:, 0], np.float64)
        self.times = stamps - stamps[0]
        if not _times_usable(self.times):
            self.times = self._container_times(path, count)
        self._turns = self._orientation(first)

    @staticmethod
    def _container_times(path: str | Path, count: int) -> np.ndarray:
        import av

        with av.open(str(path)) as container:
            table = FrameTable(container, container.streams.video[0])
        if len(table.times) != count:
            raise UnsupportedVideo(f"decord counts {count} frames, the container "
                                   f"{len(table.times)}; its timestamps are unusable")
        return table.times

    def _orientation(self, first) -> int:
        """Quarter turns decord's frames still need: frame 0 compared with PyAV's displayed
        frame 0; refuses where neither way matches."""
        from vidlab.media.reference import displayed, turns

        k = turns(first.rotation)
        if not k:
            return 0
        want = displayed(first).astype(np.int16)
        got = self._reader[0].asnumpy()
        candidates = {0: got, k: np.rot90(got, k)}
        errors = {t: float(np.abs(c.astype(np.int16) - want).mean())
                  for t, c in candidates.items() if c.shape == want.shape}
        matches = [t for t, e in errors.items() if e < ROTATION_MATCH]
        if len(matches) != 1:
            raise UnsupportedVideo("cannot tell whether decord applied the display rotation")
        return matches[0]

    def get_frames(self, indices: Sequence[int], per_frame: PerFrame | None = None) -> np.ndarray:
        """Frames in batches of at most :data:`DECORD_BATCH`, in index order; each is turned and
        passed to ``per_frame``."""
        unique, inverse = _plan(indices, len(self.times))
        unique = unique.tolist()
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(unique), DECORD_BATCH):
            chunk = unique[start:start + DECORD_BATCH]
            frames = self._reader.get_batch(chunk).asnumpy()
            if self._turns:
                frames = np.rot90(frames, self._turns, axes=(1, 2))
            if start + DECORD_BATCH < len(unique):
                # decord's decoding thread reads ahead from where get_batch stopped, converting
                # every frame it decodes to full-resolution RGB in an unbounded queue (hundreds
                # of MB at 1080p); a seek stops that thread and drops the queue
                self._reader.seek(0)
            for index, frame in zip(chunk, frames, strict=True):
                frame = np.ascontiguousarray(frame)
                found[index] = frame if per_frame is None else per_frame(index, frame)
            del frames, frame
        return _gather(unique, found, inverse)

    def close(self) -> None:
        del self._reader


class PyAVReader:
    """FFmpeg through PyAV: frames as displayed (display matrix applied).

    Where packet timestamps identify frames, it seeks to the keyframe before a wanted frame and
    decodes forward, placing each decoded frame by its timestamp; it decodes on through a gap
    between wanted frames when no keyframe lies inside it. Elsewhere (AVI, missing or repeated
    timestamps, or a decoded timestamp not in the table) it decodes from the first frame and
    counts frames as the decoder hands them out, which is what a player does.
    """

    def __init__(self, path: str | Path, *, threads: int = 1) -> None:
        import av

        self._container = av.open(str(path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        self._table = FrameTable(self._container, self._stream)
        self.times = self._table.times
        self._index_of = {int(pts): i for i, pts in enumerate(self._table.pts)}

    def get_frames(self, indices: Sequence[int], per_frame: PerFrame | None = None) -> np.ndarray:
        """Frames decoded one at a time, each passed to ``per_frame`` as it comes."""
        import av

        from vidlab.media.reference import displayed

        def keep(index: int, frame: av.VideoFrame) -> np.ndarray:
            rgb = displayed(frame)
            return rgb if per_frame is None else per_frame(index, rgb)

        unique, inverse = _plan(indices, len(self.times))
        found = None
        if self._table.seekable:
            try:
                found = self._seeking(unique.tolist(), keep)
            except (UnsupportedVideo, av.error.FFmpegError):
                found = None
        if found is None:
            found = self._sequential(unique.tolist(), keep)
        return _gather(unique.tolist(), found, inverse)

    def _seeking(self, unique: list[int], keep) -> dict[int, np.ndarray]:
        wanted, found = set(unique), {}
        decoder, position = None, -1  # position: index of the last frame decoded
        for index in unique:
            if index in found:
                continue
            keyframe = int(self._table.keyframe_of[index])
            if decoder is None or index <= position or keyframe > position:
                self._container.seek(int(self._table.pts[keyframe]), stream=self._stream,
                                     backward=True, any_frame=False)
                decoder, position = self._container.decode(self._stream), -1
            while position < index:
                frame = next(decoder, None)
                if frame is None or frame.pts is None or int(frame.pts) not in self._index_of:
                    raise UnsupportedVideo(f"frame {index} cannot be placed after a seek")
                position = self._index_of[int(frame.pts)]
                if position in wanted and position not in found:
                    found[position] = keep(position, frame)
            if index not in found:
                raise UnsupportedVideo(f"frame {index} was not among the decoded frames")
        return found

    def _sequential(self, unique: list[int], keep) -> dict[int, np.ndarray]:
        import av

        wanted, found, last = set(unique), {}, unique[-1]
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._stream.codec_context.flush_buffers()
        position = -1
        try:
            for frame in self._container.decode(self._stream):
                position += 1
                if position in wanted:
                    found[position] = keep(position, frame)
                if position >= last:
                    break
        except av.error.FFmpegError as exc:
            raise UnsupportedVideo(f"decoding stopped at frame {position + 1}") from exc
        if len(found) < len(wanted):
            raise UnsupportedVideo(f"the decoder stopped before frame {last}")
        return found

    def close(self) -> None:
        self._container.close()
