"""AVA actions: a CSV without header, ``video_id, timestamp, x1, y1, x2, y2, action_id[,
person_id]``, box corners as fractions of the frame's width and height.

As AVA's evaluation code (``read_csv``) does, a row must have 7 or 8 fields, the timestamp and
corners must be numbers and the action id an integer; empty lines are skipped. The label is the
action id as written (``"12"``); an empty 8th field gives no person id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from vidlab.annotations.formats.common import fmt_number, need, parse_int, parse_number, record
from vidlab.annotations.schema import FormatError, RawRecord, VideoInfo

FMT = "ava"
_CORNERS = ("x1", "y1", "x2", "y2")


def read_ava(path: Path) -> list[RawRecord]:
    """Boxes of an AVA CSV file, one record per row, normalised coordinates."""
    records = []
    for where, fields, common in parse_rows(path, "7 or 8 fields"):
        person = fields[7] if len(fields) == 8 else ""
        records.append(record(
            FMT, fields[0], where,
            track_id=parse_int(person, where, "person_id") if person else None, **common))
    return records


def parse_rows(path: Path, expected: str) -> Iterator[tuple[str, list[str], dict]]:
    """Each non-empty row of an AVA CSV file (7 or 8 fields, ``expected`` describing them in
    the error): its position, its stripped fields and the record fields the first 7 give (label,
    timestamp, normalised box). The 8th field is the caller's: a person id in annotations, a
    score in detections."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"byte {exc.start}: not UTF-8 text (is it a CSV file?)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise FormatError(f"line {reader.line_num}: not readable as CSV ({exc}).") from None
        start, line = line + 1, reader.line_num
        if not any(field.strip() for field in row):
            continue
        where = f"line {start}"
        if len(row) not in (7, 8):
            raise FormatError(f"{where}: expected {expected}, got {len(row)}.")
        fields = [field.strip() for field in row]
        box = {name: parse_number(fields[2 + k], where, name) for k, name in enumerate(_CORNERS)}
        parse_int(fields[6], where, "action_id")
        yield where, fields, {"label": fields[6], "normalized": True,
                              "t0": parse_number(fields[1], where, "timestamp"), **box}


def write_ava(records: list[RawRecord], out: Path, videos: dict[str, VideoInfo]) -> list[Path]:
    """One CSV file, one row per record in record order; pixel boxes are normalised with the
    video's size. Records without a track id get 7 fields."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    for i, rec in enumerate(records):
        need(rec, i, FMT, "t0", *_CORNERS)
        try:
            int(rec.label)
        except ValueError:
            raise FormatError(f"records[{i}]: AVA's action_id is an integer; map the label to "
                              "an action id first.") from None
        corners = [rec.x1, rec.y1, rec.x2, rec.y2]
        if not rec.normalized:
            info = videos[rec.video]
            scale = (info.width, info.height) * 2
            corners = [c / s for c, s in zip(corners, scale, strict=True)]
        row = [rec.video, fmt_number(rec.t0), *(fmt_number(c) for c in corners), rec.label]
        if rec.track_id is not None:
            row.append(str(rec.track_id))
        writer.writerow(row)
    out.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return [out]
