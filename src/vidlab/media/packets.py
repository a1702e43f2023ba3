"""A de-identified copy proven from its packets: what a decoder is given, read without decoding.

Two streams that give a decoder the same parameters and the same packets decode to the same
pictures, so ingest proves a remux this way (:func:`same_stream`) at about a hundredth of the
cost of decoding both files (:mod:`vidlab.media.reference`, still used for every re-encode), and
judges a cut file from its packets before the copy's fresh header would hide the cut
(:func:`packet_integrity`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import av

from vidlab.media.reference import StreamEnds, turns, video_packets


@dataclass
class PacketScan:
    """A file's first video stream read packet by packet, without decoding.

    What a decoder is given: its parameters (codec, extradata, picture format and colour
    description) and every compressed packet (a hash of its bytes, its keyframe and discard
    flags, its side data and its presentation time). Two streams that agree on all of it decode
    to the same pictures in the same order, because decoding is a function of exactly that.
    """

    params: tuple = ()
    packets: list[tuple] = field(default_factory=list)  # (digest, key, discard, side, pts_s)
    tick_s: float = 0.0  # the stream's time base, seconds
    rotation: int = 0  # display rotation (degrees, counter-clockwise), from the first frame
    video_packets: int = 0
    data_end_s: float = 0.0
    container_duration_s: float | None = None
    frames_declared: int | None = None  # MP4/MOV index entries (exact there only)
    demux_error: str = ""


def scan_packets(path: str | Path) -> PacketScan:
    """Read ``path``'s first video stream (and the first audio stream's extent) packet by
    packet; decodes only the first frame, for its display rotation.

    Raises:
        av.error.FFmpegError: when the container cannot be opened.
        ValueError: when it holds no video stream.
    """
    scan = PacketScan()
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        scan.params = (ctx.codec.name, decoder_config(ctx.codec.name, ctx.extradata),
                       ctx.width, ctx.height,
                       ctx.pix_fmt, ctx.color_range, ctx.colorspace, ctx.color_primaries,
                       ctx.color_trc, str(stream.sample_aspect_ratio))
        tick = float(stream.time_base or 0)
        scan.tick_s = tick
        scan.container_duration_s = container.duration / 1e6 if container.duration else None
        if container.format.name.startswith("mov,mp4"):
            scan.frames_declared = stream.frames or None
        ends = StreamEnds(container.start_time)
        try:
            for packet in video_packets(container, stream, ends):
                scan.video_packets += 1
                side = tuple(sorted((str(d.type), bytes(d)) for d in packet.iter_sidedata()))
                scan.packets.append((
                    hashlib.blake2b(bytes(packet), digest_size=16).digest(),
                    bool(packet.is_keyframe), bool(packet.is_discard), side,
                    None if packet.pts is None else float(packet.pts) * tick))
        except av.error.FFmpegError as exc:
            scan.demux_error = type(exc).__name__
        scan.data_end_s = ends.data_end()
    scan.rotation = _first_rotation(path)
    return scan


def decoder_config(codec: str, extradata: bytes | None) -> bytes:
    """The codec's extradata as the decoder reads it. An HEVC ``hvcC`` record has an
    ``array_completeness`` bit per parameter-set array, which says whether more parameter sets
    may come in the stream; the MOV/MP4 muxer clears it when it rewrites the record, and the
    decoder does not read it. It is masked out here; every parameter set stays compared, byte
    for byte."""
    data = bytes(extradata or b"")
    if codec != "hevc" or len(data) < 23 or data[0] != 1:
        return data
    out, pos = bytearray(data), 23
    for _ in range(data[22]):
        if pos + 3 > len(data):
            return data  # not a well-formed record: compared as it is
        out[pos] &= 0x7F
        count = int.from_bytes(data[pos + 1:pos + 3], "big")
        pos += 3
        for _ in range(count):
            if pos + 2 > len(data):
                return data
            pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
    return bytes(out)


def _first_rotation(path: str | Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                return turns(frame.rotation) * 90
        except av.error.FFmpegError:
            pass
    return 0


def same_stream(source: PacketScan, copy: PacketScan) -> str:
    """Why ``copy`` might not decode like ``source``; empty when both give a decoder exactly
    the same input: equal parameters, the same packets byte for byte in the same order with the
    same flags and side data, presentation times equal to within one tick of the coarser time
    base (a remux into Matroska rounds them to milliseconds), and the same display rotation."""
    if copy.params != source.params:
        return "the decoder parameters differ"
    if copy.video_packets != source.video_packets:
        return f"the copy holds {copy.video_packets} video packets, the original " \
               f"{source.video_packets}"
    tolerance = max(source.tick_s, copy.tick_s) + 1e-9
    for a, b in zip(source.packets, copy.packets, strict=True):
        if a[:4] != b[:4]:
            return "a packet's bytes or flags differ"
        if (a[4] is None) != (b[4] is None) or (a[4] is not None and abs(a[4] - b[4]) > tolerance):
            return "a packet's presentation time differs"
    if copy.rotation != source.rotation:
        return f"the copy turns by {copy.rotation} degrees, the original {source.rotation}"
    return ""


def packet_integrity(scan: PacketScan, *, frame_tolerance: float = 0.02,
                     truncation_tolerance: float = 0.1) -> tuple[str, str]:
    """(status, reason) from the packets alone, as :func:`integrity` judges a decode: the
    streams ending early against the container's declared duration, or fewer packets than an
    MP4/MOV index lists. What only decoding shows (rejected packets, concealed damage,
    decoding that stops) is left to the probe."""
    if not scan.video_packets:
        return "unreadable", scan.demux_error or "no video packet"
    header, interval = scan.container_duration_s, 0.0
    times = sorted(p[4] for p in scan.packets if p[4] is not None)
    if len(times) > 1:
        interval = (times[-1] - times[0]) / (len(times) - 1)
    if header and scan.data_end_s + interval < header * (1 - truncation_tolerance):
        return "truncated", (f"the streams end at {scan.data_end_s:.2f} s of the "
                             f"{header:.2f} s the container declares")
    declared = scan.frames_declared
    if declared and scan.video_packets < declared * (1 - frame_tolerance):
        return "truncated", f"{scan.video_packets} of {declared} indexed packets are present"
    return "ok", ""
