"""Probe one video: container facts, a full decode, integrity status and warnings.

Runs inside an isolated worker (see isolate.py). Every later stage reads the manifest this
produces instead of the videos' headers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from vidlab.fsutil import sha256_file

# Stable column order of data/interim/manifest.parquet.
MANIFEST_COLUMNS = (
    "video_id", "path", "size_bytes", "sha256", "duration_s", "fps_avg", "fps_nominal",
    "frames_declared", "frames_decoded", "width", "height", "rotation", "codec", "pix_fmt",
    "bit_rate", "gop_mean", "keyframe_interval_s", "audio", "audio_codec", "audio_sample_rate",
    "audio_duration_s", "vfr", "status", "reason", "warnings", "normalized_from",
)
STATUSES = ("ok", "zero_byte", "unreadable", "no_video_stream", "truncated", "decode_timeout")


@dataclass(frozen=True)
class Limits:
    """Tolerances from the probe params (picklable, for the workers)."""

    frame_tolerance: float
    vfr_tolerance: float
    fps_tolerance: float
    max_keyframe_interval_s: float


def _empty(path: Path) -> dict:
    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(path=str(path), audio=False, vfr=False, warnings="", reason="",
               normalized_from="", rotation=0)
    return row


def _rate(value: Fraction | None) -> float | None:
    return float(value) if value else None


def _audio(container: av.container.InputContainer, row: dict) -> None:
    if not container.streams.audio:
        return
    stream = container.streams.audio[0]
    row.update(audio=True, audio_codec=stream.codec_context.name,
               audio_sample_rate=stream.codec_context.sample_rate)
    if stream.duration is not None and stream.time_base:
        row["audio_duration_s"] = float(stream.duration * stream.time_base)


def _decode(container: av.container.InputContainer, stream: av.VideoStream) -> tuple:
    """Decode every frame: (timestamps in seconds, keyframe count, rotation, error or '')."""
    times, keys, rotation, error = [], 0, 0, ""
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:
                times.append(float(frame.pts * stream.time_base))
            keys += bool(frame.key_frame)
            if len(times) == 1:
                rotation = int(getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError as exc:
        error = f"decoding stopped after {len(times)} frames ({type(exc).__name__})"
    return times, keys, rotation, error


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
        row.update(
            duration_s=container.duration / 1e6 if container.duration else None,
            fps_nominal=_rate(stream.base_rate) or _rate(stream.guessed_rate),
            frames_declared=stream.frames or None, width=ctx.width, height=ctx.height,
            codec=ctx.name, pix_fmt=ctx.pix_fmt, bit_rate=container.bit_rate or ctx.bit_rate,
        )
        _audio(container, row)
        times, keys, rotation, error = _decode(container, stream)
    row.update(frames_decoded=len(times), rotation=rotation)
    _timing(row, times, keys)
    return _judge(row, error, limits)


def _timing(row: dict, times: list[float], keys: int) -> None:
    """Average fps, VFR spread and keyframe spacing from the decoded timestamps."""
    ordered = sorted(times)  # decode order differs from display order with B-frames
    deltas = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b > a]
    if deltas:
        mean = statistics.fmean(deltas)
        row["fps_avg"] = 1.0 / mean
        row["_spread"] = (max(deltas) - min(deltas)) / statistics.median(deltas)
    if keys:
        row["gop_mean"] = len(times) / keys
        if row.get("fps_avg"):
            row["keyframe_interval_s"] = row["gop_mean"] / row["fps_avg"]


def _judge(row: dict, error: str, limits: Limits) -> dict:
    """Integrity status and warnings."""
    spread = row.pop("_spread", 0.0)
    declared, decoded = row["frames_declared"], row["frames_decoded"]
    if decoded == 0:
        row.update(status="unreadable", reason=error or "no frame could be decoded")
    elif declared and decoded < declared * (1 - limits.frame_tolerance):
        row.update(status="truncated",
                   reason=f"decoded {decoded} of {declared} declared frames"
                   + (f"; {error}" if error else ""))
    else:
        row.update(status="ok", reason=error)
    warnings = []
    if spread > limits.vfr_tolerance:
        row["vfr"] = True
        warnings.append("vfr")
    nominal, average = row["fps_nominal"], row["fps_avg"]
    if nominal and average and abs(average - nominal) / nominal > limits.fps_tolerance:
        warnings.append("fps_mismatch")
    if (row["keyframe_interval_s"] or 0) > limits.max_keyframe_interval_s:
        warnings.append("sparse_keyframes")
    row["warnings"] = ",".join(warnings)
    return row


def _probe_item(item: tuple[Path, Limits]) -> dict:
    return probe_file(*item)


def probe_all(paths: list[Path], limits: Limits, *, workers: int, timeout_s: float,
              progress: bool = True) -> list[dict]:
    """Probe every path, each in its own process; rows in input order."""
    from vidlab.progress import track
    from vidlab.quality.isolate import run_isolated

    rows: list[dict | None] = [None] * len(paths)
    outcomes = run_isolated(_probe_item, [(p, limits) for p in paths], workers=workers,
                            timeout_s=timeout_s)
    for outcome in track(outcomes, total=len(paths), desc="probe"):
        if outcome.status == "ok":
            rows[outcome.index] = outcome.value
            continue
        row = _empty(paths[outcome.index])
        status = "decode_timeout" if outcome.status == "timeout" else "unreadable"
        row.update(status=status, reason=outcome.detail.splitlines()[0])
        rows[outcome.index] = row
    return rows  # type: ignore[return-value]
