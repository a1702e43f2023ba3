"""Multi-object tracking metrics: CLEAR MOT and identity metrics with motmetrics, HOTA own.

**CLEAR / identity** (MOTA, MOTP, IDF1, ID switches, ...): one ``motmetrics.MOTAccumulator``
per video, updated on every frame present in either table with the distance ``1 - IoU`` where
``IoU >= iou_threshold`` (0.5, MOTChallenge's) and "do not pair" elsewhere; the videos are
combined by ``compute_many(..., generate_overall=True)`` and its OVERALL row is reported. The IoU
matrix is our own (motmetrics 1.4.0's ``iou_matrix`` calls ``np.asfarray``, gone in NumPy 2), with
the same arithmetic as motmetrics' ``boxiou``.

**HOTA** (DetA, AssA, LocA), from Luiten et al., "HOTA: A Higher Order Metric for Evaluating
Multi-Object Tracking" (IJCV 2020), as TrackEval implements it (``trackeval/metrics/hota.py``):
per video, a global alignment score between every truth id and predicted id (the
similarity-weighted count of potential matches, as a Jaccard index) weights the per-frame IoU,
the Hungarian algorithm maximises ``alignment * IoU`` on each frame, and at each alpha in
0.05:0.05:0.95 the matched pairs with IoU >= alpha are true positives. DetA = TP / (TP + FN +
FP), AssA = mean over TPs of TPA / (TPA + FNA + FPA), HOTA = sqrt(DetA * AssA), LocA = mean IoU
of the TPs. Videos combine as TrackEval combines sequences: counts summed, AssA and LocA
weighted by TP. The reported values are means over the 19 alphas; ``hota_0`` is HOTA at alpha
0.05. As in TrackEval, an alpha with no TP contributes AssA 0 and LocA 1 to those means.

Tracking is class-agnostic: a ``label`` column is ignored (filter the tables per class first to
score classes apart), and so is ``score``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vidlab.core.errors import DataError
from vidlab.taskmetrics.boxes import BOX_COLUMNS, checked_table, plain

TRACK_COLUMNS = ("video_id", "frame", "track_id", *BOX_COLUMNS)
ALPHAS = np.arange(1, 20) * 0.05  # 0.05, 0.10, ..., 0.95 (TrackEval: np.arange(0.05, 0.99, 0.05))
_EPS = np.finfo("float").eps

# motmetrics' name -> ours, for the OVERALL row
CLEAR_METRICS = {
    "mota": "mota", "motp": "motp", "idf1": "idf1", "idp": "idp", "idr": "idr",
    "num_switches": "id_switches", "num_fragmentations": "fragmentations",
    "num_false_positives": "false_positives", "num_misses": "misses", "num_objects": "objects",
    "mostly_tracked": "mostly_tracked", "mostly_lost": "mostly_lost",
}
COUNTS = ("id_switches", "fragmentations", "false_positives", "misses", "objects",
          "mostly_tracked", "mostly_lost")
HOTA_KEYS = ("hota", "deta", "assa", "loca", "hota_0")


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N x 4) with every box in ``b`` (M x 4), both ``x1, y1, x2, y2``
    with ``x2``/``y2`` exclusive: an N x M array (0 where the boxes do not overlap)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None, :, :]
    inter_w = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0)
    inter_h = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter == 0, 0.0, inter / union)


def _check_unique_ids(table: pd.DataFrame, name: str) -> None:
    dup = table.duplicated(["video_id", "frame", "track_id"], keep="first").to_numpy()
    rows = np.flatnonzero(dup)
    if len(rows):
        pos = int(rows[0])
        video, frame, track = (plain(table[c].iloc[pos]) for c in ("video_id", "frame",
                                                                   "track_id"))
        first = np.flatnonzero(((table["video_id"] == video) & (table["frame"] == frame)
                                & (table["track_id"] == track)).to_numpy())[0]
        raise DataError(
            f"{name} row {pos} (video {video!r}, frame {frame}): track_id {track!r} already has "
            f"a box on this frame (row {int(first)}); expected one box per track per frame")


class _Video:
    """One video's boxes frame by frame: track ids as codes 0..n-1 (in sorted order where the
    ids sort) and boxes, in table order."""

    def __init__(self, table: pd.DataFrame) -> None:
        try:
            codes, uniques = pd.factorize(table["track_id"], sort=True)
        except TypeError:  # ids of mixed types
            codes, uniques = pd.factorize(table["track_id"], sort=False)
        self.n_ids = len(uniques)
        order = np.argsort(table["frame"].to_numpy(), kind="stable")
        frames = table["frame"].to_numpy()[order]
        boxes = table.loc[:, list(BOX_COLUMNS)].to_numpy(dtype=np.float64)[order]
        ids = np.asarray(codes, dtype=np.int64)[order]
        starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]]) if len(frames) else []
        ends = list(starts[1:]) + [len(frames)] if len(frames) else []
        self.frames = {int(frames[s]): (ids[s:e], boxes[s:e]) for s, e in
                       zip(starts, ends, strict=True)}

    def at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        return self.frames.get(frame, (np.zeros(0, dtype=np.int64), np.zeros((0, 4))))


def _accumulate(gt: _Video, pr: _Video, frames: list[int], iou_threshold: float):
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    max_distance = 1.0 - iou_threshold
    for frame in frames:
        (gt_ids, gt_boxes), (pr_ids, pr_boxes) = gt.at(frame), pr.at(frame)
        distance = 1.0 - iou_matrix(gt_boxes, pr_boxes)
        distance = np.where(distance > max_distance, np.nan, distance)  # as motmetrics does
        acc.update(gt_ids, pr_ids, distance, frameid=frame)
    return acc


def _hota_counts(gt: _Video, pr: _Video, frames: list[int]) -> dict:
    """One video's HOTA counts per alpha, as TrackEval's ``HOTA.eval_sequence``."""
    from scipy.optimize import linear_sum_assignment

    n_alpha = len(ALPHAS)
    potential = np.zeros((gt.n_ids, pr.n_ids))
    gt_count = np.zeros((gt.n_ids, 1))
    pr_count = np.zeros((1, pr.n_ids))
    per_frame = []
    for frame in frames:
        (gt_ids, gt_boxes), (pr_ids, pr_boxes) = gt.at(frame), pr.at(frame)
        similarity = iou_matrix(gt_boxes, pr_boxes)
        per_frame.append((gt_ids, pr_ids, similarity))
        denom = similarity.sum(0)[None, :] + similarity.sum(1)[:, None] - similarity
        sim_iou = np.zeros_like(similarity)
        mask = denom > 0 + _EPS
        sim_iou[mask] = similarity[mask] / denom[mask]
        potential[gt_ids[:, None], pr_ids[None, :]] += sim_iou
        gt_count[gt_ids] += 1
        pr_count[0, pr_ids] += 1
    with np.errstate(divide="ignore", invalid="ignore"):
        alignment = potential / (gt_count + pr_count - potential)

    tp, fn, fp, loc = (np.zeros(n_alpha) for _ in range(4))
    matches = np.zeros((n_alpha, gt.n_ids, pr.n_ids))
    for gt_ids, pr_ids, similarity in per_frame:
        if len(gt_ids) == 0 or len(pr_ids) == 0:
            fp += len(pr_ids)
            fn += len(gt_ids)
            continue
        score = alignment[gt_ids[:, None], pr_ids[None, :]] * similarity
        rows, cols = linear_sum_assignment(-score)
        matched_sim = similarity[rows, cols]
        ok = matched_sim[None, :] >= ALPHAS[:, None] - _EPS  # alpha x pairs
        n = ok.sum(1)
        tp += n
        fn += len(gt_ids) - n
        fp += len(pr_ids) - n
        loc += (ok * matched_sim[None, :]).sum(1)
        for a in np.flatnonzero(n):
            matches[a, gt_ids[rows[ok[a]]], pr_ids[cols[ok[a]]]] += 1
    ass_iou = matches / np.maximum(1, gt_count[None] + pr_count[None] - matches)
    assa = (matches * ass_iou).sum((1, 2)) / np.maximum(1, tp)
    loca = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return {"tp": tp, "fn": fn, "fp": fp, "assa": assa, "loca": loca}


def _combine_hota(videos: list[dict]) -> dict:
    """TrackEval's ``combine_sequences``: counts summed, AssA and LocA weighted by TP; then the
    means over alphas."""
    tp = sum(v["tp"] for v in videos)
    fn = sum(v["fn"] for v in videos)
    fp = sum(v["fp"] for v in videos)
    assa = sum(v["assa"] * v["tp"] for v in videos) / np.maximum(1, tp)
    loca = np.maximum(1e-10, sum(v["loca"] * v["tp"] for v in videos)) / np.maximum(1e-10, tp)
    deta = tp / np.maximum(1, tp + fn + fp)
    hota = np.sqrt(deta * assa)
    return {"hota": float(hota.mean()), "deta": float(deta.mean()), "assa": float(assa.mean()),
            "loca": float(loca.mean()), "hota_0": float(hota[0]), "tp_0": float(tp[0]),
            "boxes": float((tp + fn + fp)[0])}


def track_metrics(truth: pd.DataFrame, predictions: pd.DataFrame, *,
                  iou_threshold: float = 0.5) -> dict:
    """CLEAR MOT, identity and HOTA metrics of predicted tracks against ground-truth tracks.

    truth and predictions: ``video_id, frame, track_id, x1, y1, x2, y2`` (other columns, such as
    ``score`` or ``label``, are ignored). ``iou_threshold`` is the least IoU at which a truth box
    and a predicted box may pair for the CLEAR and identity metrics (HOTA integrates over its own
    alphas).

    Returns, over all videos: ``mota``, ``motp`` (the mean IoU of the matched pairs, i.e.
    1 - motmetrics' distance-based motp, as MOTChallenge prints it), ``idf1``, ``idp``, ``idr``,
    the counts ``id_switches``, ``fragmentations``, ``false_positives``, ``misses``, ``objects``
    (truth boxes), ``mostly_tracked``, ``mostly_lost``; ``hota``, ``deta``, ``assa``, ``loca``
    (means over alphas 0.05:0.05:0.95) and ``hota_0`` (alpha 0.05); ``videos`` (number of videos
    in either table) and ``undefined`` ({metric: reason} for each ``None``). Where no predicted
    box overlaps a truth box, ``assa`` and ``loca`` are ``None`` while ``hota`` and ``deta`` are 0
    (as TrackEval gives them); ``mota``/``idr`` need truth boxes, ``idp`` predicted boxes,
    ``motp`` a matched pair.

    Raises :class:`DataError` for a missing column, a missing track id, two boxes with one track
    id on one frame of one video, or a box that is not finite or has ``x2 <= x1`` or ``y2 <= y1``.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    gt = checked_table(truth, "truth", TRACK_COLUMNS)
    pr = checked_table(predictions, "predictions", TRACK_COLUMNS)
    _check_unique_ids(gt, "truth")
    _check_unique_ids(pr, "predictions")

    video_ids = set(gt["video_id"].tolist()) | set(pr["video_id"].tolist())
    try:
        video_ids = sorted(video_ids)
    except TypeError:
        video_ids = sorted(video_ids, key=str)
    result: dict = {name: None for name in CLEAR_METRICS.values()}
    result.update({key: None for key in HOTA_KEYS})
    result["videos"] = len(video_ids)
    result["undefined"] = {}
    if not video_ids:
        reason = "no boxes in truth or predictions"
        result.update({name: 0 for name in COUNTS})
        result["undefined"] = {k: reason for k in (*CLEAR_METRICS.values(), *HOTA_KEYS)
                               if k not in COUNTS}
        return result

    gt_groups = dict(iter(gt.groupby("video_id", sort=False)))
    pr_groups = dict(iter(pr.groupby("video_id", sort=False)))
    empty = gt.iloc[:0]
    accumulators, hota_videos = [], []
    for video in video_ids:
        gt_video = _Video(gt_groups.get(video, empty))
        pr_video = _Video(pr_groups.get(video, empty))
        frames = sorted(set(gt_video.frames) | set(pr_video.frames))
        accumulators.append(_accumulate(gt_video, pr_video, frames, iou_threshold))
        hota_videos.append(_hota_counts(gt_video, pr_video, frames))

    result.update(_clear(accumulators))
    hota = _combine_hota(hota_videos)
    for key in HOTA_KEYS:
        result[key] = hota[key]
    if hota["tp_0"] == 0:
        reason = "no predicted box overlaps a truth box (no true positive at any alpha)"
        result["assa"] = result["loca"] = None
        result["undefined"].update(assa=reason, loca=reason)
    result["undefined"].update(result.pop("_undefined"))
    return result


def _clear(accumulators: list) -> dict:
    import motmetrics as mm

    host = mm.metrics.create()
    names = [f"video{i}" for i in range(len(accumulators))]  # never "OVERALL"
    summary = host.compute_many(accumulators, metrics=[*CLEAR_METRICS, "num_detections"],
                                names=names, generate_overall=True)
    overall = summary.loc["OVERALL"]
    out: dict = {"_undefined": {}}
    for theirs, ours in CLEAR_METRICS.items():
        value = overall[theirs]
        out[ours] = int(value) if ours in COUNTS else float(value)
    # motmetrics 1.4.0 sums motp * num_detections over videos, so a video without any match
    # (motp NaN) makes OVERALL's motp NaN: recombine from the videos that have matches
    per_video = summary.drop(index="OVERALL")
    matched = per_video[per_video["num_detections"] > 0]
    n_matched = float(matched["num_detections"].sum())
    if n_matched > 0:
        distance = float((matched["motp"] * matched["num_detections"]).sum()) / n_matched
        out["motp"] = 1.0 - distance
    else:
        out["motp"] = None
        out["_undefined"]["motp"] = "no matched pair of boxes"
    reasons = {
        "mota": "no truth boxes",
        "idf1": "no truth or predicted boxes",
        "idp": "no predicted boxes",
        "idr": "no truth boxes",
    }
    for key, reason in reasons.items():
        if out[key] is None or not np.isfinite(out[key]):
            out[key] = None
            out["_undefined"][key] = reason
    return out


UNIT_COUNTS = ("num_misses", "num_false_positives", "num_switches", "num_objects", "idtp",
               "idfp", "idfn")


def track_units(truth: pd.DataFrame, predictions: pd.DataFrame, *,
                iou_threshold: float = 0.5) -> dict:
    """Per video, the sums that the combined MOTA, IDF1 and HOTA are made of, so that scores
    over any multiset of videos (a bootstrap resample) follow without matching again
    (:func:`combine_units`). Same tables and checks as :func:`track_metrics`."""
    import motmetrics as mm

    gt = checked_table(truth, "truth", TRACK_COLUMNS)
    pr = checked_table(predictions, "predictions", TRACK_COLUMNS)
    _check_unique_ids(gt, "truth")
    _check_unique_ids(pr, "predictions")
    gt_groups = dict(iter(gt.groupby("video_id", sort=False)))
    pr_groups = dict(iter(pr.groupby("video_id", sort=False)))
    host = mm.metrics.create()
    units = {}
    for video in sorted(set(gt_groups) | set(pr_groups), key=str):
        gt_video = _Video(gt_groups.get(video, gt.iloc[:0]))
        pr_video = _Video(pr_groups.get(video, gt.iloc[:0]))
        frames = sorted(set(gt_video.frames) | set(pr_video.frames))
        row = host.compute(_accumulate(gt_video, pr_video, frames, iou_threshold),
                           metrics=list(UNIT_COUNTS), name="video")
        units[video] = {name: float(row[name].iloc[0]) for name in UNIT_COUNTS} | {
            "hota": _hota_counts(gt_video, pr_video, frames)}
    return units


def combine_units(units: list[dict]) -> dict:
    """MOTA, IDF1 and HOTA of the videos whose :func:`track_units` are given (repeats count
    again); ``None`` where undefined (no truth boxes; no boxes at all)."""
    total = {name: sum(u[name] for u in units) for name in UNIT_COUNTS}
    objects = total["num_objects"]
    mota = (1 - (total["num_misses"] + total["num_false_positives"] + total["num_switches"])
            / objects) if objects else None
    denominator = 2 * total["idtp"] + total["idfp"] + total["idfn"]
    idf1 = 2 * total["idtp"] / denominator if denominator else None
    hota = _combine_hota([u["hota"] for u in units])["hota"] if units else None
    return {"mota": mota, "idf1": idf1, "hota": hota}
