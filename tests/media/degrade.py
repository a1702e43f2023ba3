"""Degraded copies of a clean video, one per quality measure (issue 25's calibration set).

Each function reads the clean file and writes a copy with one fault a phone video of a child
often has: blur, sensor noise, hard recompression, under- and over-exposure, flicker, dropped
frames, a frame-rate change, audio shifted against the picture, interlacing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidlab.media.encode import read_frames, rgb_to_yuv420p, write_video


def _fps(path: Path) -> int:
    with av.open(str(path)) as container:
        return round(float(container.streams.video[0].average_rate))


def _rewrite(src: Path, dst: Path, change, *, crf: int = 20, **kwargs) -> Path:
    frames = read_frames(src)
    fps = _fps(src)
    out = change(frames.astype(np.float32), fps)
    write_video(dst, (np.clip(f, 0, 255).astype(np.uint8) for f in out), fps=fps, crf=crf,
                **kwargs)
    return dst


def blurred(src: Path, dst: Path) -> Path:
    from scipy.ndimage import gaussian_filter

    return _rewrite(src, dst, lambda f, _: gaussian_filter(f, sigma=(0, 2.5, 2.5, 0)))


def noised(src: Path, dst: Path) -> Path:
    rng = np.random.default_rng(0)
    return _rewrite(src, dst, lambda f, _: f + rng.normal(0, 14, f.shape), crf=12)


def _encode(dst: Path, frames, codec: str, rate: int, options: dict | None = None,
            setup=None) -> Path:
    """RGB frames encoded as they come, one tick each (``setup`` adjusts the stream first)."""
    frames = list(frames)
    with av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        if setup is not None:
            setup(stream)
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(image), format="yuv420p")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return dst


def recompressed(src: Path, dst: Path) -> Path:
    """An old messenger's copy: MPEG-4 Part 2 (no deblocking filter) at its coarsest quantiser."""

    def coarsest(stream) -> None:
        stream.codec_context.qmin = stream.codec_context.qmax = 31

    return _encode(dst, read_frames(src), "mpeg4", _fps(src), setup=coarsest)


def dark(src: Path, dst: Path) -> Path:
    return _rewrite(src, dst, lambda f, _: f * 0.3 - 60)


def bright(src: Path, dst: Path) -> Path:
    return _rewrite(src, dst, lambda f, _: f * 2.5 + 80)


def flickering(src: Path, dst: Path, hz: float = 5.0) -> Path:
    def change(frames, fps):
        t = np.arange(len(frames)) / fps
        return frames * (1 + 0.25 * np.sin(2 * np.pi * hz * t))[:, None, None, None]

    return _rewrite(src, dst, change)


def dropped(src: Path, dst: Path, start: int = 8, count: int = 6) -> Path:
    """Frames ``start`` .. ``start + count - 1`` gone, the others at their own times."""
    frames = read_frames(src)
    step = 1000 / _fps(src)
    keep = [i for i in range(len(frames)) if not start <= i < start + count]
    write_video(dst, frames[keep], fps=_fps(src), pts_ms=[round(i * step) for i in keep])
    return dst


def rate_changed(src: Path, dst: Path) -> Path:
    """The first half at the nominal rate, the rest at half of it (a video call's drop)."""
    frames = read_frames(src)
    step = 1000 / _fps(src)
    half = len(frames) // 2
    times = [i * step for i in range(half)]
    times += [times[-1] + 2 * step * (k + 1) for k in range(len(frames) - half)]
    write_video(dst, frames, fps=_fps(src), pts_ms=[round(t) for t in times])
    return dst


def _remux(src: Path, dst: Path, audio) -> Path:
    """The video and audio packets copied into an MP4, each audio packet through ``audio``
    (it returns the packet to write, changed or not, or None to drop it)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams
                   if s.type in ("video", "audio")}
        for packet in inp.demux(list(inp.streams)):
            if packet.dts is None or packet.stream.index not in streams:
                continue
            if packet.stream.type == "audio" and (packet := audio(packet)) is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def audio_shifted(src: Path, dst: Path, seconds: float = 0.5) -> Path:
    """The same packets, the audio's timestamps moved ``seconds`` later."""

    def later(packet):
        shift = int(round(seconds / packet.time_base))
        packet.pts += shift
        packet.dts += shift
        return packet

    return _remux(src, dst, later)


def audio_cut(src: Path, dst: Path, keep: float = 0.5) -> Path:
    """The same packets, the audio stopping after ``keep`` of it (a recorder that lost it)."""
    with av.open(str(src)) as inp:
        audio = inp.streams.audio[0]
        end = float(audio.duration * audio.time_base) if audio.duration else float(
            inp.duration / 1e6)
    return _remux(src, dst, lambda packet: None if float(packet.pts * packet.time_base)
                  > keep * end else packet)


def interlaced(src: Path, dst: Path) -> Path:
    """Two consecutive frames woven into one (even rows from the first, odd from the second,
    which a hand-held camera's pan has moved 3 pixels), encoded as interlaced H.264 (top field
    first) at half the rate, as a camcorder's 50i/60i."""
    frames = read_frames(src)
    fps = _fps(src)
    woven = []
    for i in range(0, len(frames) - 1, 2):
        frame = frames[i].copy()
        frame[1::2] = np.roll(frames[i + 1], 3, axis=1)[1::2]
        woven.append(frame)
    rate = max(1, fps // 2)

    def one_tick_a_frame(stream) -> None:
        stream.codec_context.time_base = Fraction(1, rate)

    options = {"crf": "16", "preset": "veryfast", "x264-params": "mbtree=0:interlaced=1:tff=1"}
    return _encode(dst, woven, "libx264", rate, options, setup=one_tick_a_frame)


VARIANTS = {
    "blurred": blurred, "noised": noised, "recompressed": recompressed, "dark": dark,
    "bright": bright, "flickering": flickering, "dropped": dropped,
    "rate_changed": rate_changed, "audio_shifted": audio_shifted, "audio_cut": audio_cut,
    "interlaced": interlaced,
}


def clean_sources(demo: Path, count: int = 2) -> list[Path]:
    """The first ``count`` demo videos that decode cleanly, carry audio and no probe warning."""
    import pandas as pd

    from vidlab.media.probe import Limits, probe_file

    limits = Limits(0.02, 0.1, 0.05, 5.0)
    found = []
    for name in pd.read_csv(demo / "metadata.csv", dtype=str)["filename"]:
        path = demo / "videos" / name
        if not path.is_file():
            continue
        row = probe_file(path, limits)
        if row["status"] == "ok" and row["audio"] and not row["warnings"]:
            found.append(path)
        if len(found) == count:
            return found
    raise AssertionError("the demo has too few clean videos with audio")


def degraded_set(demo: Path, out: Path, count: int = 2) -> dict[str, Path]:
    """``clean<k>`` and ``<variant><k>`` -> file, for the first ``count`` clean demo videos."""
    files = {}
    for k, source in enumerate(clean_sources(demo, count)):
        files[f"clean{k}"] = source
        for name, make in VARIANTS.items():
            files[f"{name}{k}"] = make(source, out / f"{name}{k}.mp4")
    return files
