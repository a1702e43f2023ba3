"""Probe one video: container facts, a full decode, integrity status and warnings.

Runs inside an isolated worker (see isolate.py). Every later stage reads the manifest this
produces instead of the videos' headers.

Integrity (``truncated``, ``corrupt``) is judged the same way for every container, from the
sequential reference decode (:func:`vidlab.media.reference.integrity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidlab.core.fsutil import sha256_file
from vidlab.media.reference import Decoded, integrity, reference_decode

# Stable column order of data/interim/manifest.parquet.
MANIFEST_COLUMNS = (
    "video_id", "path", "size_bytes", "sha256", "duration_s", "container_duration_s", "fps_avg",
    "fps_nominal", "frames_declared", "frames_decoded", "width", "height", "display_width",
    "display_height", "rotation", "codec", "pix_fmt", "bit_rate", "gop_mean",
    "keyframe_interval_s", "audio", "audio_codec", "audio_sample_rate", "audio_duration_s",
    "vfr", "decode_errors", "status", "reason", "warnings", "normalized_from",
)
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


def _empty(path: Path) -> dict:
    row = dict.fromkeys(MANIFEST_COLUMNS)
    row.update(path=str(path), audio=False, vfr=False, warnings="", reason="",
               normalized_from="", rotation=0, decode_errors=0)
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
        row.update(
            container_duration_s=container.duration / 1e6 if container.duration else None,
            fps_nominal=_rate(stream.base_rate) or _rate(stream.guessed_rate),
            frames_declared=stream.frames or None, width=ctx.width, height=ctx.height,
            codec=ctx.codec.canonical_name, pix_fmt=ctx.pix_fmt,
            bit_rate=container.bit_rate or ctx.bit_rate,
        )
        _audio(container, row)
    decoded, _ = reference_decode(path)
    turned = decoded.rotation in (90, 270)
    row.update(frames_decoded=decoded.frames, rotation=decoded.rotation,
               display_width=row["height"] if turned else row["width"],
               display_height=row["width"] if turned else row["height"],
               decode_errors=decoded.errors + decoded.corrupt,
               audio_duration_s=decoded.audio_span_s)
    if decoded.frames:
        row["duration_s"] = decoded.span_s()
    _timing(row, decoded)
    return _judge(row, decoded, limits)


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
    row["warnings"] = ",".join(warnings)
    return row


def _probe_item(item: tuple[Path, Limits]) -> dict:
    return probe_file(*item)


def probe_all(paths: list[Path], limits: Limits, *, workers: int, timeout_s: float,
              progress: bool = True) -> list[dict]:
    """Probe every path, each in its own process; rows in input order."""
    from vidlab.core.isolate import run_isolated
    from vidlab.core.progress import track

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
