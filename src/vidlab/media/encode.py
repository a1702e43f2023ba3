"""Write real H.264 mp4 files with PyAV, byte-for-byte reproducibly.

Used by the demo generator and by the tests' tiny synthetic videos. Reproducibility needs a fixed
encoder thread count (x264 writes its settings, thread count included, into the stream, so a
machine with more cores would otherwise produce different bytes), x264's macroblock tree off (see
``write_video``), and RGB converted to YUV here, so no scaler's SIMD path is involved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AUDIO_RATE = 16_000
_AUDIO_CHUNK = 1024


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: int,
    crf: int = 20,
    size: tuple[int, int] | None = None,
    pts_ms: Sequence[int] | None = None,
    metadata: Mapping[str, str] | None = None,
    audio: np.ndarray | None = None,
    faststart: bool = True,
    gop: int | None = None,
) -> int:
    """Encode RGB frames to an H.264 (yuv420p) mp4, optionally with a mono AAC track.

    Args:
        path: output file.
        frames: uint8 arrays of shape (H, W, 3), RGB.
        fps: nominal frame rate.
        crf: x264 constant rate factor (lower is better quality).
        size: (width, height) to rescale to; defaults to the frames' own size.
        pts_ms: per-frame presentation times in milliseconds, for variable-frame-rate output.
        metadata: container tags (creation_time, location, make, model, title, ...). With
            ``use_metadata_tags`` the mp4 muxer keeps arbitrary keys, as phones do.
        audio: float32 mono samples in [-1, 1] at 16 kHz.
        faststart: put the index (moov) first, as streaming-friendly phones and apps do.
        gop: keyframe interval in frames; defaults to one second.

    Returns:
        The number of frames written.
    """
    flags = "+use_metadata_tags" + ("+faststart" if faststart else "")
    frames = iter(frames)
    first = next(frames)
    width, height = size or (first.shape[1], first.shape[0])
    count = 0
    with av.open(str(path), "w", format="mp4", options={"movflags": flags}) as out:
        out.metadata.update(dict(metadata or {}))
        # mbtree reads memory it never wrote on small frames: bytes then depend on what the
        # process did before (seen at 64x48 and 112x84). Without it the output is reproducible.
        options = {"crf": str(crf), "preset": "veryfast", "x264-params": "mbtree=0"}
        stream = out.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.codec_context.gop_size = gop or fps
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        audio_stream = None
        if audio is not None:
            audio_stream = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for index, image in enumerate(_chain(first, frames)):
            if size is not None:
                image = _resize(image, width, height)
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(image), format="yuv420p")
            if pts_ms is not None:
                frame.pts, frame.time_base = int(pts_ms[index]), Fraction(1, 1000)
            else:
                frame.pts = index
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode())
        if audio_stream is not None:
            _write_audio(out, audio_stream, audio)
    return count


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range RGB -> planar YUV 4:2:0, as PyAV's ``yuv420p`` ndarray layout.

    Args:
        rgb: (H, W, 3) uint8 with even H and W.

    Returns:
        (H * 3 // 2, W) uint8: the Y plane, then U and V (each H/2 x W/2) flattened below it.
    """
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    height, width = y.shape
    u, v = (c.reshape(height // 2, 2, width // 2, 2).mean((1, 3)) for c in (u, v))
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8).ravel() for p in (y, u, v)]
    return np.concatenate(planes).reshape(height * 3 // 2, width)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    # Pillow, not swscale: PyAV's reformat gave different bytes from run to run when scaling.
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest


def _write_audio(out: av.container.OutputContainer, stream: av.AudioStream,
                 audio: np.ndarray) -> None:
    samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
    for start in range(0, samples.shape[1], _AUDIO_CHUNK):
        chunk = np.ascontiguousarray(samples[:, start : start + _AUDIO_CHUNK])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def read_frames(path: Path) -> np.ndarray:
    """Decode every frame of a video with PyAV as an (N, H, W, 3) uint8 RGB array."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
