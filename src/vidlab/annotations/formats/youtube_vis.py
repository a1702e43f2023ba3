"""YouTube-VIS instance masks: ``{"videos": [{"id", "width", "height", "length",
"file_names"}], "categories": [{"id", "name"}], "annotations": [{"id", "video_id",
"category_id", "segmentations": [one per frame, or null], "bboxes", "areas", "iscrowd"}]}``.

A segmentation is a compressed RLE (``{"size": [h, w], "counts": "<string>"}``), an uncompressed
one (``counts`` a list of ints) or polygons (``[[x1, y1, x2, y2, ...], ...]``); records always
hold the compressed string. Polygons are filled with Pillow's ``ImageDraw.polygon`` (fill and
outline 1) on the video's frame size: an approximation of pycocotools' ``frPyObjects``, which may
differ on boundary pixels. Compressed strings are kept as written (the QA decodes them).

As the ``ytvos`` API, only ``videos`` is required at the top (a test split has no
annotations). The video name is the folder part of the video's first file name, else its id as
text; an annotation of an unknown video id or category id is read as is (video name / label =
the id as text). An annotation's ``score`` (results files) is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vidlab.annotations import rle
from vidlab.annotations.formats.common import (
    by_video,
    dump_json,
    expect,
    integer,
    key,
    load_json,
    need,
    number,
    record,
)
from vidlab.annotations.schema import FormatError, RawRecord, VideoInfo

FMT = "youtube_vis"


def read_youtube_vis(path: Path) -> list[RawRecord]:
    """Masks of a YouTube-VIS JSON file: one record per annotation and non-null frame."""
    data = expect(load_json(path), dict, "top level", "the file")
    videos = _videos(expect(key(data, "videos", "top level"), list, "videos", "videos"))
    labels = {}
    for c, cat in enumerate(expect(data.get("categories", []), list, "top level", "categories")):
        at = f"categories[{c}]"
        expect(cat, dict, at, "a category")
        labels[integer(key(cat, "id", at), at, "id")] = expect(key(cat, "name", at), str, at,
                                                                 "name")
    records = []
    for a, ann in enumerate(expect(data.get("annotations", []), list, "top level", "annotations")):
        at = f"annotations[{a}]"
        expect(ann, dict, at, "an annotation")
        ann_id = integer(key(ann, "id", at), at, "id")
        video_id = integer(key(ann, "video_id", at), at, "video_id")
        cat_id = integer(key(ann, "category_id", at), at, "category_id")
        score = number(ann["score"], at, "score") if ann.get("score") is not None else None
        video, width, height = videos.get(video_id, (str(video_id), None, None))
        segs = expect(key(ann, "segmentations", at), list, at, "segmentations")
        for f, seg in enumerate(segs):
            if seg is None:
                continue
            where = f"{at}/segmentations[{f}]"
            counts, mask_h, mask_w = _segmentation(seg, width, height, where)
            records.append(record(
                FMT, video, where, label=labels.get(cat_id, str(cat_id)), frame=f,
                track_id=ann_id, mask=counts, mask_height=mask_h, mask_width=mask_w,
                score=score, width=width, height=height))
    return records


def _videos(entries: list) -> dict[int, tuple[str, int | None, int | None]]:
    videos = {}
    for v, entry in enumerate(entries):
        at = f"videos[{v}]"
        expect(entry, dict, at, "a video")
        video_id = integer(key(entry, "id", at), at, "id")
        size = [integer(entry[k], at, k) if entry.get(k) is not None else None
                for k in ("width", "height")]
        names = expect(entry.get("file_names") or [], list, at, "file_names")
        first = expect(names[0], str, at, "file_names[0]") if names else ""
        folder = first.replace("\\", "/").rpartition("/")[0]
        videos[video_id] = (folder or str(video_id), size[0], size[1])
    return videos


def _segmentation(seg: Any, width: int | None, height: int | None,
                  where: str) -> tuple[str, int, int]:
    """(compressed counts, mask height, mask width) of one frame's segmentation."""
    if isinstance(seg, dict):
        size = expect(key(seg, "size", where), list, where, "size")
        if len(size) != 2:
            raise FormatError(f"{where}: size must be [height, width].")
        h, w = (integer(s, where, "size") for s in size)
        counts = key(seg, "counts", where)
        if isinstance(counts, str):
            return counts, h, w
        counts = expect(counts, list, where, "counts")
        return rle.compress([integer(c, where, "counts") for c in counts]), h, w
    polygons = expect(seg, list, where, "a segmentation")
    if width is None or height is None:
        raise FormatError(f"{where}: polygons need their video's width and height.")
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for p, poly in enumerate(polygons):
        coords = [number(c, where, f"polygon {p}") for c in expect(poly, list, where, "polygon")]
        if len(coords) % 2:
            raise FormatError(f"{where}: polygon {p} has an odd number of coordinates.")
        if len(coords) >= 6:  # fewer than 3 points encloses nothing
            draw.polygon(coords, fill=1, outline=1)
    return rle.encode(np.asarray(canvas, dtype=bool)), height, width


def write_youtube_vis(records: list[RawRecord], out: Path,
                      videos: dict[str, VideoInfo]) -> list[Path]:
    """One JSON file. Videos get ids 1.. in order of first appearance, categories 1.. in label
    order; an annotation is a (video, track), its id the track id where those are unique in the
    file, else 1.. in order of first appearance. Frames without a record are null."""
    for i, rec in enumerate(records):
        need(rec, i, FMT, "frame", "track_id", "mask")
        if rec.frame < 0:
            raise FormatError(f"records[{i}]: frame {rec.frame} is before the first frame.")
    groups = by_video(records)
    names = sorted({r.label for r in records})
    cat_ids = {name: c for c, name in enumerate(names, start=1)}
    tracks: dict[tuple[str, int], list[RawRecord]] = {}
    for rec in records:
        tracks.setdefault((rec.video, rec.track_id), []).append(rec)
    unique = len({t for _, t in tracks}) == len(tracks)
    video_ids = {video: v for v, video in enumerate(groups, start=1)}
    lengths = {video: max(videos[video].frames, 1 + max(r.frame for r in recs))
               for video, recs in groups.items()}
    out_videos = [{"id": video_ids[video], "width": videos[video].width,
                   "height": videos[video].height, "length": lengths[video],
                   "file_names": [f"{video}/{i:05d}.jpg" for i in range(lengths[video])]}
                  for video in groups]
    annotations = []
    for n, ((video, track_id), recs) in enumerate(tracks.items(), start=1):
        if len({r.label for r in recs}) > 1:
            raise FormatError(f"youtube_vis: track {track_id} has several labels; an "
                              "annotation has one category.")
        segs: list[Any] = [None] * lengths[video]
        boxes: list[Any] = [None] * lengths[video]
        areas: list[Any] = [None] * lengths[video]
        info = videos[video]
        for r in recs:
            h = r.mask_height if r.mask_height is not None else info.height
            w = r.mask_width if r.mask_width is not None else info.width
            segs[r.frame] = {"size": [h, w], "counts": r.mask}
            box = rle.bbox(rle.decode(r.mask, h, w))
            boxes[r.frame] = [box[0], box[1], box[2] - box[0], box[3] - box[1]] if box else [
                0, 0, 0, 0]
            areas[r.frame] = rle.area(r.mask)
        annotations.append({"id": track_id if unique else n, "video_id": video_ids[video],
                            "category_id": cat_ids[recs[0].label], "segmentations": segs,
                            "bboxes": boxes, "areas": areas, "iscrowd": 0})
    data = {"videos": out_videos,
            "categories": [{"id": cat_ids[name], "name": name} for name in names],
            "annotations": annotations}
    return [dump_json(data, out)]
