"""The classical baselines fitted on the training split and run on one video (see
:mod:`vidlab.stages.task_baselines.stage` for what each task's baseline does)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vidlab.annotations import rle
from vidlab.annotations.formats.predictions import WRITTEN
from vidlab.annotations.schema import RawRecord
from vidlab.config import Params
from vidlab.taskbaselines.foreground import Foreground, foreground
from vidlab.taskbaselines.objects import Detection, associate, detect
from vidlab.taskbaselines.retrieval import nearest, video_descriptor
from vidlab.taskbaselines.temporal import FrameClassifier, motion_features, runs


@dataclass
class Fitted:
    """What the baselines learnt from the training split."""

    classifier: FrameClassifier | None  # segments: per-frame class from motion energy
    only: str                           # segments: the one class training shows, if one
    descriptors: dict[str, np.ndarray]  # training video -> colour and motion descriptor
    labels: dict[str, dict[str, str]]   # task -> training video -> its most frequent class
    captions: dict[str, str]            # training video -> its first caption


def _foreground(params: Params, frames: np.ndarray) -> Foreground:
    t = params.tasks
    return foreground(frames, threshold=t.threshold, min_area=t.min_area)


def frame_labels(rows: pd.DataFrame, n: int) -> np.ndarray:
    """Per frame, the class of the segment covering it ("" where none does)."""
    labels = np.full(n, "", dtype=object)
    for row in rows.itertuples(index=False):
        labels[int(row.frame):int(row.frame_end) + 1] = row.label
    return labels


def fit(params: Params, videos: list, table: pd.DataFrame) -> Fitted:
    """Fit the segments classifier and index the training videos for retrieval."""
    descriptors, features, targets = {}, [], []
    segments = table[table["task"] == "segments"]
    for video in videos:
        fg = _foreground(params, video.frames)
        descriptors[video.video_id] = video_descriptor(video.frames, fg)
        rows = segments[segments["video_id"] == video.video_id]
        if len(rows):
            features.append(motion_features(fg, grid=params.tasks.grid))
            targets.append(frame_labels(rows, len(video.frames)).astype(str))
    classifier, seen = None, set(np.concatenate(targets)) if targets else set()
    if len(seen) >= 2:
        classifier = FrameClassifier(c=params.tasks.c, seed=params.base.seed).fit(features,
                                                                                   targets)
    only = next(iter(seen - {""}), "") if len(seen - {""}) == 1 else ""
    trained = set(descriptors)
    labels = {task: {video: Counter(part["label"]).most_common(1)[0][0]
                     for video, part in table[table["task"] == task].groupby("video_id")
                     if video in trained}
              for task in ("boxes", "masks")}
    text = table[(table["task"] == "captions") & table["video_id"].isin(trained)]
    captions = {video: str(part["text"].iloc[0]) for video, part in text.groupby("video_id")}
    return Fitted(classifier, only, descriptors, labels, captions)


def predict(params: Params, fitted: Fitted, video, truth: pd.DataFrame) -> dict[str, list]:
    """Each task's predicted records for one (possibly perturbed) video: the tasks ``truth``
    (the video's annotations) holds."""
    tasks = set(truth["task"])
    frames = video.frames
    fg = _foreground(params, frames)
    n = video.info.frames
    # original frame -> the frame the baselines saw there (fps jitter resamples the frames)
    factor = len(frames) / max(1, n)
    back = np.minimum(np.round(np.arange(n) * factor).astype(int), len(frames) - 1)
    sx, sy = video.info.width / frames.shape[2], video.info.height / frames.shape[1]
    descriptor = video_descriptor(frames, fg)
    out: dict[str, list] = {}
    if "segments" in tasks and fitted.classifier is not None:
        probs = fitted.classifier.predict_proba(motion_features(fg, grid=params.tasks.grid))
        out["segments"] = [
            _record(video, "segments", label=label, t0=t0, t1=min(t1, video.info.duration_s),
                    score=score)
            for label, t0, t1, score in runs(probs, fitted.classifier.classes, video.fps)
            if t0 < video.info.duration_s]
    elif "segments" in tasks and fitted.only:  # one class in training: all of the video is it
        out["segments"] = [_record(video, "segments", label=fitted.only, t0=0.0,
                                   t1=video.info.duration_s, score=1.0)]
    tracked: list[tuple[int, Detection]] = []
    if tasks & {"boxes", "tracks", "masks"}:
        tracked = associate(detect(fg, max_objects=params.tasks.max_objects),
                            iou=params.tasks.iou)
    by_frame: dict[int, list[tuple[int, Detection]]] = {}
    for track_id, det in tracked:
        by_frame.setdefault(det.frame, []).append((track_id, det))
    if "boxes" in tasks:  # (no training video with boxes: no class to give, no boxes)
        label = _retrieved(fitted, "boxes", descriptor)
        keyframes = truth[truth["task"] == "boxes"][["frame", "t0"]].drop_duplicates()
        out["boxes"] = [
            _record(video, "boxes", label=label, t0=float(t0), score=det.score,
                    **_box(det, sx, sy, video.info))
            for frame, t0 in keyframes.itertuples(index=False)
            for _, det in by_frame.get(int(back[int(frame)]), []) if label]
    if "tracks" in tasks:
        out["tracks"] = [
            _record(video, "tracks", frame=i, track_id=track_id, score=det.score,
                    **_box(det, sx, sy, video.info))
            for i in range(n) for track_id, det in by_frame.get(int(back[i]), [])]
    if "masks" in tasks:
        label = _retrieved(fitted, "masks", descriptor)
        objects = _given_objects(truth[truth["task"] == "masks"], by_frame, back, video.info)
        out["masks"] = [
            _record(video, "masks", frame=i, track_id=objects[track_id], label=label,
                    score=det.score, mask=_mask(det.mask, video.info))
            for i in range(n) for track_id, det in by_frame.get(int(back[i]), [])
            if track_id in objects]
    if "captions" in tasks and fitted.captions:
        match = nearest({v: fitted.descriptors[v] for v in fitted.captions},
                        {video.video_id: descriptor})[video.video_id]
        out["captions"] = [_record(video, "captions", text=fitted.captions[match])]
    return out


def _given_objects(rows: pd.DataFrame, by_frame: dict, back: np.ndarray, info) -> dict[int, int]:
    """Predicted track -> the truth object it follows, from each object's first annotated mask
    (the semi-supervised protocol DAVIS scores: an object's first mask is given, its ids are
    the truth's): the track whose mask overlaps it most there."""
    objects: dict[int, int] = {}
    for object_id, part in rows.sort_values(["track_id", "frame"]).groupby("track_id"):
        first = part.iloc[0]
        given = rle.decode(first["mask"], info.height, info.width)
        overlaps = [(int(np.count_nonzero(given & _big(det.mask, info))), track_id)
                    for track_id, det in by_frame.get(int(back[int(first["frame"])]), [])
                    if track_id not in objects]
        best = max(overlaps, default=(0, None))
        if best[0] > 0:
            objects[best[1]] = int(object_id)
    return objects


def _retrieved(fitted: Fitted, task: str, descriptor: np.ndarray) -> str:
    """The class of the nearest training video that has this task's annotations."""
    known = fitted.labels[task]
    if not known:
        return ""
    match = nearest({v: fitted.descriptors[v] for v in known}, {"query": descriptor})["query"]
    return known[match]


def _record(video, task: str, **fields) -> RawRecord:
    return RawRecord(video=video.video_id, task=task, source=WRITTEN[task], where="", **fields)


def _box(det: Detection, sx: float, sy: float, info) -> dict[str, float]:
    """The detection's box in the displayed frame's pixels (inside the frame)."""
    x1, y1, x2, y2 = det.box
    return {"x1": float(min(info.width, x1 * sx)), "y1": float(min(info.height, y1 * sy)),
            "x2": float(min(info.width, x2 * sx)), "y2": float(min(info.height, y2 * sy))}


def _big(mask: np.ndarray, info) -> np.ndarray:
    """A mask of the shrunk frames at the displayed frame's size (nearest neighbour)."""
    from PIL import Image

    big = Image.fromarray(mask.astype(np.uint8) * 255).resize((info.width, info.height),
                                                               Image.NEAREST)
    return np.asarray(big) > 127


def _mask(mask: np.ndarray, info) -> str:
    """The detection's mask at the displayed frame's size, as COCO RLE counts."""
    return rle.encode(_big(mask, info))
