"""The classical baselines on rendered videos (exact truth from the renderer) and by hand."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from vidlab.synth.scene import Scene, Truth, render_with_truth
from vidlab.taskbaselines.foreground import Foreground, foreground
from vidlab.taskbaselines.objects import Detection, associate, box_iou, detect
from vidlab.taskbaselines.retrieval import nearest, video_descriptor
from vidlab.taskbaselines.temporal import FrameClassifier, motion_features, runs

WIDTH, HEIGHT, FPS = 128, 96, 15
RED, BLUE = (242, 109, 109), (70, 90, 230)


@cache
def video(seed: int, achieved: bool = True, rgb: tuple[int, int, int] = RED,
          domain: str = "motor") -> tuple[np.ndarray, Truth, Foreground]:
    """A 3 s rendered clip, its truth and its foreground (cached: read-only use only)."""
    scene = Scene(domain=domain, achieved=achieved, figure_rgb=rgb, n_frames=45, seed=seed)
    clip, truth = render_with_truth(scene, WIDTH, HEIGHT, FPS, 3.0)
    return clip, truth, foreground(clip)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def det(frame: int, box: tuple[int, int, int, int], score: float = 0.5) -> Detection:
    mask = np.zeros((40, 80), dtype=bool)
    mask[box[1] : box[3], box[0] : box[2]] = True
    return Detection(frame, box, score, mask)


# foreground ----------------------------------------------------------------------------------

@pytest.mark.parametrize("domain", ["motor", "social"])
def test_foreground_finds_a_moving_figure(domain):
    _, truth, fg = video(3, domain=domain)
    assert fg.masks.shape == truth.masks.shape and fg.masks.dtype == bool
    assert fg.difference.dtype == np.float32
    assert np.mean([mask_iou(a, b) for a, b in zip(fg.masks, truth.masks, strict=True)]) >= 0.6


def test_shake_compensation_keeps_background_edges_out():
    clip, truth, fg = video(0)  # a recording whose camera drifts a few pixels
    plain = foreground(clip, max_shift=0)  # the bare temporal median: furniture edges light up
    iou = [np.mean([mask_iou(a, b) for a, b in zip(f.masks, truth.masks, strict=True)])
           for f in (fg, plain)]
    assert iou[0] >= 0.9 and iou[0] > iou[1] + 0.03


def test_foreground_misses_a_figure_that_never_moves():
    """Known weakness: a still figure is part of the median background."""
    _, truth, fg = video(3, achieved=False)
    assert truth.masks.mean() > 0.03  # the figure is there...
    assert fg.masks.mean() < 0.005  # ...but (almost) nothing is found


@pytest.mark.parametrize("frames", [
    np.zeros((4, 8, 8, 3), dtype=np.float32),
    np.zeros((4, 8, 8), dtype=np.uint8),
    np.zeros((4, 8, 8, 4), dtype=np.uint8),
    np.zeros((0, 8, 8, 3), dtype=np.uint8),
    [[[[0, 0, 0]]]],
])
def test_foreground_rejects_bad_frames(frames):
    with pytest.raises(ValueError, match="frames"):
        foreground(frames)


# objects -------------------------------------------------------------------------------------

def test_detect_and_associate_follow_the_moving_figure():
    _, truth, fg = video(3)
    pairs = associate(detect(fg))
    top: dict[int, tuple[int, Detection]] = {}
    for track, d in pairs:
        top.setdefault(d.frame, (track, d))  # sorted by score: the first is the top one
    hits = [f in top and box_iou(top[f][1].box, tuple(truth.boxes[f])) >= 0.5 for f in range(45)]
    assert np.mean(hits) >= 0.8
    tracks = [top[f][0] for f in sorted(top)]
    assert max(tracks.count(t) for t in set(tracks)) >= 0.8 * 45


def test_detect_on_hand_made_foreground():
    masks = np.zeros((2, 10, 12), dtype=bool)
    difference = np.zeros((2, 10, 12), dtype=np.float32)
    masks[0, 1:3, 1:4] = True  # 6 px, difference 51
    difference[0, 1:3, 1:4] = 51.0
    masks[0, 5:9, 6:11] = True  # 20 px, difference 255
    difference[0, 5:9, 6:11] = 255.0
    masks[0, 0, 11] = True  # 1 px, difference 0 -> score clipped to 1e-6
    found = detect(Foreground(masks, difference))
    assert [(d.frame, d.box) for d in found] == [(0, (6, 5, 11, 9)), (0, (1, 1, 4, 3)),
                                                 (0, (11, 0, 12, 1))]
    assert [d.score for d in found] == pytest.approx([1.0, 0.2, 1e-6])
    assert found[1].mask.sum() == 6 and found[1].mask[1:3, 1:4].all()
    assert [d.box for d in detect(Foreground(masks, difference), max_objects=1)] == [(6, 5, 11, 9)]


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching, exclusive x2
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_associate_keeps_ids_of_crossing_boxes():
    a = [det(t, (4 * t, 0, 4 * t + 20, 20)) for t in range(11)]
    b = [det(t, (40 - 4 * t, 2, 60 - 4 * t, 22)) for t in range(11)]
    dets = [a[0], b[0]] + [d for t in range(10, 0, -1) for d in (b[t], a[t])]  # shuffled later
    pairs = associate(dets)
    assert [d for _, d in pairs] == dets  # input order
    ids = {id(d): track for track, d in pairs}
    assert [ids[id(d)] for d in a] == [1] * 11 and [ids[id(d)] for d in b] == [2] * 11


def test_associate_gap_ids_in_creation_order_and_threshold():
    gap = [det(0, (0, 0, 10, 10)), det(1, (0, 0, 10, 10)), det(3, (0, 0, 10, 10))]
    assert [t for t, _ in associate(gap)] == [1, 1, 2]
    order = [det(0, (0, 0, 10, 10)), det(0, (50, 0, 60, 10)), det(1, (30, 20, 40, 30)),
             det(1, (0, 0, 10, 10)), det(2, (70, 25, 80, 35)), det(2, (1, 0, 11, 10))]
    assert [t for t, _ in associate(order)] == [1, 2, 3, 1, 4, 1]
    third = [det(0, (0, 0, 10, 10)), det(1, (5, 0, 15, 10))]  # IoU 1/3
    assert [t for t, _ in associate(third, iou=0.3)] == [1, 1]
    assert [t for t, _ in associate(third, iou=0.34)] == [1, 2]
    assert associate([]) == []


# temporal ------------------------------------------------------------------------------------

def sides(seed: int) -> tuple[np.ndarray, np.ndarray]:
    _, truth, fg = video(seed)
    return motion_features(fg), np.where(truth.centre_x < WIDTH / 2, "left", "right")


def test_frame_classifier_tells_left_from_right_on_a_held_out_video():
    train = [sides(seed) for seed in (10, 11, 12, 13)]
    model = FrameClassifier(seed=0).fit([f for f, _ in train], [y for _, y in train])
    assert model.classes == ["left", "right"]
    features, truth = sides(3)
    probs = model.predict_proba(features)
    assert probs.shape == (45, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert np.mean(np.array(model.classes)[probs.argmax(axis=1)] == truth) >= 0.8


def test_motion_features_on_hand_made_foreground():
    masks = np.zeros((1, 5, 6), dtype=bool)
    masks[0, 0:2, 0:3] = True  # exactly the top-left cell of an uneven 2 x 2 grid
    masks[0, 4, 5] = True  # one of the 9 pixels of the bottom-right cell
    difference = np.full((1, 5, 6), 51.0, dtype=np.float32)
    features = motion_features(Foreground(masks, difference), grid=2)
    assert features.dtype == np.float64
    assert features[0].tolist() == pytest.approx([1.0, 0.0, 0.0, 1 / 9, 0.2])
    assert motion_features(Foreground(masks, difference)).shape == (1, 17)


def same_runs(got: list, expected: list) -> bool:
    """Labels equal and times and scores equal up to rounding."""
    return len(got) == len(expected) and all(
        g[0] == e[0] and g[1:] == pytest.approx(e[1:]) for g, e in zip(got, expected, strict=True))


def test_runs_on_hand_made_probabilities():
    classes = ["", "a", "b"]
    rows = {"": [0.8, 0.1, 0.1], "a": [0.2, 0.6, 0.2], "A": [0.1, 0.8, 0.1], "b": [0.1, 0.2, 0.7]}
    frames = ["", "", "a", "A", "a", "A", "b", "", "", "b", "b", "b"]
    probs = np.array([rows[f] for f in frames])
    # the lone "b" at frame 6 is too short; "" is the background
    assert same_runs(runs(probs, classes, 10.0, smooth=1),
                     [("a", 0.2, 0.6, 0.7), ("b", 0.9, 1.2, 0.7)])
    assert same_runs(runs(probs, classes, 10.0, smooth=1, min_frames=1),
                     [("a", 0.2, 0.6, 0.7), ("b", 0.6, 0.7, 0.7), ("b", 0.9, 1.2, 0.7)])
    assert same_runs(runs(probs, classes, 10.0, smooth=1, background="a", min_frames=3),
                     [("b", 0.9, 1.2, 0.7)])
    assert same_runs(runs(probs, classes, 10.0, smooth=1, background="a")[:1],
                     [("", 0.0, 0.2, 0.8)])
    # smoothing over 3 frames folds the lone "b" into its neighbours' "a"
    assert same_runs(runs(probs, classes, 10.0),
                     [("a", 0.2, 0.7, (0.6 + 0.8 + 0.6 + 0.8 + 0.2) / 5), ("b", 0.9, 1.2, 0.7)])
    assert runs(np.zeros((0, 3)), classes, 10.0) == []


def test_fit_needs_two_labels():
    features = [np.zeros((3, 2)), np.ones((2, 2))]
    with pytest.raises(ValueError, match="2 distinct"):
        FrameClassifier().fit(features, [np.array(["a"] * 3), np.array(["a"] * 2)])
    with pytest.raises(ValueError, match="not fitted"):
        FrameClassifier().predict_proba(np.zeros((1, 2)))


# retrieval -----------------------------------------------------------------------------------

def descriptor(seed: int, achieved: bool = True, rgb: tuple[int, int, int] = RED) -> np.ndarray:
    clip, _, fg = video(seed, achieved, rgb)
    return video_descriptor(clip, fg)


def test_descriptors_bring_like_videos_together():
    red, red_too, blue_still = descriptor(3), descriptor(10), descriptor(11, False, BLUE)
    assert red.shape == (2 * 4**3 + 4,)
    assert red[:64].sum() == pytest.approx(1.0) and red[64:128].sum() == pytest.approx(1.0)
    assert not blue_still[:64].any()  # nothing found moving: an all-zero histogram
    assert np.linalg.norm(red - red_too) < np.linalg.norm(red - blue_still)


def test_nearest_finds_the_same_recording():
    """A shorter cut of a training recording retrieves it. (With only a few training videos the
    standardised background bins, furniture colours, outweigh the figure: a floor.)"""
    clip, _, _ = video(3)
    train = {"red": descriptor(3), "red2": descriptor(12), "still": descriptor(11, False, BLUE)}
    cut = clip[:30]
    assert nearest(train, {"cut": video_descriptor(cut, foreground(cut))}) == {"cut": "red"}


def test_nearest_ties_and_errors():
    train = {"c": np.array([1.0, 5.0]), "b": np.array([-1.0, 5.0])}  # second column: std 0
    assert nearest(train, {"q": np.array([0.0, 9.0]), "r": np.array([0.9, 5.0])}) == {
        "q": "b", "r": "c"}
    with pytest.raises(ValueError, match="empty"):
        nearest({}, {"q": np.zeros(2)})


# determinism ---------------------------------------------------------------------------------

def test_same_inputs_same_outputs():
    clip, _, fg = video(3)
    again = foreground(clip)
    assert np.array_equal(fg.masks, again.masks) and np.array_equal(fg.difference,
                                                                     again.difference)
    first, second = associate(detect(fg)), associate(detect(again))
    assert [(t, d.frame, d.box, d.score) for t, d in first] == [
        (t, d.frame, d.box, d.score) for t, d in second]
    assert np.array_equal(video_descriptor(clip, fg), video_descriptor(clip, again))
    train = [sides(seed) for seed in (10, 11)]
    features = [f for f, _ in train]
    probs = [FrameClassifier(seed=1).fit(features, [y for _, y in train]).predict_proba(
        features[0]) for _ in range(2)]
    assert np.array_equal(probs[0], probs[1])
