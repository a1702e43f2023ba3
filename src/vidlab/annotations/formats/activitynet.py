"""ActivityNet temporal segments: ``{"version", "database": {video: {"duration", "resolution",
"subset", "annotations": [{"segment": [t0, t1], "label"}]}}}``.

ActivityNet's evaluation code reads ``database`` -> video -> ``annotations`` -> ``segment`` and
``label``: those are required here too (a file without the ``database`` wrapper is refused).
``duration`` and ``resolution`` ("WxH") are optional but must be well-formed where present;
``subset`` is not read.
"""

from __future__ import annotations

from pathlib import Path

from vidlab.annotations.formats.common import (
    by_video,
    dump_json,
    expect,
    key,
    load_json,
    need,
    number,
    record,
)
from vidlab.annotations.schema import FormatError, RawRecord, VideoInfo

FMT = "activitynet"


def read_activitynet(path: Path) -> list[RawRecord]:
    """Segments of an ActivityNet JSON file, one record per annotation, in file order."""
    data = expect(load_json(path), dict, "top level", "the file")
    database = expect(key(data, "database", "top level"), dict, "database", "the database")
    records = []
    for v, (video, entry) in enumerate(database.items()):
        at = f"database/video[{v}]"
        expect(entry, dict, at, "a video's entry")
        if "duration" in entry:
            number(entry["duration"], at, "duration")
        width, height = _resolution(entry.get("resolution"), at)
        anns = expect(key(entry, "annotations", at), list, at, "annotations")
        for a, ann in enumerate(anns):
            where = f"{at}/annotations[{a}]"
            records.append(record(FMT, video, where, **segment_of(ann, where, "an annotation"),
                                  width=width, height=height))
    return records


def segment_of(entry: object, where: str, what: str) -> dict:
    """The ``label``, ``t0`` and ``t1`` of one ``{"segment": [t0, t1], "label"}`` entry (an
    annotation, or a prediction in a results file), refused as ActivityNet's evaluation would."""
    expect(entry, dict, where, what)
    segment = expect(key(entry, "segment", where), list, where, "segment")
    if len(segment) != 2:
        raise FormatError(f"{where}: segment must be [start, end], got {len(segment)} numbers.")
    return {"label": expect(key(entry, "label", where), str, where, "label"),
            "t0": number(segment[0], where, "segment start"),
            "t1": number(segment[1], where, "segment end")}


def _resolution(value: object, where: str) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    parts = expect(value, str, where, "resolution").lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise FormatError(f"{where}: resolution must be 'WIDTHxHEIGHT' (e.g. '1280x720').")
    return int(parts[0]), int(parts[1])


def write_activitynet(records: list[RawRecord], out: Path,
                      videos: dict[str, VideoInfo]) -> list[Path]:
    """One JSON file; videos in order of first appearance, annotations in record order."""
    for i, rec in enumerate(records):
        need(rec, i, FMT, "t0", "t1")
    database = {}
    for video, recs in by_video(records).items():
        info = videos[video]
        database[video] = {
            "subset": "",
            "duration": info.duration_s,
            "resolution": f"{info.width}x{info.height}",
            "annotations": [{"segment": [r.t0, r.t1], "label": r.label} for r in recs],
        }
    return [dump_json({"version": "vidlab", "database": database}, out)]
