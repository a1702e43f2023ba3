"""Label QA of the aligned annotations: measures per row, judged by a Great Expectations suite.

Each row gets the measures its task can fail on (a segment's length and how far it lies outside
its video, a box's overflow past the frame and its area, a track's jump, ...); the suite
``expectations/annotations.json`` holds one expectation per measure, its threshold from the
``annotations`` params, and in its ``meta.reason`` the reason a failing row is quarantined with.

Tracks are judged in frame order: a box further from the track's last accepted box than
``max_jump`` frame diagonals per frame is a jump (so a single misplaced box fails alone, and its
neighbours are compared past it); two boxes of one id on one frame both fail; a row whose class
differs from its track's most common class fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.annotations import rle
from vidlab.annotations.align import Video, given
from vidlab.data import suites

SUITE = "annotations"
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["row"],
                 "return_unexpected_index_query": False}

# a few function words per language: enough to tell a caption's language when it has any
_WORDS = {
    "en": "a an the and of in on with to is are his her its into across at while".split(),
    "de": "ein eine einem einen der die das und mit im ist sind auf zu sitzt einer".split(),
    "fr": "un une le la les et de du des dans avec est sur au aux".split(),
    "es": "un una el la los las y de del en con es sobre al".split(),
    "it": "un una il lo la gli le e di del in con è sul".split(),
    "nl": "een de het en van in met is op naar".split(),
    "pt": "um uma o a os as e de do da em com é".split(),
}


def language(text: str) -> str:
    """The language whose function words the caption uses most (``und`` when none, or a tie
    with the best of the others)."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {code: sum(w in vocab for w in words) for code, vocab in _WORDS.items()}
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if ranked[0][1] == 0 or ranked[0][1] == ranked[1][1]:
        return "und"
    return ranked[0][0]


def measures(table: pd.DataFrame, videos: dict[str, Video], classes: dict[str, set[str]],
             max_jump: float) -> pd.DataFrame:
    """The QA batch: ``row`` (the table's position) and one column per measure (null where the
    row's task has no such measure)."""
    out = pd.DataFrame({"row": np.arange(len(table))})
    nan = np.full(len(table), np.nan)
    length, outside, point_outside = nan.copy(), nan.copy(), nan.copy()
    overflow, area, mask_size, mask_area = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    chars = nan.copy()
    lang = np.full(len(table), None, dtype=object)
    known = np.full(len(table), None, dtype=object)
    plain = table.rename(columns=lambda name: name.lstrip("_"))  # itertuples renames _names
    for i, row in enumerate(plain.itertuples(index=False)):
        video = videos[row.video_id]
        timed = given(row.t0) and given(row.t1)
        if timed:  # segments, and captions with times
            length[i] = row.t1 - row.t0
            outside[i] = max(0.0, -row.t0, row.t1 - video.duration)
        elif given(row.t0):  # a point in time (AVA)
            point_outside[i] = max(0.0, -row.t0, row.t0 - video.duration)
        if given(row.x1):
            overflow[i] = max(0.0, -row.x1, -row.y1, row.x2 - video.width, row.y2 - video.height)
            area[i] = max(0.0, row.x2 - row.x1) * max(0.0, row.y2 - row.y1)
        if row.mask:
            mask_size[i] = abs(_int(row.mask_h, video.height) - video.height) + abs(
                _int(row.mask_w, video.width) - video.width)
            mask_area[i] = rle.area(row.mask)
        if row.task == "captions":
            chars[i] = len(row.text.strip())
            lang[i] = language(row.text) if row.text.strip() else "und"
        if row.task in classes and row.task != "captions":
            known[i] = row.label in classes[row.task]
    out["segment_length_s"], out["segment_outside_s"] = length, outside
    out["time_outside_s"] = point_outside
    out["box_overflow_px"], out["box_area_px"] = overflow, area
    out["mask_size_diff_px"], out["mask_area_px"] = mask_size, mask_area
    out["caption_chars"], out["caption_language"] = chars, lang
    out["class_known"] = known
    out["segment_overlap_s"] = _overlaps(table)
    out["track_jump"] = _jumps(table, videos, max_jump)
    out["ids_in_frame"] = _ids_in_frame(table)
    out["track_label_agrees"] = _label_agrees(table)
    return out


def _overlaps(table: pd.DataFrame) -> np.ndarray:
    """Per segment, how much it overlaps the segments of its video (same file) that start
    before it, in seconds (0 for none; null for other rows)."""
    out = np.full(len(table), np.nan)
    segments = table[(table["task"] == "segments") & table["t0"].notna() & table["t1"].notna()]
    for _, group in segments.groupby(["video_id", "source"], sort=False):
        order = group.sort_values(["t0", "t1"], kind="stable")
        reach = -np.inf
        for position, row in zip(order.index, order.itertuples(index=False), strict=True):
            empty = row.t1 <= row.t0  # covers no time: the length check's to judge
            out[table.index.get_loc(position)] = 0.0 if empty else max(0.0, reach - row.t0)
            if not empty and row.t0 >= reach:  # judge the next against accepted ones
                reach = max(reach, row.t1)
    return out


def _jumps(table: pd.DataFrame, videos: dict[str, Video], max_jump: float) -> np.ndarray:
    """Per track box, its centre's distance from the track's last accepted box, in frame
    diagonals per frame between them (0 for a track's first box)."""
    out = np.full(len(table), np.nan)
    boxes = table[(table["task"] == "tracks") & table["x1"].notna() & table["track_id"].notna()]
    for (video_id, _, _), group in boxes.groupby(["video_id", "source", "track_id"], sort=False):
        video = videos[video_id]
        diagonal = float(np.hypot(video.width, video.height))
        last = None  # (frame, cx, cy) of the last accepted box
        ordered = group.sort_values("frame", kind="stable")
        for position, row in zip(ordered.index, ordered.itertuples(), strict=True):
            cx, cy = (row.x1 + row.x2) / 2, (row.y1 + row.y2) / 2
            if last is None or row.frame == last[0]:
                jump = 0.0
            else:
                moved = float(np.hypot(cx - last[1], cy - last[2]))
                jump = moved / diagonal / (row.frame - last[0])
            out[table.index.get_loc(position)] = jump
            if last is None or jump <= max_jump:
                last = (row.frame, cx, cy)
    return out


def _ids_in_frame(table: pd.DataFrame) -> np.ndarray:
    out = np.full(len(table), np.nan)
    rows = table[(table["task"] == "tracks") & table["track_id"].notna() & table["frame"].notna()]
    counts = rows.groupby(["video_id", "source", "frame", "track_id"])["task"].transform("size")
    out[[table.index.get_loc(i) for i in counts.index]] = counts.to_numpy()
    return out


def _label_agrees(table: pd.DataFrame) -> np.ndarray:
    out = np.full(len(table), None, dtype=object)
    rows = table[(table["task"] == "tracks") & table["track_id"].notna()]
    for _, group in rows.groupby(["video_id", "source", "track_id"], sort=False):
        common = group["label"].value_counts().sort_index().idxmax()
        for position, label in group["label"].items():
            out[table.index.get_loc(position)] = label == common
    return out


def failures(batch: pd.DataFrame, suite_dir: Path, parameters: dict) -> tuple[list[dict], list]:
    """Run the annotations suite on ``batch``. Returns (one failure per failing row: ``row``,
    ``column``, ``value``, ``reason``, ``detail``; the expectation results for the report)."""
    ctx = suites.context()
    result = suites.run(ctx, {SUITE: batch}, {SUITE: Path(suite_dir) / f"{SUITE}.json"},
                        parameters, RESULT_FORMAT)[SUITE]
    found, checks = [], []
    for item in result.results:
        config, meta = item.expectation_config, item.expectation_config.meta or {}
        column = config.kwargs.get("column", "")
        rows = (item.result or {}).get("unexpected_index_list") or []
        checks.append({"expectation": f"{SUITE}.{config.type}({column})",
                       "reason": meta.get("reason", ""), "success": bool(item.success),
                       "unexpected_count": len(rows)})
        for entry in rows:
            found.append({"row": int(entry["row"]), "column": column,
                          "value": str(entry.get(column, batch.at[int(entry["row"]), column])),
                          "reason": meta.get("reason", column), "detail": meta.get("notes", "")})
    return found, checks


def _int(value, default: int) -> int:
    return int(value) if given(value) else default
