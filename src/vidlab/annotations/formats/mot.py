"""MOTChallenge tracks: ``<seq>/gt/gt.txt`` plus ``<seq>/seqinfo.ini``.

A gt.txt line is ``frame, id, left, top, width, height[, conf[, class[, visibility]]]`` (MOT16
and later: 9 fields) or the MOT15 / detection layout of 10 fields, whose last three are world
coordinates (x, y, z, usually -1) and no class. Fields are separated by commas or whitespace, as
py-motmetrics' loader accepts. Frames count from 1 in the file, from 0 in the records.

Decisions:

* In gt.txt, ``conf`` is MOTChallenge's "consider" flag: rows with conf 0 (distractors, static
  persons, ...) are ignored by its evaluator, and skipped here too. In any other ``.txt`` (a
  results file, read when ``path`` is that file), conf is the prediction's ``score``.
* ``class`` becomes the label as an integer string ("1"); class -1 (unset) gives label "".
* ``visibility`` below 0.5 marks the record occluded.
* ``path`` is a sequence folder (with seqinfo.ini or gt/gt.txt), a folder of sequence folders
  (those without gt/gt.txt, e.g. test sequences, are skipped) or one .txt file. The video name
  is seqinfo's ``name``, else the sequence folder's name (a results file: its stem); frame rate
  and size come from seqinfo's ``frameRate``, ``imWidth``, ``imHeight`` (None without it).
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from vidlab.annotations.formats.common import (
    by_video,
    fmt_number,
    need,
    parse_int,
    parse_number,
    record,
    safe_name,
)
from vidlab.annotations.schema import FormatError, RawRecord, VideoInfo

FMT = "mot"
_SEP = re.compile(r"\s*,\s*|\s+")


def read_mot(path: Path) -> list[RawRecord]:
    """Tracks of one MOTChallenge sequence, a folder of them, or one gt/results .txt file."""
    if path.is_file():
        seq = path.parent.parent if path.parent.name == "gt" else path.parent
        fallback = seq.name if path.name == "gt.txt" else path.stem
        return _read_sequence(path, seq / "seqinfo.ini", fallback, "")
    if (path / "seqinfo.ini").is_file() or (path / "gt" / "gt.txt").is_file():
        return _read_sequence(path / "gt" / "gt.txt", path / "seqinfo.ini", path.name, "")
    folders = sorted(p for p in path.iterdir() if p.is_dir())
    found = [(i, p) for i, p in enumerate(folders) if (p / "gt" / "gt.txt").is_file()]
    if not found:
        raise FormatError("no MOTChallenge sequence here: expected <sequence>/gt/gt.txt in the "
                          "folder or in its sub-folders.")
    records = []
    for i, seq in found:
        records += _read_sequence(seq / "gt" / "gt.txt", seq / "seqinfo.ini", seq.name,
                                  f"video[{i}]/")
    return records


def _read_sequence(gt: Path, ini: Path, fallback: str, prefix: str) -> list[RawRecord]:
    if not gt.is_file():
        raise FormatError(f"{prefix}gt/gt.txt: missing (a sequence folder needs it).")
    name, fps, width, height = _seqinfo(ini, fallback, prefix)
    is_gt = gt.name == "gt.txt"
    fname = "gt.txt" if is_gt else "results"  # a results file's stem is a sequence name
    try:
        lines = gt.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(f"{prefix}{fname} byte {exc.start}: not UTF-8 text.") from None
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{prefix}{fname} line {n}"
        fields = _SEP.split(line.strip())
        if not 6 <= len(fields) <= 10:
            raise FormatError(f"{where}: expected 6 to 10 fields, got {len(fields)}.")
        frame = parse_int(fields[0], where, "frame")
        track = parse_int(fields[1], where, "id")
        left, top, w, h = (parse_number(fields[k], where, what)
                           for k, what in enumerate(("left", "top", "width", "height"), 2))
        conf = parse_number(fields[6], where, "conf") if len(fields) > 6 else None
        label, occluded = "", False
        if 8 <= len(fields) <= 9:  # 10 fields: x, y, z world coordinates, no class
            cls = parse_int(fields[7], where, "class")
            label = "" if cls == -1 else str(cls)
        if len(fields) == 9:
            occluded = parse_number(fields[8], where, "visibility") < 0.5
        if is_gt and conf == 0:
            continue  # MOTChallenge's evaluator ignores gt rows with conf 0
        records.append(record(
            FMT, name, where, label=label, frame=frame - 1, fps=fps, track_id=track,
            x1=left, y1=top, x2=left + w, y2=top + h, occluded=occluded,
            score=None if is_gt else conf, width=width, height=height))
    return records


def _seqinfo(ini: Path, fallback: str, prefix: str) -> tuple[str, float | None, int | None,
                                                             int | None]:
    if not ini.is_file():
        return fallback, None, None, None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(ini.read_text(encoding="utf-8-sig"))
    except (configparser.Error, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        at = f" line {line}" if line else ""
        raise FormatError(f"{prefix}seqinfo.ini{at}: not a readable INI file.") from None
    if not parser.has_section("Sequence"):
        raise FormatError(f"{prefix}seqinfo.ini: the [Sequence] section is missing.")
    sec = parser["Sequence"]
    where = f"{prefix}seqinfo.ini"
    fps = parse_number(sec["framerate"], where, "frameRate") if "framerate" in sec else None
    width = parse_int(sec["imwidth"], where, "imWidth") if "imwidth" in sec else None
    height = parse_int(sec["imheight"], where, "imHeight") if "imheight" in sec else None
    return sec.get("name", "").strip() or fallback, fps, width, height


def write_mot(records: list[RawRecord], out: Path, videos: dict[str, VideoInfo]) -> list[Path]:
    """``out/<video>/gt/gt.txt`` and ``out/<video>/seqinfo.ini`` per video, 9-field gt lines
    (conf 1, class = the label or -1, visibility 0 when occluded else 1) in record order.

    Boxes marked ``outside`` (CVAT: the object is gone) are not written: MOTChallenge has no
    such rows. Normalised boxes are scaled by the video's size; scores are not written.
    """
    for i, rec in enumerate(records):
        need(rec, i, FMT, "frame", "track_id", "x1", "y1", "x2", "y2")
        if rec.label and not re.fullmatch(r"-?\d+", rec.label):
            raise FormatError(f"records[{i}]: MOTChallenge's class is an integer; map the "
                              "label to a class id first.")
    written = []
    for v, (video, recs) in enumerate(by_video(records).items()):
        info = videos[video]
        seq = out / safe_name(video, v)
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        ini = seq / "seqinfo.ini"
        ini.write_text(
            f"[Sequence]\nname={video}\nimDir=img1\nframeRate={fmt_number(info.fps)}\n"
            f"seqLength={info.frames}\nimWidth={info.width}\nimHeight={info.height}\n"
            "imExt=.jpg\n", encoding="utf-8")
        lines = []
        for r in recs:
            if r.outside:
                continue
            sx, sy = (info.width, info.height) if r.normalized else (1, 1)
            x1, y1, x2, y2 = r.x1 * sx, r.y1 * sy, r.x2 * sx, r.y2 * sy
            values = [r.frame + 1, r.track_id, x1, y1, x2 - x1, y2 - y1, 1, r.label or -1,
                      0 if r.occluded else 1]
            lines.append(",".join(fmt_number(float(x)) for x in values))
        gt = seq / "gt" / "gt.txt"
        gt.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        written += [ini, gt]
    return written
