"""The demo's truth (where its figure is), the annotations made from it and their planted faults."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from vidlab.annotations import rle
from vidlab.annotations.schema import FORMATS, TASKS
from vidlab.config import replace
from vidlab.core.errors import ParamsError
from vidlab.synth import annotate
from vidlab.synth.scene import Scene, render, render_with_truth

MOVING = Scene("motor", True, (200, 60, 60), 30, 7)
STILL = Scene("social", False, (60, 60, 200), 30, 11)
# sha256 of render(scene, 128, 96, 15, 3.0) recorded before the truth was added: cached outputs
# of the whole pipeline depend on these bytes
RENDER_SHA256 = {
    MOVING: "fb75abb9adb92f8edc01859f905106f3ea6a3918ef884c5a168ec8db7cfa80aa",
    STILL: "89f899ba1ed75d0707a17ea141e0deb545cee8c6bf3409848982bd28cc939021",
}
EXPECTED_REASONS = {
    "segment_outside_video", "empty_segment", "overlapping_segments", "unknown_class",
    "box_outside_frame", "empty_box", "track_jump", "duplicate_track_id", "frame_out_of_range",
    "fps_mismatch", "track_label_changes", "mask_size_mismatch", "empty_caption",
    "caption_language", "unknown_video",
}


def sha(clip: np.ndarray) -> str:
    return hashlib.sha256(clip.tobytes()).hexdigest()


@pytest.mark.parametrize("scene", [MOVING, STILL])
def test_render_bytes_are_unchanged_by_the_truth(scene: Scene) -> None:
    assert sha(render(scene, 128, 96, 15, 3.0)) == RENDER_SHA256[scene]
    clip, truth = render_with_truth(scene, 128, 96, 15, 3.0)
    assert sha(clip) == RENDER_SHA256[scene]
    assert truth.masks.shape == (30, 96, 128) and truth.boxes.shape == (30, 4)


@pytest.mark.parametrize("scene", [MOVING, STILL])
def test_box_and_mask_are_where_the_figure_is(scene: Scene) -> None:
    clip, truth = render_with_truth(scene, 128, 96, 15, 0.0)
    figure = np.array(scene.figure_rgb, dtype=float)
    for t in range(scene.n_frames):
        mask = truth.masks[t]
        assert mask.sum() > 50
        assert tuple(truth.boxes[t]) == rle.bbox(mask)
        inside = np.abs(clip[t][mask].astype(float) - figure).max(axis=1)
        outside = np.abs(clip[t][~mask].astype(float) - figure).max(axis=1)
        assert np.median(inside) < 5 and np.percentile(inside, 90) < 60
        assert np.median(outside) > 60
        x1, _, x2, _ = truth.boxes[t]
        assert x1 - 4 <= truth.centre_x[t] <= x2 + 4  # the steady centre, shake at most 3 px


def test_segments_cover_every_frame_once() -> None:
    several = 0
    for seed in range(12):
        for achieved in (True, False):
            scene = Scene("motor", achieved, (200, 60, 60), 45, seed)
            _, truth = render_with_truth(scene, 96, 64, 15, 3.0)
            runs = annotate.segments(truth)
            assert runs[0][0] == 0 and runs[-1][1] == 45
            assert all(a[1] == b[0] and a[2] != b[2] for a, b in
                       zip(runs, runs[1:], strict=False))
            for a, b, label in runs:
                left = truth.centre_x[a:b] < truth.width / 2
                assert left.all() if label == "Left half" else not left.any()
            if not achieved:
                assert len(runs) == 1
            several += len(runs) > 1
    assert several >= 4  # moving figures cross the middle


def test_records_of_every_task() -> None:
    _, truth = render_with_truth(MOVING, 128, 96, 15, 3.0)
    subject = annotate.Subject("Aarav crawling 2024.mp4", True, "motor", (200, 60, 60))
    recs = annotate.annotate(truth, subject, TASKS)
    assert set(recs) == set(FORMATS)
    for fmt, items in recs.items():
        name = "Aarav crawling 2024" if fmt in annotate.STEM_FORMATS else subject.filename
        assert {r.video for r in items} == {name}
        assert {(r.task, r.source) for r in items} == {(FORMATS[fmt], fmt)}
    runs = annotate.segments(truth)
    assert [(r.t0, r.t1, r.label) for r in recs["activitynet"]] == [
        (a / 15, b / 15, label) for a, b, label in runs]
    assert [r.t0 for r in recs["activitynet_captions"]] == [a / 15 for a, _, _ in runs]
    assert recs["activitynet_captions"][0].text.startswith("the child is in the ")
    assert [r.t0 for r in recs["ava"]] == [0.5, 1.5]  # 2 s at 15 fps
    for r in recs["ava"]:
        x1, y1, x2, y2 = truth.boxes[math.floor(r.t0 * 15)]
        assert (r.x1, r.y1, r.x2, r.y2) == (x1 / 128, y1 / 96, x2 / 128, y2 / 96)
        assert r.normalized and r.label == "1" and r.track_id == 1
    for fmt in ("mot", "cvat"):
        assert [r.frame for r in recs[fmt]] == list(range(30))
        assert [(r.x1, r.y1, r.x2, r.y2) for r in recs[fmt]] == [tuple(b) for b in truth.boxes]
    assert {r.label for r in recs["mot"]} == {"1"} and {r.fps for r in recs["mot"]} == {15.0}
    assert {r.label for r in recs["cvat"]} == {"child"}
    assert [r.frame for r in recs["cvat"] if r.keyframe] == [0, 5, 10, 15, 20, 25]
    for fmt, label in (("youtube_vis", "child"), ("davis", "")):
        assert {(r.label, r.track_id) for r in recs[fmt]} == {(label, 1)}
        for r in recs[fmt]:
            assert (rle.decode(r.mask, 96, 128) == truth.masks[r.frame]).all()
    texts = [r.text for r in recs["msrvtt"]]
    assert texts[0] == "a child in a red shirt crawls across a motor room"
    still = annotate.annotate(render_with_truth(STILL, 128, 96, 15, 3.0)[1],
                              annotate.Subject("b.mp4", False, "social", (60, 60, 200)),
                              ["captions", "boxes"])
    assert set(still) == {"ava", "msrvtt", "activitynet_captions"}
    assert still["msrvtt"][0].text == "a child in a blue shirt sits still in a social room"
    assert {r.label for r in still["ava"]} == {"2"}
    assert annotate.video_info(truth).duration_s == 2.0


def planted() -> tuple[dict[str, annotate.Bundle], list[dict], list[str]]:
    found = []
    for k in range(16):
        scene = Scene("motor", k % 3 != 2, (200, 60, 60), 45, 100 + k)
        _, truth = render_with_truth(scene, 96, 64, 15, 3.0)
        subject = annotate.Subject(f"clip {k}.mp4", scene.achieved, "motor", (200, 60, 60))
        found.append((subject.filename, annotate.video_info(truth),
                      annotate.annotate(truth, subject, TASKS)))
    bundles = annotate.bundles(found)
    return bundles, annotate.plant_faults(bundles, [f for f, _, _ in found]), [
        f for f, _, _ in found]


def test_each_annotation_fault_is_planted_once_on_its_own_video() -> None:
    bundles, key, names = planted()
    assert Counter(f["reason"] for f in key) == Counter(EXPECTED_REASONS)
    on_videos = [f["video"] for f in key if f["reason"] != "unknown_video"]
    assert len(set(on_videos)) == len(on_videos) and set(on_videos) <= set(names)
    json.dumps(key)  # the answer key is JSON
    by = {f["reason"]: f for f in key}
    ava = bundles["ava"].records
    assert sum(r.x2 == 1.4 for r in ava) == 1 and sum(r.x1 == r.x2 for r in ava) == 1
    mot = bundles["mot"].records
    assert sum(r.label != "1" for r in mot) == 1
    pairs = Counter((r.video, r.frame, r.track_id) for r in mot)
    assert [k for k, n in pairs.items() if n > 1] == [
        (by["duplicate_track_id"]["name_in_file"], by["duplicate_track_id"]["records"][0]["frame"],
         1)]
    assert sum(r.frame >= 45 for r in mot) == 1 and by["frame_out_of_range"]["records"] == [
        {"label": "1", "frame": 54, "track_id": 1,
         **{k: v for k, v in by["frame_out_of_range"]["records"][0].items() if k[0] in "xy"}}]
    fast = [v for v, info in bundles["mot"].videos.items() if info.fps != 15]
    assert fast == [by["fps_mismatch"]["name_in_file"]] and by["fps_mismatch"]["scope"] == "video"
    assert sum(r.mask_height != 64 for r in bundles["youtube_vis"].records) == 1
    captions = bundles["msrvtt"].records
    assert sum(r.text == "" for r in captions) == 1
    assert sum(r.video == "video_not_in_dataset" for r in captions) == 1
    assert sum(r.text.startswith("ein Kind") for r in captions) == 1
    segs = bundles["activitynet"].records
    assert sum(r.label == "Jumping" for r in segs) == 1 and sum(r.t0 == r.t1 for r in segs) == 1
    assert sum((r.t1 or 0) > 3.0 for r in segs) == 1  # 3 s videos: only the one outside
    jump = by["track_jump"]["records"][0]
    assert abs(jump["x1"] - by["track_jump"]["related"][0]["x1"]) >= 32 - 4


def test_tasks_param_is_validated(params) -> None:
    with pytest.raises(ParamsError, match="demo.tasks"):
        replace(params.demo, tasks=("boxes", "boxes"))


def matches(rec, locator: dict) -> bool:
    return all(getattr(rec, k) == pytest.approx(v) if isinstance(v, float) else
               getattr(rec, k) == v for k, v in locator.items())


@pytest.mark.slow
def test_demo_writes_annotations_that_read_back_as_the_truth(params, tmp_path: Path) -> None:
    from vidlab.annotations import formats
    from vidlab.stages.demo import stage

    small = replace(params.demo, n_videos=18, n_children=4, annotated=15, workers=1, width=96,
                    height=64, min_seconds=2.0, max_seconds=3.0)
    summary = stage.run(small, seed=5, out=tmp_path / "demo")
    root = tmp_path / "demo"
    key = json.loads((root / "faults.json").read_text())
    assert summary["annotated"] == 15 and len(key["annotated"]) == 15
    assert not [k for k in key["content"] if k.startswith("annotations")]  # not in the digests
    assert Counter(f["reason"] for f in key["annotation_faults"]) == Counter(EXPECTED_REASONS)
    plan = stage.build_plan(small, 5)
    jobs = {job.filename: job for job in plan.jobs}
    truths = {}
    for name in key["annotated"]:
        rec = jobs[name].recording
        scene = Scene(rec.domain, rec.label == "achieved", rec.child.rgb, rec.n_frames, rec.seed)
        truths[name] = render_with_truth(scene, 96, 64, small.fps, small.noise_std)[1]
    stems = {Path(n).stem: n for n in truths}
    checked = Counter()
    for fmt, file in stage.ANNOTATION_FILES.items():
        records = formats.read(fmt, root / "annotations" / file)
        faults = [f for f in key["annotation_faults"] if f["format"] == fmt]
        for fault in faults:  # the key names what a reader gives back
            found = [r for r in records if r.video == fault["name_in_file"]]
            if fault["scope"] == "video":
                assert {r.fps for r in found} == {2.0 * small.fps}
            for locator in fault["records"] + fault["related"]:
                assert sum(matches(r, locator) for r in found) == 1, (fmt, locator)
        wrong = [(f["name_in_file"], loc) for f in faults for loc in f["records"]]
        whole = {f["name_in_file"] for f in faults if f["scope"] == "video"}
        for r in records:
            if r.video in whole or any(v == r.video and matches(r, loc) for v, loc in wrong):
                continue
            truth = truths[stems.get(r.video, r.video)]
            if fmt in ("mot", "cvat"):
                assert (r.x1, r.y1, r.x2, r.y2) == tuple(truth.boxes[r.frame]), (fmt, r.where)
            elif fmt == "ava":
                box = truth.boxes[math.floor(r.t0 * small.fps)]
                assert (round(r.x1 * 96), round(r.y1 * 64), round(r.x2 * 96),
                        round(r.y2 * 64)) == tuple(box)
            elif fmt in ("youtube_vis", "davis"):
                assert (rle.decode(r.mask, 64, 96) == truth.masks[r.frame]).all(), fmt
            checked[fmt] += 1
    assert checked["mot"] > 300 and checked["cvat"] > 300 and checked["davis"] > 300
