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
from vidlab.annotations.formats.common import expect, key, load_json, number, parse_number, record
from vidlab.annotations.schema import FORMATS, FormatError, RawRecord

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
