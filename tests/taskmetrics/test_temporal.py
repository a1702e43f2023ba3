"""Temporal action localisation mAP: known answers by construction and a brute-force reference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from vidlab.core.errors import DataError
from vidlab.taskmetrics.temporal import DEFAULT_THRESHOLDS, segment_iou, temporal_map

TRUTH_COLUMNS = ["video_id", "label", "t0", "t1"]
PREDICTION_COLUMNS = [*TRUTH_COLUMNS, "score"]


def truth(*rows: tuple) -> pd.DataFrame:
    """Ground truth from ``(video_id, label, t0, t1)`` tuples."""
    return pd.DataFrame(list(rows), columns=TRUTH_COLUMNS)


def preds(*rows: tuple) -> pd.DataFrame:
    """Predictions from ``(video_id, label, t0, t1, score)`` tuples."""
    return pd.DataFrame(list(rows), columns=PREDICTION_COLUMNS)


# --- known answers ---------------------------------------------------------------------------


def test_default_thresholds_are_activitynets() -> None:
    assert DEFAULT_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@pytest.mark.parametrize(
    ("segment", "segments", "expected"),
    [
        ((0, 10), [(0, 10)], [1.0]),
        ((0, 10), [(5, 15)], [1 / 3]),
        ((0, 10), [(1, 11)], [9 / 11]),
        ((0, 10), [(10, 20), (20, 30)], [0.0, 0.0]),  # touching is no overlap
        ((0, 10), [(2, 4)], [0.2]),  # contained
        ((2, 4), [(0, 10), (3, 5)], [0.2, 1 / 3]),
    ],
)
def test_segment_iou(segment, segments, expected) -> None:
    np.testing.assert_allclose(segment_iou(segment, np.array(segments)), expected, atol=1e-12)


def test_perfect_predictions_score_one_everywhere() -> None:
    gt = truth(
        ("v1", "jump", 0.0, 4.0),
        ("v1", "jump", 6.0, 9.5),
        ("v1", "run", 2.0, 3.0),
        ("v2", "run", 10.0, 30.0),
    )
    result = temporal_map(gt, gt.assign(score=[0.9, 0.4, 0.7, 0.2]))
    assert result["map"] == 1.0
    assert result["map_50"] == 1.0 and result["map_75"] == 1.0
    assert result["by_threshold"] == {f"{t:.2f}": 1.0 for t in DEFAULT_THRESHOLDS}
    assert result["by_class"] == {"jump": 1.0, "run": 1.0}
    assert result["classes"] == 2
    assert result["ignored_predictions"] == 0
    assert result["undefined"] == {}


def test_one_missed_ground_truth_of_two_gives_half() -> None:
    gt = truth(("v1", "a", 0, 10), ("v1", "a", 20, 30), ("v1", "b", 0, 5))
    pr = preds(("v1", "a", 0, 10, 0.9), ("v1", "b", 0, 5, 0.3))
    result = temporal_map(gt, pr)
    assert result["by_class"] == {"a": 0.5, "b": 1.0}
    assert result["map"] == pytest.approx(0.75, abs=1e-12)


@pytest.mark.parametrize(
    ("shift", "passed"),
    [
        (0.0, 10),  # tIoU 1
        (0.1, 7),  # tIoU 0.9 / 1.1 = 0.818: TP at 0.50 .. 0.80, FP at 0.85 .. 0.95
        (0.25, 3),  # tIoU 0.75 / 1.25 = 0.6 exactly: the threshold 0.60 is inclusive
        (0.5, 0),  # tIoU 1/3: TP at no threshold
    ],
)
def test_shifted_prediction_passes_thresholds_up_to_its_tiou(shift: float, passed: int) -> None:
    start, length = 10.0, 10.0
    gt = truth(("v", "a", start, start + length))
    pr = preds(("v", "a", start + shift * length, start + (1 + shift) * length, 0.5))
    tiou = float(segment_iou((start, start + length), pr[["t0", "t1"]].to_numpy())[0])
    result = temporal_map(gt, pr)
    expected = {f"{t:.2f}": 1.0 if tiou >= t else 0.0 for t in DEFAULT_THRESHOLDS}
    assert result["by_threshold"] == expected
    assert sum(expected.values()) == passed
    assert result["map"] == pytest.approx(passed / len(DEFAULT_THRESHOLDS), abs=1e-12)


@pytest.mark.parametrize(
    ("rows", "thresholds", "ap"),
    [
        # the same segment twice: the second finds its ground truth taken -> [TP, FP]
        ([(10, 20, 0.9), (10, 20, 0.8)], DEFAULT_THRESHOLDS, 1.0),
        # lower tIoU (0.818) with the higher score takes the ground truth at 0.5 -> [TP, FP] ...
        ([(11, 21, 0.9), (10, 20, 0.8)], (0.5,), 1.0),
        # ... but is below 0.85, so there the exact one is the TP -> [FP, TP]
        ([(11, 21, 0.9), (10, 20, 0.8)], (0.85,), 0.5),
    ],
)
def test_duplicate_detection_is_a_false_positive(rows, thresholds, ap) -> None:
    gt = truth(("v", "a", 10, 20))
    pr = preds(*[("v", "a", t0, t1, s) for t0, t1, s in rows])
    assert temporal_map(gt, pr, thresholds=thresholds)["map"] == ap


@pytest.mark.parametrize(
    ("scores", "ap"),
    [
        ((0.9, 0.5), 0.5),  # false positive ranked first: precision 1/2 at recall 1
        ((0.5, 0.9), 1.0),  # true positive ranked first
        ((0.7, 0.7), 0.5),  # tie: input order (the false positive first) is kept
    ],
)
def test_score_order_matters(scores, ap) -> None:
    gt = truth(("v", "a", 0, 10))
    pr = preds(("v", "a", 30, 40, scores[0]), ("v", "a", 0, 10, scores[1]))
    assert temporal_map(gt, pr)["map"] == ap


def test_tie_keeps_input_order_when_true_positive_comes_first() -> None:
    gt = truth(("v", "a", 0, 10))
    pr = preds(("v", "a", 0, 10, 0.7), ("v", "a", 30, 40, 0.7))
    assert temporal_map(gt, pr)["map"] == 1.0


def test_prediction_in_another_video_does_not_match() -> None:
    gt = truth(("v1", "a", 0, 10), ("v2", "b", 0, 10))
    pr = preds(("v2", "a", 0, 10, 0.9), ("v3", "b", 0, 10, 0.9), ("v2", "b", 0, 10, 0.1))
    result = temporal_map(gt, pr)
    # a: its only prediction is in v2 -> AP 0; b: FP (v3) then TP -> 0.5
    assert result["by_class"] == {"a": 0.0, "b": 0.5}
    assert result["ignored_predictions"] == 0


def test_prediction_takes_the_ground_truth_of_highest_tiou() -> None:
    # A overlaps G1 (0.667) and G2 (0.818): it must take G2, leaving G1 for B (0.538).
    # Taking the first ground truth above the threshold would leave B with G2 (0.25): FP.
    gt = truth(("v", "a", 0, 10), ("v", "a", 3, 13))
    pr = preds(("v", "a", 2, 12, 0.9), ("v", "a", -3, 7, 0.8))
    assert temporal_map(gt, pr, thresholds=(0.5,))["map"] == 1.0


def test_class_without_predictions_has_ap_zero() -> None:
    gt = truth(("v", "a", 0, 10), ("v", "b", 0, 10))
    result = temporal_map(gt, preds(("v", "a", 0, 10, 0.9)))
    assert result["by_class"] == {"a": 1.0, "b": 0.0}
    assert result["map"] == 0.5
    assert result["undefined"] == {}


def test_no_predictions_at_all_is_zero_not_undefined() -> None:
    result = temporal_map(truth(("v", "a", 0, 10)), preds())
    assert result["map"] == 0.0 and result["by_class"] == {"a": 0.0}


def test_predictions_of_unknown_classes_are_ignored_and_counted() -> None:
    gt = truth(("v", "a", 0, 10))
    pr = preds(("v", "z", 0, 10, 0.99), ("v", "a", 0, 10, 0.5), ("w", "y", 1, 2, 0.9))
    result = temporal_map(gt, pr)
    assert result["map"] == 1.0
    assert result["ignored_predictions"] == 2
    assert result["classes"] == 1


def test_no_ground_truth_is_undefined_not_zero() -> None:
    result = temporal_map(truth(), preds(("v", "a", 0, 10, 0.9)), thresholds=(0.5, 0.75))
    assert result["map"] is None and result["map_50"] is None and result["map_75"] is None
    assert result["by_threshold"] == {"0.50": None, "0.75": None}
    assert result["by_class"] == {} and result["classes"] == 0
    assert result["ignored_predictions"] == 1
    assert set(result["undefined"]) == {"map", "map_50", "map_75", "by_threshold"}
    assert "no ground-truth" in result["undefined"]["map"]


def test_map_75_undefined_when_not_among_thresholds() -> None:
    gt = truth(("v", "a", 0, 10))
    result = temporal_map(gt, preds(("v", "a", 1, 11, 0.5)), thresholds=(0.5, 0.9))
    assert result["map_50"] == 1.0
    assert result["map_75"] is None
    assert "0.75" in result["undefined"]["map_75"]
    assert result["by_threshold"] == {"0.50": 1.0, "0.90": 0.0}
    assert result["map"] == 0.5


def test_result_keys() -> None:
    result = temporal_map(truth(("v", "a", 0, 10)), preds(("v", "a", 0, 10, 1.0)))
    assert list(result) == [
        "map",
        "map_50",
        "map_75",
        "by_threshold",
        "by_class",
        "classes",
        "ignored_predictions",
        "undefined",
    ]


@pytest.mark.parametrize("thresholds", [(), (0.0,), (1.5,), (float("nan"),), (0.5, 0.5)])
def test_bad_thresholds_are_a_value_error(thresholds) -> None:
    with pytest.raises(ValueError, match="threshold"):
        temporal_map(truth(("v", "a", 0, 10)), preds(), thresholds=thresholds)


# --- brute-force reference -------------------------------------------------------------------


def _iou(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    return inter / ((a1 - a0) + (b1 - b0) - inter)


def _area_under_interpolated_pr(flags: list[bool], n_truth: int) -> Fraction:
    """Area under precision interpolated as max precision at any recall >= r, exactly."""
    points, tp = [], 0
    for rank, flag in enumerate(flags, start=1):
        tp += flag
        points.append((Fraction(tp, n_truth), Fraction(tp, rank)))
    area, previous = Fraction(0), Fraction(0)
    for level in sorted({recall for recall, _ in points}):
        if level == 0:
            continue
        best = max(precision for recall, precision in points if recall >= level)
        area += (level - previous) * best
        previous = level
    return area


def _reference(gt_rows: list[tuple], pred_rows: list[tuple], thresholds) -> dict:
    """Plain-loop re-derivation: greedy matching per class and threshold, exact AP."""
    by_class, by_threshold = {}, {t: [] for t in thresholds}
    for label in sorted({row[1] for row in gt_rows}):
        gts = [row for row in gt_rows if row[1] == label]
        ranked = sorted((r for r in pred_rows if r[1] == label), key=lambda r: -r[4])
        aps = []
        for t in thresholds:
            taken, flags = [False] * len(gts), []
            for video, _, a0, a1, _ in ranked:
                best, best_j = -1.0, None
                for j, (g_video, _, b0, b1) in enumerate(gts):
                    if g_video == video and not taken[j] and _iou(a0, a1, b0, b1) > best:
                        best, best_j = _iou(a0, a1, b0, b1), j
                hit = best_j is not None and best >= t
                if hit:
                    taken[best_j] = True
                flags.append(hit)
            aps.append(float(_area_under_interpolated_pr(flags, len(gts))))
            by_threshold[t].append(aps[-1])
        by_class[label] = sum(aps) / len(aps)
    per_threshold = {t: sum(v) / len(v) for t, v in by_threshold.items()}
    return {
        "map": sum(per_threshold.values()) / len(per_threshold),
        "by_threshold": {f"{t:.2f}": v for t, v in per_threshold.items()},
        "by_class": by_class,
    }


def _random_case(seed: int) -> tuple[list[tuple], list[tuple]]:
    """Random videos, classes, segments and scores; half the cases on a coarse grid for ties."""
    rng = np.random.default_rng(seed)
    coarse = seed % 2 == 0
    snap = (lambda x: round(x * 2) / 2) if coarse else float
    videos = [f"v{i}" for i in range(int(rng.integers(1, 5)))]
    labels = ["a", "b", "c", "d"][: int(rng.integers(1, 5))]
    gt_rows = []
    for _ in range(int(rng.integers(1, 13))):
        t0 = snap(rng.uniform(0, 60))
        gt_rows.append(
            (
                str(rng.choice(videos)),
                str(rng.choice(labels)),
                t0,
                t0 + snap(rng.uniform(0.5, 20)) + 0.5,
            )
        )
    pred_rows = []
    for _ in range(int(rng.integers(0, 25))):
        score = round(float(rng.random()), 1) if coarse else float(rng.random())
        if gt_rows and rng.random() < 0.6:  # near a ground-truth segment, maybe relabelled
            video, label, t0, t1 = gt_rows[int(rng.integers(len(gt_rows)))]
            length = t1 - t0
            t0 = snap(t0 + rng.normal(0, 0.2) * length)
            t1 = max(t0 + 0.5, snap(t1 + rng.normal(0, 0.2) * length))
            label = label if rng.random() < 0.8 else str(rng.choice([*labels, "zz"]))
        else:  # anywhere, possibly in a video without ground truth
            video, label = str(rng.choice([*videos, "v9"])), str(rng.choice([*labels, "zz"]))
            t0 = snap(rng.uniform(0, 60))
            t1 = t0 + snap(rng.uniform(0.5, 20)) + 0.5
        pred_rows.append((video, label, t0, t1, score))
    return gt_rows, pred_rows


@pytest.mark.parametrize("seed", range(30))
def test_agrees_with_brute_force_reference(seed: int) -> None:
    gt_rows, pred_rows = _random_case(seed)
    result = temporal_map(truth(*gt_rows), preds(*pred_rows))
    expected = _reference(gt_rows, pred_rows, DEFAULT_THRESHOLDS)
    assert result["map"] == pytest.approx(expected["map"], abs=1e-9)
    assert result["by_threshold"] == pytest.approx(expected["by_threshold"], abs=1e-9)
    assert result["by_class"] == pytest.approx(expected["by_class"], abs=1e-9)
    classes = {row[1] for row in gt_rows}
    assert result["classes"] == len(classes)
    assert result["ignored_predictions"] == sum(row[1] not in classes for row in pred_rows)


# --- malformed input -------------------------------------------------------------------------


def _good() -> tuple[pd.DataFrame, pd.DataFrame]:
    gt = truth(("v1", "a", 0.0, 10.0), ("v2", "a", 5.0, 8.0), ("v3", "b", 1.0, 2.0))
    return gt, gt.assign(score=[0.9, 0.8, 0.7])


def _set(table: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    """Row position 1 (video v2) gets ``value`` in ``column``."""
    out = table.astype({column: object})
    out.iloc[1, out.columns.get_loc(column)] = value
    return out


@pytest.mark.parametrize(
    ("which", "break_it", "words"),
    [
        ("truth", lambda t: t.drop(columns="t1"), ["ground truth", "missing column", "t1"]),
        ("preds", lambda t: t.drop(columns="score"), ["predictions", "missing column", "score"]),
        ("preds", lambda t: t.drop(columns=["label", "t0"]), ["predictions", "label, t0"]),
        ("truth", lambda t: _set(t, "t1", 5.0), ["ground truth row 1", "'v2'", "greater"]),
        ("truth", lambda t: _set(t, "t1", 4.0), ["ground truth row 1", "'v2'", "greater"]),
        ("preds", lambda t: _set(t, "t1", 5.0), ["predictions row 1", "'v2'", "greater"]),
        ("preds", lambda t: _set(t, "t0", float("nan")), ["predictions row 1", "'v2'", "finite"]),
        ("truth", lambda t: _set(t, "t1", float("inf")), ["ground truth row 1", "'v2'", "finite"]),
        ("truth", lambda t: _set(t, "t0", "abc"), ["ground truth row 1", "'v2'", "finite"]),
        ("preds", lambda t: _set(t, "score", float("nan")), ["row 1", "'v2'", "missing score"]),
        ("preds", lambda t: _set(t, "score", None), ["row 1", "'v2'", "missing score"]),
        ("preds", lambda t: _set(t, "score", float("inf")), ["row 1", "'v2'", "missing score"]),
        ("preds", lambda t: _set(t, "score", "high"), ["row 1", "'v2'", "missing score"]),
        ("truth", lambda t: _set(t, "label", None), ["ground truth row 1", "missing label"]),
        ("preds", lambda t: _set(t, "video_id", None), ["predictions row 1", "missing video_id"]),
        # row position, not index label
        ("truth", lambda t: _set(t, "t1", 0.0).set_axis([7, 8, 9]), ["row 1", "'v2'"]),
    ],
)
def test_malformed_input_raises_data_error(which, break_it, words) -> None:
    gt, pr = _good()
    if which == "truth":
        gt = break_it(gt)
    else:
        pr = break_it(pr)
    with pytest.raises(DataError) as caught:
        temporal_map(gt, pr)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "/" not in message and "\\" not in message and ".csv" not in message


def test_error_counts_further_bad_rows() -> None:
    gt, pr = _good()
    with pytest.raises(DataError, match=r"row 0 .*and 2 more"):
        temporal_map(gt, pr.assign(score=np.nan))


def test_good_fixture_is_scorable() -> None:
    gt, pr = _good()
    assert temporal_map(gt, pr)["map"] == 1.0
