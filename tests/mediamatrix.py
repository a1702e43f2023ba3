"""The real-media conformance matrix: short files as researchers' phones and cameras make them.

Each cell is one file: a container x codec (where the container takes the codec) x display
rotation x frame timing (CFR/VFR) x audio x damage (intact, cut at half its bytes, bytes
corrupted mid-file). Every frame carries its own index as a row of large black/white blocks and
an orientation mark (a red square at the top-left corner of the picture as a player shows it),
both big enough to survive lossy coding, so :func:`read_index` tells exactly which frame came out
and which way is up.

The matrix is a covering design, not the full product (that would be ~800 files): every
container x codec pair, intact, upright, CFR, silent; then each rotation, VFR, audio and each
kind of damage on every container that can carry it.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT = 128, 96  # the upright picture (rotated cells are coded transposed)
FRAMES = 24
FPS = 12
BITS = 8  # index blocks along the top row
BLOCK = WIDTH // BITS
MARK = 16  # orientation mark: red square at the top-left, below the index row
RED = (220, 30, 30)

CODECS = {  # name -> (encoder, options, pix_fmt)
    "h264": ("libx264", {"preset": "veryfast", "bf": "0", "x264-params": "mbtree=0"}, "yuv420p"),
    "h264_bf": ("libx264", {"preset": "veryfast", "bf": "2", "x264-params": "mbtree=0"},
                "yuv420p"),
    "hevc": ("libx265", {"preset": "ultrafast", "x265-params": "log-level=error:bframes=2"},
             "yuv420p"),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
            "yuv420p"),
    "mpeg4": ("mpeg4", {"bf": "2", "qscale": "3"}, "yuv420p"),
    "mjpeg": ("mjpeg", {"q:v": "3"}, "yuvj420p"),
}
CONTAINERS = {  # extension -> (format, codecs it takes, audio codec, carries rotation, VFR)
    "mp4": ("mp4", ("h264", "h264_bf", "hevc", "vp9", "mpeg4"), "aac", True, True),
    "mov": ("mov", ("h264_bf", "hevc", "mpeg4", "mjpeg"), "aac", True, True),
    "mkv": ("matroska", ("h264", "h264_bf", "hevc", "vp9", "mpeg4", "mjpeg"), "aac", True, True),
    "webm": ("webm", ("vp9",), "libopus", False, True),
    "avi": ("avi", ("h264", "h264_bf", "mpeg4", "mjpeg"), "libmp3lame", False, False),
}
DAMAGES = ("intact", "cut", "corrupt")
# Frame times of VFR cells in ms: bursts of 40 ms and pauses of 150 ms.
VFR_MS = [0]
for _k in range(1, FRAMES):
    VFR_MS.append(VFR_MS[-1] + (150 if _k % 5 == 0 else 40))


@dataclasses.dataclass(frozen=True)
class Cell:
    """One file of the matrix."""

    container: str
    codec: str
    rotation: int = 0  # counter-clockwise degrees a player turns the coded picture
    vfr: bool = False
    audio: bool = False
    damage: str = "intact"

    @property
    def name(self) -> str:
        parts = [self.codec, f"r{self.rotation}", "vfr" if self.vfr else "cfr",
                 "audio" if self.audio else "silent", self.damage]
        return "-".join(parts) + f".{self.container}"

    @property
    def upright_shape(self) -> tuple[int, int]:
        """(height, width) of the picture a player shows."""
        return (HEIGHT, WIDTH)

    @property
    def times_s(self) -> np.ndarray:
        """Presentation time of every frame, seconds from the first."""
        if self.vfr:
            return np.array(VFR_MS, dtype=np.float64) / 1000
        return np.arange(FRAMES, dtype=np.float64) / FPS


def cells() -> list[Cell]:
    """The covering design described in the module docstring."""
    out = []
    for ext, (_, codecs, _, rotates, vfr) in CONTAINERS.items():
        out += [Cell(ext, codec) for codec in codecs]
        main = "h264_bf" if "h264_bf" in codecs else codecs[0]
        if rotates:
            out += [Cell(ext, main, rotation=r) for r in (90, 180, 270)]
        if vfr:
            out.append(Cell(ext, main, vfr=True))
        out.append(Cell(ext, main, audio=True))
        out += [Cell(ext, main, damage=d) for d in DAMAGES[1:]]
    return out


def picture(index: int, texture: int = 0) -> np.ndarray:
    """The upright RGB picture of frame ``index``: index bits, orientation mark, a moving bar,
    and (for ``texture`` > 0) a coarse random pattern that makes each cell a distinct video."""
    image = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    if texture:  # most of the picture: a coarse colour pattern drifting at a per-file speed
        rng = np.random.default_rng(texture)
        blocks = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
        pattern = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
        image[BLOCK:] = np.roll(pattern, index * int(rng.integers(2, 9)), axis=1)[BLOCK:]
    for bit in range(BITS):
        value = 235 if (index >> bit) & 1 else 16
        image[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = value
    image[BLOCK:BLOCK + MARK, :MARK] = RED
    if not texture:
        x = (index * 5) % (WIDTH - 16)
        image[HEIGHT - 24:, x:x + 16] = (40, 160, 60)
    return image


def read_index(rgb: np.ndarray) -> tuple[int, bool]:
    """(frame index, upright) read back from a displayed RGB frame of the matrix."""
    if rgb.shape[:2] != (HEIGHT, WIDTH):
        return -1, False
    luma = rgb.astype(np.float32).mean(axis=2)
    centre = BLOCK // 2
    index = sum(1 << bit for bit in range(BITS)
                if luma[centre, bit * BLOCK + centre] > 128)
    inset = (MARK // 4, 3 * MARK // 4)  # four points: one per 8x8 texture block under it
    points = [rgb[BLOCK + r, c].astype(int) for r in inset for c in inset]
    upright = all(p[0] > 150 and p[1] < 100 and p[2] < 100 for p in points)
    return index, bool(upright)


def write_cell(cell: Cell, folder: Path, *, seconds_of_audio_extra: float = 0.5,
               texture: int = 0, name: str | None = None) -> Path:
    """Encode ``cell`` into ``folder`` (intact first, then damaged in place); returns its path.

    Args:
        texture: seed of a per-file pattern (0: none), so files are not near-duplicates.
        name: file name (default: the cell's name).
    """
    fmt, _, audio_codec, _, _ = CONTAINERS[cell.container]
    encoder, options, pix_fmt = CODECS[cell.codec]
    path = Path(folder) / (name or cell.name)
    with av.open(str(path), "w", format=fmt, options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(encoder, rate=FPS, options=dict(options))
        coded = np.rot90(picture(0, texture), -cell.rotation // 90)
        stream.width, stream.height = coded.shape[1], coded.shape[0]
        stream.pix_fmt = pix_fmt
        stream.codec_context.thread_count = 1
        stream.codec_context.gop_size = 12
        if cell.vfr:
            stream.codec_context.time_base = Fraction(1, 1000)
        if cell.rotation:
            stream.set_display_rotation(cell.rotation)
        audio = _audio_stream(out, audio_codec) if cell.audio else None
        for index in range(FRAMES):
            image = np.ascontiguousarray(np.rot90(picture(index, texture), -cell.rotation // 90))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            if cell.vfr:
                frame.pts, frame.time_base = VFR_MS[index], Fraction(1, 1000)
            else:
                frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if audio is not None:
            _write_tone(out, audio, float(cell.times_s[-1]) + 1 / FPS + seconds_of_audio_extra)
    _damage(path, cell.damage)
    return path


def _audio_stream(out: av.container.OutputContainer, codec: str) -> av.AudioStream:
    rate = 48_000 if codec == "libopus" else 44_100
    return out.add_stream(codec, rate=rate, layout="mono")


def _write_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    chunk = stream.codec_context.frame_size or 1024
    total = int(seconds * rate)
    fmt = stream.codec_context.format.name
    for start in range(0, total, chunk):
        t = (np.arange(start, min(total, start + chunk)) / rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).reshape(1, -1)
        if fmt.startswith(("s16", "s32")):
            bits = 16 if fmt.startswith("s16") else 32
            samples = (samples * (2 ** (bits - 1) - 1)).astype(f"int{bits}")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=fmt,
                                           layout="mono")
        frame.sample_rate, frame.pts = rate, start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def _damage(path: Path, damage: str) -> None:
    data = bytearray(path.read_bytes())
    if damage == "cut":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "corrupt":
        start = len(data) // 2
        junk = np.random.default_rng(len(data)).integers(0, 256, 512, dtype=np.uint8)
        data[start:start + 512] = junk.tobytes()
        path.write_bytes(bytes(data))


def write_matrix(folder: Path, selection: list[Cell] | None = None) -> dict[str, Cell]:
    """Write every cell (or ``selection``) into ``folder``; {file name: cell}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for cell in selection or cells():
        write_cell(cell, folder)
        out[cell.name] = cell
    return out
