"""Model predictions, in the formats the field's evaluation tools read.

``read_predictions(fmt, path)`` gives raw records with ``score`` set where the task ranks
predictions. Where a format's results file differs from its annotation file, the results layout
is read here; elsewhere the annotation reader serves:

=========================  =====================================================================
format                     predictions file
=========================  =====================================================================
``activitynet``            ActivityNet results JSON: ``{"version", "results": {video: [{"label",
                           "score", "segment": [t0, t1]}]}}`` (what ActivityNet's
                           ``eval_detection.py`` reads; ``external_data`` is not read)
``ava``                    AVA detections CSV: ``video_id, timestamp, x1, y1, x2, y2, action_id,
                           score`` (8 fields; AVA's evaluation reads the 8th as the score)
``mot``                    MOTChallenge results: one ``<video>.txt`` or a folder of them, as
                           TrackEval reads a tracker's ``data/`` (``conf`` is the score)
``cvat``                   CVAT for video 1.1 XML (no scores: tracks are not ranked)
``youtube_vis``            YouTube-VIS JSON with a ``score`` per annotation
``davis``                  DAVIS palette-PNG folders (no scores)
``msrvtt``                 caption JSON, one caption per video
``activitynet_captions``   ActivityNet Captions JSON
=========================  =====================================================================

A file its format's tools would refuse raises :class:`FormatError` saying where (never a path or
a video name). A missing score is not a format error here: the scorer reports it per prediction.
"""

from __future__ import annotations

from pathlib import Path

from vidlab.annotations import formats
from vidlab.annotations.formats import ava
from vidlab.annotations.formats.activitynet import FMT as ACTIVITYNET
from vidlab.annotations.formats.activitynet import segment_of
from vidlab.annotations.formats.common import (
    by_video,
    dump_json,
    expect,
    fmt_number,
    key,
    load_json,
    number,
    parse_number,
    record,
)
from vidlab.annotations.schema import FORMATS, FormatError, RawRecord, VideoInfo
from vidlab.core.fsutil import atomic_write_text

# tasks whose metrics rank predictions by their score
RANKED = ("segments", "boxes")


def read_predictions(fmt: str, path: Path) -> list[RawRecord]:
    """The predictions in one file (or folder), in file order (see the module docstring)."""
    if fmt not in FORMATS:
        raise FormatError(f"Unknown predictions format {fmt!r}; known formats: "
                          f"{', '.join(FORMATS)}.")
    path = Path(path)
    if not path.exists():
        raise FormatError("the predictions file or folder does not exist.")
    if fmt == "activitynet":
        return _activitynet_results(path)
    if fmt == "ava":
        return _ava_detections(path)
    if fmt == "mot" and path.is_dir() and not any(p.is_dir() for p in path.iterdir()):
        return _mot_results(path)
    return formats.read(fmt, path)


def _mot_results(folder: Path) -> list[RawRecord]:
    """A folder of MOTChallenge results files, one per video (named by its stem)."""
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise FormatError("no MOTChallenge results here: expected one <video>.txt per video.")
    records = []
    for i, path in enumerate(files):
        for item in formats.read("mot", path):
            item.where = f"file[{i}]/{item.where}"
            records.append(item)
    return records


def _activitynet_results(path: Path) -> list[RawRecord]:
    data = expect(load_json(path), dict, "top level", "the file")
    results = expect(key(data, "results", "top level"), dict, "results", "the results")
    records = []
    for v, (video, entries) in enumerate(results.items()):
        at = f"results/video[{v}]"
        expect(entries, list, at, "a video's predictions")
        for p, entry in enumerate(entries):
            where = f"{at}/prediction[{p}]"
            fields = segment_of(entry, where, "a prediction")
            score = entry.get("score")
            records.append(record(ACTIVITYNET, video, where, **fields,
                                  score=None if score is None else number(score, where, "score")))
    return records


def _ava_detections(path: Path) -> list[RawRecord]:
    expected = "8 fields (video, timestamp, x1, y1, x2, y2, action_id, score)"
    return [record("ava", fields[0], where, **common,
                   score=parse_number(fields[7], where, "score")
                   if len(fields) == 8 and fields[7] else None)
            for where, fields, common in ava.parse_rows(path, expected)]


# task -> the format its predictions are written in by write_predictions
WRITTEN = {"segments": "activitynet", "boxes": "ava", "tracks": "mot", "masks": "youtube_vis",
           "captions": "msrvtt"}


def write_predictions(task: str, records: list[RawRecord], out: Path,
                      videos: dict[str, VideoInfo], fmt: str | None = None) -> tuple[str, Path]:
    """Write ``records`` (one task's predictions, labels as the format exports them, videos
    named as they will be looked up) in the results layout :func:`read_predictions` reads.

    ``out`` is a folder, created if needed: ``segments.json`` (ActivityNet results),
    ``boxes.csv`` (AVA detections, corners normalised by ``videos``' sizes), ``tracks/``
    (a MOTChallenge results file per video), ``masks.json`` (YouTube-VIS) or ``captions.json``
    (MSR-VTT); masks in ``fmt="davis"``: ``masks/``, palette PNGs, whose object ids are per
    video (YouTube-VIS keeps a track id only where it is unique in the file). Returns the format
    and the path to score.
    """
    fmt = fmt or WRITTEN[task]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if task == "segments":
        results: dict[str, list] = {}
        for rec in records:
            results.setdefault(rec.video, []).append(
                {"label": rec.label, "score": rec.score, "segment": [rec.t0, rec.t1]})
        return fmt, dump_json({"version": "VERSION 1.3", "results": results,
                               "external_data": {"used": False}}, out / "segments.json")
    if task == "boxes":
        lines = []
        for rec in records:
            info = videos[rec.video]
            corners = (rec.x1 / info.width, rec.y1 / info.height, rec.x2 / info.width,
                       rec.y2 / info.height)
            lines.append(",".join([rec.video, fmt_number(rec.t0), *map(fmt_number, corners),
                                   rec.label, fmt_number(rec.score)]))
        path = out / "boxes.csv"
        atomic_write_text(path, "".join(f"{line}\n" for line in lines))
        return fmt, path
    if task == "tracks":
        folder = out / "tracks"
        folder.mkdir(exist_ok=True)
        for video, recs in by_video(records).items():
            text = "".join(
                f"{r.frame + 1},{r.track_id},{fmt_number(r.x1)},{fmt_number(r.y1)},"
                f"{fmt_number(r.x2 - r.x1)},{fmt_number(r.y2 - r.y1)},{fmt_number(r.score)},"
                "-1,-1,-1\n" for r in recs)
            atomic_write_text(folder / f"{video}.txt", text)
        return fmt, folder
    if fmt == "davis":
        formats.write(fmt, records, out / "masks", videos)
        return fmt, out / "masks"
    if task == "masks":
        return fmt, formats.write(fmt, records, out / "masks.json", videos)[0]
    return fmt, formats.write(fmt, records, out / "captions.json", videos)[0]
