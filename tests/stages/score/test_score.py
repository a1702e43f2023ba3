"""The score stage's choices on hand-made tables; the whole command runs on the built demo in
tests/test_pipeline.py (tests/scoring.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab.core.errors import DataError
from vidlab.stages.score import stage
from vidlab.taskmetrics import scoring


def _table(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"video_id": v, "task": t, "source": s, "text": "a dog"}
                         for v, t, s in rows])


def test_the_truth_is_the_predictions_format_or_the_one_named(tmp_path: Path) -> None:
    path = tmp_path / "annotations.parquet"
    _table([("v1", "tracks", "mot"), ("v1", "tracks", "cvat"), ("v2", "tracks", "mot"),
            ("v1", "boxes", "ava")]).to_parquet(path)
    truth, chosen = scoring._truth(path, "tracks", "mot", None, {"v1"})
    assert chosen == "mot" and list(truth["video_id"]) == ["v1"]
    assert scoring._truth(path, "tracks", "mot", "cvat", {"v1", "v2"})[1] == "cvat"
    assert scoring._truth(path, "boxes", "ava", None, {"v1"})[1] == "ava"
    _table([("v1", "tracks", "mot"), ("v1", "tracks", "cvat")]).to_parquet(path)
    with pytest.raises(DataError, match="from cvat, mot; say which is the ground truth"):
        scoring._truth(path, "tracks", "youtube_vis", None, {"v1"})
    with pytest.raises(DataError, match="hold no masks"):
        scoring._truth(path, "masks", "davis", None, {"v1"})
    with pytest.raises(DataError, match="No tracks annotations fall in this split"):
        scoring._truth(path, "tracks", "mot", None, {"v9"})


def test_the_refusal_counts_reasons_and_shows_positions_not_names() -> None:
    raw = pd.DataFrame({"where": [f"line {i + 1}" for i in range(8)],
                        "video": [f"kid_{i}.mp4" for i in range(8)]})
    problems = [{"index": i, "reason": "missing_score"} for i in range(7)]
    problems.append({"index": 7, "reason": "unknown_video"})
    text = scoring._refusal(problems, raw, 10)
    assert text.startswith("8 of 10 predictions cannot be scored, so nothing was scored:")
    assert "- missing_score (7): the task ranks predictions" in text
    assert "At: line 1, line 2, line 3, line 4, line 5, ..." in text
    assert "- unknown_video (1)" in text and "At: line 8" in text
    assert "kid_" not in text


def test_one_caption_per_video_is_scored_several_without_times_are_refused() -> None:
    truth = _table([("v1", "captions", "msrvtt"), ("v1", "captions", "msrvtt")])
    refs, cands = scoring._captions(truth, _table([("v1", "captions", "msrvtt")]))
    assert refs == {"v1": ["a dog", "a dog"]} and cands == {"v1": "a dog"}
    with pytest.raises(DataError, match="1 video\\(s\\) have several predicted captions"):
        scoring._captions(truth, truth)


@pytest.mark.parametrize(("fmt", "split", "message"), [
    ("coco", "test", "Unknown predictions format 'coco'"),
    ("ava", "holdout", "Unknown split 'holdout'"),
])
def test_unknown_formats_and_splits_are_refused(tmp_path: Path, fmt: str, split: str,
                                               message: str) -> None:
    params = params_mod.load(ROOT / "params.yaml")
    with pytest.raises(DataError, match=message):
        stage.run(params, predictions=tmp_path / "p", fmt=fmt, split=split,
                  annotations=tmp_path / "a", splits=tmp_path / "s", manifest=tmp_path / "m",
                  quarantine=tmp_path / "q", out=tmp_path / "o.json")
    assert not (tmp_path / "o.json").exists()


def test_captions_with_times_are_scored_as_dense_captioning() -> None:
    truth = pd.DataFrame({"video_id": ["v1", "v1"], "t0": [0.0, 2.0], "t1": [2.0, 4.0],
                          "text": ["a child crawls", "the child sits"]})
    got = scoring.metrics("captions", truth, truth.copy(), pd.DataFrame())
    assert got["bleu_1"] == 1.0 and got["recall"] == 1.0 and "by_tiou" in got
    video_level = truth.assign(t0=float("nan"), t1=float("nan"))
    with pytest.raises(DataError, match="several predicted captions without times"):
        scoring.metrics("captions", truth, video_level, pd.DataFrame())
