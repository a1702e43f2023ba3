"""Outliers judged against the dataset's own spread: robust z-scores (median and MAD)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidlab.stages.eda import outliers as mod


def table(**columns: list[float]) -> pd.DataFrame:
    length = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=[f"v{k:02d}" for k in range(length)])


def test_a_planted_video_is_the_one_outlier_with_its_reason() -> None:
    durations = [3.0 + 0.01 * k for k in range(21)]  # 3.00 .. 3.20 s, median 3.10 s
    durations[7] = 41.0
    fps = [15.0 + 0.1 * (k % 5) for k in range(21)]
    found, stats = mod.robust_outliers(table(duration_s=durations, fps=fps), threshold=3.5)
    values = pd.Series(durations)
    median = values.median()
    z = (41.0 - median) / (1.4826 * (values - median).abs().median())
    assert [(f["video_id"], f["measure"]) for f in found] == [("v07", "duration_s")]
    assert found[0]["reason"] == f"duration 41.0 s, robust z = {z:.1f} (median 3.1 s)"
    assert found[0]["z"] == pytest.approx(z, abs=0.01) and z > 100
    assert stats["duration_s"]["basis"] == "MAD" and stats["duration_s"]["outliers"] == 1
    assert stats["fps"]["outliers"] == 0


@pytest.mark.parametrize("threshold", [3.5, 1.0])
def test_identical_values_flag_nothing_and_divide_by_nothing(threshold: float) -> None:
    """MAD 0 and no spread at all: no division by zero, no outlier, and the page says why."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 would warn
        found, stats = mod.robust_outliers(table(fps=[30.0] * 12, frame_px=[12288.0] * 12),
                                           threshold)
    assert found == []
    assert stats["fps"]["scale"] is None and stats["fps"]["mad"] == 0
    assert stats["fps"]["basis"] == "none (every value is the median)"


def test_mad_zero_falls_back_to_the_mean_absolute_deviation() -> None:
    """Most videos at one value (MAD 0): a lone other value is an outlier, said so; a large group
    at another value is not (1.2533 x mean absolute deviation is then a wide scale)."""
    lone = [15.0] * 30 + [13.88]
    found, stats = mod.robust_outliers(table(fps=lone), 3.5)
    assert [f["video_id"] for f in found] == ["v30"]
    assert found[0]["reason"].startswith("frame rate 13.88 fps, robust z = -")
    assert "MAD is 0, scaled by the mean absolute deviation" in found[0]["reason"]
    assert stats["fps"]["basis"] == "mean absolute deviation (MAD is 0)"
    split = [30.0] * 12 + [25.0] * 8  # two cameras: nobody is an outlier
    assert mod.robust_outliers(table(fps=split), 3.5)[0] == []
    # a rounding error is no spread
    assert mod.robust_outliers(table(fps=[30.0] * 9 + [30.0 + 1e-9]), 3.5)[0] == []


def test_missing_values_and_missing_measures_are_left_out() -> None:
    values = [2.0, 2.1, np.nan, 2.2, 2.05, 2.15, 9.0]
    found, stats = mod.robust_outliers(table(duration_s=values), 3.5)
    assert [f["video_id"] for f in found] == ["v06"]
    assert stats["duration_s"]["videos"] == 6 and set(stats) == {"duration_s"}


def test_brightness_and_motion_come_from_the_clips_cache(tmp_path: Path) -> None:
    """Mean pixel value, and the mean change from one cached frame to the next that goes forward
    in the video (a padded clip's repeated or looped frames are no motion)."""
    still = np.full((4, 2, 2, 3), 100, np.uint8)
    moving = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 10, 20, 30)])
    looped = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 10, 0, 10)])
    np.save(tmp_path / "train.npy", np.stack([still, moving]))
    np.save(tmp_path / "val.npy", looped[None])
    (tmp_path / "index.csv").write_text(
        "split,row,video_id,clip_index,padded,frames\n"
        "train,0,a,0,False,0 1 2 3\ntrain,1,b,0,False,4 5 6 7\nval,0,c,0,True,0 1 0 1\n")
    looks = mod.clip_looks(tmp_path)
    assert looks.loc["a"].tolist() == [100.0, 0.0]
    assert looks.loc["b"].tolist() == [15.0, 10.0]
    assert looks.loc["c"].tolist() == [5.0, 10.0]  # 0->10 twice; the loop back is left out
