"""The sequential reference decode: every frame a player shows, in display order.

A player decodes a stream from its first packet to its last, puts the frames in presentation
order and turns each by the stream's display matrix. :func:`reference_decode` does exactly that
with PyAV, keeps going past packets the decoder rejects (counting them), and reports what it saw,
so ingest can prove a copy decodes like its source, probe can judge truncation and damage for
any container, and tests can compare the fast readers against it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np


def turns(rotation: float | int | None) -> int:
    """Quarter turns (counter-clockwise, 0..3) of a display rotation in degrees."""
    return int(round((rotation or 0) / 90)) % 4


def displayed(frame: av.VideoFrame, rotation: float | int | None = None) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` of a decoded frame as a player shows it (display matrix applied).

    Args:
        frame: a decoded frame.
        rotation: the display rotation (degrees, counter-clockwise); the frame's own by default.
    """
    rgb = frame.to_ndarray(format="rgb24")
    k = turns(frame.rotation if rotation is None else rotation)
    return np.ascontiguousarray(np.rot90(rgb, k=k)) if k else rgb


def frame_digest(frame: av.VideoFrame) -> str:
    """sha256 of a frame's decoded samples (each plane's visible rows, no padding) and format.

    Two frames with the same digest hold the same pixels in the same format, so a remuxed copy
    whose digests equal its source's decodes to exactly the same pictures.
    """
    name, full = frame.format.name, frame.color_range == 2
    if name.startswith("yuvj"):  # the deprecated full-range formats: the same samples as
        name, full = "yuv" + name[4:], True  # yuvNNNp with a full colour range
    digest = hashlib.sha256(f"{name} {'full' if full else 'limited'} {frame.width}x"
                            f"{frame.height}".encode())
    components = frame.format.components
    for number, plane in enumerate(frame.planes):
        sizes = [math.ceil(c.bits / 8) for c in components if c.plane == number]
        row = plane.width * sum(sizes)
        rows = np.frombuffer(memoryview(plane), np.uint8)[: plane.line_size * plane.height]
        digest.update(rows.reshape(plane.height, plane.line_size)[:, :row].tobytes())
    return digest.hexdigest()


@dataclass
class Decoded:
    """What a full sequential decode of a file's first video stream saw.

    Decoders hand frames out in display order, so the n-th frame out is frame n of the video;
    its timestamp is the container's, which some containers (AVI with B-frames) get wrong.
    """

    pts: list[int] = field(default_factory=list)  # per frame, display order (-1: none)
    digests: list[str] = field(default_factory=list)  # per frame, when asked for
    count: int = 0  # frames decoded
    rotation: int = 0  # display rotation of the first frame, degrees counter-clockwise
    time_base: float = 0.0
    rate: float = 0.0  # the stream's nominal frame rate (0: unknown)
    errors: int = 0  # packets the decoder rejected
    corrupt: int = 0  # frames the decoder marked corrupt (concealed damage)
    keyframes: int = 0
    demux_error: str = ""  # why reading the container stopped early, if it did
    video_packets: int = 0  # non-empty video packets demuxed
    data_end_s: float = 0.0  # where the last demuxed video or audio packet ends (seconds)
    audio_span_s: float | None = None  # first to last audio packet end, when there is audio
    audio_offset_s: float | None = None  # first audio packet's start minus the first video's
    container_duration_s: float | None = None  # what the container's header declares
    frames_declared: int | None = None  # what an MP4/MOV index lists (others only estimate)

    @property
    def frames(self) -> int:
        return self.count

    @property
    def timestamps_usable(self) -> bool:
        """Whether every frame has a timestamp and they rise strictly in display order."""
        pts = np.array(self.pts, dtype=np.int64)
        return bool(len(pts)) and bool(np.all(pts >= 0)) and bool(np.all(np.diff(pts) > 0))

    def times(self) -> np.ndarray:
        """Display-order presentation times, seconds from the first frame; from the frame rate
        where the container's timestamps are unusable."""
        if self.timestamps_usable:
            pts = np.array(self.pts, dtype=np.float64)
            return (pts - pts[0]) * self.time_base
        return np.arange(self.frames, dtype=np.float64) / (self.rate or 30.0)

    def span_s(self) -> float:
        """Seconds the decoded frames cover: first to last timestamp plus one frame interval."""
        times = self.times()
        if len(times) < 2:
            return float(len(times)) / (self.rate or 30.0)
        return float(times[-1] + np.median(np.diff(times)))


def reference_decode(path: str | Path, *, keep_pictures: bool = False, threads: int = 0,
                     digests: bool = True,
                     on_frame: Callable[[av.VideoFrame], None] | None = None,
                     ) -> tuple[Decoded, list[np.ndarray]]:
    """Decode every frame of ``path``'s first video stream, packet by packet.

    Args:
        path: a video file.
        keep_pictures: also return each frame as displayed (RGB, rotation applied).
        threads: decoder threads (0: FFmpeg's choice).
        digests: hash every frame's samples (:func:`frame_digest`); the copy proof needs them,
            the probe does not (hashing 1080p frames costs about half as much as decoding them).
        on_frame: called with every decoded frame, in display order (the probe takes its
            signature and contact-sheet frames from the same decode this way).

    Returns:
        The :class:`Decoded` facts and the displayed pictures (empty unless asked for), both in
        display order.

    Raises:
        av.error.FFmpegError: when the container cannot be opened.
        ValueError: when it holds no video stream.
    """
    result, pictures = Decoded(), []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        avi = declared(result, container, stream)
        steps: set[int] = set()
        ends = StreamEnds(container.start_time)
        try:
            for packet in video_packets(container, stream, ends, steps):
                result.video_packets += 1
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    result.errors += 1
                    continue
                _take(result, frames, pictures if keep_pictures else None, digests, on_frame)
            _take(result, stream.codec_context.decode(None), pictures if keep_pictures else None,
                  digests, on_frame)
        except av.error.FFmpegError as exc:
            result.demux_error = type(exc).__name__
        result.data_end_s, result.audio_span_s = ends.data_end(), ends.audio_span()
        result.audio_offset_s = ends.audio_offset()
        if avi and steps - {1}:
            result.frames_declared = None
    return result, pictures


def declared(result: Decoded, container, stream) -> bool:
    """Fill in what the container declares before any packet is read: the time base, the
    nominal rate, the duration and, where the container indexes its frames, their count.
    Returns whether it is AVI, whose count is a frame count only if its packets turn out to be
    one tick apart (the caller checks, from :func:`video_packets`' steps)."""
    result.time_base = float(stream.time_base or 0)
    result.rate = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0)
    result.container_duration_s = container.duration / 1e6 if container.duration else None
    # MP4/MOV index every sample; AVI counts ticks of its time base, which are frames only
    # where packets are one tick apart; Matroska and WebM declare no count.
    avi = "avi" in container.format.name
    indexed = container.format.name.startswith("mov,mp4") or avi
    result.frames_declared = (stream.frames or None) if indexed else None
    return avi


def video_packets(container, stream, ends: StreamEnds, steps: set[int] | None = None):
    """The non-empty packets of the video ``stream``, in demux order.

    Every packet of it and of the first audio stream is added to ``ends`` (where the streams'
    data ends); with ``steps``, the differences between consecutive video dts are added to it.
    Empty packets are the demuxer's flush packets.
    """
    last_dts = None
    for packet in container.demux([stream, *container.streams.audio[:1]]):
        if not packet.size:
            continue
        ends.add(packet)
        if packet.stream.type != "video":
            continue
        if steps is not None and packet.dts is not None:
            if last_dts is not None:
                steps.add(packet.dts - last_dts)
            last_dts = packet.dts
        yield packet


def integrity(decoded: Decoded, *, frame_tolerance: float = 0.02,
              truncation_tolerance: float = 0.1) -> tuple[str, str]:
    """(status, reason) of a file from its reference decode; ("ok", "") for an intact one.

    The same rule for every container, since Matroska, WebM and AVI declare no frame count:
    ``truncated`` when the streams' data ends early against the duration the header declares
    (a file cut short keeps its header), when fewer frames decode than there are packets
    (decoding stopped mid-way), or fewer than the container declares; ``corrupt`` when every
    frame is there but the decoder rejected packets or concealed damage.
    """
    frames, declared, header = decoded.frames, decoded.frames_declared, decoded.container_duration_s
    if frames == 0:
        return "unreadable", decoded.demux_error or "no frame could be decoded"
    interval = decoded.span_s() / frames
    if header and decoded.data_end_s + interval < header * (1 - truncation_tolerance):
        return "truncated", (f"the streams end at {decoded.data_end_s:.2f} s of the "
                             f"{header:.2f} s the container declares")
    if frames < decoded.video_packets * (1 - frame_tolerance):
        return "truncated", (f"decoding stopped: {frames} frames from {decoded.video_packets} "
                             f"packets ({decoded.errors} rejected)")
    if declared and frames < declared * (1 - frame_tolerance):
        return "truncated", f"decoded {frames} of {declared} declared frames"
    if decoded.errors or decoded.corrupt:
        return "corrupt", (f"{decoded.errors} packet(s) rejected and {decoded.corrupt} frame(s) "
                           "concealed by the decoder")
    return "ok", ""


def _take(result: Decoded, frames, pictures: list | None, digests: bool = True,
          on_frame: Callable[[av.VideoFrame], None] | None = None) -> None:
    for frame in frames:
        if not result.count:
            result.rotation = turns(frame.rotation) * 90
        result.count += 1
        result.pts.append(-1 if frame.pts is None else int(frame.pts))
        if digests:
            result.digests.append(frame_digest(frame))
        if on_frame is not None:
            on_frame(frame)
        result.corrupt += bool(frame.is_corrupt)
        result.keyframes += bool(frame.key_frame)
        if pictures is not None:
            pictures.append(displayed(frame))


class StreamEnds:
    """Where each stream's demuxed packets end, in seconds from the container's start."""

    def __init__(self, start_time: int | None) -> None:
        self._start = (start_time or 0) / 1e6
        self._end: dict[str, float] = {}
        self._first: dict[str, float] = {}

    def add(self, packet: av.Packet) -> None:
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or not packet.time_base:
            return
        start = float(stamp * packet.time_base)
        end = float((stamp + (packet.duration or 0)) * packet.time_base)
        kind = packet.stream.type
        self._end[kind] = max(self._end.get(kind, end), end)
        self._first[kind] = min(self._first.get(kind, start), start)

    def data_end(self) -> float:
        return max(self._end.values(), default=self._start) - self._start

    def audio_span(self) -> float | None:
        if "audio" not in self._first:
            return None
        return self._end["audio"] - self._first["audio"]

    def audio_offset(self) -> float | None:
        """Where the audio starts after the video (seconds; negative: before), or None."""
        if "audio" not in self._first or "video" not in self._first:
            return None
        return self._first["audio"] - self._first["video"]
