"""The score_task stage's intervals, metrics file and headline on hand-made inputs; the stage
runs on the built demo in tests/test_pipeline.py (tests/scoring.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab.stages.score_task import stage as tasks
from vidlab.taskmetrics import HEADLINE, MAIN
from vidlab.taskmetrics.scoring import Scored
from vidlab.taskmetrics.temporal import temporal_map


def _params():
    return params_mod.load(ROOT / "params.yaml")


def _segments_scored(n_subjects: int) -> Scored:
    truth, predicted = [], []
    for k in range(2 * n_subjects):
        video = f"v{k}"
        truth.append({"video_id": video, "label": "left", "t0": 0.0, "t1": 1.0})
        shift = 0.1 * (k % 4)  # some predictions are worse than others
        predicted.append({"video_id": video, "label": "left", "t0": shift, "t1": 1.0 + shift,
                          "score": 0.9 - 0.1 * (k % 3)})
    return Scored("segments", pd.DataFrame(truth), pd.DataFrame(predicted), pd.DataFrame(), {})


def test_intervals_resample_subjects_deterministically() -> None:
    params = _params()
    scored = _segments_scored(4)
    subject_of = {f"v{k}": f"s{k // 2}" for k in range(8)}  # two videos per subject
    metrics = temporal_map(scored.truth, scored.predicted)
    got = tasks.bootstrap(params, scored, metrics, subject_of)
    assert got["units"] == 4 and got["resamples"] == params.tasks.n_boot
    for name in ("map", "map_50"):
        assert got[name]["low"] <= got[name]["value"] <= got[name]["high"], got
    assert got["map"]["low"] < got["map"]["high"]
    assert tasks.bootstrap(params, scored, metrics, subject_of) == got
    one = tasks.bootstrap(params, scored, metrics, dict.fromkeys(subject_of, "s0"))
    assert one["units"] == 1 and one["map"]["low"] is None  # one subject: no interval


def test_the_metrics_file_and_headline_carry_each_split_and_the_main_metric(
        tmp_path: Path) -> None:
    result = {"task": "segments", "scored": True, "splits": {
        "val": {"scored": False, "reason": "no segments annotations in the val split"},
        "test": {"scored": True, "videos": 3, "metrics": {"map": 0.5, "map_50": 0.75,
                                                          "map_75": None},
                 "intervals": {"map": {"value": 0.5, "low": 0.25, "high": 0.625}}}},
        "robustness": {"jpeg": {"map": {"value": 0.4, "change": -0.1},
                                "map_50": {"value": None, "change": None}}}}
    metrics = tasks.metrics_of(result)
    assert metrics == {"test": {"map": 0.5, "map_low": 0.25, "map_high": 0.625, "map_50": 0.75},
                       "robustness": {"jpeg": {"map": -0.1}}}
    tasks._write(tmp_path, "segments", result, metrics)
    assert (tmp_path / "segments.headline.json").read_text() == (
        '{\n  "videos": 3,\n  "score": 0.5\n}\n')
    assert set(MAIN) == set(HEADLINE) and all(MAIN[t] in HEADLINE[t] for t in MAIN)
