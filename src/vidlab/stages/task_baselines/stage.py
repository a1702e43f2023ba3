"""The `task_baselines` stage: a classical baseline's predictions for every annotation task.

They are floors to beat, not models to tune (:mod:`vidlab.taskbaselines`), and they exercise
every task metric on predictions made by the pipeline itself. Each annotated video of every
split is decoded once (shrunk to ``tasks.max_side``); then:

* **segments**: motion energy per cell of a grid (background subtraction against the video's
  median frame), classified per frame by a logistic regression fitted on the training split's
  annotated frames, and maximal runs of one class, scored by their mean probability;
* **boxes**: the foreground's connected parts on each annotated keyframe, scored by their mean
  difference from the background, labelled with the box class of the nearest training video
  (colour and motion descriptor);
* **tracks**: the same parts on every frame, linked to the frame before by IoU (Hungarian);
* **masks**: those tracks' pixels;
* **captions**: the caption of the nearest training video.

Predictions are made for the videos of ``evaluate.splits``: clean, and for robustness (on the
test split) under the perturbations classification is tested with: fps jitter (the frames
resampled at ``evaluate.fps_factors`` times their rate), JPEG, blur and a grey square over the
centre. Each (task, condition) is written in the results layout `vidlab score` reads
(:func:`vidlab.annotations.formats.predictions.write_predictions`), named by the pseudonymous
video ids, under ``<out>/<task>/<condition>/``; ``<out>/summary.json`` says what was made.
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.annotations.formats.predictions import WRITTEN, write_predictions
from vidlab.annotations.schema import FORMATS, TASKS, RawRecord, VideoInfo
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir, atomic_write_text
from vidlab.data.usable import read_usable
from vidlab.stages.task_baselines.predict import fit, predict

PARAMS = Declaration(
    "task_baselines",
    outputs=("base.seed", "annotations.files", "annotations.ontology", "tasks",
             "evaluate.splits", "evaluate.fps_factors", "evaluate.jpeg_quality",
             "evaluate.blur_sigma", "evaluate.occlusion", "clips.size"),
)
CONDITIONS = ("clean", "fps_slow", "fps_fast", "jpeg", "blur", "occlusion")
log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """One video's frames (shrunk) and what the baselines need of it."""

    video_id: str
    info: VideoInfo  # the displayed frame's size, fps and frame count
    frames: np.ndarray
    fps: float


def truth_formats(params: Params, table: pd.DataFrame) -> dict[str, str]:
    """Task -> the export its scores are computed against: ``tasks.truth``, else the task's
    first format in ``annotations.files`` that the annotations hold."""
    held = {task: set(part["source"]) for task, part in table.groupby("task")}
    chosen = {}
    for task in TASKS:
        if task not in held:
            continue
        wanted = params.tasks.truth.get(task)
        order = [fmt for fmt in params.annotations.files if FORMATS[fmt] == task]
        first = next((fmt for fmt in order if fmt in held[task]), sorted(held[task])[0])
        chosen[task] = wanted if wanted in held[task] else first
    return chosen


def exported_labels(ontology: dict[str, str]) -> dict[tuple[str, str], str]:
    """(format, class) -> the label an export of that format writes for it; ``("", class)`` for
    formats without their own ids (the ontology inverted, a format's own entries first)."""
    out: dict[tuple[str, str], str] = {}
    for written, meant in ontology.items():
        fmt, _, name = written.rpartition(":")
        out.setdefault((fmt, meant), name)
    return out


def run(params: Params, *, annotations: Path, splits: Path, manifest: Path, quarantine: Path,
        out: Path) -> dict:
    """Predict every task the annotations hold; write them and ``summary.json`` under ``out``."""
    params = PARAMS.view(params)
    table = pd.read_parquet(annotations)
    usable, _ = read_usable(Path(manifest), Path(quarantine))
    split_of = dict(pd.read_csv(splits, dtype=str, keep_default_na=False)[
        ["video_id", "split"]].itertuples(index=False, name=None))
    chosen = truth_formats(params, table)
    kept = np.array([chosen.get(t) == s for t, s in zip(table["task"], table["source"],
                                                         strict=True)], dtype=bool)
    table = table[kept]  # (an array, not a list: an empty list would select columns)
    rows = usable.set_index("video_id")
    annotated = sorted(set(table["video_id"]) & set(rows.index) & set(split_of))
    train = [v for v in annotated if split_of[v] == "train"]
    evaluated = [v for v in annotated if split_of[v] in params.evaluate.splits]
    if not train or not evaluated:  # nothing to learn from or to score: said, not an error
        log.warning("task baselines: %d annotated video(s) in train and %d in %s; no baseline "
                    "is fitted", len(train), len(evaluated), "/".join(params.evaluate.splits))
        evaluated = []
    side = params.tasks.max_side
    fitted = fit(params, [_prepare(v, rows.loc[v], side) for v in train], table) if evaluated \
        else None
    # every task the annotations hold is scored, even where the baseline predicts nothing
    tested = any(split_of[v] == "test" for v in evaluated)
    predictions: dict[tuple[str, str], list[RawRecord]] = {
        (task, condition): [] for task in chosen
        for condition in (CONDITIONS if tested else CONDITIONS[:1])}
    for video_id in evaluated:
        clean = _prepare(video_id, rows.loc[video_id], side)
        truth = table[table["video_id"] == video_id]
        conditions = CONDITIONS if split_of[video_id] == "test" else CONDITIONS[:1]
        for condition in conditions:
            made = predict(params, fitted, _perturbed(params, clean, condition), truth)
            for task, records in made.items():
                predictions.setdefault((task, condition), []).extend(records)
    return _write(params, predictions, chosen, rows, Path(out), train, evaluated)


def _write(params: Params, predictions: dict, chosen: dict[str, str], rows: pd.DataFrame,
           out: Path, train: list[str], evaluated: list[str]) -> dict:
    labels = exported_labels(dict(params.annotations.ontology))
    videos = {v: _info(rows.loc[v]) for v in rows.index}
    summary: dict = {"tasks": {}, "conditions": list(CONDITIONS), "train_videos": len(train),
                     "evaluated_videos": len(evaluated)}
    with atomic_dir(out, marker="summary.json") as staging:
        for (task, condition), records in sorted(predictions.items()):
            fmt = WRITTEN[task]
            for rec in records:
                rec.label = labels.get((fmt, rec.label), labels.get(("", rec.label), rec.label))
            fmt, path = write_predictions(task, records, staging / task / condition, videos,
                                          "davis" if chosen[task] == "davis" else None)
            entry = summary["tasks"].setdefault(task, {"format": fmt, "truth_format":
                                                       chosen[task], "conditions": {}})
            entry["conditions"][condition] = {
                "path": path.relative_to(staging).as_posix(), "predictions": len(records)}
        atomic_write_text(staging / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _info(row) -> VideoInfo:
    return VideoInfo(int(row.display_width), int(row.display_height), float(row.fps_avg),
                     int(row.frames_decoded), float(row.duration_s))


def _prepare(video_id: str, row, max_side: int) -> Prepared:
    """Decode every frame of one video, shrunk so its longer side is at most ``max_side``."""
    from PIL import Image

    from vidlab.media.decode import open_video

    info = _info(row)
    reader = open_video(row.path, "pyav")
    try:
        times = np.asarray(reader.times, dtype=float)
        frames = reader.get_frames(list(range(len(times))))
    except Exception as exc:  # probe decoded it; a failure now is an environment problem
        raise DataError(f"video {video_id} could not be decoded for the task baselines "
                        f"({type(exc).__name__}).") from None
    finally:
        reader.close()
    scale = min(1.0, max_side / max(info.width, info.height))
    if scale < 1.0:
        size = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR))
                           for f in frames])
    return Prepared(video_id, info, np.ascontiguousarray(frames), info.fps)


def _perturbed(params: Params, clean: Prepared, condition: str) -> Prepared:
    """The video as the baselines see it under ``condition`` (fps jitter: frames resampled at
    the factor times their rate; the rest per frame)."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    e = params.evaluate
    frames = clean.frames
    if condition == "clean":
        return clean
    if condition.startswith("fps_"):
        factor = e.fps_factors[0 if condition == "fps_slow" else 1]
        count = max(1, int(np.floor(len(frames) * factor)))
        picks = np.minimum(np.floor(np.arange(count) / factor + 1e-9).astype(int),
                           len(frames) - 1)
        return Prepared(clean.video_id, clean.info, frames[picks], clean.fps * factor)
    out = []
    for frame in frames:
        if condition == "jpeg":
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, "JPEG", quality=e.jpeg_quality)
            frame = np.asarray(Image.open(buffer).convert("RGB"))
        elif condition == "blur":  # blur_sigma is in pixels at clips.size: scaled to this size
            sigma = e.blur_sigma * min(frame.shape[:2]) / params.clips.size
            frame = gaussian_filter(frame.astype(np.float32), (sigma, sigma, 0))
            frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        else:
            frame = frame.copy()
            h, w = frame.shape[:2]
            side_h, side_w = round(h * e.occlusion), round(w * e.occlusion)
            top, left = (h - side_h) // 2, (w - side_w) // 2
            frame[top:top + side_h, left:left + side_w] = 127
        out.append(frame)
    return Prepared(clean.video_id, clean.info, np.stack(out), clean.fps)


def counts(summary: dict) -> Counter:
    """Predictions per task (clean), for the command's line."""
    return Counter({task: entry["conditions"]["clean"]["predictions"]
                    for task, entry in summary["tasks"].items()})

