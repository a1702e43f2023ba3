"""How usable a video's picture is, measured in the probe's one decode (no second pass).

:class:`QualityMeter` is handed every decoded frame (:func:`vidlab.media.probe.probe_file` feeds
it beside the dedup signature). Every frame gives its mean brightness, for flicker, read from a
sparse grid of the luma plane; about ``sample_fps`` frames a second (and at least
``MIN_SAMPLES`` per video) give the detail measures:

* ``sharpness``: variance of the 4-neighbour Laplacian of the luma, area-averaged down to at most
  ``DETAIL_ROWS`` rows so that videos of different sizes compare (grey levels squared);
* ``noise``: Immerkaer's robust sigma (the 3x3 kernel that cancels planes and edges' first
  order), taken in the flattest fifth of 8x8 blocks of a central crop at full resolution, blocks
  near black or white left out because clipping hides noise there (grey levels);
* ``blockiness``: mean luma step across the 8x8 block boundaries over the mean step elsewhere (1:
  no grid; heavy recompression raises it);
* ``dark_share`` / ``bright_share``: share of luma samples at or below 16 / at or above 235
  (clipped shadows and highlights in video range);
* ``combing``: share of luma samples that are a vertical extreme against both neighbours by at
  least ``COMB_STEP`` grey levels while those neighbours agree (the teeth of two interlaced
  fields caught at different moments), less twice the same share taken horizontally, which
  noise and texture raise just as much.

Timing measures come from the frames' timestamps (:func:`timing_quality`): dropped frames (gaps
beyond 1.5 x the median interval, counted and located), frame-rate changes along the file and,
from the brightness series, flicker (the strongest periodic brightness oscillation above
``FLICKER_MIN_HZ``, as a share of the mean brightness, with its frequency).

Everything reads the decoded frame's planes as they are (coded orientation): the measures do not
depend on the display rotation, and interlacing lives in coded rows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

if TYPE_CHECKING:
    from vidlab.media.reference import Decoded

DETAIL_ROWS = 360  # sharpness is measured at this height (or the frame's, if smaller)
NOISE_CROP = 256  # side of the central full-resolution crop noise is estimated in
MIN_SAMPLES = 8  # detail frames per video at least (when it has them)
COMB_STEP = 12  # grey levels a comb tooth stands out from both vertical neighbours
DARK, BRIGHT = 16, 235  # video-range black and white
GAP_FACTOR = 1.5  # a timestamp step above this x the median interval is a gap
FLICKER_MIN_HZ = 1.5  # slower brightness changes are scene changes, not flicker

# manifest columns this module fills, in order, with their units (README, docs/quality.md)
COLUMNS = {
    "sharpness": "Laplacian variance at <=360 rows, median of the sampled frames (grey levels^2)",
    "noise": "Immerkaer sigma in flat blocks, median of the sampled frames (grey levels)",
    "blockiness": "step across 8x8 boundaries / step elsewhere, median (ratio; 1 = none)",
    "dark_share": "luma samples <= 16, mean of the sampled frames (share)",
    "bright_share": "luma samples >= 235, mean of the sampled frames (share)",
    "flicker": "strongest periodic brightness oscillation above 1.5 Hz (share of mean)",
    "flicker_hz": "its frequency (Hz)",
    "dropped_frames": "frames missing in timestamp gaps > 1.5 x the median interval (count)",
    "longest_gap_s": "longest step between two frames (s)",
    "fps_changes": "changes of the local frame rate (1 s windows) beyond probe.fps_tolerance",
    "av_start_offset_s": "first audio packet minus first video packet (s; + audio late)",
    "av_duration_offset_s": "audio duration minus video duration (s)",
    "interlaced_share": "frames the decoder flags interlaced (share)",
    "combing": "comb-tooth samples, 90th percentile of the sampled frames (share)",
}
FLOAT_COLUMNS = tuple(c for c in COLUMNS if c not in ("dropped_frames", "fps_changes"))
INT_COLUMNS = ("dropped_frames", "fps_changes")
SERIES = ("brightness", "sharpness", "noise", "blockiness", "combing")  # per-frame side table


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The frame's luma as uint8 (H, W), in the frame's own range: a view of the decoder's plane
    for planar YUV and grey formats (deeper samples shifted to 8 bits), video-range luma
    converted by FFmpeg for the others (RGB, packed YUV)."""
    fmt = frame.format
    first = fmt.components[0]
    planar = fmt.name.startswith(("yuv", "yuvj", "nv", "gray")) and not fmt.name.endswith("be")
    if planar and first.plane == 0 and first.bits <= 16:
        plane = frame.planes[0]
        if first.bits <= 8:
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            return rows[:, :plane.width]
        rows = np.frombuffer(plane, "<u2").reshape(plane.height, plane.line_size // 2)
        return (rows[:, :plane.width] >> (first.bits - 8)).astype(np.uint8)
    return luma(frame.reformat(format="yuv420p"))  # RGB and the rest: video-range luma


def _shrink(y: np.ndarray, rows: int) -> np.ndarray:
    """Area average by a whole factor down to at most ``rows`` rows (float32): the sum of the
    factor x factor strided views, cheaper than a reshaped mean."""
    f = max(1, math.ceil(y.shape[0] / rows))
    h, w = (y.shape[0] // f) * f, (y.shape[1] // f) * f
    if f == 1:
        return y[:h, :w].astype(np.float32)
    total = np.zeros((h // f, w // f), dtype=np.uint16)
    for dy in range(f):
        for dx in range(f):
            total += y[dy:h:f, dx:w:f]
    return total.astype(np.float32) * (1.0 / (f * f))


def sharpness(y: np.ndarray) -> float:
    g = _shrink(y, DETAIL_ROWS)
    if min(g.shape) < 3:
        return float("nan")
    lap = g[1:-1, 1:-1] * 4
    lap -= g[:-2, 1:-1]
    lap -= g[2:, 1:-1]
    lap -= g[1:-1, :-2]
    lap -= g[1:-1, 2:]
    return float(lap.var())


def noise(y: np.ndarray) -> float:
    h, w = (min(NOISE_CROP, y.shape[0]) // 8) * 8, (min(NOISE_CROP, y.shape[1]) // 8) * 8
    if h < 16 or w < 16:
        return float("nan")
    top, left = (y.shape[0] - h) // 2, (y.shape[1] - w) // 2
    c = y[top:top + h, left:left + w].astype(np.float32)
    # Immerkaer's kernel [[1,-2,1],[-2,4,-2],[1,-2,1]], valid region, padded back to h x w
    k = (c[:-2, :-2] + c[:-2, 2:] + c[2:, :-2] + c[2:, 2:]
         - 2 * (c[:-2, 1:-1] + c[2:, 1:-1] + c[1:-1, :-2] + c[1:-1, 2:]) + 4 * c[1:-1, 1:-1])
    k = np.pad(np.abs(k), 1, mode="edge")
    blocks = (h // 8, 8, w // 8, 8)
    response = k.reshape(blocks).mean(axis=(1, 3))
    spread = c.reshape(blocks).std(axis=(1, 3))
    level = c.reshape(blocks).mean(axis=(1, 3))
    usable = (level > DARK + 8) & (level < BRIGHT - 8)
    if usable.sum() < 4:
        return float("nan")
    flat = spread <= np.quantile(spread[usable], 0.2)
    return float(math.sqrt(math.pi / 2) / 6 * np.median(response[usable & flat]))


def blockiness(y: np.ndarray) -> float:
    """Every 4th row's horizontal steps and every 4th column's vertical ones (the grid is the
    same in each)."""
    if y.shape[0] < 16 or y.shape[1] < 16:
        return float("nan")
    ratios = []
    for steps in (np.abs(np.diff(y[::4].astype(np.int16), axis=1)),
                  np.abs(np.diff(y[:, ::4].T.astype(np.int16), axis=1))):
        edge = steps[:, 7::8].mean()
        inside = (steps.sum(dtype=np.int64) - steps[:, 7::8].sum(dtype=np.int64)) / max(
            1, steps.size - steps[:, 7::8].size)
        ratios.append(float(edge) / max(float(inside), 0.5))
    return float(np.mean(ratios))


def _teeth(c: np.ndarray) -> float:
    """Share of samples standing out from both neighbours along axis 0 by COMB_STEP while the
    neighbours agree."""
    up, mid, down = c[:-2], c[1:-1], c[2:]
    return float((((mid - up) * (mid - down) >= COMB_STEP * COMB_STEP)
                  & (np.abs(up - down) < COMB_STEP)).mean())


def combing(y: np.ndarray) -> float:
    """Comb teeth across rows less twice those across columns: noise and texture make both
    alike, interlacing only the first."""
    if y.shape[0] < 4 or y.shape[1] < 4:
        return float("nan")
    rows = _teeth(y[:, ::4].astype(np.int16))
    columns = _teeth(y[::4].T.astype(np.int16))
    return max(0.0, rows - 2 * columns)


def exposure(y: np.ndarray) -> tuple[float, float]:
    s = y[::4, ::4]
    return float((s <= DARK).mean()), float((s >= BRIGHT).mean())


class QualityMeter:
    """Fed every decoded frame (display order); keeps the per-frame series.

    Args:
        rate: the stream's frame rate (frames per second; 0 when unknown), to space the detail
            frames about ``sample_fps`` a second.
        expected: frames the video should have (0: unknown), so that short videos still get
            ``MIN_SAMPLES`` detail frames.
        sample_fps: detail frames per second of video.
    """

    def __init__(self, rate: float, expected: int = 0, sample_fps: float = 2.0) -> None:
        every = max(1, int(rate / sample_fps)) if rate and sample_fps else 1
        if expected:
            every = max(1, min(every, expected // MIN_SAMPLES))
        self.every = every
        self.count = 0
        self.interlaced = 0
        self.brightness: list[float] = []
        self.detail: dict[str, list[float]] = {k: [] for k in (*SERIES[1:], "dark", "bright")}
        self.sampled: list[int] = []
        self.failed = ""  # why the measures stopped, if they did

    def __call__(self, frame: av.VideoFrame) -> None:
        if self.failed:
            return
        try:
            y = luma(frame)
            flagged, mean = bool(frame.interlaced_frame), float(y[::8, ::8].mean())
            detail = None
            if self.count % self.every == 0:
                detail = {"sharpness": sharpness(y), "noise": noise(y),
                          "blockiness": blockiness(y), "combing": combing(y)}
                detail["dark"], detail["bright"] = exposure(y)
        except Exception as exc:  # a measure that cannot read some exotic picture must not
            # change the file's integrity verdict: the columns stay empty, the probe warns
            # quality_unmeasured
            self.failed = f"{type(exc).__name__} on frame {self.count}"
            return
        self.interlaced += flagged
        self.brightness.append(mean)
        if detail is not None:
            self.sampled.append(self.count)
            for name, value in detail.items():
                self.detail[name].append(value)
        self.count += 1

    def summary(self) -> dict:
        """The picture columns (:data:`COLUMNS` but the timing ones), None where unmeasured."""
        out: dict = dict.fromkeys(("sharpness", "noise", "blockiness", "dark_share",
                                   "bright_share", "interlaced_share", "combing"))
        if not self.count:
            return out

        def stat(name: str, how) -> float | None:
            values = np.array(self.detail[name], dtype=np.float64)
            values = values[np.isfinite(values)]
            return float(how(values)) if len(values) else None

        out.update(sharpness=stat("sharpness", np.median), noise=stat("noise", np.median),
                   blockiness=stat("blockiness", np.median), dark_share=stat("dark", np.mean),
                   bright_share=stat("bright", np.mean),
                   combing=stat("combing", lambda v: np.quantile(v, 0.9)),
                   interlaced_share=self.interlaced / self.count)
        return out

    def series(self) -> dict[str, np.ndarray]:
        """Per-frame values (NaN where a detail measure was not taken)."""
        out = {"brightness": np.array(self.brightness, dtype=np.float32)}
        for name in SERIES[1:]:
            column = np.full(self.count, np.nan, dtype=np.float32)
            column[self.sampled] = self.detail[name]
            out[name] = column
        return out


def gaps(times: np.ndarray) -> tuple[np.ndarray, float]:
    """Per frame, the frames a timestamp gap just before it left out (a step above
    :data:`GAP_FACTOR` x the median interval, counted in intervals), and the median interval
    (0 when there is none)."""
    missing = np.zeros(len(times), dtype=np.int32)
    deltas = np.diff(times)
    rising = deltas[deltas > 0]
    if len(deltas) < 2 or not len(rising):
        return missing, float(deltas[0]) if len(deltas) == 1 else 0.0
    interval = float(np.median(rising))
    after = np.flatnonzero(deltas > GAP_FACTOR * interval)
    missing[after + 1] = np.rint(deltas[after] / interval).astype(np.int32) - 1
    return missing, interval


def timing_quality(times: np.ndarray | None, brightness: np.ndarray | None, *,
                   fps_tolerance: float) -> dict:
    """Dropped frames, frame-rate changes and flicker from display-order frame times (seconds;
    None when the timestamps are unusable) and the per-frame brightness (None: not every frame
    was decoded)."""
    out: dict = {"dropped_frames": None, "longest_gap_s": None, "fps_changes": None,
                 "flicker": None, "flicker_hz": None}
    if times is None or len(times) < 3:
        return out
    missing, interval = gaps(times)
    deltas = np.diff(times)
    if interval > 0:
        out.update(dropped_frames=int(missing.sum()), longest_gap_s=float(deltas.max()))
        out["fps_changes"] = fps_changes(deltas, interval, fps_tolerance)
    if brightness is not None and interval > 0 and len(brightness) == len(times):
        out.update(zip(("flicker", "flicker_hz"), flicker(brightness, 1.0 / interval),
                       strict=True))
    return out


def local_rates(deltas: np.ndarray, interval: float) -> np.ndarray:
    """The frame rate in consecutive windows of about one second (median step of each)."""
    size = max(4, round(1.0 / interval))
    windows = [deltas[i:i + size] for i in range(0, len(deltas) - size // 2, size)]
    return np.array([1.0 / np.median(w) for w in windows if len(w) and np.median(w) > 0])


def fps_changes(deltas: np.ndarray, interval: float, tolerance: float) -> int:
    """How often the local frame rate moves beyond ``tolerance`` (relative) of the rate held
    since the last change."""
    changes, held = 0, None
    for rate in local_rates(deltas, interval):
        if held is not None and abs(rate - held) / held > tolerance:
            changes += 1
            held = rate
        held = held if held is not None else rate
    return changes


def flicker(brightness: np.ndarray, rate: float) -> tuple[float | None, float | None]:
    """The strongest sinusoidal brightness oscillation above :data:`FLICKER_MIN_HZ`: its
    amplitude as a share of the mean brightness, and its frequency."""
    b = np.asarray(brightness, dtype=np.float64)
    n = len(b)
    if n < 16 or rate / 2 <= FLICKER_MIN_HZ or b.mean() < 1:
        return None, None
    width = max(3, round(rate) | 1)  # a one-second running mean takes out slow scene changes
    trend = np.convolve(np.pad(b, width // 2, mode="edge"), np.ones(width) / width, "valid")
    window = np.hanning(n)
    spectrum = np.abs(np.fft.rfft((b - trend) * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    band = freqs >= FLICKER_MIN_HZ
    if not band.any():
        return None, None
    peak = int(np.argmax(np.where(band, spectrum, -1)))
    return float(spectrum[peak] / b.mean()), float(freqs[peak])


def fill(row: dict, decoded: Decoded, meter: QualityMeter, *, full: bool,
         fps_tolerance: float) -> None:
    """Fill the quality columns of a probe row from its :class:`~vidlab.media.reference.Decoded`
    and the meter that watched the decode (``full``: every frame was decoded), and keep the
    per-frame series for the side table (``row["_quality"]``)."""
    if meter.failed:
        row["_quality_failed"] = meter.failed
        return
    times = decoded.times() if decoded.timestamps_usable else None
    series = meter.series()
    row.update(meter.summary())
    row.update(timing_quality(times, series["brightness"] if full else None,
                              fps_tolerance=fps_tolerance))
    if row["audio"] and decoded.audio_offset_s is not None:
        row["av_start_offset_s"] = decoded.audio_offset_s
        if row["audio_duration_s"] is not None and row["duration_s"]:
            row["av_duration_offset_s"] = row["audio_duration_s"] - row["duration_s"]
    if times is not None and full and len(times) == meter.count:
        series["missing_before"] = gaps(times)[0]
        series["t"] = times.astype(np.float32)
    else:
        series["missing_before"] = np.zeros(meter.count, dtype=np.int32)
        series["t"] = np.full(meter.count, np.nan, dtype=np.float32)
    row["_quality"] = series


TABLE_SERIES = ("frame", "t", "missing_before", *SERIES)


def write_series(path: Path, rows: list[dict]) -> None:
    """The probe's per-frame quality side table (``quality.parquet``), one row per decoded frame
    (keyframes only under ``integrity: fast``): ``video_id``, ``frame`` (display order), ``t``
    (seconds from the first frame; NaN without usable timestamps or in fast mode),
    ``missing_before`` (frames a timestamp gap before this one left out), ``brightness`` (every
    frame) and the detail measures (NaN on frames not sampled). Columns as in
    :data:`COLUMNS`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = {name: [] for name in ("video_id", *TABLE_SERIES)}
    for row in rows:
        series = row.get("_quality")
        if not series:
            continue
        n = len(series["brightness"])
        parts["video_id"].append(np.full(n, row["video_id"], dtype=object))
        parts["frame"].append(np.arange(n, dtype=np.int32))
        for name in TABLE_SERIES[1:]:
            parts[name].append(series[name])
    types = {"video_id": pa.string(), "frame": pa.int32(), "missing_before": pa.int32()}
    table = pa.table({
        name: pa.array(np.concatenate(values) if values else [],
                       types.get(name, pa.float32()), from_pandas=True)
        for name, values in parts.items()})
    pq.write_table(table, path)

