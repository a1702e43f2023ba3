"""The clips cache as a format: how clips are sampled, decoded and fitted to the model size, and
where the cache's files are. The ``clips`` stage (:mod:`vidlab.stages.clips.stage`) builds it; the
datasets and the DataModule read it.

Nothing here imports torch: the clips stage and its workers decode and fit with PyAV or decord,
numpy and Pillow, and fit each frame as it is decoded, so one full-resolution frame (a few with
decord) is in memory at a time, whatever the video's resolution and the number of clips.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import ClipsParams
from vidlab.core.paths import project_root
from vidlab.media.decode import resolve_backend

log = logging.getLogger(__name__)

CROPS = ("center", "letterbox")
MARKER = ".vidlab-clips"
LABEL_COLUMNS = ("label", "domain", "age_group", "milestone_id")
INDEX_COLUMNS = ("split", "row", "key", "video_id", "clip_index", "start_s", "padded", "frames",
                 *LABEL_COLUMNS)


def video_rng(seed: int, video_id: str) -> np.random.Generator:
    """A generator that depends on the seed and the video only (not on order or workers)."""
    digest = hashlib.sha256(video_id.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def sampler_for(split: str, p: ClipsParams):
    """Random clips for training, evenly spaced (``multi``) clips for val and test."""
    from vidlab.data.sampling import make_clip_sampler

    train = split == "train"
    return make_clip_sampler("random" if train else "multi", clip_len=p.clip_len, stride=p.stride,
                             target_fps=p.target_fps, pad=p.pad,
                             clips_per_video=1 if train else p.eval_clips)


def sample_video(times: np.ndarray, split: str, p: ClipsParams,
                 rng: np.random.Generator | None) -> list:
    """The clips of one video: ``train_clips`` random draws, or the eval clips."""
    sampler = sampler_for(split, p)
    if split == "train":
        return [c._replace(clip_index=k) for k in range(p.train_clips)
                for c in sampler(times, rng)]
    return sampler(times)


def fit_frame(rgb: np.ndarray, size: int, crop: str = "center") -> np.ndarray:
    """Resize and crop (or letterbox) one RGB uint8 frame ``(H, W, 3)`` to ``(size, size, 3)``.

    ``center`` resizes the short side to ``size`` and keeps the middle; ``letterbox`` fits the
    long side and pads with black, centred. Pillow's bilinear filter widens with the scale
    (antialiased), so small model inputs don't alias fine background patterns; its integer
    arithmetic makes the result the same on every machine.

    Raises:
        ValueError: for an unknown crop, or a frame that is not RGB uint8.
    """
    from PIL import Image

    if crop not in CROPS:
        raise ValueError(f"Unknown crop {crop!r}; expected center or letterbox.")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"Expected an RGB uint8 frame (H, W, 3); got {rgb.dtype} {rgb.shape}.")
    height, width = rgb.shape[:2]
    image = Image.fromarray(np.ascontiguousarray(rgb))
    if crop == "center":
        short, long = sorted((height, width))
        inner = (size, int(size * long / short))  # short side -> size (torchvision's rule)
        inner_w, inner_h = inner if width <= height else inner[::-1]
        resized = np.asarray(image.resize((inner_w, inner_h), Image.Resampling.BILINEAR))
        top, left = int(round((inner_h - size) / 2)), int(round((inner_w - size) / 2))
        return np.ascontiguousarray(resized[top:top + size, left:left + size])
    scale = size / max(height, width)
    inner_h, inner_w = max(1, round(height * scale)), max(1, round(width * scale))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - inner_h) // 2, (size - inner_w) // 2
    out[top:top + inner_h, left:left + inner_w] = np.asarray(
        image.resize((inner_w, inner_h), Image.Resampling.BILINEAR))
    return out


def _fitter(p: ClipsParams) -> tuple[Callable[[int, np.ndarray], np.ndarray], dict[int, bytes]]:
    """A per-frame function for :meth:`~vidlab.media.decode.VideoReader.get_frames` that fits
    each frame to ``p.size``, and the digests of the full-resolution frames it saw, by index
    (what :func:`_check_not_frozen` compares)."""
    digests: dict[int, bytes] = {}

    def fit(index: int, rgb: np.ndarray) -> np.ndarray:
        digests[index] = hashlib.sha1(np.ascontiguousarray(rgb), usedforsecurity=False).digest()
        return fit_frame(rgb, p.size, p.crop)

    return fit, digests


def read_clips(path: str | Path, p: ClipsParams, choose: Callable[[np.ndarray], list], *,
               threads: int = 1) -> tuple[list, np.ndarray, np.ndarray, str]:
    """Open a video, let ``choose`` pick clips from its frame times, decode them in one pass and
    fit each frame to ``p.size`` as it is decoded (:func:`fit_frame`). A backend that refuses
    the file (see :class:`~vidlab.media.decode.UnsupportedVideo`), fails, or returns a frozen
    clip the video does not have is replaced by PyAV.

    Returns:
        The clips, their frames as uint8 ``(clips, T, size, size, 3)``, the frame times and the
        backend that decoded them.

    Raises:
        FrozenClip: when even PyAV's frames of a clip are identical while the video's differ.
    """
    from vidlab.media.decode import open_video

    first = resolve_backend(p.backend)
    backends = [first] + (["pyav"] if first != "pyav" else [])
    for attempt, backend in enumerate(backends):
        try:
            fit, digests = _fitter(p)
            reader = open_video(path, backend, threads=threads)
            try:
                clips = choose(reader.times)
                wanted = [i for clip in clips for i in clip.indices]
                fitted = reader.get_frames(wanted, per_frame=fit)
                times = reader.times
            finally:
                reader.close()
            shown = np.frombuffer(b"".join(digests[i] for i in wanted), np.uint8)
            _check_not_frozen(path, clips, shown.reshape(len(wanted), -1))
            break
        except Exception as exc:
            if attempt == len(backends) - 1:
                raise
            log.debug("%s failed on %s (%s); retrying with PyAV", backend, Path(path).name,
                      type(exc).__name__)
    return clips, fitted.reshape(len(clips), p.clip_len, *fitted.shape[1:]), times, backend


class FrozenClip(RuntimeError):
    """A decoded clip repeats one picture where the video shows different ones."""


def _check_not_frozen(path: str | Path, clips: list, frames: np.ndarray) -> None:
    """Refuse clips whose frames are all the same picture although they come from different
    frames that the reference decode shows to differ (a backend returning one frame again and
    again, as decord did with AVI timestamps). A truly still video passes.

    ``frames`` holds the clips' frames one after another, as pictures or as digests of the
    full-resolution pictures (what :func:`read_clips` passes): equal rows mean equal pictures.
    The reference decode compares the decoded frames' digests, keeping no picture."""
    start = 0
    for clip in clips:
        block = frames[start:start + len(clip.indices)]
        start += len(clip.indices)
        if len(set(clip.indices)) < 2 or not np.all(block == block[:1]):
            continue
        from vidlab.media.reference import reference_decode

        reference, _ = reference_decode(path)
        shown = {reference.digests[i] for i in set(clip.indices) if i < reference.frames}
        if len(shown) > 1:
            raise FrozenClip(f"clip {clip.clip_index} repeats one frame; the video's frames "
                             f"{min(clip.indices)}..{max(clip.indices)} differ")


def decode_clips(path: str, split: str, video_id: str, p: ClipsParams, seed: int) -> dict:
    """Sample, decode and fit all clips of one video (runs in a worker process)."""
    rng = video_rng(seed, video_id)
    clips, arrays, times, backend = read_clips(
        path, p, lambda times: sample_video(times, split, p, rng))
    return {"video_id": video_id, "backend": backend, "arrays": arrays,
            "clips": [(c.clip_index, round(float(times[c.indices[0]]), 6), c.padded, c.indices)
                      for c in clips]}


def resolve_paths(paths: pd.Series, splits: Path) -> pd.Series:
    """Video paths of splits.csv, which are relative to the project root, made absolute, so the
    stage and the DataModule work from any working directory."""
    root = project_root(Path(splits).resolve().parent)
    if not (root / "params.yaml").is_file():  # a manifest outside a project: relative to the cwd
        root = Path.cwd()
    return paths.map(lambda p: str(p if Path(p).is_absolute() else root / p))
