"""Probe one video: container facts, one decode, integrity status and warnings, and what later
stages need of its pictures.

Runs inside an isolated worker (see isolate.py). Every later stage reads the manifest this
produces instead of the videos' headers.

Integrity (``truncated``, ``corrupt``) is judged the same way for every container
(:func:`vidlab.media.reference.integrity`), from one of two checks (``probe.integrity``):

* ``full``: the sequential reference decode of every frame;
* ``fast``: every packet read and counted against the container's index and timestamps, only
  the keyframes decoded, then the last group of pictures decoded in full (a file whose decoding
  stops there is ``truncated``). Damage inside other groups of pictures goes unseen; the
  manifest's ``integrity`` column says which check each file had.

The same decode feeds two :class:`~vidlab.media.signature.FramePicker`: the dedup signature's
K frames and the contact-sheet frames (kept as small PNG thumbnails), so neither dedup nor the
sheets decode a video again. In ``fast`` mode they are the keyframes nearest the sample times.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidlab.core.fsutil import sha256_file
from vidlab.media import quality
from vidlab.media import signature as sig
from vidlab.media.reference import (
    Decoded,
    StreamEnds,
    declared,
    integrity,
    reference_decode,
    turns,
    video_packets,
)
from vidlab.media.sheets import STORED_HEIGHT, thumbnail

# Stable column order of data/interim/manifest.parquet.
MANIFEST_COLUMNS = (
    "video_id", "path", "size_bytes", "sha256", "duration_s", "container_duration_s", "fps_avg",
    "fps_nominal", "frames_declared", "frames_decoded", "width", "height", "display_width",
    "display_height", "rotation", "codec", "pix_fmt", "bit_rate", "gop_mean",
    "keyframe_interval_s", "audio", "audio_codec", "audio_sample_rate", "audio_duration_s",
    "vfr", "decode_errors", "integrity", "status", "reason", "warnings", "normalized_from",
    *quality.COLUMNS,
)
INTEGRITY_MODES = ("full", "fast")
STATUSES = ("ok", "zero_byte", "unreadable", "no_video_stream", "truncated", "corrupt",
            "decode_timeout")


@dataclass(frozen=True)
class Limits:
    """Tolerances from the probe params (picklable, for the workers)."""

    frame_tolerance: float
    vfr_tolerance: float
    fps_tolerance: float
    max_keyframe_interval_s: float
    truncation_tolerance: float = 0.1
    integrity: str = "full"  # full | fast (module docstring)
    signature_frames: int = 16  # K frames hashed per video (dedup.frames)
    sheet_frames: int = 6  # thumbnails kept per video (dedup.sheet_frames)
    quality: bool = True  # picture and timing quality measures (vidlab.media.quality)
    quality_fps: float = 0.5  # detail frames measured per second of video (at least 8 a video)
    max_combing: float = 0.02  # comb-tooth share from which a video counts as interlaced


def _empty(path: Path) -> dict:
    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(path=str(path), audio=False, vfr=False, warnings="", reason="",
               normalized_from="", rotation=0, decode_errors=0, integrity="")
    return row


def _rate(value: Fraction | None) -> float | None:
    return float(value) if value else None


def _audio(container: av.container.InputContainer, row: dict) -> None:
    if not container.streams.audio:
        return
    ctx = container.streams.audio[0].codec_context
    # the codec's canonical name (mp3), not the decoder's (mp3float)
    row.update(audio=True, audio_codec=ctx.codec.canonical_name, audio_sample_rate=ctx.sample_rate)


def probe_file(path: Path, limits: Limits) -> dict:
    """One manifest row for ``path`` (without video_id), from its container and a full decode."""
    path = Path(path)
    row = _empty(path)
    row["size_bytes"] = path.stat().st_size
    if row["size_bytes"] == 0:
        return row | {"status": "zero_byte", "reason": "the file has 0 bytes"}
    row["sha256"] = sha256_file(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        return row | {"status": "unreadable", "reason": f"cannot open ({type(exc).__name__})"}
    with container:
        if not container.streams.video:
            return row | {"status": "no_video_stream", "reason": "no video stream"}
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0)
        expected = stream.frames or int((container.duration or 0) / 1e6 * rate)
        row.update(
            container_duration_s=container.duration / 1e6 if container.duration else None,
            fps_nominal=_rate(stream.base_rate) or _rate(stream.guessed_rate),
            frames_declared=stream.frames or None, width=ctx.width, height=ctx.height,
            codec=ctx.codec.canonical_name, pix_fmt=ctx.pix_fmt,
            bit_rate=container.bit_rate or ctx.bit_rate,
        )
        _audio(container, row)
    signature, sheet = _pickers(path, limits, rate)
    meter = quality.QualityMeter(rate, expected, limits.quality_fps) if limits.quality else None
    fed = [c for c in (signature, sheet, meter) if c is not None]
    feed = (lambda frame: [c(frame) for c in fed]) if fed else None
    if limits.integrity == "fast":
        decoded, tail = fast_decode(path, on_frame=feed)
    else:
        decoded, tail = reference_decode(path, digests=False, on_frame=feed)[0], ""
    turned = decoded.rotation in (90, 270)
    row.update(frames_decoded=decoded.frames if limits.integrity == "full" else None,
               rotation=decoded.rotation, integrity=limits.integrity,
               display_width=row["height"] if turned else row["width"],
               display_height=row["width"] if turned else row["height"],
               decode_errors=decoded.errors + decoded.corrupt,
               audio_duration_s=decoded.audio_span_s)
    if decoded.frames:
        row["duration_s"] = decoded.span_s()
    _timing(row, decoded)
    if meter is not None:
        quality.fill(row, decoded, meter, full=limits.integrity == "full",
                     fps_tolerance=limits.fps_tolerance)
    row = _judge(row, decoded, limits)
    if tail and row["status"] == "ok":
        row.update(status="truncated", reason=tail)
    if signature is not None and decoded.frames:
        row["_signature"] = sig.signature_of(signature.result(), limits.signature_frames)
        row["_thumbs"] = sheet.result()
    return row


PICK_WINDOW_FRAMES = 2.5  # frames before a sample time converted in case they are the nearest


def _pickers(path: Path, limits: Limits, rate: float) -> tuple:
    """The signature and contact-sheet pickers for one file (None, None without a duration);
    ``rate``: the stream's frame rate (0: unknown)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tick = float(stream.time_base or 0) or None
        try:
            duration = sig.duration_of(container, stream)
        except ValueError:
            return None, None
    # fast mode sees keyframes only, often a second apart: each is converted as it comes
    window = PICK_WINDOW_FRAMES / rate if rate and limits.integrity == "full" else None
    signature = sig.FramePicker(sig.sample_times(duration, limits.signature_frames), sig.planes,
                                window, tick)
    sheet = sig.FramePicker(sig.sample_times(duration, limits.sheet_frames),
                            lambda frame: thumbnail(sig.thumbnail_rgb(frame, STORED_HEIGHT)),
                            window, tick)
    return signature, sheet


def fast_decode(path: Path, *, on_frame=None) -> tuple[Decoded, str]:
    """The ``fast`` check: every packet read, only keyframes decoded, then the last group of
    pictures decoded in full.

    Returns:
        What was seen, as a :class:`Decoded` whose frames are the video packets (one frame
        each), in display order by their timestamps; and why decoding the last group of
        pictures failed, or "".
    """
    result = Decoded()
    last_key, after_key = None, 0  # the last keyframe's timestamp; packets from it on
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        avi = declared(result, container, stream)
        ends = StreamEnds(container.start_time)
        stamps: list[int] = []
        steps: set[int] = set()
        try:
            for packet in video_packets(container, stream, ends, steps):
                result.video_packets += 1
                stamps.append(-1 if packet.pts is None else int(packet.pts))
                if not packet.is_keyframe:
                    after_key += 1
                    continue
                result.keyframes += 1
                last_key, after_key = packet.pts if packet.pts is not None else packet.dts, 1
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    result.errors += 1
                    continue
                _seen(result, frames, on_frame)
            _seen(result, ctx.decode(None), on_frame)
        except av.error.FFmpegError as exc:
            result.demux_error = type(exc).__name__
        result.data_end_s, result.audio_span_s = ends.data_end(), ends.audio_span()
        result.audio_offset_s = ends.audio_offset()
        if avi and steps - {1}:
            result.frames_declared = None
    usable = all(p >= 0 for p in stamps) and len(set(stamps)) == len(stamps)
    result.pts = sorted(stamps) if usable else [-1] * len(stamps)
    result.count = result.video_packets
    return result, _last_group(path, last_key, after_key, result)


def _seen(result: Decoded, frames, on_frame) -> None:
    """Count what the decoder flagged in keyframes; ``result.count`` (frames handed out so far,
    replaced by the packet count at the end) marks the first frame, whose rotation is kept."""
    for frame in frames:
        if not result.count:
            result.rotation = turns(frame.rotation) * 90
        result.count += 1
        result.corrupt += bool(frame.is_corrupt)
        if on_frame is not None:
            on_frame(frame)


LEADING_PICTURES = 3  # frames after a seek that may not decode (open groups of pictures)


def _last_group(path: Path, key, packets: int, result: Decoded) -> str:
    """Decode the last group of pictures from its keyframe; why it fell short, or ""."""
    if key is None or not packets:
        return ""
    frames = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            container.seek(int(key), stream=stream, backward=True, any_frame=False)
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:
                    result.errors += 1
                    continue
                frames += sum(1 for frame in decoded if frame.pts is None or frame.pts >= key)
                result.corrupt += sum(bool(frame.is_corrupt) for frame in decoded)
            frames += sum(1 for frame in stream.codec_context.decode(None)
                          if frame.pts is None or frame.pts >= key)
        except av.error.FFmpegError as exc:
            return f"decoding the last group of pictures failed ({type(exc).__name__})"
    if frames + LEADING_PICTURES < packets:
        return (f"decoding stopped: the last group of pictures gave {frames} frames from "
                f"{packets} packets")
    return ""


def _timing(row: dict, decoded: Decoded) -> None:
    """Average fps, VFR spread and keyframe spacing from the decoded timestamps."""
    times = decoded.times()
    deltas = np.diff(times)
    deltas = deltas[deltas > 0]
    if len(deltas):
        row["fps_avg"] = 1.0 / float(deltas.mean())
        row["_spread"] = float((deltas.max() - deltas.min()) / np.median(deltas))
    if decoded.keyframes:
        row["gop_mean"] = decoded.frames / decoded.keyframes
        if row.get("fps_avg"):
            row["keyframe_interval_s"] = row["gop_mean"] / row["fps_avg"]


def _judge(row: dict, decoded: Decoded, limits: Limits) -> dict:
    """Integrity status and warnings."""
    spread = row.pop("_spread", 0.0)
    status, reason = integrity(decoded, frame_tolerance=limits.frame_tolerance,
                               truncation_tolerance=limits.truncation_tolerance)
    row.update(status=status, reason=reason)
    warnings = []
    if spread > limits.vfr_tolerance:
        row["vfr"] = True
        warnings.append("vfr")
    if not decoded.timestamps_usable and decoded.frames > 1:
        warnings.append("no_timestamps")
    nominal, average = row["fps_nominal"], row["fps_avg"]
    if nominal and average and abs(average - nominal) / nominal > limits.fps_tolerance:
        warnings.append("fps_mismatch")
    if (row["keyframe_interval_s"] or 0) > limits.max_keyframe_interval_s:
        warnings.append("sparse_keyframes")
    if row.pop("_quality_failed", ""):
        warnings.append("quality_unmeasured")
    flagged, combed = row.get("interlaced_share") or 0, row.get("combing") or 0
    if flagged >= 0.5 or combed >= limits.max_combing:
        warnings.append("interlaced")
    row["warnings"] = ",".join(warnings)
    return row


def _probe_item(item: tuple[Path, Limits]) -> dict:
    return probe_file(*item)


def probe_all(paths: list[Path], limits: Limits, *, workers: int, timeout_s: float,
              per_gigapixel_s: float = 0.0, engine: str = "local", address: str | None = None,
              ) -> list[dict]:
    """Probe every path, each in its own worker (a process here, or a Ray task); rows in input
    order. Each file's time limit is ``timeout_s + per_gigapixel_s x`` its gigapixels
    (:mod:`vidlab.media.budget`)."""
    from vidlab.core.engine import run_tasks
    from vidlab.core.progress import track
    from vidlab.media.budget import timeouts

    limit = timeouts(paths, base_s=timeout_s, per_gigapixel_s=per_gigapixel_s, workers=workers,
                     engine=engine, address=address)
    rows: list[dict | None] = [None] * len(paths)
    outcomes = run_tasks(_probe_item, [(p, limits) for p in paths], workers=workers,
                         timeout_s=limit, engine=engine, address=address)
    for outcome in track(outcomes, total=len(paths), desc="probe"):
        if outcome.status == "ok":
            rows[outcome.index] = outcome.value
            continue
        row = _empty(paths[outcome.index])
        status = "decode_timeout" if outcome.status == "timeout" else "unreadable"
        row.update(status=status, reason=outcome.detail.splitlines()[0])
        rows[outcome.index] = row
    return rows  # type: ignore[return-value]


def write_frames(path: Path, rows: list[dict]) -> None:
    """The probe's side table of pictures (``frames.parquet``), one row per manifest row:
    ``video_id``, ``signature`` (the dedup signature's K x 3 uint64 hashes, little-endian bytes;
    empty when the video has none) and ``thumbs`` (the contact-sheet frames as PNG thumbnails).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "video_id": pa.array([r["video_id"] for r in rows], pa.string()),
        "signature": pa.array([r["_signature"].astype("<u8").tobytes()
                               if r.get("_signature") is not None else b"" for r in rows],
                              pa.binary()),
        "thumbs": pa.array([list(r.get("_thumbs") or []) for r in rows], pa.list_(pa.binary())),
    })
    pq.write_table(table, path)


def read_frames(path: Path, k: int) -> dict[str, tuple[np.ndarray | None, list[bytes]]]:
    """video_id -> (its (K, 3) signature or None, its PNG thumbnails), from :func:`write_frames`.

    Raises:
        ValueError: when a signature does not hold ``k`` frames (the table was written with
            another ``dedup.frames``).
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pydict()
    out: dict[str, tuple[np.ndarray | None, list[bytes]]] = {}
    for video_id, raw, thumbs in zip(table["video_id"], table["signature"], table["thumbs"],
                                     strict=True):
        signature = None
        if raw:
            signature = np.frombuffer(raw, "<u8").astype(np.uint64)
            if signature.size != k * sig.PLANES:
                raise ValueError(f"{path} holds signatures of {signature.size // sig.PLANES} "
                                 f"frames, not {k}: rerun the probe stage")
            signature = signature.reshape(k, sig.PLANES)
        out[video_id] = (signature, list(thumbs or []))
    return out

