"""CVAT for video 1.1 XML: ``<annotations><meta><task>`` (or ``<job>``) with ``original_size``
and ``source``, then ``<track id label><box frame outside occluded keyframe xtl ytl xbr ybr>``.

CVAT exports a box for every frame of a track, interpolated ones with ``keyframe="0"``; every
box is read, outside ones too (``outside=True``: the stage decides what they mean). Only boxes
are read: other shapes in a track (polygons, points, masks, ...) are skipped. Missing flags take
CVAT's importer defaults (outside 0, occluded 0, keyframe 1). A "CVAT for images" file (with
``<image>`` elements) is refused. Nothing else of ``meta`` is kept: owner, dates and URLs are
private. The video name is ``source`` (in the task/job or in meta), else the file's stem.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
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

FMT = "cvat"
_CORNERS = ("xtl", "ytl", "xbr", "ybr")


def read_cvat(path: Path) -> list[RawRecord]:
    """Boxes of one CVAT for video XML file, or of every ``.xml`` in a folder (sorted)."""
    if path.is_file():
        return _read_file(path, "")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
    if not files:
        raise FormatError("no .xml file in the folder given for cvat.")
    return [rec for i, file in enumerate(files) for rec in _read_file(file, f"file[{i}]/")]


def _read_file(path: Path, prefix: str) -> list[RawRecord]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise FormatError(f"{prefix}line {line}, column {column}: invalid XML.") from None
    if root.tag != "annotations":
        raise FormatError(f"{prefix}the root element is <{root.tag}>, not <annotations>: not "
                          "a CVAT XML file.")
    if root.find("image") is not None:
        raise FormatError(f"{prefix}CVAT for images XML: export the task as 'CVAT for video "
                          "1.1'.")
    video, width, height = _meta(root.find("meta"), path.stem, prefix)
    records = []
    for t, track in enumerate(root.findall("track")):
        at = f"{prefix}track[{t}]"
        track_id = parse_int(_attr(track, "id", at), at, "id")
        label = _attr(track, "label", at)
        for b, box in enumerate(track.findall("box")):
            where = f"{at}/box[{b}]"
            x1, y1, x2, y2 = (parse_number(_attr(box, name, where), where, name)
                              for name in _CORNERS)
            records.append(record(
                FMT, video, where, label=label,
                frame=parse_int(_attr(box, "frame", where), where, "frame"),
                track_id=track_id, x1=x1, y1=y1, x2=x2, y2=y2,
                outside=box.get("outside", "0").strip() == "1",
                occluded=box.get("occluded", "0").strip() == "1",
                keyframe=box.get("keyframe", "1").strip() == "1",
                width=width, height=height))
    return records


def _attr(element: ET.Element, name: str, where: str) -> str:
    value = element.get(name)
    if value is None:
        raise FormatError(f"{where}: the required attribute {name!r} of <{element.tag}> is "
                          "missing.")
    return value


def _meta(meta: ET.Element | None, stem: str,
          prefix: str) -> tuple[str, int | None, int | None]:
    if meta is None:
        return stem, None, None
    task = meta.find("task")
    if task is None:
        task = meta.find("job")
    source = task.findtext("source") if task is not None else None
    source = (source or meta.findtext("source") or "").strip()
    size = task.find("original_size") if task is not None else None
    width = height = None
    if size is not None:
        where = f"{prefix}meta/original_size"
        w, h = size.findtext("width"), size.findtext("height")
        width = parse_int(w, where, "width") if w is not None else None
        height = parse_int(h, where, "height") if h is not None else None
    return source or stem, width, height


def write_cvat(records: list[RawRecord], out: Path, videos: dict[str, VideoInfo]) -> list[Path]:
    """One XML per video: ``out`` itself when it ends in ``.xml`` (one video only), else
    ``out/<video>.xml``. Tracks in track-id order, each track's boxes in frame order."""
    for i, rec in enumerate(records):
        need(rec, i, FMT, "frame", "track_id", "x1", "y1", "x2", "y2")
    groups = by_video(records)
    if out.suffix.lower() == ".xml":
        if len(groups) > 1:
            raise FormatError(f"cvat: {len(groups)} videos cannot share one XML file; give a "
                              "folder.")
        targets = [out]
    else:
        out.mkdir(parents=True, exist_ok=True)
        targets = [out / f"{safe_name(v, i)}.xml" for i, v in enumerate(groups)]
    for target, (video, recs) in zip(targets, groups.items(), strict=True):
        target.write_bytes(_document(video, recs, videos[video]))
    return targets


def _document(video: str, recs: list[RawRecord], info: VideoInfo) -> bytes:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "size").text = str(info.frames)
    ET.SubElement(task, "mode").text = "interpolation"
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(info.width)
    ET.SubElement(size, "height").text = str(info.height)
    ET.SubElement(task, "source").text = video
    tracks: dict[int, list[RawRecord]] = {}
    for rec in recs:
        tracks.setdefault(rec.track_id, []).append(rec)
    for track_id in sorted(tracks):
        boxes = sorted(tracks[track_id], key=lambda r: r.frame)
        if len({r.label for r in boxes}) > 1:
            raise FormatError(f"cvat: track {track_id} has several labels; a CVAT track has one.")
        track = ET.SubElement(root, "track", id=str(track_id), label=boxes[0].label,
                              source="manual")
        for r in boxes:
            sx, sy = (info.width, info.height) if r.normalized else (1, 1)
            corners = (r.x1 * sx, r.y1 * sy, r.x2 * sx, r.y2 * sy)
            ET.SubElement(track, "box", frame=str(r.frame), outside=str(int(r.outside)),
                          occluded=str(int(r.occluded)), keyframe=str(int(r.keyframe)),
                          **{n: fmt_number(c) for n, c in zip(_CORNERS, corners, strict=True)},
                          z_order="0")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
