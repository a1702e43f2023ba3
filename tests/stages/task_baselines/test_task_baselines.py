"""The task baselines' pieces on hand-made inputs; the stage runs on the built demo in
tests/test_pipeline.py (tests/scoring.py: assert_task_baselines_scored)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab.annotations import rle
from vidlab.annotations.formats.predictions import read_predictions, write_predictions
from vidlab.annotations.schema import RawRecord, VideoInfo, raw_frame
from vidlab.config import replace
from vidlab.stages.task_baselines import predict
from vidlab.stages.task_baselines import stage as baselines
from vidlab.taskbaselines.objects import Detection

INFO = VideoInfo(40, 30, 10.0, 20, 2.0)


def _params():
    return params_mod.load(ROOT / "params.yaml")


def test_the_ontology_is_inverted_per_format_and_the_truth_is_the_first_listed_export() -> None:
    params = _params()
    labels = baselines.exported_labels(dict(params.annotations.ontology))
    assert labels[("ava", "crawl")] == "1" and labels[("mot", "child")] == "1"
    assert labels[("", "left")] == "Left half"
    table = pd.DataFrame({"task": ["tracks", "tracks", "masks", "captions"],
                          "source": ["cvat", "mot", "davis", "activitynet_captions"]})
    assert baselines.truth_formats(params, table) == {
        "tracks": "mot", "masks": "davis", "captions": "activitynet_captions"}
    chosen = replace(params, tasks=replace(params.tasks, truth={"tracks": "cvat"}))
    assert baselines.truth_formats(chosen, table)["tracks"] == "cvat"
    with pytest.raises(Exception, match="not a format of that task"):
        replace(params.tasks, truth={"tracks": "davis"})


@pytest.mark.parametrize("task", ["segments", "boxes", "tracks", "masks", "captions"])
def test_written_predictions_read_back_as_written(task: str, tmp_path: Path) -> None:
    mask = np.zeros((30, 40), bool)
    mask[5:9, 10:20] = True
    fields = {
        "segments": [dict(label="Left half", t0=0.2, t1=1.1, score=0.75)],
        "boxes": [dict(label="1", t0=0.5, x1=4.0, y1=3.0, x2=20.0, y2=15.0, score=0.5)],
        "tracks": [dict(frame=f, track_id=2, x1=4.0, y1=3.0, x2=20.0, y2=15.0, score=0.25)
                   for f in (0, 1, 3)],
        "masks": [dict(frame=f, track_id=7, label="child", mask=rle.encode(mask))
                  for f in (0, 2)],
        "captions": [dict(text="a child crawls")],
    }[task]
    records = [RawRecord(video="v1", task=task, source="", where="", **f) for f in fields]
    fmt, path = write_predictions(task, records, tmp_path, {"v1": INFO})
    back = raw_frame(read_predictions(fmt, path))
    assert list(back["video"]) == ["v1"] * len(records)
    for name in {k for f in fields for k in f}:
        got = back[name].tolist()
        want = [f[name] for f in fields]
        if task == "boxes" and name in ("x1", "x2", "y1", "y2"):  # AVA: fractions of the frame
            want = [w / (INFO.width if name[0] == "x" else INFO.height) for w in want]
        if name in ("x1", "y1", "x2", "y2", "t0", "t1", "score"):
            assert np.allclose(np.asarray(got, float), want), (name, got, want)
        else:
            assert got == want, (name, got, want)


def test_davis_keeps_each_videos_object_ids(tmp_path: Path) -> None:
    mask = np.zeros((30, 40), bool)
    mask[2:6, 3:9] = True
    records = [RawRecord(video=v, task="masks", source="", where="", frame=0, track_id=1,
                         mask=rle.encode(mask)) for v in ("a", "b")]
    fmt, path = write_predictions("masks", records, tmp_path, {"a": INFO, "b": INFO}, "davis")
    back = raw_frame(read_predictions(fmt, path))
    assert fmt == "davis" and sorted(back["video"]) == ["a", "b"]
    assert back["track_id"].tolist() == [1, 1]
    assert all(rle.decode(m, 30, 40).sum() == mask.sum() for m in back["mask"])


def test_fps_jitter_resamples_frames_by_time_and_maps_back() -> None:
    params = _params()
    frames = np.arange(20, dtype=np.uint8)[:, None, None, None] * np.ones((1, 10, 10, 3), np.uint8)
    clean = baselines.Prepared("v", INFO, frames, 10.0)
    slow = baselines._perturbed(params, clean, "fps_slow")  # 0.75 x the rate
    assert len(slow.frames) == 15 and slow.fps == pytest.approx(7.5)
    assert slow.frames[:, 0, 0, 0].tolist() == [math.floor(k / 0.75 + 1e-9) for k in range(15)]
    fast = baselines._perturbed(params, clean, "fps_fast")
    assert len(fast.frames) == 26 and fast.frames[-1, 0, 0, 0] == math.floor(25 / 1.33)
    occluded = baselines._perturbed(params, clean, "occlusion")
    assert occluded.frames.shape == frames.shape and (occluded.frames[:, 3:7, 3:7] == 127).all()
    assert ((occluded.frames == 127).sum(axis=(1, 2, 3)) == 16 * 3).all()  # 35 % of 10: 4 px
    assert baselines._perturbed(params, clean, "clean") is clean


def test_a_truth_objects_first_mask_names_the_track_that_follows_it() -> None:
    info = VideoInfo(8, 6, 10.0, 3, 0.3)
    first = np.zeros((6, 8), bool)
    first[1:3, 1:3] = True
    other = np.zeros((6, 8), bool)
    other[4:6, 5:8] = True
    rows = pd.DataFrame({"track_id": [5, 5, 9], "frame": [1, 2, 1],
                         "mask": [rle.encode(first), rle.encode(first), rle.encode(other)]})
    by_frame = {1: [(1, Detection(1, (5, 4, 8, 6), 0.9, other)),
                    (2, Detection(1, (1, 1, 3, 3), 0.8, first))]}
    assert predict._given_objects(rows, by_frame, np.arange(3), info) == {2: 5, 1: 9}
    assert predict._given_objects(rows, {}, np.arange(3), info) == {}
