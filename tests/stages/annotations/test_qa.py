"""Alignment and label QA of the annotations stage on hand-made tables (no videos needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab.annotations import align, rle
from vidlab.annotations.schema import FORMATS, RawRecord, raw_frame
from vidlab.config.annotations import FORMAT_TASKS
from vidlab.data.sampling import make_clip_sampler
from vidlab.stages.annotations import qa
from vidlab.stages.annotations import stage as annotations

VIDEO = align.Video("v1", 64, 48, 10.0, 20, np.arange(20) / 10.0)


def test_the_config_knows_every_format() -> None:
    assert FORMAT_TASKS == FORMATS


def test_names_resolve_by_file_name_then_stem_never_by_guess() -> None:
    mapping = {"kid_01.mp4": "aaaa.mp4", "kid_02.MOV": "bbbb.mov", "dup.mp4": "cccc.mp4",
               "dup.mov": "dddd.mov"}
    exact, stems = align.name_index(mapping)
    assert align.resolve("kid_01.mp4", exact, stems) == ("aaaa", "")
    assert align.resolve("kid_02", exact, stems) == ("bbbb", "")  # MOT, DAVIS: the stem
    assert align.resolve("videos/kid_01.mp4", exact, stems) == ("aaaa", "")
    assert align.resolve("dup", exact, stems) == ("", "ambiguous_video")
    assert align.resolve("kid_03.mp4", exact, stems) == ("", "unknown_video")


def test_a_time_is_the_frame_the_samplers_put_on_screen() -> None:
    """VFR times: the frame on screen at an instant, by the clip samplers' own rule."""
    times = np.array([0, 0.033, 0.066, 0.1, 0.3, 0.5, 0.7, 0.733, 0.766, 0.8])
    video = align.Video("v", 64, 48, 10.0, len(times), times)
    sampler = make_clip_sampler("uniform", clip_len=7)
    clip = sampler(times)[0]
    end = times[-1] + video.interval
    instants = times[0] + (np.arange(7) + 0.5) * (end - times[0]) / 7
    assert [video.on_screen(t) for t in instants] == list(clip.indices)
    assert video.on_screen(0.299999) == 4  # 1 us early: the container's rounding
    assert video.last_before(0.3) == 3 and video.last_before(0.31) == 4


def _record(**fields) -> RawRecord:
    return RawRecord(**{"video": "kid.mp4", "where": f"line {fields.pop('n', 1)}", **fields})


def test_align_places_scales_and_refuses_what_it_cannot_place() -> None:
    records = [
        _record(task="boxes", source="ava", t0=0.55, x1=0.25, y1=0.5, x2=0.5, y2=1.0,
                normalized=True, label="1"),
        _record(task="tracks", source="mot", frame=19, x1=1, y1=2, x2=3, y2=4, track_id=7,
                label="1", fps=10.0),
        _record(task="tracks", source="mot", frame=20, x1=1, y1=2, x2=3, y2=4, track_id=7),
        _record(task="tracks", source="mot", frame=3, x1=1, y1=2, x2=3, y2=4, fps=20.0),
        _record(task="segments", source="activitynet", t0=0.0, t1=1.0, label="Left half"),
        _record(task="tracks", source="cvat", frame=2, x1=1, y1=2, x2=3, y2=4, outside=True),
        _record(video="someone_else.mp4", task="captions", source="msrvtt", text="a child"),
        _record(task="masks", source="davis", frame=0, track_id=1, mask="xyz",
                mask_height=48, mask_width=64, width=32, height=48),
    ]
    table, problems = align.align(
        raw_frame(records), {"kid.mp4": "v1.mp4"}, {"v1"}, {"v1": VIDEO},
        ontology={"ava:1": "crawl", "mot:1": "child", "Left half": "left"},
        unlabelled={"davis": "child"}, fps_tolerance=0.01)
    assert [(p["index"], p["reason"]) for p in problems] == [
        (2, "frame_out_of_range"), (3, "fps_mismatch"), (6, "unknown_video"),
        (7, "frame_size_mismatch")]
    assert problems[2]["value"] == "<redacted>" and problems[2]["video_id"] == ""
    box, track, segment = (table.iloc[i] for i in range(3))
    assert (box["frame"], box["label"]) == (5, "crawl")  # on screen at 0.55 s; AVA's own id
    assert [box[k] for k in ("x1", "y1", "x2", "y2")] == [16.0, 24.0, 32.0, 48.0]
    assert (track["frame"], track["label"], track["track_id"]) == (19, "child", 7)
    assert (segment["frame"], segment["frame_end"], segment["label"]) == (0, 9, "left")
    assert list(table["_raw"]) == [0, 1, 4]  # the CVAT box outside the view is no annotation


def _table(rows: list[dict]) -> pd.DataFrame:
    base = {"video_id": "v1", "source": "x", "where": "", "label": "", "t0": None, "t1": None,
            "frame": None, "frame_end": None, "track_id": None, "x1": None, "y1": None,
            "x2": None, "y2": None, "mask": "", "text": "", "occluded": False, "score": None,
            "_raw": 0, "_mask_h": None, "_mask_w": None}
    table = pd.DataFrame([{**base, **row, "_raw": i} for i, row in enumerate(rows)])
    return align.typed(table)


def _box(frame: int, x: float, track: int = 1, label: str = "child", **extra) -> dict:
    return {"task": "tracks", "frame": frame, "track_id": track, "label": label, "x1": x,
            "y1": 10.0, "x2": x + 10, "y2": 20.0, **extra}


@pytest.fixture(scope="module")
def params():
    return params_mod.load(ROOT / "params.yaml")


def test_each_fault_fails_its_expectation_and_nothing_else(params) -> None:
    full = np.ones((48, 64), bool)
    rows = [
        {"task": "segments", "label": "left", "t0": 0.0, "t1": 0.8},           # 0 fine
        {"task": "segments", "label": "right", "t0": 0.8, "t1": 1.0},          # 1 fine
        {"task": "segments", "label": "left", "t0": 0.5, "t1": 0.9},           # 2 overlaps 0
        {"task": "segments", "label": "left", "t0": 1.0, "t1": 1.0},           # 3 empty
        {"task": "segments", "label": "left", "t0": 1.5, "t1": 4.0},           # 4 outside
        {"task": "segments", "label": "Jumping", "t0": 0.0, "t1": 0.1,
         "source": "other"},                                                   # 5 unknown class
        {"task": "boxes", "label": "crawl", "t0": 0.5, "x1": 0.0, "y1": 0.0,
         "x2": 64.0, "y2": 48.0},                                              # 6 fine
        {"task": "boxes", "label": "crawl", "t0": 0.5, "x1": 10.0, "y1": 0.0,
         "x2": 90.0, "y2": 48.0},                                              # 7 outside frame
        {"task": "boxes", "label": "crawl", "t0": 0.5, "x1": 10.0, "y1": 0.0,
         "x2": 10.0, "y2": 48.0},                                              # 8 empty box
        _box(0, 0.0), _box(1, 2.0), _box(2, 40.0), _box(3, 4.0), _box(4, 6.0),  # 9-13: 11 jumps
        _box(4, 7.0),                                                           # 14 dup id (+13)
        _box(5, 8.0, label="adult"),                                           # 15 label changes
        {"task": "masks", "label": "child", "frame": 0, "mask": rle.encode(full),
         "_mask_h": 48, "_mask_w": 64},                                        # 16 fine
        {"task": "masks", "label": "child", "frame": 1, "mask": rle.encode(full[:46]),
         "_mask_h": 46, "_mask_w": 64},                                        # 17 wrong size
        {"task": "captions", "text": "a child crawls across the room"},       # 18 fine
        {"task": "captions", "text": "  "},                                    # 19 empty
        {"task": "captions", "text": "ein Kind sitzt still in einem Zimmer"},  # 20 German
        {"task": "captions", "text": "ok"},                                    # 21 can't tell
    ]
    table = _table(rows)
    batch = qa.measures(table, {"v1": VIDEO}, params.annotations.classes(), 0.25)
    found, checks = qa.failures(batch, ROOT / "expectations",
                                annotations.parameters(params))
    got = sorted((f["row"], f["reason"]) for f in found)
    assert got == [(2, "overlapping_segments"), (3, "empty_segment"),
                   (4, "segment_outside_video"), (5, "unknown_class"),
                   (7, "box_outside_frame"), (8, "empty_box"), (11, "track_jump"),
                   (13, "duplicate_track_id"), (14, "duplicate_track_id"),
                   (15, "track_label_changes"),
                   (17, "mask_size_mismatch"), (19, "empty_caption"),
                   (20, "caption_language")]
    assert {c["reason"] for c in checks} >= {r for _, r in got}


def test_overlap_allowed_when_the_task_allows_it(params) -> None:
    table = _table([{"task": "segments", "label": "left", "t0": 0.0, "t1": 1.0},
                    {"task": "segments", "label": "left", "t0": 0.5, "t1": 1.5}])
    allowed = params_mod.replace(params, annotations=params_mod.replace(
        params.annotations, segments_may_overlap=True))
    batch = qa.measures(table, {"v1": VIDEO}, params.annotations.classes(), 0.25)
    found, _ = qa.failures(batch, ROOT / "expectations", annotations.parameters(allowed))
    assert found == []


@pytest.mark.parametrize(("text", "code"), [
    ("a child sits still in a motor room", "en"), ("ein Kind sitzt still in einem Zimmer", "de"),
    ("un enfant est assis dans la chambre", "fr"), ("ok", "und"), ("", "und")])
def test_caption_language(text: str, code: str) -> None:
    assert qa.language(text) == code
