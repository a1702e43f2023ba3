"""The annotations stage against the demo's answer key: each planted annotation fault is
quarantined with its reason, and nothing else is."""

from __future__ import annotations

import json
from pathlib import Path, PurePath

import pandas as pd


def planted(demo: Path, mapping: dict[str, str]) -> set[tuple[str, str, str]]:
    """(format, video id, reason) of every planted annotation fault ("" for a video that is not
    in the dataset)."""
    key = json.loads((demo / "faults.json").read_text())["annotation_faults"]
    return {(f["format"], PurePath(mapping[f["video"]]).stem if f["video"] in mapping else "",
             f["reason"]) for f in key}


def found(project: Path) -> set[tuple[str, str, str]]:
    """(format, video id, reason) of every quarantined annotation."""
    rows = pd.read_csv(project / "data" / "interim" / "quarantine_annotations.csv", dtype=str,
                       keep_default_na=False)
    return {(line.split(" ", 1)[0], video_id, reason)
            for line, video_id, reason in zip(rows["line"], rows["video_id"], rows["reason"],
                                              strict=True)}


def assert_annotation_faults_found(project: Path, demo: Path, mapping: dict[str, str]) -> None:
    """Every format was read, each planted fault is quarantined with its reason and nothing else
    is, and what was kept covers every annotated video."""
    expected = planted(demo, mapping)
    assert len(expected) >= 15
    assert found(project) == expected
    summary = json.loads((project / "reports" / "annotations" / "summary.json").read_text())
    assert set(summary["by_format"]) == {"activitynet", "ava", "mot", "cvat", "youtube_vis",
                                         "davis", "msrvtt", "activitynet_captions"}
    assert all(count > 0 for count in summary["by_format"].values())
    assert summary["kept"] + summary["quarantined"] <= summary["read"]
    table = pd.read_parquet(project / "data" / "interim" / "annotations.parquet")
    annotated = json.loads((demo / "faults.json").read_text())["annotated"]
    assert set(table["video_id"]) == {PurePath(mapping[name]).stem for name in annotated}
