"""Predictions scored against a split of the pinned annotations: read in a results layout
(:mod:`vidlab.annotations.formats.predictions`), named by the original file names (looked up in
ingest's private mapping, as the annotations stage does) or by the pseudonymous video ids,
placed on the decoded frames by the annotations' own alignment (:mod:`vidlab.annotations.align`),
checked, and scored by the task's metrics. `vidlab score` and the score_task stages use it.

A prediction that cannot be placed or scored stops :func:`place` before anything is scored,
with the count per reason and the first positions in the file (never a file or video name): an
unknown video, a frame out of range, a box outside the frame, a missing score where the task
ranks predictions. A prediction dropped quietly would change the score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.annotations import align
from vidlab.annotations.formats.predictions import RANKED, read_predictions
from vidlab.annotations.schema import FORMATS, FormatError, raw_frame
from vidlab.config import SPLIT_NAMES, Params
from vidlab.core.errors import DataError

# reasons found here, beside alignment's (align.REASONS)
REASONS = {
    "box_outside_frame": "the box reaches outside the video's displayed frame (by more than "
                         "annotations.box_tolerance_px); predict boxes in the upright frame",
    "missing_score": "the task ranks predictions by their score, and this one has none",
    "bad_segment": "the segment ends at or before its start",
}
SHOWN = 5  # positions listed per reason


@dataclass
class Scored:
    """Predictions placed on the decoded frames and the split's truth they are scored against."""

    task: str
    truth: pd.DataFrame      # the split's annotations of the task, from one export
    predicted: pd.DataFrame  # aligned predictions of the split's videos
    usable: pd.DataFrame     # the usable manifest rows (frame sizes)
    facts: dict              # format, truth format, split and counts, for the result


def place(params: Params, *, predictions: Path | None, fmt: str, split: str, annotations: Path,
          splits: Path, usable: pd.DataFrame, truth_format: str | None = None,
          mapping: Path | None = None) -> Scored:
    """Read, align and check ``predictions`` (in ``fmt``) and find the truth of ``split`` they
    are scored against; nothing is written.

    Args:
        usable: the usable manifest rows (:func:`vidlab.data.usable.read_usable`).
        truth_format: which export of the task is the ground truth where the annotations hold
            the task from several formats (default: ``fmt`` when it is one of them).
        mapping: ingest's private mapping (default: the one beside this dataset's key, where
            there is one; without it, predictions must name videos by their pseudonyms).
        predictions: ``None`` for a model that predicted nothing (every truth element missed).

    Raises:
        DataError: for an unknown format or split, a file its format refuses, or predictions
            that cannot be scored (the message counts them per reason).
    """
    task = check_request(fmt, split)
    try:
        raw = raw_frame(read_predictions(fmt, Path(predictions)) if predictions else [])
    except FormatError as exc:
        raise DataError(f"{fmt} predictions: {exc}") from None
    if raw.empty and predictions:
        raise DataError(f"The {fmt} predictions file holds no predictions.")
    names = _names(params, usable, mapping)
    index = align.name_index(names)
    ids = {align.resolve(str(v), *index)[0] for v in raw["video"].unique()}
    videos = align.video_facts(usable, ids - {""})
    p = params.annotations
    table, problems = align.align(raw, names, set(usable["video_id"]), videos,
                                  ontology=dict(p.ontology), unlabelled=dict(p.unlabelled),
                                  fps_tolerance=p.fps_tolerance)
    problems += _checks(table, videos, task, p.box_tolerance_px)
    if problems:
        raise DataError(_refusal(problems, raw, len(raw)))
    members = split_videos(Path(splits), split)
    truth, chosen = _truth(Path(annotations), task, fmt, truth_format, members)
    inside = table["video_id"].isin(members)
    facts = {"task": task, "format": fmt, "truth_format": chosen, "split": split,
             "videos": int(truth["video_id"].nunique()), "truth_rows": int(len(truth)),
             "predictions": int(inside.sum()), "outside_split": int((~inside).sum())}
    return Scored(task, truth, table[inside].reset_index(drop=True), usable, facts)


def check_request(fmt: str, split: str) -> str:
    """The task of ``fmt``; a DataError for an unknown format or split."""
    if fmt not in FORMATS:
        raise DataError(f"Unknown predictions format {fmt!r}; known: {', '.join(FORMATS)}.")
    if split not in SPLIT_NAMES:
        raise DataError(f"Unknown split {split!r}; expected one of {', '.join(SPLIT_NAMES)}.")
    return FORMATS[fmt]


def _names(params: Params, usable: pd.DataFrame, mapping: Path | None) -> dict[str, str]:
    """Video name -> pseudonymous file name: the private mapping's original names where it can
    be read, and always the pseudonyms themselves (ids and file names)."""
    names = {Path(path).name: Path(path).name for path in usable["path"]}
    try:
        source = Path(mapping) if mapping else align.mapping_file(params.data.source,
                                                                   params.data.csv)
        if source.is_file():
            names |= align.mapping_of(source)
    except DataError:
        pass  # no key here (a pinned release on another machine): pseudonyms only
    return names


def _checks(table: pd.DataFrame, videos: dict, task: str, tolerance: float) -> list[dict]:
    """Problems alignment does not look for: boxes outside the frame, missing scores, empty
    segments."""
    found = []
    for row in table.to_dict("records"):
        video = videos[row["video_id"]]
        reason, column, value = "", "", ""
        x1, y1, x2, y2 = (row[c] for c in ("x1", "y1", "x2", "y2"))
        if align.given(x1) and (min(x1, y1) < -tolerance or x2 > video.width + tolerance
                                or y2 > video.height + tolerance):
            reason, column, value = "box_outside_frame", "x1", f"{x1:g},{y1:g},{x2:g},{y2:g}"
        elif task == "segments" and align.given(row["t1"]) and row["t1"] <= row["t0"]:
            reason, column, value = "bad_segment", "t1", f"{row['t1']:g}"
        elif task in RANKED and not (align.given(row["score"]) and np.isfinite(row["score"])):
            reason, column = "missing_score", "score"
        if reason:
            found.append({"index": int(row["_raw"]), "video_id": row["video_id"],
                          "column": column, "value": value, "reason": reason,
                          "detail": REASONS[reason]})
    return found


def _refusal(problems: list[dict], raw: pd.DataFrame, total: int) -> str:
    """The message for predictions that cannot be scored: counts per reason, first positions."""
    details = {**align.REASONS, **REASONS}
    by_reason = Counter(problem["reason"] for problem in problems)
    lines = [f"{len(problems)} of {total} predictions cannot be scored, so nothing was scored:"]
    for reason, count in by_reason.most_common():
        where = [str(raw.at[problem["index"], "where"]) for problem in problems
                 if problem["reason"] == reason][:SHOWN]
        more = ", ..." if count > SHOWN else ""
        lines.append(f"- {reason} ({count}): {details[reason]}. At: {', '.join(where)}{more}")
    return "\n".join(lines)


def split_videos(splits: Path, split: str) -> set[str]:
    if not splits.is_file():
        raise DataError(f"{splits} does not exist. Run the split stage first (dvc repro split).")
    table = pd.read_csv(splits, dtype=str, keep_default_na=False)
    members = set(table.loc[table["split"] == split, "video_id"])
    if not members:
        raise DataError(f"{splits} puts no video in the {split} split.")
    return members


def _truth(annotations: Path, task: str, fmt: str, truth_format: str | None,
           members: set[str]) -> tuple[pd.DataFrame, str]:
    """The split's ground truth of ``task`` from one export format, and that format."""
    if not annotations.is_file():
        raise DataError(f"{annotations} does not exist. Run the annotations stage first "
                        "(dvc repro annotations).")
    table = pd.read_parquet(annotations)
    table = table[table["task"] == task]
    sources = sorted(set(table["source"]))
    if not sources:
        raise DataError(f"The annotations hold no {task}: there is nothing to score against.")
    chosen = truth_format or (fmt if fmt in sources else (sources[0] if len(sources) == 1
                                                          else None))
    if chosen not in sources:
        raise DataError(f"The annotations hold {task} from {', '.join(sources)}; say which is "
                        "the ground truth (--truth-format).")
    table = table[(table["source"] == chosen) & table["video_id"].isin(members)]
    if table.empty:
        raise DataError(f"No {task} annotations fall in this split: nothing to score against.")
    return table.reset_index(drop=True), chosen


def metrics(task: str, truth: pd.DataFrame, predicted: pd.DataFrame,
            usable: pd.DataFrame) -> dict:
    """The task's metrics (:mod:`vidlab.taskmetrics`)."""
    predicted = predicted.reset_index(drop=True)
    if task == "segments":
        from vidlab.taskmetrics.temporal import temporal_map

        return temporal_map(truth, predicted)
    if task == "boxes":
        from vidlab.taskmetrics.boxes import box_map

        return box_map(truth, predicted)
    if task == "tracks":
        from vidlab.taskmetrics.tracks import track_metrics

        return track_metrics(truth, predicted)
    if task == "masks":
        from vidlab.taskmetrics.masks import mask_metrics

        size = usable.set_index("video_id")[["display_height", "display_width"]]
        sized = [frame.join(size, on="video_id").rename(
            columns={"display_height": "height", "display_width": "width"})
            for frame in (truth, predicted)]
        return mask_metrics(*sized)
    from vidlab.taskmetrics.captions import caption_metrics, dense_caption_metrics

    if _timed(truth) and _timed(predicted) and len(predicted):
        return dense_caption_metrics(*_timed_captions(truth, predicted))
    return caption_metrics(*_captions(truth, predicted))


def _timed(table: pd.DataFrame) -> bool:
    """Every caption has a start and an end (dense captioning)."""
    return bool(len(table)) and bool(table["t0"].notna().all() and table["t1"].notna().all())


def _timed_captions(truth: pd.DataFrame, predicted: pd.DataFrame) -> tuple[dict, dict]:
    """(t0, t1, caption) per video, of the truth and of the predictions (dense captioning)."""
    def timed(table: pd.DataFrame) -> dict:
        return {v: [(float(r.t0), float(r.t1), str(r.text)) for r in part.itertuples()]
                for v, part in table.groupby("video_id", sort=True)}
    return timed(truth), timed(predicted)


def _captions(truth: pd.DataFrame, predicted: pd.DataFrame) -> tuple[dict, dict]:
    """References per video and one candidate per video (video-level captioning)."""
    several = predicted["video_id"].value_counts()
    if (several > 1).any():
        raise DataError(f"{int((several > 1).sum())} video(s) have several predicted captions "
                        "without times; vidlab scores one caption per video, or captions with "
                        "times against a truth with times (dense captioning: "
                        "activitynet_captions).")
    references = {v: list(group["text"]) for v, group in truth.groupby("video_id", sort=True)}
    return references, dict(zip(predicted["video_id"], predicted["text"], strict=True))


def plain(value):
    """JSON for numpy scalars."""
    return value.item() if hasattr(value, "item") else str(value)
