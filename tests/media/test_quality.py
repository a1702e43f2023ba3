"""The probe's quality measures (vidlab.media.quality): each ranks a degraded copy of a demo video
below its clean original; the known answers of the timing measures; luma read right from every
pixel format."""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest

from vidlab.media import quality
from vidlab.media.probe import Limits, probe_file

# measure -> (the variant that degrades it, True when a higher value is worse)
RANKS = {
    "sharpness": ("blurred", False),
    "noise": ("noised", True),
    "blockiness": ("recompressed", True),
    "dark_share": ("dark", True),
    "bright_share": ("bright", True),
    "flicker": ("flickering", True),
    "dropped_frames": ("dropped", True),
    "fps_changes": ("rate_changed", True),
    "av_start_offset_s": ("audio_shifted", True),  # by its size
    "av_duration_offset_s": ("audio_cut", True),  # by its size
    "interlaced_share": ("interlaced", True),
    "combing": ("interlaced", True),
}


def test_every_column_is_ranked() -> None:
    assert set(RANKS) | {"flicker_hz", "longest_gap_s"} == set(
        quality.COLUMNS)


@pytest.mark.parametrize("measure", sorted(RANKS))
def test_each_measure_ranks_the_degraded_copy_below_its_original(measure, quality_set) -> None:
    variant, higher_is_worse = RANKS[measure]
    for k in (0, 1):
        clean, bad = quality_set[f"clean{k}"][measure], quality_set[f"{variant}{k}"][measure]
        assert clean is not None and bad is not None, (measure, k, clean, bad)
        if measure in ("av_start_offset_s", "av_duration_offset_s"):
            clean, bad = abs(clean), abs(bad)
        assert (bad > clean) if higher_is_worse else (bad < clean), (measure, k, clean, bad)


def test_the_degraded_copies_decode_and_only_their_fault_moves_the_timing(quality_set) -> None:
    for name, row in quality_set.items():
        assert row["status"] == "ok", name
    assert quality_set["dropped0"]["dropped_frames"] == 6  # degrade.dropped takes out 6
    assert quality_set["rate_changed0"]["fps_changes"] == 1
    assert quality_set["audio_shifted0"]["av_start_offset_s"] == pytest.approx(
        quality_set["clean0"]["av_start_offset_s"] + 0.5, abs=0.002)
    for name in ("blurred0", "noised0", "recompressed0", "flickering0"):
        assert quality_set[name]["dropped_frames"] == 0
        assert quality_set[name]["fps_changes"] == 0
    assert "interlaced" in quality_set["interlaced0"]["warnings"].split(",")
    assert "interlaced" not in quality_set["clean0"]["warnings"].split(",")


def test_per_frame_series_cover_every_frame(quality_set) -> None:
    row = quality_set["dropped0"]
    series = row["_quality"]
    assert len(series["brightness"]) == row["frames_decoded"]
    assert int(series["missing_before"].sum()) == row["dropped_frames"] == 6
    assert int(np.flatnonzero(series["missing_before"])[0]) == 8  # the first frame after the gap
    sampled = np.isfinite(series["sharpness"])
    assert sampled.sum() >= min(quality.MIN_SAMPLES, row["frames_decoded"])


def test_timing_known_answers() -> None:
    times = np.arange(60) / 30.0
    assert quality.timing_quality(times, None, fps_tolerance=0.05)["dropped_frames"] == 0
    gap = np.delete(times, [10, 11, 12, 40])
    out = quality.timing_quality(gap, None, fps_tolerance=0.05)
    assert out["dropped_frames"] == 4
    assert out["longest_gap_s"] == pytest.approx(4 / 30)
    assert out["fps_changes"] == 0
    changed = np.concatenate([np.arange(60) / 30.0, 2 + np.arange(1, 31) / 15.0])
    assert quality.timing_quality(changed, None, fps_tolerance=0.05)["fps_changes"] == 1
    jitter = times + np.random.default_rng(0).uniform(-0.003, 0.003, 60)
    assert quality.timing_quality(jitter, None, fps_tolerance=0.05)["fps_changes"] == 0
    none = quality.timing_quality(None, None, fps_tolerance=0.05)
    assert none["dropped_frames"] is None and none["flicker"] is None


def test_flicker_finds_the_oscillation() -> None:
    t = np.arange(150) / 30.0
    steady = 100 + 20 * t / t[-1]  # a slow brightening is not flicker
    amplitude, hz = quality.flicker(steady + 5 * np.sin(2 * np.pi * 6 * t), 30.0)
    assert hz == pytest.approx(6, abs=0.3)
    assert amplitude == pytest.approx(5 / steady.mean(), rel=0.2)
    assert quality.flicker(steady, 30.0)[0] < 0.005
    assert quality.flicker(steady[:10], 30.0) == (None, None)  # too short to say


def test_picture_measures_known_answers() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((96, 128), 120, np.uint8)
    noisy = np.clip(120 + rng.normal(0, 5, flat.shape), 0, 255).astype(np.uint8)
    assert quality.noise(noisy) == pytest.approx(5, rel=0.15)
    assert quality.noise(flat) == 0
    blocks = np.kron(rng.integers(60, 200, (12, 16)), np.ones((8, 8))).astype(np.uint8)
    assert quality.blockiness(blocks) > 10 > quality.blockiness(noisy)
    comb = np.tile(np.array([[50], [200]], np.uint8), (48, 128))
    assert quality.combing(comb) > 0.9 and quality.combing(noisy) < 0.02
    dark, bright = quality.exposure(np.concatenate([np.full((48, 128), 10, np.uint8),
                                                    np.full((48, 128), 240, np.uint8)]))
    assert dark == pytest.approx(0.5) and bright == pytest.approx(0.5)
    assert quality.sharpness(flat) == 0 < quality.sharpness(noisy)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p", "nv12", "yuv422p", "yuv444p",
                                     "gray", "yuv420p10le", "rgb24", "bgr0"])
def test_luma_reads_every_format(pix_fmt) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
    # the luma plane, 8 bits, in the frame's own range (yuvj: full; grey: as is)
    own = {"yuvj420p": "yuvj444p", "gray": "gray"}.get(pix_fmt, "yuv444p")
    plane = frame.reformat(format=own).planes[0]
    reference = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[
        :, :plane.width].astype(np.int16)
    got = quality.luma(frame)
    assert got.shape == (48, 64) and got.dtype == np.uint8
    assert np.abs(got.astype(np.int16) - reference).max() <= 1, pix_fmt


def test_fast_mode_measures_keyframes_and_says_no_flicker(quality_set, tmp_path) -> None:
    from vidlab.media.encode import write_video

    path = tmp_path / "v.mp4"
    frames = [np.full((48, 64, 3), 40 + 3 * i, np.uint8) for i in range(60)]
    write_video(path, frames, fps=15, gop=5)
    fast = probe_file(path, Limits(0.02, 0.1, 0.05, 5.0, integrity="fast"))
    assert fast["sharpness"] is not None and fast["flicker"] is None
    assert fast["dropped_frames"] == 0  # from the packets' timestamps
    off = probe_file(path, Limits(0.02, 0.1, 0.05, 5.0, quality=False))
    assert all(off[c] is None for c in quality.COLUMNS) and "_quality" not in off


def test_a_frame_without_timestamps_leaves_the_timing_measures_unsaid(tmp_path) -> None:
    path = tmp_path / "raw.h264"  # an elementary stream: no container timestamps
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 15)
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * i, np.uint8), "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    row = probe_file(path, Limits(0.02, 0.1, 0.05, 5.0))
    assert row["status"] == "ok"
    if row["dropped_frames"] is not None:  # FFmpeg may invent timestamps at the nominal rate
        assert row["dropped_frames"] == 0
    assert row["sharpness"] is not None and not math.isnan(row["sharpness"])


def test_a_measure_that_fails_leaves_the_columns_empty_not_the_verdict(tiny_video,
                                                                       monkeypatch) -> None:
    path = tiny_video(n_frames=20)

    def broken(y):
        raise ValueError("an exotic picture")

    monkeypatch.setattr(quality, "noise", broken)
    row = probe_file(path, Limits(0.02, 0.1, 0.05, 5.0))
    assert row["status"] == "ok" and row["frames_decoded"] == 20
    assert "quality_unmeasured" in row["warnings"].split(",")
    assert all(row[c] is None for c in quality.COLUMNS) and "_quality" not in row
