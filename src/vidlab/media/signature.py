"""Perceptual video signatures: colour pHashes of K frames, and a distance that allows trims.

A signature is three hashes for each of K frames taken at evenly spaced times over the whole
video, each frame turned upright first as a player shows it (the container's display rotation,
:func:`turns`), so a phone video stored sideways matches an upright re-encode of it. Each hash is
a pHash of one plane (Y, Cb, Cr), made robust to what people do to videos:

1. the plane is shrunk to 64x64 by area averaging, and thin structures drawn on top (box
   outlines, text strokes) are removed by a 5x5 opening and closing (:func:`_flatten`), which
   keep the scene's larger shapes;
2. it is averaged down to 32x32, taken relative to a centre (Y: its own mean, so brightness does
   not count; Cb and Cr: neutral grey, so the scene's overall colour does) and weighted by a
   Tukey window (flat over the middle half, tapering to 0 at the edges), so what changes at the
   borders (a crop, a timestamp banner, a caption) weighs little;
3. a 2-D DCT, and one bit per coefficient of the 7x7 lowest frequencies but the DC term, set when
   it is above their median: 48 bits.

Re-encoding, resizing, frame-rate changes and brightness or contrast shifts move pixels but hardly
the signs of low-frequency structure. Luma alone confuses scenes that differ mainly in colour; the
chroma hashes tell them apart. Each step was chosen on the calibration set
(:mod:`vidlab.stages.dedup.calibration`: demo recordings and 12 edited copies of each). On 48
recordings, with the previous signature (6x6 frequencies, no filter, no window) boxes and text
drawn at 6 fps put a copy at 0.285 while the nearest distinct pair was at 0.254: no threshold
separated them. Filtering and 7x7 brought the farthest copy to 0.218 against 0.266, the window to
0.174 against 0.273. On 120, centring chroma on grey rather than on its mean brought the farthest
copy from 0.200 to 0.154 (nearest distinct pair 0.259, then 0.276). A window on planes whose mean
is left in gives every frame a bright centre on a dark border, and distinct videos fell to 0.16;
a 9x9 median filter separated about as well as the opening and closing at ten times the cost.

Two videos are compared frame against frame with a window: each sampled frame of one video is
matched to the nearest of the other's samples within ``window`` positions, so a copy trimmed at
either end (its samples then sit at shifted and slightly stretched times) still lines up. The
distance is the mean Hamming distance of those matches over all bits, taken both ways and the
larger kept, in [0, 1]: 0 for the same frames, about 0.5 for unrelated ones.

The video code used to find candidates fast is the bitwise majority over time of each plane's K
hashes (144 bits): stable when a few frames change, as a trim or a dropped frame does.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from scipy.fft import dctn
from scipy.ndimage import grey_closing, grey_opening
from scipy.signal.windows import tukey

from vidlab.media.reference import turns as quarter_turns

FINE = 64            # planes are shrunk to this size first, and filtered there
MORPH = 5            # opening/closing size at 64x64: removes lines and strokes up to 4 px wide
SIDE = 32            # pHash input size
_LOW = 7             # 7x7 lowest frequencies, DC left out -> 48 bits per plane
BITS = _LOW * _LOW - 1
PLANES = 3
_WEIGHTS = (1 << np.arange(BITS, dtype=np.uint64)).astype(np.uint64)
_TAPER = np.outer(tukey(SIDE, 0.5), tukey(SIDE, 0.5))
_NEUTRAL_CHROMA = 128.0  # Cb and Cr are hashed relative to grey, Y relative to its own mean


def sample_times(duration: float, k: int) -> np.ndarray:
    """The K sampling times in seconds: centres of K equal slices of the video."""
    return (np.arange(k) + 0.5) * (duration / k)


def sampled_frames(path: Path, k: int) -> list[av.VideoFrame]:
    """Decode the K frames nearest :func:`sample_times`.

    Frames are taken by presentation time, so variable-frame-rate files sample correctly. Long
    videos are not decoded in full: the reader seeks to the keyframe before a target that lies
    more than two seconds ahead.

    Returns:
        K frames; fewer only if the video has fewer frames than K.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        targets = sample_times(_duration(container, stream), k)
        picked: list[av.VideoFrame] = []
        previous = None  # (time, frame) of the last frame decoded
        position = 0.0
        decoded = container.decode(stream)
        for target in targets:
            if target - position > 2.0 and stream.time_base:
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
                decoded, previous = container.decode(stream), None
            for frame in decoded:
                position = float(frame.time or 0.0)
                if position >= target:
                    closer = previous is None or position - target <= target - previous[0]
                    picked.append(frame if closer else previous[1])
                    previous = (position, frame)
                    break
                previous = (position, frame)
            else:
                if previous is not None:
                    picked.append(previous[1])
    if not picked:
        raise ValueError("no frame could be decoded")
    return picked


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * Fraction(stream.time_base))
    if container.duration:
        return container.duration / av.time_base
    raise ValueError("the container gives no duration")


def _yuv(frame: av.VideoFrame) -> tuple[av.VideoFrame, list[np.ndarray]]:
    """The frame (reformatted to 4:4:4 unless it is 4:2:0 or 4:4:4) and its Y, Cb and Cr planes
    as uint8 arrays, read without a colour conversion: the same bytes on every CPU, whichever
    SIMD path the scaler would take."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "yuv444p", "yuvj444p"):
        frame = frame.reformat(format="yuv444p")
    return frame, [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width]
                   for p in frame.planes[:3]]


def turns(frame: av.VideoFrame) -> int:
    """Quarter turns, counter-clockwise, that make the decoded picture the displayed one.

    PyAV's ``frame.rotation`` is the display matrix's angle, counter-clockwise; a player shows
    ``np.rot90(pixels, k=round(rotation / 90))``, the rule of :mod:`vidlab.media.reference`.
    """
    return quarter_turns(getattr(frame, "rotation", 0))


def _flatten(plane: np.ndarray) -> np.ndarray:
    """``plane`` without thin structures drawn on it: the mean of an opening then closing and
    a closing then opening. An opening removes bright lines and strokes narrower than the
    filter, a closing dark ones; taking both orders favours neither. A 9x9 median did about as
    well on the calibration set at ten times the cost."""
    size = (MORPH, MORPH)
    a = grey_closing(grey_opening(plane, size=size, mode="nearest"), size=size, mode="nearest")
    b = grey_opening(grey_closing(plane, size=size, mode="nearest"), size=size, mode="nearest")
    return (a.astype(np.float32) + b) / 2


def planes(frame: av.VideoFrame) -> np.ndarray:
    """Y, Cb and Cr of one frame as displayed, each shrunk to 64x64 by area averaging, cleared
    of thin overlays (:func:`_flatten`) and averaged down to 32x32: (3, 32, 32) float32."""
    out = np.empty((3, SIDE, SIDE), dtype=np.float32)
    k = turns(frame)
    for i, plane in enumerate(_yuv(frame)[1]):
        image = Image.fromarray(np.ascontiguousarray(np.rot90(plane, k)))
        fine = _flatten(np.asarray(image.resize((FINE, FINE), Image.Resampling.BOX)))
        step = FINE // SIDE
        out[i] = fine.reshape(SIDE, step, SIDE, step).mean(axis=(1, 3), dtype=np.float32)
    return out


def rgb(frame: av.VideoFrame) -> np.ndarray:
    """One frame as displayed (see :func:`turns`), (H, W, 3) uint8 RGB, converted here (BT.601)
    so the bytes are the same on every CPU; used for contact sheets."""
    k = turns(frame)  # before reformatting, which need not carry the side data over
    frame, yuv = _yuv(frame)
    y, u, v = (c.astype(np.float32) for c in yuv)
    if u.shape != y.shape:
        u, v = (np.repeat(np.repeat(c, 2, 0), 2, 1)[: y.shape[0], : y.shape[1]] for c in (u, v))
    return _displayed_rgb(y, u, v, frame.format.name.startswith("yuvj"), k)


def _displayed_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, full: bool,
                   k: int) -> np.ndarray:
    """Y, Cb and Cr planes of one size (float32; full or limited range) -> uint8 RGB (BT.601),
    turned by ``k`` quarter turns."""
    y = y if full else (y - 16.0) * (255 / 219)
    scale = 1.0 if full else 255 / 224
    u, v = (u - 128.0) * scale, (v - 128.0) * scale
    out = np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], axis=-1)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.rot90(out, k))


def phash(images: np.ndarray, centres: np.ndarray | None = None) -> np.ndarray:
    """48-bit pHash of each (32, 32) image in ``images`` (shape (n, 32, 32)), as uint64.

    Args:
        images: (n, 32, 32) planes.
        centres: (n,) value each image is taken relative to before the Tukey window; default
            its own mean, so the window adds no structure of its own.
    """
    images = images.astype(np.float64)
    if centres is None:
        centres = images.mean(axis=(1, 2))
    weighted = (images - np.asarray(centres, np.float64)[:, None, None]) * _TAPER
    coeffs = dctn(weighted, axes=(1, 2), norm="ortho")[:, :_LOW, :_LOW]
    flat = coeffs.reshape(len(images), -1)[:, 1:]
    return pack(flat > np.median(flat, axis=1, keepdims=True))


def pack(bits: np.ndarray) -> np.ndarray:
    """(n, BITS) booleans -> (n,) uint64."""
    return (bits.astype(np.uint64) * _WEIGHTS).sum(axis=1, dtype=np.uint64)


def unpack(codes: np.ndarray) -> np.ndarray:
    """(n,) uint64 -> (n, BITS) booleans."""
    return (codes[:, None] & _WEIGHTS) != 0


def video_codes(signatures: np.ndarray) -> np.ndarray:
    """Bitwise majority over time of each plane's hashes: (n, K, C) -> (n, C * BITS) booleans."""
    n, k, channels = signatures.shape
    bits = unpack(signatures.reshape(-1)).reshape(n, k, channels * BITS)
    return bits.sum(axis=1) * 2 > k


class FramePicker:
    """Takes, from frames fed one by one in display order, the frame nearest each target time,
    by the rule of :func:`sampled_frames` (the first frame at or after a target, or the one
    before it when that is closer), and keeps ``convert(frame)`` of each: the probe's decode
    feeds every frame through one of these, so no stage decodes again for signatures or sheets.

    A decoder reuses its frame objects, so a frame cannot be kept to be converted later: a frame
    within ``window`` seconds before the next target is converted as it comes, in case it turns
    out nearer than the one after the target. Where a gap longer than ``window`` precedes a
    target (variable frame rate), the frame after the target is taken.

    Args:
        targets: times in seconds, ascending (:func:`sample_times`).
        convert: what to keep of a picked frame (e.g. :func:`planes`).
        window: seconds before a target in which frames are converted as they come (a few
            frame intervals); None converts every frame.
        time_base: the stream's, to time frames by their pts (as ``frame.time`` does where
            the frame knows its time base).
    """

    def __init__(self, targets: np.ndarray, convert, window: float | None = None,
                 time_base: float | None = None) -> None:
        self._targets = [float(t) for t in targets]
        self._time_base = time_base  # frames decoded packet by packet carry no time base
        self._convert = convert
        self._window = window
        self._picked: list = []
        self._previous: tuple | None = None  # (time, converted frame or None)

    def __call__(self, frame: av.VideoFrame) -> None:
        if self._time_base and frame.pts is not None:
            position = float(frame.pts) * self._time_base
        else:
            position = float(frame.time or 0.0)
        done = len(self._picked)
        if done >= len(self._targets):
            self._previous = (position, None)
            return
        target, previous = self._targets[done], self._previous
        if position >= target:
            unusable = previous is None or previous[1] is None
            current = None
            if unusable or position - target <= target - previous[0]:
                current = self._convert(frame)
                self._picked.append(current)
            else:
                self._picked.append(previous[1])
            # this frame is the one before the next target, which may prefer it
            if current is None and self._near(done + 1, position):
                current = self._convert(frame)
            self._previous = (position, current)
            return
        self._previous = (position, self._convert(frame) if self._near(done, position) else None)

    def _near(self, index: int, position: float) -> bool:
        """Whether a frame at ``position`` may be picked for target ``index`` later."""
        if index >= len(self._targets):
            return False
        return self._window is None or self._targets[index] - position <= self._window

    def result(self) -> list:
        """One converted frame per target; targets after the last frame get the last frame."""
        picked = list(self._picked)
        if picked or (self._previous is not None and self._previous[1] is not None):
            last = self._previous[1] if self._previous and self._previous[1] is not None \
                else picked[-1]
            picked += [last] * (len(self._targets) - len(picked))
        return picked


def thumbnail_rgb(frame: av.VideoFrame, height: int) -> np.ndarray:
    """A frame as displayed, ``height`` px high (or its own height if smaller): each of Y, Cb
    and Cr shrunk by area averaging first, then converted as :func:`rgb` does, so a 1080p
    frame costs a few milliseconds and the bytes are the same on every CPU."""
    k = turns(frame)
    frame, yuv = _yuv(frame)
    width, full_height = frame.width, frame.height
    scale = min(1.0, height / (width if k % 2 else full_height))
    size = (max(1, round(width * scale)), max(1, round(full_height * scale)))
    y, u, v = (np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize(
        size, Image.Resampling.BOX), np.float32) for c in yuv)
    return _displayed_rgb(y, u, v, frame.format.name.startswith("yuvj"), k)


def signature_of(images: list[np.ndarray] | np.ndarray, k: int) -> np.ndarray:
    """The (K, 3) pHashes of Y, Cb and Cr from the :func:`planes` of the sampled frames.

    Videos with fewer than K frames repeat their frames to fill K rows.
    """
    if not len(images):
        raise ValueError("no frame could be decoded")
    images = np.stack(images)
    centres = images.mean(axis=(2, 3))
    centres[:, 1:] = _NEUTRAL_CHROMA
    hashes = phash(images.reshape(-1, SIDE, SIDE), centres.reshape(-1))
    hashes = hashes.reshape(len(images), PLANES)
    return np.resize(hashes, (k, PLANES)).astype(np.uint64)


def signature(path: Path, k: int) -> np.ndarray:
    """The (K, 3) pHashes of Y, Cb and Cr of K frames of one video, decoded here (seeking ahead
    in long videos); the pipeline takes them from the probe's decode instead (:class:`FramePicker`).
    """
    return signature_of([planes(frame) for frame in sampled_frames(path, k)], k)


def duration_of(container, stream) -> float:
    """The duration the sample times are spread over: the stream's, else the container's."""
    return _duration(container, stream)


def distances(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """Video distance for pairs of signatures, vectorised.

    Args:
        a, b: (n, K, C) uint64 frame hashes of the two sides of n pairs.
        window: how many sample positions a frame may be matched away from its own.

    Returns:
        (n,) float64 in [0, 1]: the share of differing bits after matching.
    """
    k, channels = a.shape[1], a.shape[2]
    lag = np.abs(np.arange(k)[:, None] - np.arange(k)[None, :])
    ham = np.bitwise_count(a[:, :, None, :] ^ b[:, None, :, :]).sum(axis=3, dtype=np.int32)
    ham[:, lag > window] = BITS * channels
    forward = ham.min(axis=2).sum(axis=1)
    backward = ham.min(axis=1).sum(axis=1)
    return np.maximum(forward, backward) / (BITS * channels * k)
