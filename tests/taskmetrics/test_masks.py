"""Video object segmentation metrics: DAVIS' J, F, J&F and recalls, and the semantic mIoU."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from vidlab.annotations import rle
from vidlab.core.errors import DataError
from vidlab.taskmetrics import masks
from vidlab.taskmetrics.masks import boundary_f, boundary_map, mask_metrics, region_similarity

H = W = 100  # diagonal 141.4: the boundary tolerance is ceil(0.008 * 141.4) = ceil(1.13) = 2 px


def rect(y0: int, y1: int, x0: int, x1: int, h: int = H, w: int = W) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def table(*rows: tuple) -> pd.DataFrame:
    """Rows of (video, frame, track, label, mask array)."""
    return pd.DataFrame(
        [{"video_id": v, "frame": f, "track_id": t, "label": lab, "mask": rle.encode(m),
          "height": m.shape[0], "width": m.shape[1]} for v, f, t, lab, m in rows],
        columns=["video_id", "frame", "track_id", "label", "mask", "height", "width"])


A = rect(20, 60, 30, 70)
B = rect(10, 30, 10, 50)
TRUTH = table(("v1", 0, 1, "cat", A), ("v1", 0, 2, "dog", B), ("v1", 1, 1, "cat", A),
              ("v2", 0, 1, "cat", B))


def test_perfect_prediction_scores_one():
    out = mask_metrics(TRUTH, TRUTH.copy())
    for key in ("j_mean", "f_mean", "j_and_f", "j_recall", "f_recall", "miou"):
        assert out[key] == 1.0, key
    assert out["by_label_iou"] == {"cat": 1.0, "dog": 1.0}
    assert (out["objects"], out["frames"], out["object_frames"]) == (3, 3, 5)
    assert out["unmatched_objects"] == 0 and out["undefined"] == {}


def test_empty_prediction_scores_zero():
    truth = TRUTH.drop(index=1)  # every object in every frame of its video
    out = mask_metrics(truth, truth.iloc[:0])
    for key in ("j_mean", "f_mean", "j_and_f", "j_recall", "f_recall", "miou"):
        assert out[key] == 0.0, key
    empty = table(*[(v, f, t, lab, np.zeros((H, W), bool))
                    for v, f, t, lab in truth[["video_id", "frame", "track_id", "label"]].values])
    assert mask_metrics(truth, empty)["j_and_f"] == 0.0
    # object 2 of v1 is out of view in frame 1: empty there in both, J = F = 1 (as DAVIS)
    out = mask_metrics(TRUTH, TRUTH.iloc[:0])
    assert out["j_mean"] == out["f_mean"] == out["j_recall"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert out["miou"] == 0.0


def test_shifted_mask_j_by_hand_and_f_within_tolerance():
    assert masks.boundary_tolerance(H, W) == 2
    truth = table(("v", 0, 1, "x", A))
    for dx in (1, 2, 3, 5):
        out = mask_metrics(truth, table(("v", 0, 1, "x", rect(20, 60, 30 + dx, 70 + dx))))
        # 40 x 40 squares shifted by dx: intersection 40 (40 - dx), union 40 (40 + dx)
        assert out["j_mean"] == pytest.approx((40 - dx) / (40 + dx), abs=1e-12)
        assert out["miou"] == pytest.approx((40 - dx) / (40 + dx), abs=1e-12)
        if dx <= 2:
            assert out["f_mean"] == 1.0, dx
        else:
            assert out["f_mean"] < 1.0, dx
    # the same shift in a larger frame (tolerance 8 px) is within tolerance again
    big = rect(20, 60, 30, 70, 480, 854)
    assert masks.boundary_tolerance(480, 854) == 8
    assert boundary_f(big, rect(20, 60, 35, 75, 480, 854)) == 1.0


def test_missing_prediction_frame_is_empty_and_recall_counts_frames():
    truth = table(("v", 0, 1, "x", A), ("v", 1, 1, "x", A), ("v", 2, 1, "x", A))
    shifted = rect(20, 60, 30 + 16, 70 + 16)  # J = 24 / 56 < 0.5
    pred = table(("v", 0, 1, "x", A), ("v", 1, 1, "x", shifted))  # frame 2 missing
    out = mask_metrics(truth, pred)
    assert out["j_mean"] == pytest.approx((1 + 24 / 56 + 0) / 3)
    assert out["j_recall"] == pytest.approx(1 / 3)
    assert out["f_recall"] == pytest.approx(1 / 3)
    assert out["miou"] == pytest.approx((1600 + 960) / (1600 + 2240 + 1600))


def test_object_absent_from_an_annotated_frame_has_an_empty_truth_there():
    truth = table(("v", 0, 1, "x", A), ("v", 0, 2, "x", B), ("v", 1, 1, "x", A))
    clean = mask_metrics(truth, truth)
    assert clean["j_mean"] == 1.0 and clean["object_frames"] == 4
    ghost = pd.concat([truth, table(("v", 1, 2, "x", B))], ignore_index=True)
    out = mask_metrics(truth, ghost)  # object 2 predicted where it is out of view
    assert out["j_mean"] == pytest.approx((1 + (1 + 0) / 2) / 2)
    # A (1600 px) and B (800 px) overlap on 200 px: label x covers 2200 px in frame 0 (exact);
    # frame 1: truth A, prediction A and B: 1600 over 2200
    assert out["by_label_iou"]["x"] == pytest.approx((2200 + 1600) / (2200 + 2200))


def test_unmatched_objects_are_counted_and_ignored():
    extra = pd.concat([TRUTH, table(("v1", 0, 9, "cat", B), ("v3", 0, 1, "cat", A))],
                      ignore_index=True)
    out = mask_metrics(TRUTH, extra)
    assert out["unmatched_objects"] == 2
    assert out["j_and_f"] == 1.0 and out["miou"] == 1.0


def test_miou_by_hand_and_per_video():
    truth = table(("v", 0, 1, "cat", rect(0, 10, 0, 10, 20, 20)),
                  ("v", 0, 2, "cat", rect(10, 20, 10, 20, 20, 20)),
                  ("v", 0, 3, "dog", rect(0, 10, 10, 20, 20, 20)),
                  ("v", 1, 1, "cat", rect(0, 10, 0, 10, 20, 20)))
    pred = table(("v", 0, 1, "cat", rect(0, 10, 0, 5, 20, 20)),     # 50 of object 1
                 ("v", 0, 2, "cat", rect(0, 10, 0, 10, 20, 20)),    # lands on object 1
                 ("v", 0, 3, "dog", rect(0, 20, 10, 20, 20, 20)),   # 200 over dog's 100
                 ("v", 1, 1, "cat", rect(0, 10, 0, 10, 20, 20)))
    out = mask_metrics(truth, pred)
    cat = (100 + 100) / (200 + 100)  # frame 0: truth 200 px, prediction 100 inside; frame 1 exact
    dog = 100 / 200
    assert out["by_label_iou"] == pytest.approx({"cat": cat, "dog": dog})
    assert out["miou"] == pytest.approx((cat + dog) / 2)
    j = {1: (0.5 + 1) / 2, 2: (0 + 1) / 2, 3: (0.5 + 1) / 2}  # 2, 3 absent (empty) in frame 1
    assert out["j_mean"] == pytest.approx(np.mean(list(j.values())))
    assert out["by_video"]["v"]["objects"] == 3
    assert out["by_video"]["v"]["j_mean"] == pytest.approx(out["j_mean"])


def test_region_similarity_agrees_with_torchmetrics():
    from torch import from_numpy
    from torchmetrics.functional.classification import binary_jaccard_index

    for seed in range(20):
        rng = np.random.default_rng(seed)
        h, w = rng.integers(5, 40, size=2)
        t, p = rng.random((h, w)) < rng.random(), rng.random((h, w)) < rng.random()
        t[0, 0] = True  # at least one pixel in the union
        expected = float(binary_jaccard_index(from_numpy(p.astype(np.int64)),
                                              from_numpy(t.astype(np.int64))))
        assert region_similarity(t, p) == pytest.approx(expected, abs=1e-6)
        out = mask_metrics(table(("v", 0, 1, "x", t)), table(("v", 0, 1, "x", p)))
        assert out["j_mean"] == pytest.approx(expected, abs=1e-6)


def slow_bmap(m: np.ndarray) -> np.ndarray:
    h, w = m.shape
    b = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0), (1, 1)):
                if y + dy < h and x + dx < w and m[y + dy, x + dx] != m[y, x]:
                    b[y, x] = True
    return b


def slow_f(t: np.ndarray, p: np.ndarray, r: int) -> float:
    bt = list(zip(*np.nonzero(slow_bmap(t)), strict=True))
    bp = list(zip(*np.nonzero(slow_bmap(p)), strict=True))
    if not bt and not bp:
        return 1.0
    if not bt or not bp:
        return 0.0

    def matched(points, others):
        return sum(any((y - v) ** 2 + (x - u) ** 2 <= r * r for v, u in others) for y, x in points)

    precision = matched(bp, bt) / len(bp)
    recall = matched(bt, bp) / len(bt)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    noise = ndimage.uniform_filter(rng.random((h, w)), size=3)
    return noise > np.quantile(noise, rng.uniform(0.3, 1.0))


@pytest.mark.parametrize("seed", range(12))
def test_boundary_f_agrees_with_a_slow_reference(seed):
    rng = np.random.default_rng(100 + seed)
    h, w = rng.integers(3, 18, size=2)
    t, p = blob(rng, h, w), blob(rng, h, w)
    if seed % 4 == 0:
        p = t.copy()
    assert np.array_equal(boundary_map(t), slow_bmap(t))
    assert np.array_equal(boundary_map(p), slow_bmap(p))
    assert boundary_f(t, p) == slow_f(t, p, masks.boundary_tolerance(h, w))  # 1 px here
    for r in (2, 3):
        assert boundary_f(t, p, bound_th=r) == slow_f(t, p, r)


def test_near_is_the_dilation_by_a_disk():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        b = rng.random((30, 41)) < 0.02
        for r in (1, 2, 5, 8):
            y, x = np.ogrid[-r:r + 1, -r:r + 1]
            disk = x * x + y * y <= r * r
            assert np.array_equal(masks._near(b, r), ndimage.binary_dilation(b, structure=disk))


def test_both_empty_scores_one_and_one_empty_zero():
    empty = np.zeros((H, W), bool)
    assert region_similarity(empty, empty) == 1.0 and boundary_f(empty, empty) == 1.0
    assert region_similarity(A, empty) == 0.0 and boundary_f(A, empty) == 0.0
    assert boundary_f(empty, A) == 0.0


def test_undefined_without_truth():
    out = mask_metrics(TRUTH.iloc[:0], TRUTH)
    for key in ("j_mean", "f_mean", "j_and_f", "j_recall", "f_recall", "miou"):
        assert out[key] is None and key in out["undefined"]
    assert out["unmatched_objects"] == 3


def test_label_without_pixels_is_undefined_not_zero():
    empty = np.zeros((H, W), bool)
    truth = table(("v", 0, 1, "cat", A), ("v", 0, 2, "dog", empty))
    out = mask_metrics(truth, truth)
    assert out["by_label_iou"] == {"cat": 1.0, "dog": None}
    assert out["miou"] == 1.0 and "by_label_iou['dog']" in out["undefined"]
    assert out["j_mean"] == 1.0  # both empty: J = 1, as DAVIS


def test_refusals():
    with pytest.raises(DataError, match="lacks the column.*height"):
        mask_metrics(TRUTH.drop(columns="height"), TRUTH)
    with pytest.raises(DataError, match="prediction table lacks the column.*mask"):
        mask_metrics(TRUTH, TRUTH.drop(columns=["mask", "label"]))
    bad = TRUTH.copy()
    bad.loc[2, "height"] = 50
    with pytest.raises(DataError, match=r"truth row 2 \(video 'v1', frame 1\).*50 x 100"):
        mask_metrics(bad, TRUTH)
    with pytest.raises(DataError, match=r"prediction row 2 \(video 'v1', frame 1\).*50 x 100"):
        mask_metrics(TRUTH, bad)
    twice = pd.concat([TRUTH, TRUTH.iloc[[1]]], ignore_index=True)
    with pytest.raises(DataError, match=r"truth row 4 \(video 'v1', frame 0\).*twice.*row 1"):
        mask_metrics(twice, TRUTH)
    small = TRUTH.copy()
    small.loc[1, ["mask", "height", "width"]] = [rle.encode(np.ones((5, 5), bool)), 5, 5]
    with pytest.raises(DataError, match=r"truth row 1 \(video 'v1', frame 0\): mask is 5 x 5"):
        mask_metrics(small, TRUTH)
    with pytest.raises(DataError, match=r"prediction row 1 \(video 'v1', frame 0\): mask is 5"):
        mask_metrics(TRUTH, small)
    nomask = TRUTH.copy()
    nomask.loc[3, "mask"] = ""
    with pytest.raises(DataError, match=r"truth row 3 \(video 'v2', frame 0\): no mask"):
        mask_metrics(nomask, TRUTH)
    notrack = TRUTH.astype({"track_id": "Int64"})
    notrack.loc[0, "track_id"] = pd.NA
    with pytest.raises(DataError, match=r"truth row 0 \(video 'v1', frame 0\): no track_id"):
        mask_metrics(notrack, TRUTH)
