"""Detection mAP on boxes, with the COCO evaluator (pycocotools ``COCO`` + ``COCOeval``).

No AP code of our own: the tables become COCO dictionaries in memory and pycocotools scores them
(iouType ``"bbox"``, IoU thresholds 0.5:0.05:0.95, 101 recall points, maxDets 1/10/100).

An *image* is one ``(video_id, frame)`` pair present in the ground truth or the predictions; the
*categories* are the ground-truth labels. Boxes are ``x1, y1, x2, y2`` pixels with ``x2``/``y2``
exclusive, so COCO's ``[x, y, w, h]`` is ``[x1, y1, x2 - x1, y2 - y1]``.

The table checks (:func:`checked_table`) are shared with :mod:`.tracks`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd

from vidlab.core.errors import DataError

BOX_COLUMNS = ("x1", "y1", "x2", "y2")
TRUTH_COLUMNS = ("video_id", "frame", "label", *BOX_COLUMNS)
PREDICTION_COLUMNS = (*TRUTH_COLUMNS, "score")
MAX_DETECTIONS = [1, 10, 100]  # COCO's maxDets


def plain(value):
    """A NumPy scalar as the Python value it holds (for messages and dict keys)."""
    return value.item() if isinstance(value, np.generic) else value


def _where(table: pd.DataFrame, pos: int) -> str:
    return f"row {pos} (video {plain(table['video_id'].iloc[pos])!r})"


def _first_bad(table: pd.DataFrame, name: str, bad: np.ndarray, what: str,
               expected: str) -> None:
    """Raise :class:`DataError` for the first row where ``bad`` is true, if any."""
    rows = np.flatnonzero(bad)
    if len(rows) == 0:
        return
    more = f" (and {len(rows) - 1} more row(s))" if len(rows) > 1 else ""
    raise DataError(f"{name} {_where(table, int(rows[0]))}: {what}{more}; expected {expected}")


def checked_table(table: pd.DataFrame, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """``table`` with its rows checked and ``columns`` kept, positions 0..n-1, ``frame`` as int
    and boxes/score as float. :class:`DataError` names the table (``name``: "truth",
    "predictions"), the row position and the video id of the first row that cannot be scored:
    missing columns, a missing video id / frame / label / track id / score, a frame that is not a
    whole number >= 0, a box that is not finite or has ``x2 <= x1`` or ``y2 <= y1``."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{name} is a {type(table).__name__}; expected a pandas DataFrame")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{name} is missing column(s) {', '.join(missing)}; expected columns "
                        f"{', '.join(columns)}")
    out = table.loc[:, list(columns)].reset_index(drop=True)
    if out["video_id"].isna().any():
        rows = np.flatnonzero(out["video_id"].isna().to_numpy())
        raise DataError(f"{name} row {int(rows[0])}: missing video_id; expected a video id")
    frame = pd.to_numeric(out["frame"], errors="coerce").astype("float64").to_numpy()
    _first_bad(out, name, ~np.isfinite(frame) | (frame < 0) | (frame != np.round(frame)),
               "frame is missing or not a whole number", "a 0-based frame index")
    out["frame"] = frame.astype(np.int64)
    for column in ("label", "track_id"):
        if column in out.columns:
            _first_bad(out, name, out[column].isna().to_numpy(), f"missing {column}",
                       f"a {column} on every row")
    coords = {}
    for column in BOX_COLUMNS:
        coords[column] = pd.to_numeric(out[column], errors="coerce").astype("float64").to_numpy()
        out[column] = coords[column]
    finite = np.logical_and.reduce([np.isfinite(v) for v in coords.values()])
    _first_bad(out, name, ~finite, "box coordinate missing or not finite",
               "finite pixel coordinates x1, y1, x2, y2")
    _first_bad(out, name, (coords["x2"] <= coords["x1"]) | (coords["y2"] <= coords["y1"]),
               "empty box (x2 <= x1 or y2 <= y1)", "x1 < x2 and y1 < y2 (x2, y2 exclusive)")
    if "score" in out.columns:
        score = pd.to_numeric(out["score"], errors="coerce").astype("float64").to_numpy()
        _first_bad(out, name, ~np.isfinite(score), "score missing or not finite",
                   "a finite confidence score on every prediction")
        out["score"] = score
    return out


def _sorted_labels(values: Sequence) -> list:
    labels = [plain(v) for v in pd.unique(pd.Series(values))]
    try:
        return sorted(labels)
    except TypeError:  # mixed types
        return sorted(labels, key=str)


def _none_if_undefined(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) or value < 0 else float(value)


def box_map(truth: pd.DataFrame, predictions: pd.DataFrame) -> dict:
    """COCO detection mAP of ``predictions`` against ``truth``, by pycocotools' evaluator.

    truth: ``video_id, frame, label, x1, y1, x2, y2``; predictions: the same and ``score``.
    Each ``(video_id, frame)`` present in either table is one COCO image; the categories are the
    ground-truth labels (sorted), and predictions of any other label are left out (counted in
    ``ignored_predictions``). COCO's maxDets ``[1, 10, 100]`` apply: where one frame has more
    than 100 predictions of one class, only its 100 highest-scoring count (COCO caps per image
    and category).

    Returns ``map`` (mAP@[.5:.95], COCO's stats[0]), ``map_50``, ``map_75``, ``by_class_50``
    ({label: AP at IoU 0.5, mean of COCO's 101-point interpolated precision}), ``frame_map_50``,
    ``images``, ``classes`` (number of categories), ``ignored_predictions`` and ``undefined``
    ({metric: reason} for each value that is ``None``; COCO's -1).

    ``frame_map_50`` is the per-frame mAP at IoU 0.5 that AVA reports, computed COCO-style, so it
    equals ``map_50``. AVA's official tool uses the PASCAL VOC AP (all-point interpolation), which
    can differ slightly from COCO's 101-point one.

    Raises :class:`DataError` for a missing column, a missing score, label or frame, or a box that
    is not finite or has ``x2 <= x1`` or ``y2 <= y1`` (naming the row position and video id).
    """
    gt = checked_table(truth, "truth", TRUTH_COLUMNS)
    dt = checked_table(predictions, "predictions", PREDICTION_COLUMNS)
    labels = _sorted_labels(gt["label"]) if len(gt) else []
    category = {label: k + 1 for k, label in enumerate(labels)}
    keep = dt["label"].map(lambda v: v in category).to_numpy(dtype=bool) if len(dt) else \
        np.zeros(0, dtype=bool)
    ignored = int((~keep).sum())
    keys = set(zip(gt["video_id"].tolist(), gt["frame"].tolist(), strict=True))
    keys |= set(zip(dt["video_id"].tolist(), dt["frame"].tolist(), strict=True))
    images = sorted(keys, key=lambda k: (str(k[0]), k[1]))
    result: dict = {"map": None, "map_50": None, "map_75": None, "by_class_50": {},
                    "frame_map_50": None, "images": len(images), "classes": len(labels),
                    "ignored_predictions": ignored, "undefined": {}}
    if not labels:
        reason = "no ground-truth boxes"
        result["undefined"] = {k: reason for k in ("map", "map_50", "map_75", "frame_map_50")}
        return result

    image_id = {key: i + 1 for i, key in enumerate(images)}
    gt_anns = _annotations(gt, image_id, category, scores=False)
    dt_anns = _annotations(dt[keep].reset_index(drop=True), image_id, category, scores=True)
    evaluator = _evaluate(images, labels, gt_anns, dt_anns)

    stats = evaluator.stats
    for key, index in (("map", 0), ("map_50", 1), ("map_75", 2)):
        result[key] = _none_if_undefined(stats[index])
        if result[key] is None:
            result["undefined"][key] = "COCO found no ground truth to score (-1)"
    result["frame_map_50"] = result["map_50"]
    if result["map_50"] is None:
        result["undefined"]["frame_map_50"] = result["undefined"]["map_50"]
    precision = evaluator.eval["precision"]  # [T iou, R recall, K class, A area, M maxDets]
    for k, label in enumerate(labels):
        curve = precision[0, :, k, 0, -1]
        curve = curve[curve > -1]
        value = float(np.mean(curve)) if len(curve) else None
        result["by_class_50"][label] = value
        if value is None:
            result["undefined"][f"by_class_50[{label!r}]"] = f"no ground truth of class {label!r}"
    return result


def _annotations(table: pd.DataFrame, image_id: dict, category: dict, *,
                 scores: bool) -> list[dict]:
    x1, y1 = table["x1"].tolist(), table["y1"].tolist()
    x2, y2 = table["x2"].tolist(), table["y2"].tolist()
    score = table["score"].tolist() if scores else [None] * len(table)
    keys = zip(table["video_id"].tolist(), table["frame"].tolist(), strict=True)
    anns = []
    for i, (key, label) in enumerate(zip(keys, table["label"].tolist(), strict=True)):
        w, h = x2[i] - x1[i], y2[i] - y1[i]
        ann = {"id": i + 1, "image_id": image_id[key], "category_id": category[label],
               "bbox": [x1[i], y1[i], w, h], "area": w * h, "iscrowd": 0}
        if scores:
            ann["score"] = score[i]
        anns.append(ann)
    return anns


def _evaluate(images: list, labels: list, gt_anns: list[dict], dt_anns: list[dict]):
    """Run COCOeval (bbox) on in-memory datasets, its prints silenced; returns the evaluator."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    image_list = [{"id": i + 1} for i in range(len(images))]
    categories = [{"id": k + 1, "name": str(label)} for k, label in enumerate(labels)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt, coco_dt = COCO(), COCO()
        # built directly rather than with loadRes, which fails on an empty list of results
        coco_gt.dataset = {"images": image_list, "categories": categories,
                           "annotations": gt_anns}
        coco_dt.dataset = {"images": list(image_list), "categories": list(categories),
                           "annotations": dt_anns}
        coco_gt.createIndex()
        coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.params.maxDets = list(MAX_DETECTIONS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator
