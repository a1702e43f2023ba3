"""`vidlab score`: score a predictions file against the pinned annotations of one split.

The predictions are read in the formats the annotations stage reads (their results layouts:
:mod:`vidlab.annotations.formats.predictions`), named by the original file names (looked up in
ingest's private mapping, as the annotations stage does) or by the pseudonymous video ids, and
placed on the decoded frames by the same alignment (:mod:`vidlab.annotations.align`). The ground
truth is ``data/interim/annotations.parquet`` of the same task, restricted to the split's videos
in ``splits.csv``; predictions for videos of other splits are counted and left out.

A prediction that cannot be placed or scored stops the command before anything is written, with
the count per reason and the first positions in the file (never a file or video name): an unknown
video, a frame out of range, a box outside the frame, a missing score where the task ranks
predictions. A prediction dropped quietly would change the score.

The reading, alignment, checks and metrics are :mod:`vidlab.taskmetrics.scoring`'s; the
result is written as JSON to ``out``.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidlab.config import Params
from vidlab.core.fsutil import atomic_write_text
from vidlab.data.usable import read_usable
from vidlab.taskmetrics.scoring import check_request, metrics, place, plain


def run(params: Params, *, predictions: Path, fmt: str, split: str, annotations: Path,
        splits: Path, manifest: Path, quarantine: Path, out: Path,
        truth_format: str | None = None, mapping: Path | None = None) -> dict:
    """Score ``predictions`` (in ``fmt``) on ``split``; write and return the result.

    Args:
        truth_format: which export of the task is the ground truth where the annotations hold
            the task from several formats (default: ``fmt`` when it is one of them).
        mapping: ingest's private mapping (default: the one beside this dataset's key, where
            there is one; without it, predictions must name videos by their pseudonyms).

    Raises:
        DataError: for an unknown format or split, a file its format refuses, or predictions
            that cannot be scored (the message counts them per reason).
    """
    check_request(fmt, split)  # before any file is read
    usable, _ = read_usable(Path(manifest), Path(quarantine))
    scored = place(params, predictions=predictions, fmt=fmt, split=split,
                   annotations=annotations, splits=splits, usable=usable,
                   truth_format=truth_format, mapping=mapping)
    result = scored.facts | {"metrics": metrics(scored.task, scored.truth, scored.predicted,
                                                scored.usable)}
    atomic_write_text(Path(out), json.dumps(result, indent=2, default=plain) + "\n")
    return result
