"""De-identification of one video: keyed pseudonym, metadata-free remux, tag verification.

Pseudonyms are HMAC-SHA256(key, sha256(content) + NUL + original name): deterministic for a key
(so `dvc repro` reproduces them), not reversible by hashing guessable inputs without the key. The
remux copies the compressed video (and, by param, audio) packets into a fresh container with no
global or stream metadata, chapters, data tracks, subtitles or attachments, and with
``fflags=+bitexact`` so no encoder tag is written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import av

from vidlab.fsutil import sha256_file

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
    """Copy ``src``'s first video (and audio) stream into ``dst`` with no metadata.

    Returns:
        ``{"status": "ok"}``, or a status of zero_byte, unreadable, no_video_stream or truncated
        with a detail sentence. Nothing is left at ``dst`` unless the status is ok.
    """
    if src.stat().st_size == 0:
        return {"status": "zero_byte", "detail": "The file has 0 bytes."}
    tmp = dst.with_name(f".{dst.name}.tmp")
    try:
        result = _copy_packets(src, tmp, FORMATS.get(dst.suffix.lower(), "mp4"), keep_audio)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        reason = type(exc).__name__
        result = {"status": "unreadable", "detail": f"The container cannot be read ({reason})."}
    if result["status"] == "ok":
        os.replace(tmp, dst)
    else:
        tmp.unlink(missing_ok=True)
    return result


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
                    if packet.dts is None:
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
    content = sha256_file(src)
    video_id = pseudonym(key, content, name, length)
    dst = dst_dir / f"{video_id}{src.suffix.lower()}"
    result = remux(src, dst, keep_audio=keep_audio)
    result["video_id"] = video_id
    if result["status"] == "ok":
        result["size_bytes"] = dst.stat().st_size
        result["sha256"] = sha256_file(dst)
        result["filename"] = dst.name
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
