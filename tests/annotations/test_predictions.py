"""Reading predictions: the results layouts of ActivityNet, AVA and MOTChallenge, and refusals
that say where without naming a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidlab.annotations.formats.predictions import read_predictions
from vidlab.annotations.schema import FormatError


def test_activitynet_results_give_segments_with_scores(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"version": "1.3", "external_data": {}, "results": {
        "kid_01": [{"segment": [1.0, 2.5], "label": "Left half", "score": 0.75},
                   {"segment": [3, 4], "label": "Right half"}]}}))
    first, second = read_predictions("activitynet", path)
    assert (first.video, first.t0, first.t1, first.label, first.score) == (
        "kid_01", 1.0, 2.5, "Left half", 0.75)
    assert second.score is None  # the scorer reports it as a missing score
    assert first.where == "results/video[0]/prediction[0]" and first.task == "segments"


@pytest.mark.parametrize(("data", "message"), [
    ({"database": {}}, "results"),
    ({"results": {"v": [{"segment": [1, 2, 3], "label": "a", "score": 1}]}},
     "results/video[0]/prediction[0]: segment must be [start, end]"),
    ({"results": {"v": [{"segment": [1, 2], "score": 1}]}}, "label"),
])
def test_activitynet_results_refused_where_its_evaluator_would(tmp_path: Path, data: dict,
                                                               message: str) -> None:
    path = tmp_path / "secret_name.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=message.replace("[", r"\[").replace("]", r"\]")) as e:
        read_predictions("activitynet", path)
    assert "secret_name" not in str(e.value)


def test_ava_detections_read_the_eighth_field_as_the_score(tmp_path: Path) -> None:
    path = tmp_path / "det.csv"
    path.write_text("v1,902,0.1,0.2,0.5,0.6,12,0.875\n\nv1,903,0.1,0.2,0.5,0.6,1,\n")
    scored, unscored = read_predictions("ava", path)
    assert scored.score == 0.875 and scored.track_id is None and scored.normalized
    assert (scored.label, scored.t0, scored.x2) == ("12", 902.0, 0.5)
    assert unscored.score is None and unscored.where == "line 3"
    path.write_text("v1,902,0.1,0.2,0.5,0.6\n")
    with pytest.raises(FormatError, match="line 1: expected 8 fields"):
        read_predictions("ava", path)
    path.write_text("v1,902,0.1,0.2,0.5,0.6,1,high\n")
    with pytest.raises(FormatError, match="line 1"):
        read_predictions("ava", path)


def test_a_folder_of_mot_results_is_one_video_per_file(tmp_path: Path) -> None:
    (tmp_path / "seq_a.txt").write_text("1,3,10,20,30,40,0.9,-1,-1,-1\n"
                                        "2,3,11,20,30,40,0.8,-1,-1,-1\n")
    (tmp_path / "seq_b.txt").write_text("5,1,0,0,8,8,0.5,-1,-1,-1\n")
    records = read_predictions("mot", tmp_path)
    assert [(r.video, r.frame, r.track_id, r.score) for r in records] == [
        ("seq_a", 0, 3, 0.9), ("seq_a", 1, 3, 0.8), ("seq_b", 4, 1, 0.5)]
    assert records[2].where == "file[1]/results line 1"
    assert (records[0].x1, records[0].y1, records[0].x2, records[0].y2) == (10, 20, 40, 60)


def test_unknown_formats_and_missing_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="Unknown predictions format 'coco'"):
        read_predictions("coco", tmp_path)
    with pytest.raises(FormatError, match="does not exist") as e:
        read_predictions("ava", tmp_path / "private_name.csv")
    assert "private_name" not in str(e.value)
