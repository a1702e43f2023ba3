"""Temporal action localisation: mean average precision (mAP) at temporal-IoU thresholds.

For every ground-truth class and every temporal-IoU (tIoU) threshold, predictions of that class
are ranked by score and greedily matched to ground-truth segments of the same video; the
average precision (AP) of that ranking is the area under the interpolated precision/recall
curve. The mAP at a threshold is the mean AP over classes; ``map`` is the mean of those over the
thresholds (0.5:0.05:0.95 by default, ActivityNet's "average mAP").

No package on the registry computes this without files or a network, so this is vidlab's own
implementation, written from the definitions in the ActivityNet Challenge's
``Evaluation/eval_detection.py`` (``compute_average_precision_detection``, ``segment_iou``,
``interpolated_prec_rec``):

* tIoU of ``[a0, a1]`` and ``[b0, b1]`` is intersection / union in seconds, with
  union = ``(a1 - a0) + (b1 - b0) - intersection``;
* classes are those of the ground truth; predictions of any other label are ignored and counted
  (``"ignored_predictions"``). A class with ground truth but no predictions has AP 0;
* predictions are ranked by score, highest first. The sort is stable: equal scores keep their
  input order (ActivityNet's ``argsort()[::-1]`` reverses ties instead; this makes ties
  reproducible and documented);
* at each threshold, a prediction is a true positive when, among the ground-truth segments of its
  class *and video* not yet matched at that threshold, the one of highest tIoU reaches the
  threshold; it then takes that segment. Equal tIoUs go to the earliest ground-truth row. Every
  other prediction (including one in a video with no ground truth of its class, and a duplicate
  of an already matched segment) is a false positive;
* AP is VOC's all-points interpolation: precision is replaced by its running maximum from the
  right (the monotone envelope) and summed over the steps of recall.

Conventions are the package's (see :mod:`vidlab.taskmetrics`): tables with ``video_id``,
``label``, ``t0``, ``t1`` (seconds) and, on predictions, ``score``; a metric the data cannot
define is ``None`` with its reason under ``"undefined"``; unscorable input raises
:class:`~vidlab.core.errors.DataError` naming the row position (0-based) and video id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vidlab.core.errors import DataError

__all__ = ["DEFAULT_THRESHOLDS", "segment_iou", "temporal_map"]

#: ActivityNet's thresholds 0.50, 0.55, ..., 0.95 (rounded so that 0.75 is exactly 0.75).
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(
    float(t) for t in np.round(np.arange(0.5, 0.96, 0.05), 2)
)

_TRUTH_COLUMNS = ("video_id", "label", "t0", "t1")
_PREDICTION_COLUMNS = (*_TRUTH_COLUMNS, "score")


def segment_iou(segment: Sequence[float] | np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Temporal IoU of one segment with each of several segments.

    Args:
        segment: ``(t0, t1)`` in seconds, ``t1 > t0``.
        segments: array-like of shape ``(n, 2)`` holding ``(t0, t1)`` rows, each ``t1 > t0``.

    Returns:
        Array of shape ``(n,)``: intersection / union of ``segment`` with each row, in [0, 1].
    """
    a0, a1 = np.asarray(segment, dtype=float).reshape(2)
    segs = np.asarray(segments, dtype=float).reshape(-1, 2)
    intersection = np.clip(np.minimum(a1, segs[:, 1]) - np.maximum(a0, segs[:, 0]), 0.0, None)
    union = (segs[:, 1] - segs[:, 0]) + (a1 - a0) - intersection
    return intersection / union


def temporal_map(
    truth: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Temporal action localisation mAP, as ActivityNet's detection evaluation defines it.

    Args:
        truth: ground-truth segments, columns ``video_id``, ``label``, ``t0``, ``t1``.
        predictions: predicted segments, the same columns plus ``score``.
        thresholds: tIoU thresholds in (0, 1]; default 0.50, 0.55, ..., 0.95.

    Returns:
        ``map`` (mean over thresholds of the mean AP over classes), ``map_50`` and ``map_75``
        (the mAP at 0.5 and 0.75, ``None`` when not among ``thresholds``), ``by_threshold``
        (``{"0.50": mAP, ...}``), ``by_class`` (``{label: AP averaged over thresholds}``),
        ``classes`` (number of ground-truth classes), ``ignored_predictions`` (predictions of
        labels absent from the ground truth) and ``undefined`` (name -> reason for each ``None``).

    Raises:
        DataError: a column is missing, a time is not finite or ``t1 <= t0``, a video id or
            label is missing, or a prediction has no finite score.
        ValueError: ``thresholds`` is empty, outside (0, 1] or has two equal keys.
    """
    thr = _check_thresholds(thresholds)
    keys = [_threshold_key(t) for t in thr]
    gt = _clean(truth, _TRUTH_COLUMNS, "ground truth")
    pred = _clean(predictions, _PREDICTION_COLUMNS, "predictions")

    truth_by_class = list(gt.groupby("label", sort=True))
    classes = [label for label, _ in truth_by_class]
    known = pred["label"].isin(classes)
    ignored = int((~known).sum())
    if not classes:
        return _undefined_result(keys, ignored)

    pred_by_class = dict(tuple(pred[known].groupby("label", sort=False)))
    ap = np.array(
        [_class_ap(g, pred_by_class.get(c), thr) for c, g in truth_by_class]
    )  # shape (classes, thresholds)
    by_threshold = ap.mean(axis=0)
    result: dict[str, Any] = {"map": float(by_threshold.mean())}
    undefined: dict[str, str] = {}
    for name, at in (("map_50", 0.5), ("map_75", 0.75)):
        hit = np.flatnonzero(np.isclose(thr, at, rtol=0.0, atol=1e-9))
        result[name] = float(by_threshold[hit[0]]) if hit.size else None
        if not hit.size:
            undefined[name] = f"tIoU threshold {at} is not among the thresholds"
    result.update(
        by_threshold={k: float(v) for k, v in zip(keys, by_threshold, strict=True)},
        by_class={c: float(v) for c, v in zip(classes, ap.mean(axis=1), strict=True)},
        classes=len(classes),
        ignored_predictions=ignored,
        undefined=undefined,
    )
    return result


def _class_ap(gt: pd.DataFrame, pred: pd.DataFrame | None, thr: np.ndarray) -> np.ndarray:
    """AP of one class at each threshold (shape ``(len(thr),)``)."""
    if pred is None or pred.empty:
        # Recall stays 0 at every rank: AP is defined, and it is 0.
        return np.zeros(len(thr))
    tp = _match(gt, pred, thr)
    tp_cum = np.cumsum(tp, axis=1)
    fp_cum = np.cumsum(~tp, axis=1)
    recall = tp_cum / len(gt)
    precision = tp_cum / (tp_cum + fp_cum)  # denominator is the rank, 1..n: never 0
    return np.array([_interpolated_ap(p, r) for p, r in zip(precision, recall, strict=True)])


def _match(gt: pd.DataFrame, pred: pd.DataFrame, thr: np.ndarray) -> np.ndarray:
    """True-positive flags, shape ``(thresholds, predictions)``, predictions in rank order.

    Matching is greedy in rank order, so it is a loop over predictions; the thresholds (each
    with its own set of taken ground truth) are handled together as rows of numpy arrays.
    """
    order = np.argsort(-pred["score"].to_numpy(dtype=float), kind="stable")
    segs = pred[["t0", "t1"]].to_numpy(dtype=float)[order]
    videos = pred["video_id"].to_numpy()[order]
    gt_segs = gt[["t0", "t1"]].to_numpy(dtype=float)
    # Positions (into gt_segs) of the class's ground truth in each video: only these can match.
    gt_rows = {v: np.asarray(idx) for v, idx in gt.groupby("video_id", sort=False).indices.items()}

    taken = np.zeros((len(thr), len(gt_segs)), dtype=bool)
    tp = np.zeros((len(thr), len(segs)), dtype=bool)
    levels = np.arange(len(thr))
    for i, (seg, video) in enumerate(zip(segs, videos, strict=True)):
        rows = gt_rows.get(video)
        if rows is None:
            continue  # no ground truth of this class in this video: FP at every threshold
        iou = segment_iou(seg, gt_segs[rows])
        # Taken segments drop out; argmax then picks the best free one (first on ties).
        free = np.where(taken[:, rows], -np.inf, iou[np.newaxis, :])
        best = free.argmax(axis=1)
        hit = free[levels, best] >= thr
        tp[hit, i] = True
        taken[levels[hit], rows[best[hit]]] = True
    return tp


def _interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC all-points AP (ActivityNet's ``interpolated_prec_rec``).

    Precision is padded with 0 at both ends and recall with 0 and 1, precision is replaced by
    its maximum over all later ranks, and that envelope is summed over the steps of recall.
    """
    prec = np.concatenate(([0.0], precision, [0.0]))
    rec = np.concatenate(([0.0], recall, [1.0]))
    envelope = np.maximum.accumulate(prec[::-1])[::-1]
    steps = np.flatnonzero(rec[1:] != rec[:-1]) + 1
    return float(np.sum((rec[steps] - rec[steps - 1]) * envelope[steps]))


def _undefined_result(keys: list[str], ignored: int) -> dict[str, Any]:
    """Result when the ground truth has no segment: no class, so no AP to average."""
    reason = "no ground-truth segments: there is no class to average AP over"
    return {
        "map": None,
        "map_50": None,
        "map_75": None,
        "by_threshold": dict.fromkeys(keys),
        "by_class": {},
        "classes": 0,
        "ignored_predictions": ignored,
        "undefined": dict.fromkeys(("map", "map_50", "map_75", "by_threshold"), reason),
    }


def _check_thresholds(thresholds: Sequence[float]) -> np.ndarray:
    """Thresholds as a float array; a bad value is a caller's mistake, hence ValueError."""
    thr = np.asarray(list(thresholds), dtype=float).reshape(-1)
    if thr.size == 0:
        raise ValueError("thresholds is empty; give at least one tIoU threshold in (0, 1]")
    bad = thr[~(np.isfinite(thr) & (thr > 0.0) & (thr <= 1.0))]
    if bad.size:
        raise ValueError(f"tIoU thresholds must lie in (0, 1]; got {bad.tolist()}")
    keys = [_threshold_key(t) for t in thr]
    if len(set(keys)) != len(keys):
        raise ValueError(f"tIoU thresholds must be distinct; got {keys}")
    return thr


def _threshold_key(t: float) -> str:
    """``"0.50"`` style key; thresholds finer than 0.01 keep their digits."""
    return f"{t:.2f}" if abs(t - round(t, 2)) < 1e-12 else f"{t:g}"


def _clean(table: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """The required columns, checked, with a 0-based positional index and typed values."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{what} is missing column(s) {', '.join(missing)}; "
            f"expected columns {', '.join(columns)}"
        )
    doubled = [c for c in columns if (table.columns == c).sum() > 1]
    if doubled:
        raise DataError(f"{what} has column(s) {', '.join(doubled)} more than once")
    raw = pd.DataFrame({c: table[c].to_numpy() for c in columns})
    _fail_first(raw["video_id"].isna().to_numpy(), what, None, lambda i: "missing video_id")
    out = raw.copy()
    out["video_id"] = raw["video_id"].astype(str)
    videos = out["video_id"].to_numpy()
    _fail_first(raw["label"].isna().to_numpy(), what, videos, lambda i: "missing label")
    out["label"] = raw["label"].astype(str)
    for name in columns[2:]:
        # Non-numbers become NaN here and are then reported as not finite.
        out[name] = pd.to_numeric(raw[name], errors="coerce").astype(float)
    t0, t1 = out["t0"].to_numpy(), out["t1"].to_numpy()
    finite = np.isfinite(t0) & np.isfinite(t1)

    def times(i: int) -> str:
        return f"t0={_show(raw['t0'].iat[i])}, t1={_show(raw['t1'].iat[i])}"

    _fail_first(~finite, what, videos, lambda i: f"times must be finite seconds ({times(i)})")
    _fail_first(
        finite & ~(t1 > t0), what, videos, lambda i: f"t1 must be greater than t0 ({times(i)})"
    )
    if "score" in columns:
        _fail_first(
            ~np.isfinite(out["score"].to_numpy()),
            what,
            videos,
            lambda i: (
                f"missing score (got {_show(raw['score'].iat[i])}); "
                "every prediction needs a finite score"
            ),
        )
    return out


def _show(value: Any) -> str:
    """A cell for a message: strings quoted, numbers and None plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _fail_first(
    bad: np.ndarray, what: str, videos: np.ndarray | None, problem: Callable[[int], str]
) -> None:
    """Raise DataError for the first flagged row, saying how many more there are."""
    rows = np.flatnonzero(bad)
    if not rows.size:
        return
    first = int(rows[0])
    where = f"{what} row {first}" + (f" (video {videos[first]!r})" if videos is not None else "")
    more = f" (and {rows.size - 1} more such row(s))" if rows.size > 1 else ""
    raise DataError(f"{where}: {problem(first)}{more}")
