"""Reproducible mp4 writing: colour conversion, frame order, VFR timestamps, tags, audio."""

from __future__ import annotations

import av
import numpy as np

from vidlab.media.encode import read_frames, rgb_to_yuv420p, write_video


def ffmpeg_yuv(rgb: np.ndarray) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return frame.to_ndarray().astype(int)


def test_rgb_to_yuv_matches_ffmpeg() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.abs(rgb_to_yuv420p(noise)[:16].astype(int) - ffmpeg_yuv(noise)[:16]).max() <= 1
    # Chroma is averaged over 2x2 blocks here; swscale filters differently, which only shows on
    # pixel-level noise. On smooth content the two agree.
    yy, xx = np.mgrid[0:16, 0:16]
    smooth = np.stack([xx * 12, yy * 12, 255 - xx * 8], -1).astype(np.uint8)
    assert np.abs(rgb_to_yuv420p(smooth).astype(int) - ffmpeg_yuv(smooth)).max() <= 2


def test_tiny_video_frames_come_back_in_order(tiny_video) -> None:
    frames = read_frames(tiny_video(n_frames=20))
    assert frames.shape == (20, 48, 64, 3)
    grey = frames.mean((1, 2, 3))
    assert np.abs(grey - 8 * np.arange(20)).max() < 2.5


def test_variable_frame_rate_timestamps_are_kept(tiny_video) -> None:
    pts_ms = [0, 33, 133, 166, 266, 300, 400, 433]
    path = tiny_video("vfr.mp4", n_frames=len(pts_ms), pts_ms=pts_ms)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        seconds = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    assert np.allclose(seconds, np.array(pts_ms) / 1000, atol=0.002)


def test_tags_audio_and_resize(tmp_path) -> None:
    frames = np.zeros((15, 48, 64, 3), np.uint8)
    path = tmp_path / "tagged.mp4"
    audio = np.zeros(16_000, np.float32)
    write_video(path, frames, fps=15, size=(32, 24), audio=audio,
                metadata={"title": "Aarav 2024-03-15", "make": "Apple"})
    with av.open(str(path)) as container:
        assert container.metadata["title"] == "Aarav 2024-03-15"
        assert container.metadata["make"] == "Apple"
        assert container.streams.audio[0].codec_context.name == "aac"
        video = container.streams.video[0]
        assert (video.width, video.height) == (32, 24)
