"""Detection mAP (vidlab.taskmetrics.boxes): known answers, agreement with torchmetrics, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vidlab.core.errors import DataError
from vidlab.taskmetrics.boxes import box_map

COLUMNS = ["video_id", "frame", "label", "x1", "y1", "x2", "y2"]


def table(rows: list[tuple], score: bool = False) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS + (["score"] if score else []))


TRUTH = table([
    ("v1", 0, "cat", 10, 10, 50, 50),
    ("v1", 0, "dog", 60, 60, 120, 140),
    ("v1", 3, "cat", 0, 0, 30, 20),
    ("v2", 7, "dog", 5, 5, 25, 45),
])


def perfect(truth: pd.DataFrame) -> pd.DataFrame:
    return truth.assign(score=0.9)


def test_perfect_predictions_score_one():
    result = box_map(TRUTH, perfect(TRUTH))
    assert result["map"] == pytest.approx(1.0)
    assert result["map_50"] == pytest.approx(1.0)
    assert result["map_75"] == pytest.approx(1.0)
    assert result["frame_map_50"] == result["map_50"]
    assert result["by_class_50"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}
    assert result["images"] == 3 and result["classes"] == 2
    assert result["ignored_predictions"] == 0 and result["undefined"] == {}


def test_one_missed_box_halves_that_class():
    # "cat" has 2 truth boxes and only one is found: recall stops at 0.5 with precision 1.
    # COCO interpolates precision at 101 recall points 0, 0.01, ..., 1; the 51 points up to 0.5
    # have precision 1 and the rest 0, so AP = 51/101 (0.505: COCO's 0.5)
    predictions = perfect(TRUTH).drop(index=2)
    result = box_map(TRUTH, predictions)
    assert result["by_class_50"]["cat"] == pytest.approx(51 / 101)
    assert result["by_class_50"]["dog"] == pytest.approx(1.0)
    assert result["map_50"] == pytest.approx((51 / 101 + 1) / 2)


def test_iou_062_counts_up_to_threshold_060():
    truth = table([("v", 0, "a", 0, 0, 100, 100)])
    # same height, 62 of 100 columns: IoU = 6200 / 10000 = 0.62, a TP at IoU .5, .55, .6 and a
    # miss (plus a false positive) at .65 ... .95: AP 1 at 3 of the 10 thresholds, 0 at 7
    predictions = table([("v", 0, "a", 0, 0, 62, 100, 0.8)], score=True)
    result = box_map(truth, predictions)
    assert result["map"] == pytest.approx(0.3)
    assert result["map_50"] == pytest.approx(1.0)
    assert result["map_75"] == pytest.approx(0.0)


def test_predictions_of_unknown_labels_are_ignored():
    extra = table([("v1", 0, "horse", 10, 10, 50, 50, 0.99), ("v9", 2, "horse", 1, 1, 5, 5, 0.5)],
                  score=True)
    result = box_map(TRUTH, pd.concat([perfect(TRUTH), extra], ignore_index=True))
    assert result["ignored_predictions"] == 2
    assert result["map"] == pytest.approx(1.0)
    assert result["images"] == 4  # (v9, 2) is an image, though all its boxes are ignored


def test_no_predictions_scores_zero_not_undefined():
    result = box_map(TRUTH, table([], score=True))
    assert result["map"] == 0.0 and result["map_50"] == 0.0
    assert result["by_class_50"] == {"cat": 0.0, "dog": 0.0}
    assert result["undefined"] == {}


def test_no_truth_is_undefined():
    result = box_map(table([]), perfect(TRUTH))
    assert result["map"] is None and result["map_50"] is None and result["frame_map_50"] is None
    assert set(result["undefined"]) >= {"map", "map_50", "map_75", "frame_map_50"}
    assert result["ignored_predictions"] == len(TRUTH)


def test_more_than_100_predictions_keep_the_best_100():
    truth = table([("v", 0, "a", 0, 0, 10, 10)])
    junk = [("v", 0, "a", 500 + i, 500, 510 + i, 510, 0.9) for i in range(100)]
    hit = [("v", 0, "a", 0, 0, 10, 10, 0.1)]  # the 101st by score: dropped (COCO's maxDets)
    assert box_map(truth, table(junk + hit, score=True))["map"] == 0.0
    assert box_map(truth, table(junk[:99] + hit, score=True))["map"] > 0.0


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.drop(columns=["y2"]), "missing column(s) y2"),
    (lambda t: t.assign(x2=t["x1"]), "row 0 (video 'v1')"),
    (lambda t: t.assign(y2=t["y1"] - 1), "x2 <= x1 or y2 <= y1"),
    (lambda t: t.assign(x1=[1.0, np.inf, 0.0, 5.0]), "row 1 (video 'v1'): box coordinate"),
    (lambda t: t.assign(score=[0.5, 0.5, 0.5, None]), "row 3 (video 'v2'): score missing"),
    (lambda t: t.drop(columns=["score"]), "missing column(s) score"),
    (lambda t: t.assign(frame=[0, 1.5, 3, 7]), "row 1 (video 'v1'): frame"),
    (lambda t: t.assign(label=["cat", None, "cat", "dog"]), "row 1 (video 'v1'): missing label"),
])
def test_malformed_predictions_raise(change, message):
    with pytest.raises(DataError) as info:
        box_map(TRUTH, change(perfect(TRUTH)))
    assert message in str(info.value)
    assert str(info.value).startswith("predictions")


def test_malformed_truth_raises():
    with pytest.raises(DataError, match=r"truth row 2 \(video 'v1'\)"):
        box_map(TRUTH.assign(x2=[50, 120, -1, 25]), perfect(TRUTH))


def _random_case(rng: np.random.Generator):
    """Several videos and frames, 3 classes, jittered copies of truth boxes plus random false
    positives, random scores. Coordinates are multiples of 1/16 and scores float32 values, so
    torchmetrics' float32 tensors hold exactly the same numbers."""
    truth, predictions = [], []
    for video in range(rng.integers(2, 4)):
        for frame in rng.choice(50, size=rng.integers(2, 5), replace=False):
            for _ in range(rng.integers(0, 5)):
                label = int(rng.integers(0, 3))
                x1, y1 = rng.integers(0, 400, size=2) / 16 * 16
                w, h = rng.integers(10, 120, size=2)
                box = np.array([x1, y1, x1 + w, y1 + h], dtype=float)
                truth.append((f"v{video}", int(frame), label, *box))
                if rng.random() < 0.8:
                    jitter = np.round(rng.normal(0, 0.12 * min(w, h), size=4) * 16) / 16
                    moved = box + jitter
                    if moved[2] > moved[0] and moved[3] > moved[1]:
                        label_p = label if rng.random() < 0.9 else int(rng.integers(0, 3))
                        predictions.append((f"v{video}", int(frame), label_p, *moved,
                                            float(np.float32(rng.random()))))
            for _ in range(rng.integers(0, 3)):
                x1, y1 = rng.integers(0, 400, size=2)
                w, h = rng.integers(10, 120, size=2)
                predictions.append((f"v{video}", int(frame), int(rng.integers(0, 3)), x1, y1,
                                    x1 + w, y1 + h, float(np.float32(rng.random()))))
    return table(truth), table(predictions, score=True)


def _torchmetrics_map(truth: pd.DataFrame, predictions: pd.DataFrame, metric_class) -> dict:
    import torch

    keys = sorted(set(zip(truth["video_id"], truth["frame"], strict=True))
                  | set(zip(predictions["video_id"], predictions["frame"], strict=True)))
    preds, target = [], []
    for video, frame in keys:
        t = truth[(truth["video_id"] == video) & (truth["frame"] == frame)]
        p = predictions[(predictions["video_id"] == video) & (predictions["frame"] == frame)]
        target.append({"boxes": torch.tensor(t[["x1", "y1", "x2", "y2"]].to_numpy(),
                                             dtype=torch.float32).reshape(-1, 4),
                       "labels": torch.tensor(t["label"].to_numpy(), dtype=torch.int64)})
        preds.append({"boxes": torch.tensor(p[["x1", "y1", "x2", "y2"]].to_numpy(),
                                            dtype=torch.float32).reshape(-1, 4),
                      "scores": torch.tensor(p["score"].to_numpy(), dtype=torch.float32),
                      "labels": torch.tensor(p["label"].to_numpy(), dtype=torch.int64)})
    # COCO's thresholds as pycocotools makes them (float64): torchmetrics' defaults come from a
    # float32 torch.linspace (0.55 -> 0.550000011920929, recall 0.29 -> 0.28999999...), which
    # moves AP where a recall equals a recall point
    metric = metric_class(box_format="xyxy", iou_type="bbox", backend="pycocotools",
                          iou_thresholds=np.linspace(0.5, 0.95, 10).tolist(),
                          rec_thresholds=np.linspace(0.0, 1.0, 101).tolist())
    metric.update(preds, target)
    return {k: float(v) for k, v in metric.compute().items() if k in ("map", "map_50", "map_75")}


def test_agrees_with_torchmetrics_on_random_cases():
    try:
        from torchmetrics.detection import MeanAveragePrecision
    except Exception as error:  # any import failure (torch's included): cannot compare
        pytest.skip(f"torchmetrics' MeanAveragePrecision cannot be imported: {error}")
    checked = 0
    for seed in range(20):
        truth, predictions = _random_case(np.random.default_rng(seed))
        if truth.empty:
            continue
        ours = box_map(truth, predictions)
        theirs = _torchmetrics_map(truth, predictions, MeanAveragePrecision)
        for key in ("map", "map_50", "map_75"):
            assert ours[key] == pytest.approx(theirs[key], abs=1e-6), (seed, key)
        checked += 1
    assert checked >= 18
