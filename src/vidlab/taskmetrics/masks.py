"""Video object segmentation: DAVIS' J (region), F (boundary), J&F, and a semantic mIoU.

Written here from the DAVIS benchmark's published definitions (Perazzi et al., CVPR 2016; the
``davis2017-evaluation`` code's ``db_eval_iou``, ``db_eval_boundary``/``f_measure`` and
``_seg2bmap``, whose results these match):

* **J** of one object in one frame: the IoU of the truth and predicted masks; 1 when both are
  empty.
* **F**: the boundary F-measure. A mask's boundary (``boundary_map``, DAVIS' ``_seg2bmap``) is
  every pixel that differs from its right, bottom or bottom-right neighbour, among those inside
  the frame (so the frame's edge is not a boundary by itself). Boundary pixels match when they
  lie within ``ceil(0.008 * frame diagonal)`` pixels (a disk, ``x² + y² <= r²``) of the other
  boundary: precision = matched predicted / predicted, recall = matched truth / truth, F their
  harmonic mean; both boundaries empty: 1; one empty: 0.
* per object: the mean over its frames; ``j_mean``/``f_mean``: the mean over every object of
  every video (DAVIS averages objects, not videos); ``j_recall``/``f_recall``: per object the
  share of its frames above 0.5, averaged the same way; ``j_and_f`` = (J + F) / 2.
* **mIoU** (semantic): per label, the intersection over union of the label's pixels (the union of
  its objects' masks in each frame, truth and prediction), totalled over every scored frame;
  ``miou`` is the mean over the truth's labels. DAVIS tables have the label "" for every object,
  which makes ``miou`` the foreground IoU.

Which frames are scored: DAVIS annotates every frame of a sequence and an object that is out of
view has an empty mask there; vidlab's tables hold one row per frame and object *present*. So
every object of a video is scored on every frame that the truth annotates for that video (a frame
with at least one truth row), its truth mask empty where it has no row, as DAVIS scores it. A
prediction missing for a scored (video, frame, object) is an empty mask. Predictions for objects
that the truth of that video does not have are counted under ``unmatched_objects`` and ignored
(semi-supervised VOS gives the object ids); predictions on frames the truth does not annotate are
ignored. A prediction's own label, if it has one, is ignored: an object's label is the truth's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vidlab.annotations import rle
from vidlab.core.errors import DataError

BOUND_TH = 0.008  # DAVIS' boundary tolerance, as a fraction of the frame's diagonal
RECALL_THRESHOLD = 0.5  # DAVIS' recall: the share of frames whose J (or F) is above this


def region_similarity(truth: np.ndarray, prediction: np.ndarray) -> float:
    """J: the IoU of two boolean masks of one size; 1 when both are empty (as DAVIS)."""
    truth, prediction = np.asarray(truth, dtype=bool), np.asarray(prediction, dtype=bool)
    union = np.count_nonzero(truth | prediction)
    if union == 0:
        return 1.0
    return np.count_nonzero(truth & prediction) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """DAVIS' ``_seg2bmap``: pixels that differ from their right, bottom or bottom-right neighbour
    (only neighbours inside the frame count: the last row compares with the right neighbour
    only, the last column with the bottom one only, the bottom-right pixel is never boundary)."""
    seg = np.asarray(mask, dtype=bool)
    right = np.zeros_like(seg)
    below = np.zeros_like(seg)
    diag = np.zeros_like(seg)
    right[:, :-1] = seg[:, 1:]
    below[:-1, :] = seg[1:, :]
    diag[:-1, :-1] = seg[1:, 1:]
    out = (seg ^ right) | (seg ^ below) | (seg ^ diag)
    out[-1, :] = seg[-1, :] ^ right[-1, :]
    out[:, -1] = seg[:, -1] ^ below[:, -1]
    out[-1, -1] = False
    return out


def boundary_tolerance(height: int, width: int, bound_th: float = BOUND_TH) -> int:
    """The match radius in pixels: ``bound_th`` itself when >= 1, else ``ceil(bound_th *
    diagonal)`` (DAVIS' ``f_measure``)."""
    if bound_th >= 1:
        return int(bound_th)
    return math.ceil(bound_th * float(np.linalg.norm((height, width))))


def _near(boundary: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` of a boundary pixel: the dilation by the disk ``x² + y² <= r²``
    (DAVIS' ``cv2.dilate`` with ``skimage.morphology.disk``), computed as a Euclidean distance
    transform, which gives the same set exactly for an integer radius and is several times faster
    than ``ndimage.binary_dilation`` with that footprint on large frames."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(~boundary) <= radius


def boundary_f(truth: np.ndarray, prediction: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """F: DAVIS' boundary F-measure of two boolean masks of one size."""
    truth, prediction = np.asarray(truth, dtype=bool), np.asarray(prediction, dtype=bool)
    radius = boundary_tolerance(*truth.shape, bound_th=bound_th)
    gt_b, fg_b = boundary_map(truth), boundary_map(prediction)
    n_gt, n_fg = np.count_nonzero(gt_b), np.count_nonzero(fg_b)
    if n_gt == 0 and n_fg == 0:
        return 1.0
    if n_gt == 0 or n_fg == 0:
        return 0.0  # DAVIS: precision or recall is 0
    # every boundary pixel lies in the bounding box of both: the distances need nothing outside
    ys, xs = np.nonzero(gt_b | fg_b)
    window = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    gt_b, fg_b = gt_b[window], fg_b[window]
    precision = np.count_nonzero(fg_b & _near(gt_b, radius)) / n_fg
    recall = np.count_nonzero(gt_b & _near(fg_b, radius)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class _Row:
    pos: int
    video: Hashable
    frame: int
    label: str
    counts: str
    height: int
    width: int

    def where(self, kind: str) -> str:
        return f"{kind} row {self.pos} (video {self.video!r}, frame {self.frame})"

    def decode(self, kind: str) -> np.ndarray:
        try:
            return rle.decode(self.counts, self.height, self.width)
        except DataError as err:
            raise DataError(f"{self.where(kind)}: its mask does not decode to {self.height} x "
                            f"{self.width} pixels: {err}") from None


def _ident(value) -> Hashable:
    """A track id as a dict key: integral numbers as int (so 1 and 1.0 are one object; the
    string "1" is another), anything else as itself."""
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value


def _whole(value, what: str, where: str, minimum: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not number.is_integer() or number < minimum:
        raise DataError(f"{where}: {what} is {value!r}, expected a whole number >= {minimum}")
    return int(number)


def _rows(table: pd.DataFrame, kind: str, height_col: str, width_col: str,
          with_label: bool) -> dict[tuple, _Row]:
    """The table's rows by (video, frame, object), checked."""
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"the {kind} must be a pandas DataFrame, not {type(table).__name__}")
    needed = ["video_id", "frame", "track_id", "mask", height_col, width_col]
    if with_label:
        needed.insert(3, "label")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(f"the {kind} table lacks the column(s) {', '.join(missing)}; expected "
                        f"{', '.join(needed)}")
    labels = table["label"] if with_label else [""] * len(table)
    out: dict[tuple, _Row] = {}
    columns = zip(table["video_id"], table["frame"], table["track_id"], labels, table["mask"],
                  table[height_col], table[width_col], strict=True)
    for pos, (video, frame, track, label, counts, height, width) in enumerate(columns):
        if pd.isna(video) or video == "":
            raise DataError(f"{kind} row {pos}: no video id")
        where = f"{kind} row {pos} (video {video!r})"
        frame = _whole(frame, "the frame", where, 0)
        where = f"{kind} row {pos} (video {video!r}, frame {frame})"
        if pd.isna(track) or track == "":
            raise DataError(f"{where}: no track_id (the object id)")
        if not isinstance(counts, str) or not counts:
            raise DataError(f"{where}: no mask (expected a COCO compressed RLE string)")
        row = _Row(pos, video, frame, "" if pd.isna(label) else str(label), counts,
                   _whole(height, height_col, where, 1), _whole(width, width_col, where, 1))
        key = (video, frame, _ident(track))
        if key in out:
            raise DataError(f"{where}: object {track!r} appears twice in this frame (also at "
                            f"{kind} row {out[key].pos})")
        out[key] = row
    return out


def mask_metrics(truth: pd.DataFrame, predictions: pd.DataFrame, *, height_col: str = "height",
                 width_col: str = "width") -> dict:
    """J, F, J&F (means and recalls), and per-label and mean IoU of predicted object masks.

    Args:
        truth: rows ``video_id, frame, track_id, label, mask, <height_col>, <width_col>``: one
            object (``track_id``) in one frame, its mask as COCO compressed RLE of that size.
        predictions: the same columns (``label`` not needed; ignored if present).
        height_col, width_col: the columns holding each mask's size.

    Returns:
        ``j_mean``, ``j_recall``, ``f_mean``, ``f_recall``, ``j_and_f``, ``miou``,
        ``by_label_iou`` (label -> IoU), ``by_video`` (video -> ``j_mean``, ``f_mean``,
        ``j_and_f``, ``objects``), ``objects`` (truth objects scored), ``frames`` (annotated
        frames), ``object_frames`` (object-frame pairs scored), ``unmatched_objects``
        (predicted objects absent from their video's truth), ``undefined`` (metric -> reason).

    Raises:
        DataError: a column missing, a row without video id, frame, track id or mask, a mask
            that does not decode to its height x width, a (video, frame, object) twice in a
            table, or masks of one frame of different sizes.
    """
    gt = _rows(truth, "truth", height_col, width_col, with_label=True)
    pr = _rows(predictions, "prediction", height_col, width_col, with_label=False)

    objects: dict[Hashable, dict[Hashable, str]] = {}  # video -> object -> label (first row)
    frames: dict[Hashable, dict[int, tuple[int, int]]] = {}  # video -> frame -> (height, width)
    first: dict[tuple[Hashable, int], _Row] = {}
    for (video, frame, track), row in gt.items():
        objects.setdefault(video, {}).setdefault(track, row.label)
        size = (row.height, row.width)
        known = frames.setdefault(video, {}).setdefault(frame, size)
        if known != size:
            raise DataError(f"{row.where('truth')}: mask is {size[0]} x {size[1]}, another mask "
                            f"of this frame (truth row {first[video, frame].pos}) is "
                            f"{known[0]} x {known[1]}")
        first.setdefault((video, frame), row)
    unmatched = {(v, t) for (v, _, t) in pr if t not in objects.get(v, {})}

    per_object: dict[tuple[Hashable, Hashable], tuple[list[float], list[float]]] = {}
    inter: dict[str, int] = defaultdict(int)
    union: dict[str, int] = defaultdict(int)
    for video, tracks in objects.items():
        for frame, (height, width) in sorted(frames[video].items()):
            truth_by_label: dict[str, np.ndarray] = {}
            pred_by_label: dict[str, np.ndarray] = {}
            for track, default_label in tracks.items():
                t_row, p_row = gt.get((video, frame, track)), pr.get((video, frame, track))
                label = t_row.label if t_row else default_label
                t_mask = t_row.decode("truth") if t_row else np.zeros((height, width), bool)
                if p_row is None:
                    p_mask = np.zeros((height, width), bool)
                elif (p_row.height, p_row.width) != (height, width):
                    raise DataError(f"{p_row.where('prediction')}: mask is {p_row.height} x "
                                    f"{p_row.width}, the truth's masks of this frame are "
                                    f"{height} x {width}")
                else:
                    p_mask = p_row.decode("prediction")
                js, fs = per_object.setdefault((video, track), ([], []))
                js.append(region_similarity(t_mask, p_mask))
                fs.append(boundary_f(t_mask, p_mask))
                if t_row is not None:
                    truth_by_label[label] = truth_by_label.get(label, False) | t_mask
                pred_by_label[label] = pred_by_label.get(label, False) | p_mask
            for label in set(truth_by_label) | set(pred_by_label):
                t_mask = truth_by_label.get(label, np.zeros((height, width), bool))
                p_mask = pred_by_label.get(label, np.zeros((height, width), bool))
                inter[label] += int(np.count_nonzero(t_mask & p_mask))
                union[label] += int(np.count_nonzero(t_mask | p_mask))

    undefined: dict[str, str] = {}
    result: dict = {"objects": len(per_object),
                    "frames": sum(len(f) for f in frames.values()),
                    "object_frames": sum(len(js) for js, _ in per_object.values()),
                    "unmatched_objects": len(unmatched)}
    if per_object:
        j_obj = [float(np.mean(js)) for js, _ in per_object.values()]
        f_obj = [float(np.mean(fs)) for _, fs in per_object.values()]
        result["j_mean"] = float(np.mean(j_obj))
        result["f_mean"] = float(np.mean(f_obj))
        result["j_and_f"] = (result["j_mean"] + result["f_mean"]) / 2
        result["j_recall"] = float(np.mean([np.mean(np.asarray(js) > RECALL_THRESHOLD)
                                            for js, _ in per_object.values()]))
        result["f_recall"] = float(np.mean([np.mean(np.asarray(fs) > RECALL_THRESHOLD)
                                            for _, fs in per_object.values()]))
    else:
        for name in ("j_mean", "f_mean", "j_and_f", "j_recall", "f_recall"):
            result[name] = None
            undefined[name] = "the truth has no object masks"

    by_video: dict = {}
    for video, tracks in objects.items():
        j_v = float(np.mean([np.mean(per_object[video, t][0]) for t in tracks]))
        f_v = float(np.mean([np.mean(per_object[video, t][1]) for t in tracks]))
        by_video[video] = {"j_mean": j_v, "f_mean": f_v, "j_and_f": (j_v + f_v) / 2,
                           "objects": len(tracks)}
    result["by_video"] = by_video

    labels = sorted({row.label for row in gt.values()})
    by_label: dict[str, float | None] = {}
    for label in labels:
        if union[label]:
            by_label[label] = inter[label] / union[label]
        else:
            by_label[label] = None
            undefined[f"by_label_iou[{label!r}]"] = ("neither the truth nor the prediction has a "
                                                     "pixel of this label")
    defined = [v for v in by_label.values() if v is not None]
    result["miou"] = float(np.mean(defined)) if defined else None
    if not defined:
        undefined["miou"] = ("the truth has no object masks" if not labels else
                             "no label has a pixel in the truth or the prediction")
    result["by_label_iou"] = by_label
    result["undefined"] = undefined
    return result
