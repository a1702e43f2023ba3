"""De-identification of one video: keyed pseudonym, metadata-free remux, tag verification.

Pseudonyms are HMAC-SHA256(key, sha256(content) + NUL + original name): deterministic for a key
(so `dvc repro` reproduces them), not reversible by hashing guessable inputs without the key. The
remux copies the compressed video (and, by param, audio) packets into a fresh container with no
global or stream metadata, chapters, data tracks, subtitles or attachments, and with
``fflags=+bitexact`` so no encoder tag is written. The display matrix (which way is up) is
stream side data, not a tag, and is kept: it identifies no one.

Every copy is proven against its source before it is published (:func:`prove_copy`): a remux
by its packets (the decoder gets the same parameters and the same packets, byte for byte, in the
same order, with the same flags, side data and display rotation, so it decodes the same
pictures; no frame is decoded); a copy that fails that, and every re-encode, by a sequential
decode of both (:func:`verify_copy`: the same number of frames, the same decoded samples frame
by frame, a sha256 per frame, in the same order, and the same display rotation). A remux that
fails is replaced by a lossless FFV1 re-encode into Matroska, proven by decoding; a file for
which neither holds is quarantined as ``copy_mismatch``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidlab.core.fsutil import sha256_file
from vidlab.media.packets import PacketScan, packet_integrity, same_stream, scan_packets
from vidlab.media.reference import Decoded, reference_decode

FORMATS = {".mp4": "mp4", ".mov": "mov", ".m4v": "mp4", ".mkv": "matroska", ".webm": "webm",
           ".avi": "avi"}
# What a clean remux may still carry: container brands and generic stream descriptors.
ALLOWED_CONTAINER_TAGS = {"major_brand", "minor_version", "compatible_brands"}
ALLOWED_STREAM_TAGS = {"language", "handler_name", "vendor_id", "duration"}
GENERIC_HANDLERS = {"VideoHandler", "SoundHandler", ""}
# Matroska requires a muxing-app element; with +bitexact it is the bare, versionless "Lavf".
GENERIC_ENCODERS = {"Lavf"}
TRUNCATION_TOLERANCE = 0.02  # packets missing vs the container's index, as a share


def pseudonym(key: bytes, content_sha256: str, name: str, length: int) -> str:
    """Keyed pseudonym of a video (hex, ``length`` characters)."""
    message = f"{content_sha256}\0{name}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:length]


def subject_pseudonym(key: bytes, child_id: str, length: int) -> str:
    """Keyed pseudonym of a child id; empty for an empty id."""
    if not child_id:
        return ""
    return hmac.new(key, f"subject\0{child_id}".encode(), hashlib.sha256).hexdigest()[:length]


def remux(src: Path, dst: Path, *, keep_audio: bool) -> dict:
    """Copy ``src``'s first video (and audio) stream into ``dst`` with no metadata, proven to
    decode exactly like the source; a lossless re-encode where the packet copy is not.

    Returns:
        ``{"status": "ok", "path": <the copy>, "method": "remux" | "lossless"}`` (a lossless
        copy is ``dst`` with the suffix ``.mkv``), or a status of zero_byte, unreadable,
        no_video_stream, truncated or copy_mismatch with a detail sentence. Nothing is left
        beside ``dst`` unless the status is ok.
    """
    if src.stat().st_size == 0:
        return {"status": "zero_byte", "detail": "The file has 0 bytes."}
    try:
        scanned = scan_packets(src)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "no video stream" in str(exc):
            return {"status": "no_video_stream", "detail": "The file holds no video stream."}
        return {"status": "unreadable",
                "detail": f"The container cannot be read ({type(exc).__name__})."}
    status, reason = packet_integrity(scanned)
    if status == "unreadable":
        return {"status": "unreadable", "detail": "No video packet could be read."}
    if status == "truncated":  # judged here: a remux writes a fresh header that hides the cut
        return {"status": "truncated", "detail": f"The file is cut short: {reason}."}
    decoded: list = []  # the source's reference decode, made only if a proof needs it

    def source() -> Decoded:
        if not decoded:
            decoded.append(reference_decode(src)[0])
        return decoded[0]

    attempts = ((dst, "remux", lambda tmp: _copy_packets(src, tmp, _format(dst), keep_audio)),
                (dst.with_suffix(".mkv"), "lossless",
                 lambda tmp: _lossless(src, tmp, keep_audio)))
    mismatch = ""
    for target, method, write in attempts:
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            result = write(tmp)
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            result = {"status": "unreadable",
                      "detail": f"The container cannot be read ({type(exc).__name__})."}
        if result["status"] == "ok":
            mismatch = prove_copy(scanned, source, tmp, method)
            if not mismatch:
                os.replace(tmp, target)
                return {"status": "ok", "path": target, "method": method}
        tmp.unlink(missing_ok=True)
        if result["status"] == "truncated":
            return result
    return {"status": "copy_mismatch",
            "detail": f"No copy decodes like the original ({mismatch or result['detail']})."}


def prove_copy(scanned: PacketScan, source: Callable[[], Decoded], copy: Path,
               method: str) -> str:
    """Why ``copy`` does not decode like the source; empty if it does.

    A remux is proven from its packets (:func:`~vidlab.media.packets.same_stream`): the same
    decoder input decodes to the same pictures, and reading packets costs about a hundredth of
    decoding them. A remux whose packets differ, and every lossless re-encode, is proven by
    decoding both files frame by frame (:func:`verify_copy`).
    """
    if method == "remux":
        try:
            if not same_stream(scanned, scan_packets(copy)):
                return ""
        except (av.error.FFmpegError, ValueError):
            pass
    try:
        original = source()
    except (av.error.FFmpegError, ValueError) as exc:
        return f"the original cannot be decoded ({type(exc).__name__})"
    if not original.frames:
        return "no frame of the original could be decoded"
    return verify_copy(original, copy)


def _format(path: Path) -> str:
    return FORMATS.get(path.suffix.lower(), "mp4")


def verify_copy(source, copy: Path) -> str:
    """Why ``copy`` does not decode like the source (its :class:`Decoded`); empty if it does."""
    try:
        copied, _ = reference_decode(copy)
    except (av.error.FFmpegError, ValueError) as exc:
        return f"the copy cannot be read ({type(exc).__name__})"
    if copied.frames != source.frames:
        return f"the copy decodes {copied.frames} frames, the original {source.frames}"
    if copied.rotation != source.rotation:
        return f"the copy turns by {copied.rotation} degrees, the original {source.rotation}"
    differ = sum(a != b for a, b in zip(copied.digests, source.digests, strict=True))
    if differ:
        return f"{differ} of {source.frames} decoded frames differ"
    return ""


def _lossless(src: Path, dst: Path, keep_audio: bool) -> dict:
    """Re-encode the video losslessly (FFV1, same pixel format, same timestamps and display
    rotation) into Matroska; audio packets are copied."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska",
                                           options={"fflags": "+bitexact"}) as out:
        video = inp.streams.video[0]
        video.thread_type = "AUTO"  # as the reference decode, so damage is concealed alike
        ctx = video.codec_context
        rate = video.average_rate or video.guessed_rate or 30
        # AVI stores no presentation times (with B-frames the decoder's are out of order):
        # number the frames at the nominal rate there, keep the source's times elsewhere.
        renumber = "avi" in inp.format.name
        time_base = Fraction(1, 1) / rate if renumber else video.time_base
        stream = out.add_stream("ffv1", rate=rate)
        stream.width, stream.height = ctx.width, ctx.height
        stream.pix_fmt = _FULL_RANGE.get(ctx.pix_fmt, ctx.pix_fmt)
        stream.time_base = stream.codec_context.time_base = time_base
        if ctx.pix_fmt in _FULL_RANGE or ctx.color_range == 2:
            stream.codec_context.color_range = 2  # the container records it for the decoder
        audio = None
        if keep_audio and inp.streams.audio:
            audio = out.add_stream_from_template(inp.streams.audio[0])
            for tag in list(audio.metadata):
                del audio.metadata[tag]
        rotated, count = False, 0
        for packet in inp.demux([video, *([inp.streams.audio[0]] if audio else [])]):
            if packet.stream.type == "audio":
                if packet.size:
                    packet.stream = audio
                    out.mux(packet)
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue  # the source's own damage: the proof compares what both decode
            for frame in frames:
                if not rotated and frame.rotation:
                    stream.set_display_rotation(frame.rotation)
                rotated = True
                frame = _ffv1_frame(frame)
                if renumber:
                    frame.pts, frame.time_base = count, time_base
                count += 1
                out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return {"status": "ok"}


_FULL_RANGE = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p",
               "yuvj440p": "yuv440p", "yuvj411p": "yuv411p"}


def _ffv1_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """The frame in a pixel format FFV1 takes, samples untouched: a deprecated full-range
    ``yuvj`` frame becomes the same planes as ``yuv`` with a full colour range."""
    target = _FULL_RANGE.get(frame.format.name)
    if target is None:
        frame.pict_type = av.video.frame.PictureType.NONE
        return frame
    copy = av.VideoFrame(frame.width, frame.height, target)
    for src, dst in zip(frame.planes, copy.planes, strict=True):
        rows = np.frombuffer(memoryview(src), np.uint8).reshape(src.height, src.line_size)
        into = np.frombuffer(memoryview(dst), np.uint8).reshape(dst.height, dst.line_size)
        into[:, : dst.width] = rows[:, : dst.width]
    copy.pts, copy.time_base, copy.color_range = frame.pts, frame.time_base, 2
    return copy


def _copy_packets(src: Path, dst: Path, fmt: str, keep_audio: bool) -> dict:
    with av.open(str(src)) as inp:
        if not inp.streams.video:
            return {"status": "no_video_stream", "detail": "The file holds no video stream."}
        streams = [inp.streams.video[0], *(inp.streams.audio[:1] if keep_audio else [])]
        declared = inp.streams.video[0].frames
        copied = 0
        with av.open(str(dst), "w", format=fmt, options={"fflags": "+bitexact"}) as out:
            targets = {}
            for stream in streams:
                target = out.add_stream_from_template(stream)
                for tag in list(target.metadata):  # templates carry the source's stream tags
                    del target.metadata[tag]
                targets[stream.index] = target
            try:
                for packet in inp.demux(streams):
                    # Only the demuxer's empty flush packets are skipped: in Matroska the first
                    # keyframe of a stream with B-frames has no dts, and dropping it leaves a
                    # file that decodes nothing.
                    if not packet.size:
                        continue
                    copied += packet.stream.type == "video"
                    packet.stream = targets[packet.stream.index]
                    out.mux(packet)
            except av.error.FFmpegError:
                pass  # a cut file ends in an error; the count below says whether it matters
    # Only MP4/MOV index every sample, so only there is the declared count exact; other
    # containers' counts are estimates (AVI counts ticks), and the probe stage decodes fully.
    indexed = fmt in ("mp4", "mov")
    if indexed and declared and copied < declared * (1 - TRUNCATION_TOLERANCE):
        detail = f"Only {copied} of the {declared} frames the container lists are present."
        return {"status": "truncated", "detail": detail}
    if copied == 0:
        return {"status": "unreadable", "detail": "No video frame could be read."}
    return {"status": "ok"}


def deidentify_one(src: Path, dst_dir: Path, key: bytes, name: str, length: int,
                   keep_audio: bool) -> dict:
    """Hash, pseudonymise and remux one file (runs in a worker process)."""
    try:
        content = sha256_file(src)
    except OSError as exc:  # no permission, a read error of the disk: quarantined, not a crash
        return {"status": "unreadable", "video_id": "",
                "detail": f"The file cannot be read ({exc.strerror or type(exc).__name__}); "
                          "check its permissions."}
    video_id = pseudonym(key, content, name, length)
    suffix = src.suffix.lower() if src.suffix.lower() in FORMATS else ".mp4"
    result = remux(src, dst_dir / f"{video_id}{suffix}", keep_audio=keep_audio)
    result["video_id"] = video_id
    if result["status"] == "ok":
        copy = result.pop("path")
        result["size_bytes"] = copy.stat().st_size
        result["sha256"] = sha256_file(copy)
        result["filename"] = copy.name
    return result


def tag_violations(path: Path) -> list[str]:
    """Metadata a de-identified file must not carry; an empty list means clean."""
    found = []
    with av.open(str(path)) as container:
        for tag, value in container.metadata.items():
            generic = tag.lower() == "encoder" and value in GENERIC_ENCODERS
            if tag.lower() not in ALLOWED_CONTAINER_TAGS and not generic:
                found.append(f"container tag {tag}")
        for stream in container.streams:
            if stream.type not in ("video", "audio"):
                found.append(f"{stream.type} stream")
            for tag, value in stream.metadata.items():
                if tag.lower() not in ALLOWED_STREAM_TAGS or (tag == "handler_name" and
                                                      value not in GENERIC_HANDLERS):
                    found.append(f"{stream.type} stream tag {tag}")
        if getattr(container, "chapters", None) and container.chapters():
            found.append("chapters")
    return found
