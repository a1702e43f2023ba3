"""The manifest suite's quality warnings, on the demo and degraded copies of it: each names the
degraded copies of its measure and no clean original; nothing is quarantined for quality."""

from __future__ import annotations

from tests.media.test_quality import RANKS
from tests.stages.validate.conftest import metadata
from vidlab.stages.probe.stage import to_frame

# measure -> the expectation that warns on it
WARNED_BY = {
    "sharpness": "sharpness", "noise": "noise", "blockiness": "blockiness",
    "dark_share": "dark_share", "bright_share": "bright_share", "flicker": "flicker",
    "dropped_frames": "dropped_frames", "fps_changes": "fps_changes",
    "av_start_offset_s": "av_start_offset_s_abs",
    "av_duration_offset_s": "av_duration_offset_s_abs", "interlaced_share": "interlaced_share",
    "combing": "combing",
}


def test_quality_warnings_name_the_degraded_videos(quality_set, stage) -> None:
    names = sorted(quality_set)
    meta = metadata(len(names))
    meta["video_id"] = names
    probed = to_frame([quality_set[name] for name in names])
    summary = stage(meta, probed)
    assert summary["passed"] and summary["quarantined_by_validate"] == 0
    named = {w["expectation"]: set(w["videos"]) for w in summary["warnings"]}
    for warning in summary["warnings"]:
        assert warning["rows"] == len(warning["videos"])
    clean = {name for name in names if name.startswith("clean")}
    for measure, (variant, _) in RANKS.items():
        if measure == "combing":
            continue  # interlaced copies are named by the decoder's flag; see below
        expectation = f"manifest.expect_column_values_to_be_between({WARNED_BY[measure]})"
        assert expectation in named, measure
        assert {f"{variant}0", f"{variant}1"} <= named[expectation], (measure, named[expectation])
        assert not named[expectation] & clean, (measure, named[expectation])
    every = set().union(*named.values())
    assert not every & clean


def test_quality_warnings_follow_the_params(quality_set, stage, params) -> None:
    from vidlab.config import replace

    names = sorted(quality_set)
    meta = metadata(len(names))
    meta["video_id"] = names
    quality = replace(params.validate.quality, min_sharpness=10_000.0)
    strict = replace(params, validate=replace(params.validate, quality=quality))
    summary = stage(meta, to_frame([quality_set[n] for n in names]), run_params=strict)
    named = {w["expectation"]: set(w["videos"]) for w in summary["warnings"]}
    assert named["manifest.expect_column_values_to_be_between(sharpness)"] == set(names)
