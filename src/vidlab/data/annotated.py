"""Datasets of annotated clips: segments, boxes, tracks, masks and captions, read from the aligned
annotation table (``data/interim/annotations.parquet``, see :mod:`vidlab.annotations.schema`).

Each item is one clip, chosen by a :class:`~vidlab.data.sampling.ClipSampler` from the video's
frame times (so variable-frame-rate videos pick the frame on screen at each instant) and decoded
live with the project's backends (decord, PyAV where decord refuses or fails). The decoders
return frames as displayed (display rotation applied), the frame the aligned table's pixel
coordinates and masks describe, and index frames as the table's ``frame`` column does: frame
``i`` of a sequential decode. A clip position therefore gets exactly the annotations of the
decoded frame it shows.

What an item holds (the sample types are in :mod:`vidlab.data.annotated_transforms`); the clip is
a ``tv_tensors.Video`` uint8 ``(T, 3, H, W)``, time first, ``H x W`` the displayed frame size,
until a transform changes it:

* :class:`SegmentClips`: ``(clip, segments, labels)``; ``segments`` bool ``(N, T)`` marks the
  positions whose frame lies in segment ``n`` (``frame`` to ``frame_end``, inclusive); a segment
  no position lies in is left out; ``labels`` int64 ``(N,)``.
* :class:`BoxClips`: ``(clip, boxes, labels)``; per position a ``BoundingBoxes`` ``(N_t, 4)``
  float32 XYXY in pixels, ``x2``/``y2`` exclusive edges, canvas ``(H, W)``, and int64 labels.
* :class:`TrackClips`: ``(frames, tracks)``; per position ``{"boxes", "ids", "labels"}``: boxes
  as above, int64 track ids, int64 labels (-1 without a class list).
* :class:`MaskClips`: ``(frames, masks)``; per position ``{"masks", "ids", "labels"}``: a
  ``tv_tensors.Mask`` uint8 ``(N_t, H, W)`` (1 inside), decoded from the RLE when the item is
  loaded, int64 object ids (the table's ``track_id``, -1 where empty) and labels.
* :class:`CaptionClips`: ``(clip, caption)``: a caption of the clip's video (one whose frames
  overlap the clip where it has frames), random under a ``random`` sampler, else the first.

A v2 ``transform`` (flip, crops, resize, ...) moves boxes and masks with the pixels, with one set
of random parameters per clip (:func:`~vidlab.data.annotated_transforms.apply_spatial`);
``frame_drop`` removes random positions with their annotations first
(:func:`~vidlab.data.annotated_transforms.drop_frames`). :meth:`AnnotatedClips.load` also says
which video, clip and frames an item is. Random choices use torch's generator, which the
DataLoader seeds per worker. Targets vary in size: batch with :func:`collate`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from vidlab.annotations import rle
from vidlab.core.errors import DataError
from vidlab.data.annotated_transforms import (
    BoxesSample,
    CaptionSample,
    MasksSample,
    Sample,
    SegmentsSample,
    TracksSample,
    Transform,
    apply_spatial,
    drop_frames,
    random_keep,
)
from vidlab.data.sampling import Clip, ClipSampler
from vidlab.media.decode import open_video, resolve_backend

log = logging.getLogger(__name__)

NEEDED = ("video_id", "task", "where", "label", "frame", "frame_end", "track_id",
          "x1", "y1", "x2", "y2", "mask", "text")


class ClipInfo(NamedTuple):
    """Where an item comes from: its video, clip, and the decoded frame shown at each position
    (after any frame drop) with its presentation time in seconds."""

    video_id: str
    clip_index: int
    indices: tuple[int, ...]
    times: tuple[float, ...]
    padded: bool


@dataclass(frozen=True)
class _Rows:
    """One video's rows of one task, as arrays (-1 for an empty frame, id or label)."""

    video_id: str
    where: list[str]
    frame: np.ndarray        # int64 (n,)
    frame_end: np.ndarray    # int64 (n,)
    label: np.ndarray        # int64 (n,)
    ids: np.ndarray          # int64 (n,)
    boxes: np.ndarray        # float32 (n, 4)
    masks: list[str]
    texts: list[str]
    by_frame: dict[int, np.ndarray]

    def at(self, frame: int) -> np.ndarray:
        """Rows on a decoded frame."""
        return self.by_frame.get(int(frame), np.zeros(0, dtype=np.int64))


class AnnotatedClips(Dataset):
    """Clips of the videos that have rows of :attr:`task` in the aligned table.

    Args:
        table: the aligned table (:data:`~vidlab.annotations.schema.ALIGNED_COLUMNS`).
        paths: video path per video id (the manifest's).
        classes: the task's class names (a label's index is its position), or a mapping from
            task to class names; None where the task needs none (tracks and masks: labels -1).
        sampler: which frames make a clip (:func:`~vidlab.data.sampling.make_clip_sampler`);
            ``multi`` gives ``clips_per_video`` items per video, other policies one.
        transform: a torchvision v2 transform of the clip and its boxes or masks.
        frame_drop: probability of removing each position but the first (0: off).
        min_size: boxes under this many pixels wide or high after the transform are dropped.
        backend: decoding backend ("auto", "decord" or "pyav"); PyAV takes over on failure.
        threads: decoder threads.

    Raises:
        ValueError: for a missing column or path, an unknown label, or a row the task cannot use.
    """

    task: ClassVar[str] = ""
    needs_classes: ClassVar[bool] = True

    def __init__(self, table: pd.DataFrame, paths: Mapping[str, str | Path],
                 classes: Sequence[str] | Mapping[str, Sequence[str]] | None,
                 sampler: ClipSampler, *, transform: Transform | None = None,
                 frame_drop: float = 0.0, min_size: float = 1.0, backend: str = "auto",
                 threads: int = 1) -> None:
        if not isinstance(sampler, ClipSampler):
            raise TypeError(f"sampler must be a ClipSampler (make_clip_sampler). Got {sampler!r}.")
        random_keep(0, frame_drop)  # checks the probability
        resolve_backend(backend)
        missing = [c for c in NEEDED if c not in table.columns]
        if missing:
            raise ValueError(f"The aligned table lacks the columns {missing}; expected "
                             "vidlab.annotations.schema.ALIGNED_COLUMNS.")
        if isinstance(classes, Mapping):
            classes = classes.get(self.task)
        if classes is None and self.needs_classes:
            raise ValueError(f"{type(self).__name__} needs the class list of {self.task}.")
        self.classes = None if classes is None else tuple(classes)
        self.sampler, self.transform, self.frame_drop = sampler, transform, frame_drop
        self.min_size, self.backend, self.threads = min_size, backend, threads
        rows = table[table["task"] == self.task]
        self.videos = sorted(str(v) for v in rows["video_id"].unique())
        unknown = [v for v in self.videos if v not in paths]
        if unknown:
            raise ValueError(f"{len(unknown)} video(s) with {self.task} annotations have no path "
                             f"in the manifest, e.g. {unknown[:3]}.")
        self.paths = {v: str(paths[v]) for v in self.videos}
        self._rows = {str(v): self._prepare(str(v), group)
                      for v, group in rows.groupby("video_id", sort=False)}
        self._per_video = sampler.clips_per_video if sampler.policy == "multi" else 1

    def __len__(self) -> int:
        return len(self.videos) * self._per_video

    def __getitem__(self, item: int) -> Sample:
        return self.load(item)[0]

    def load(self, item: int) -> tuple[Sample, ClipInfo]:
        """The item's sample and where it comes from."""
        if not 0 <= item < len(self):
            raise IndexError(f"Item {item} of a dataset of {len(self)}.")
        number, clip_index = divmod(item, self._per_video)
        video_id = self.videos[number]
        rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))
        clip, frames, times = self._decode(video_id, lambda t: self.sampler(t, rng)[clip_index])
        indices = np.asarray(clip.indices, dtype=np.int64)
        video = tv_tensors.Video(torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous())
        sample = self._sample(video, self._rows[video_id], indices, rng)
        if self.frame_drop:
            keep = random_keep(len(indices), self.frame_drop)
            sample, indices = drop_frames(sample, keep), indices[keep.numpy()]
        if self.transform is not None:
            sample = apply_spatial(sample, self.transform, min_size=self.min_size)
        info = ClipInfo(video_id, clip.clip_index, tuple(int(i) for i in indices),
                        tuple(float(times[i]) for i in indices), clip.padded)
        return sample, info

    # --- per task ----------------------------------------------------------------------------

    def _sample(self, clip: tv_tensors.Video, rows: _Rows, indices: np.ndarray,
                rng: np.random.Generator) -> Sample:
        raise NotImplementedError

    def _check(self, rows: _Rows) -> None:
        """Refuse rows the task cannot place (subclasses add their own checks)."""
        bad = np.flatnonzero(rows.frame < 0)
        if len(bad):
            raise ValueError(f"{self.task} row at {rows.where[bad[0]]} (video {rows.video_id}) "
                             "has no frame; the aligned table places every element on one.")

    # --- helpers -----------------------------------------------------------------------------

    def _prepare(self, video_id: str, group: pd.DataFrame) -> _Rows:
        frame = _ints(group["frame"])
        frame_end = _ints(group["frame_end"])
        frame_end = np.where(frame_end < 0, frame, frame_end)
        order = np.argsort(frame, kind="stable")
        found, starts = np.unique(frame[order], return_index=True)
        ends = [*starts[1:], len(order)]
        boxes = group[["x1", "y1", "x2", "y2"]].astype("Float64").to_numpy(
            dtype=np.float32, na_value=np.nan)
        rows = _Rows(video_id, [str(w) for w in group["where"]], frame, frame_end,
                     self._labels(video_id, group), _ints(group["track_id"]), boxes,
                     [str(m) if isinstance(m, str) else "" for m in group["mask"]],
                     [str(t) if isinstance(t, str) else "" for t in group["text"]],
                     {int(f): order[s:e] for f, s, e in zip(found, starts, ends, strict=True)})
        self._check(rows)
        return rows

    def _labels(self, video_id: str, group: pd.DataFrame) -> np.ndarray:
        if self.classes is None:
            return np.full(len(group), -1, dtype=np.int64)
        index = {name: k for k, name in enumerate(self.classes)}
        labels = [str(v) for v in group["label"].fillna("")]
        unknown = sorted({v for v in labels if v not in index})
        if unknown:
            raise ValueError(f"{self.task} labels {unknown[:5]} of video {video_id} are not in "
                             f"the class list {list(self.classes)}; add them or map them in "
                             "the ontology.")
        return np.asarray([index[v] for v in labels], dtype=np.int64)

    def _decode(self, video_id: str, choose) -> tuple[Clip, np.ndarray, np.ndarray]:
        """The chosen clip, its frames (uint8 ``(T, H, W, 3)``) and the video's frame times."""
        first = resolve_backend(self.backend)
        backends = [first] + (["pyav"] if first != "pyav" else [])
        for attempt, backend in enumerate(backends):
            try:
                reader = open_video(self.paths[video_id], backend, threads=self.threads)
                try:
                    clip = choose(reader.times)
                    return clip, reader.get_frames(clip.indices), np.asarray(reader.times)
                finally:
                    reader.close()
            except Exception as exc:
                if attempt == len(backends) - 1:
                    raise RuntimeError(f"Could not decode video {video_id} ({exc}).") from exc
                log.debug("%s failed on %s (%s); retrying with PyAV", backend, video_id,
                          type(exc).__name__)
        raise AssertionError("unreachable")


class SegmentClips(AnnotatedClips):
    """Clips with the temporal segments that intersect them: ``(clip, segments, labels)``
    (see the module docstring)."""

    task = "segments"

    def _check(self, rows: _Rows) -> None:
        super()._check(rows)
        bad = np.flatnonzero(rows.frame_end < rows.frame)
        if len(bad):
            raise ValueError(f"segments row at {rows.where[bad[0]]} (video {rows.video_id}) ends "
                             f"(frame {rows.frame_end[bad[0]]}) before it starts "
                             f"(frame {rows.frame[bad[0]]}).")

    def _sample(self, clip: tv_tensors.Video, rows: _Rows, indices: np.ndarray,
                rng: np.random.Generator) -> SegmentsSample:
        member = ((indices[None, :] >= rows.frame[:, None])
                  & (indices[None, :] <= rows.frame_end[:, None]))
        alive = member.any(axis=1)
        return SegmentsSample(clip, torch.from_numpy(member[alive]),
                              torch.from_numpy(rows.label[alive]))


class BoxClips(AnnotatedClips):
    """Clips with the boxes of each position's frame: ``(clip, boxes, labels)``."""

    task = "boxes"

    def _check(self, rows: _Rows) -> None:
        super()._check(rows)
        _check_boxes(self.task, rows)

    def _sample(self, clip: tv_tensors.Video, rows: _Rows, indices: np.ndarray,
                rng: np.random.Generator) -> BoxesSample:
        size = tuple(clip.shape[-2:])
        picked = [rows.at(f) for f in indices]
        return BoxesSample(clip, [_boxes(rows.boxes[k], size) for k in picked],
                           [torch.from_numpy(rows.label[k]) for k in picked])


class TrackClips(AnnotatedClips):
    """Frames with each position's tracked boxes: ``(frames, tracks)``."""

    task = "tracks"
    needs_classes = False

    def _check(self, rows: _Rows) -> None:
        super()._check(rows)
        _check_boxes(self.task, rows)

    def _sample(self, clip: tv_tensors.Video, rows: _Rows, indices: np.ndarray,
                rng: np.random.Generator) -> TracksSample:
        size = tuple(clip.shape[-2:])
        tracks = []
        for f in indices:
            k = rows.at(f)
            tracks.append({"boxes": _boxes(rows.boxes[k], size),
                           "ids": torch.from_numpy(rows.ids[k]),
                           "labels": torch.from_numpy(rows.label[k])})
        return TracksSample(clip, tracks)


class MaskClips(AnnotatedClips):
    """Frames with each position's object masks, decoded from RLE per item:
    ``(frames, masks)``."""

    task = "masks"
    needs_classes = False

    def _check(self, rows: _Rows) -> None:
        super()._check(rows)
        empty = [k for k, m in enumerate(rows.masks) if not m]
        if empty:
            raise ValueError(f"masks row at {rows.where[empty[0]]} (video {rows.video_id}) has "
                             "no mask RLE.")

    def _sample(self, clip: tv_tensors.Video, rows: _Rows, indices: np.ndarray,
                rng: np.random.Generator) -> MasksSample:
        height, width = (int(s) for s in clip.shape[-2:])
        masks = []
        for f in indices:
            k = rows.at(f)
            planes = np.zeros((len(k), height, width), dtype=np.uint8)
            for n, row in enumerate(k):
                try:
                    planes[n] = rle.decode(rows.masks[row], height, width)
                except DataError as exc:
                    raise DataError(f"The mask at {rows.where[row]} (video {rows.video_id}) does "
                                    f"not fit its {width} x {height} frame: {exc}") from exc
            masks.append({"masks": tv_tensors.Mask(torch.from_numpy(planes)),
                          "ids": torch.from_numpy(rows.ids[k]),
                          "labels": torch.from_numpy(rows.label[k])})
        return MasksSample(clip, masks)


class CaptionClips(AnnotatedClips):
    """Clips with a caption of their video: ``(clip, caption)``; ``""`` where no caption's
    frames overlap the clip. ``classes`` is not used (pass None)."""

    task = "captions"
    needs_classes = False

    def _check(self, rows: _Rows) -> None:
        """Captions without frames describe the whole video: nothing to refuse."""

    def _labels(self, video_id: str, group: pd.DataFrame) -> np.ndarray:
        return np.full(len(group), -1, dtype=np.int64)

    def _sample(self, clip: tv_tensors.Video, rows: _Rows, indices: np.ndarray,
                rng: np.random.Generator) -> CaptionSample:
        overlap = ((indices[None, :] >= rows.frame[:, None])
                   & (indices[None, :] <= rows.frame_end[:, None])).any(axis=1)
        eligible = np.flatnonzero((rows.frame < 0) | overlap)
        if not len(eligible):
            return CaptionSample(clip, "")
        pick = rng.integers(len(eligible)) if self.sampler.policy == "random" else 0
        return CaptionSample(clip, rows.texts[eligible[pick]])


def collate(batch: list[Sample]) -> Sample:
    """A batch of samples of one type: clips stacked where they share a shape (else a list),
    every other field a list with one entry per sample."""
    clips = [s[0] for s in batch]
    same = all(c.shape == clips[0].shape for c in clips)
    stacked = torch.stack([c.as_subclass(torch.Tensor) for c in clips]) if same else clips
    return type(batch[0])(stacked, *(list(field) for field in zip(*(s[1:] for s in batch),
                                                                  strict=True)))


def _ints(column: pd.Series) -> np.ndarray:
    """A nullable integer column as int64, -1 where empty."""
    return pd.to_numeric(column).astype("Int64").to_numpy(dtype=np.int64, na_value=-1)


def _boxes(xyxy: np.ndarray, size: tuple[int, ...]) -> tv_tensors.BoundingBoxes:
    return tv_tensors.BoundingBoxes(torch.from_numpy(xyxy.reshape(-1, 4)), format="XYXY",
                                    canvas_size=(int(size[0]), int(size[1])))


def _check_boxes(task: str, rows: _Rows) -> None:
    bad = np.flatnonzero(np.isnan(rows.boxes).any(axis=1))
    if len(bad):
        raise ValueError(f"{task} row at {rows.where[bad[0]]} (video {rows.video_id}) has no "
                         "box (x1, y1, x2, y2).")
