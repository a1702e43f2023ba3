"""Tracking metrics (vidlab.taskmetrics.tracks): known answers, agreement with motmetrics' own
reference pipeline, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vidlab.core.errors import DataError
from vidlab.taskmetrics.tracks import iou_matrix, track_metrics

COLUMNS = ["video_id", "frame", "track_id", "x1", "y1", "x2", "y2"]


def table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def scene(video: str = "v", frames: int = 10, objects: int = 2, offset: int = 0) -> pd.DataFrame:
    """``objects`` boxes moving right, 100 px apart (never overlapping), ids 1..objects."""
    rows = [(video, f, k + 1, 2 * f + offset, 100 * k, 2 * f + offset + 40, 100 * k + 60)
            for f in range(frames) for k in range(objects)]
    return table(rows)


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [0, 0, 100, 100]], dtype=float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 62, 100]], dtype=float)
    expected = [[50 / 150, 0, 100 / 6200], [100 / 10000, 100 / 10000, 0.62]]
    assert iou_matrix(a, b) == pytest.approx(np.array(expected))
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_perfect_tracks():
    truth = pd.concat([scene("a"), scene("b", objects=3)], ignore_index=True)
    result = track_metrics(truth, truth.assign(score=0.9))
    for key in ("mota", "motp", "idf1", "idp", "idr", "hota", "deta", "assa", "loca", "hota_0"):
        assert result[key] == pytest.approx(1.0, abs=1e-9), key
    assert result["objects"] == 50 and result["videos"] == 2
    assert result["id_switches"] == result["false_positives"] == result["misses"] == 0
    assert result["mostly_tracked"] == 5 and result["mostly_lost"] == 0
    assert result["undefined"] == {}


def test_one_missed_detection():
    truth = scene()
    n = len(truth)
    result = track_metrics(truth, truth.drop(index=7))
    assert result["mota"] == pytest.approx(1 - 1 / n)
    assert result["misses"] == 1 and result["false_positives"] == 0
    # HOTA: DetA drops, and so does AssA: the missed box is an FNA of the (object, track) pair.
    # Object 1 is on 10 frames, its track on 9: A = 9 / (9 + 1 + 0) = 0.9 for its 9 TPs, object
    # 2's 10 TPs have A = 1, so AssA = (9 * 0.9 + 10 * 1) / 19; DetA = 19 / 20
    assert result["deta"] == pytest.approx(19 / 20)
    assert result["assa"] == pytest.approx((9 * 0.9 + 10) / 19)


def test_one_id_switch():
    truth = scene(frames=10)
    # object 1 is predicted as track 1 on frames 0-4 and as track 3 on frames 5-9
    predictions = truth.assign(track_id=np.where((truth.track_id == 1) & (truth.frame >= 5), 3,
                                                 truth.track_id))
    result = track_metrics(truth, predictions)
    assert result["id_switches"] == 1
    assert result["mota"] == pytest.approx(1 - 1 / 20)
    assert result["idf1"] < 1
    assert result["deta"] == pytest.approx(1.0) and result["loca"] == pytest.approx(1.0)
    # HOTA by hand. Every box is matched at every alpha (IoU 1), so DetA = 1 and TP = 20.
    # Object 1's TPs pair it with track 1 (5 frames) or track 3 (5 frames): for (1, 1),
    # TPA = 5, FNA = 5 (object 1's frames matched to track 3), FPA = 0 -> A = 5/10 = 0.5, and
    # (1, 3) likewise 0.5. Object 2's 10 TPs with track 2: TPA = 10, FNA = FPA = 0 -> A = 1.
    # AssA = (10 * 0.5 + 10 * 1) / 20 = 0.75 at every alpha; HOTA = sqrt(1 * 0.75)
    assert result["assa"] == pytest.approx(0.75, abs=1e-12)
    assert result["hota"] == pytest.approx(np.sqrt(0.75), abs=1e-12)
    assert result["hota_0"] == pytest.approx(np.sqrt(0.75), abs=1e-12)


def test_two_tracks_swap_ids_halfway():
    truth = scene(frames=10)
    swap = truth.frame >= 5
    predictions = truth.assign(track_id=np.where(swap, 3 - truth.track_id, truth.track_id))
    result = track_metrics(truth, predictions)
    assert result["id_switches"] == 2
    # track 1 follows object 1 for 5 frames, then object 2 for 5. For the TP (1, 1): TPA = 5,
    # FNA = 5 (object 1's other frames, with track 2), FPA = 5 (track 1's frames on object 2)
    # -> A = 5/15 = 1/3; all four (object, track) pairs alike, so AssA = 1/3, DetA = 1
    assert result["deta"] == pytest.approx(1.0)
    assert result["assa"] == pytest.approx(1 / 3, abs=1e-12)
    assert result["hota"] == pytest.approx(np.sqrt(1 / 3), abs=1e-12)


def test_false_positive_track():
    truth = scene(frames=10)
    ghost = table([("v", f, 99, 500, 500, 540, 560) for f in range(4)])
    result = track_metrics(truth, pd.concat([truth, ghost], ignore_index=True))
    assert result["false_positives"] == 4 and result["misses"] == 0
    assert result["mota"] == pytest.approx(1 - 4 / 20)
    assert result["idp"] < 1 and result["idr"] == pytest.approx(1.0)
    assert result["deta"] == pytest.approx(20 / 24)


def test_all_wrong_extra_video_lowers_metrics():
    truth = scene("good")
    good = track_metrics(truth, truth)
    bad_truth = scene("bad", frames=6)
    bad_pred = scene("bad", frames=6, offset=300)  # nowhere near its truth
    result = track_metrics(pd.concat([truth, bad_truth]), pd.concat([truth, bad_pred]))
    assert result["videos"] == 2
    for key in ("mota", "idf1", "hota", "deta"):
        assert result[key] < good[key], key
    assert result["misses"] == 12 and result["false_positives"] == 12
    # the bad video has no match: motmetrics' OVERALL motp would be NaN, ours is the good one's
    assert result["motp"] == pytest.approx(1.0)


def test_predictions_only_and_truth_only():
    truth = scene()
    nothing = table([])
    missed = track_metrics(truth, nothing)
    assert missed["mota"] == 0.0 and missed["misses"] == 20 and missed["hota"] == 0.0
    assert missed["motp"] is None and missed["assa"] is None and missed["idp"] is None
    assert {"motp", "assa", "loca", "idp"} <= set(missed["undefined"])
    ghosts = track_metrics(nothing, truth)
    assert ghosts["mota"] is None and "mota" in ghosts["undefined"]
    assert ghosts["false_positives"] == 20 and ghosts["deta"] == 0.0
    empty = track_metrics(nothing, nothing)
    assert empty["videos"] == 0 and empty["hota"] is None and empty["mota"] is None
    assert empty["objects"] == 0


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.drop(columns=["track_id"]), "missing column(s) track_id"),
    (lambda t: t.assign(track_id=[None] + [1.0] * (len(t) - 1)),
     "row 0 (video 'v'): missing track_id"),
    (lambda t: t.assign(x2=t["x1"]), "x2 <= x1 or y2 <= y1"),
    (lambda t: t.assign(y1=np.nan), "box coordinate missing or not finite"),
])
def test_malformed_input_raises(change, message):
    with pytest.raises(DataError) as info:
        track_metrics(scene(), change(scene()))
    assert message in str(info.value)


def test_duplicate_track_on_a_frame_raises():
    truth = scene()
    twice = pd.concat([truth, truth.iloc[[5]]], ignore_index=True)
    with pytest.raises(DataError, match=r"truth row 20 \(video 'v', frame 2\): track_id 2 "
                                        r"already has a box on this frame \(row 5\)"):
        track_metrics(twice, truth)


def _random_sequence(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """MOTChallenge lines (1-based frames, left, top, width, height) of truth and predictions:
    random walks of 3-6 objects over 20-40 frames; detections jittered, some dropped, some ids
    swapped from a frame on, some false positives."""
    n_frames, n_objects = int(rng.integers(20, 41)), int(rng.integers(3, 7))
    gt_lines, pr_lines = [], []
    pred_id = {k: k + 1 for k in range(n_objects)}
    swaps = set(rng.choice(np.arange(2, n_frames), size=2, replace=False).tolist())
    for k in range(n_objects):
        start = int(rng.integers(0, n_frames // 3))
        stop = int(rng.integers(2 * n_frames // 3, n_frames + 1))
        xy = rng.uniform(0, 400, size=2)
        wh = rng.uniform(20, 80, size=2)
        for f in range(start, stop):
            xy = xy + rng.normal(0, 4, size=2)
            gt_lines.append((f, k + 1, *xy, *wh))
    gt_lines.sort()
    by_frame: dict[int, list] = {}
    for f, k, *box in gt_lines:
        by_frame.setdefault(f, []).append((k, box))
    for f in range(n_frames):
        if f in swaps:
            a, b = rng.choice(n_objects, size=2, replace=False)
            pred_id[a], pred_id[b] = pred_id[b], pred_id[a]
        for k, box in by_frame.get(f, []):
            if rng.random() < 0.1:
                continue  # dropped
            jitter = rng.normal(0, 5, size=4)
            x, y = box[0] + jitter[0], box[1] + jitter[1]
            w, h = max(box[2] + jitter[2], 5.0), max(box[3] + jitter[3], 5.0)
            pr_lines.append((f, pred_id[k - 1], x, y, w, h))
        if rng.random() < 0.3:
            pr_lines.append((f, 100 + int(rng.integers(0, 3)), *rng.uniform(0, 400, size=2),
                             *rng.uniform(20, 80, size=2)))

    def mot(rows):
        return [f"{f + 1},{i},{float(x)!r},{float(y)!r},{float(w)!r},{float(h)!r},1,-1,-1,-1"
                for f, i, x, y, w, h in rows]

    return mot(gt_lines), mot(pr_lines)


def _as_table(loaded: pd.DataFrame) -> pd.DataFrame:
    """motmetrics' loaded MOT frame (FrameId 1-based, Id; X, Y, Width, Height) as our table."""
    frame = loaded.reset_index()
    return pd.DataFrame({
        "video_id": "seq", "frame": frame["FrameId"] - 1, "track_id": frame["Id"],
        "x1": frame["X"], "y1": frame["Y"],
        "x2": frame["X"] + frame["Width"], "y2": frame["Y"] + frame["Height"],
    })


# motmetrics' loader does `df[["X", "Y"]] -= (1, 1)`, which pandas 3 deprecates
@pytest.mark.filterwarnings("ignore:Operation with tuple is deprecated")
def test_agrees_with_motmetrics_reference_pipeline(tmp_path, monkeypatch):
    mm = pytest.importorskip("motmetrics")
    # motmetrics 1.4.0's iou_matrix calls np.asfarray, removed in NumPy 2: give it back here only
    monkeypatch.setattr(np, "asfarray", lambda a, dtype=float: np.asarray(a, dtype=dtype),
                        raising=False)
    host = mm.metrics.create()
    for seed in range(10):
        gt_lines, pr_lines = _random_sequence(np.random.default_rng(seed))
        (tmp_path / f"gt{seed}.txt").write_text("\n".join(gt_lines) + "\n")
        (tmp_path / f"pr{seed}.txt").write_text("\n".join(pr_lines) + "\n")
        gt = mm.io.loadtxt(str(tmp_path / f"gt{seed}.txt"), fmt="mot15-2D")
        ts = mm.io.loadtxt(str(tmp_path / f"pr{seed}.txt"), fmt="mot15-2D")
        acc = mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5)
        ref = host.compute(acc, metrics=["mota", "motp", "idf1", "num_switches"], name="seq")
        ours = track_metrics(_as_table(gt), _as_table(ts))
        assert ours["mota"] == pytest.approx(ref["mota"].iloc[0], abs=1e-6), seed
        assert ours["motp"] == pytest.approx(1 - ref["motp"].iloc[0], abs=1e-6), seed
        assert ours["idf1"] == pytest.approx(ref["idf1"].iloc[0], abs=1e-6), seed
        assert ours["id_switches"] == ref["num_switches"].iloc[0], seed
        assert 0 < ours["hota"] < 1


def test_per_video_units_combine_to_the_scores_of_any_resample() -> None:
    """track_units + combine_units equal track_metrics on the same videos, repeats included
    (a bootstrap resample), without matching again."""
    from vidlab.taskmetrics.tracks import combine_units, track_units

    rng = np.random.default_rng(7)
    truth, predicted = [], []
    for video in ("a", "b", "c"):
        for frame in range(12):
            for track in (1, 2):
                x, y = 10 * track + frame, 5 * track
                truth.append((video, frame, track, x, y, x + 8, y + 8))
                if rng.random() < 0.85:
                    dx = int(rng.integers(-2, 3))
                    tid = track if rng.random() < 0.9 else track + 10
                    predicted.append((video, frame, tid, x + dx, y, x + dx + 8, y + 8))
    cols = ["video_id", "frame", "track_id", "x1", "y1", "x2", "y2"]
    gt, pr = pd.DataFrame(truth, columns=cols), pd.DataFrame(predicted, columns=cols)
    units = track_units(gt, pr)
    for chosen in (["a", "b", "c"], ["a", "a", "c"], ["b"]):
        copies = [(f"{v}~{k}", v) for k, v in enumerate(chosen)]
        gt_k = pd.concat([gt[gt.video_id == v].assign(video_id=n) for n, v in copies])
        pr_k = pd.concat([pr[pr.video_id == v].assign(video_id=n) for n, v in copies])
        want = track_metrics(gt_k, pr_k)
        got = combine_units([units[v] for v in chosen])
        for name in ("mota", "idf1", "hota"):
            assert got[name] == pytest.approx(want[name], abs=1e-12), (chosen, name)
