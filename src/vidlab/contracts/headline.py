"""The headline numbers DVC shows: a few shared names, so that ``dvc metrics show`` is one narrow
table (DVC prints one column per distinct key over all metric files, sorted by name).

Stages (probe, validate, dedup, split, clips, sanity) write ``videos`` and ``flagged``; each
evaluated model writes its video-level scores, the test split's with their bootstrap interval::

    videos    videos the stage worked on
    flagged   videos (or checks, for sanity) it set aside or marked for review
    val_acc   validation video accuracy (val_lo, val_hi: its interval)
    acc       test video accuracy (acc_lo, acc_hi)
    f1        test macro F1 (f1_lo, f1_hi)
    auc       test AUROC (auc_lo, auc_hi)

Each annotation task's classical baseline (``reports/tasks/<task>.headline.json``) writes
``videos`` (test videos scored) and ``score``: its task's main metric on test (segments: mAP over
tIoU 0.5:0.95; boxes: COCO mAP@[.5:.95]; tracks: HOTA; masks: J&F; captions: CIDEr-D). Every
metric of a task, per split with intervals, is in ``reports/tasks/<task>.metrics.json``, which
``dvc metrics show reports/tasks/<task>.metrics.json`` shows.

No stage reads these files; the full detail stays in each stage's JSON reports. They are not
contracts between stages, so they are not in the registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from vidlab.core.fsutil import atomic_write_text

STAGE_KEYS = ("videos", "flagged", "score")
MODEL_KEYS = ("val_acc", "val_lo", "val_hi", "acc", "acc_lo", "acc_hi", "f1", "f1_lo", "f1_hi",
              "auc", "auc_lo", "auc_hi")
# (metric in reports/metrics/<model>.json, split, headline prefix)
MODEL_SCORES = (("acc", "val", "val"), ("acc", "test", "acc"), ("macro_f1", "test", "f1"),
                ("auroc", "test", "auc"))


class Headline(BaseModel):
    """A headline file: only the shared names, numbers only (DVC shows nothing else well)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    videos: int | None = None
    flagged: int | None = None
    score: float | None = None
    val_acc: float | None = None
    val_lo: float | None = None
    val_hi: float | None = None
    acc: float | None = None
    acc_lo: float | None = None
    acc_hi: float | None = None
    f1: float | None = None
    f1_lo: float | None = None
    f1_hi: float | None = None
    auc: float | None = None
    auc_lo: float | None = None
    auc_hi: float | None = None


def model_headline(result: dict) -> dict[str, float]:
    """The headline of an evaluated model from its full metrics (``reports/metrics/<m>.json``):
    video level, val accuracy and the test scores with their interval bounds; a split not
    evaluated or a score not defined (AUROC of a one-class split) is left out."""
    out: dict[str, float] = {}
    for metric, split, prefix in MODEL_SCORES:
        score = result.get(split, {}).get("video", {}).get(metric)
        if not isinstance(score, dict):
            continue
        for part, suffix in (("value", ""), ("low", "_lo"), ("high", "_hi")):
            key = f"{prefix}{suffix}" if prefix != "val" or suffix else "val_acc"
            if score.get(part) is not None:
                out[key] = score[part]
    return out


def headline_path(report: Path) -> Path:
    """The headline beside a stage's one report file: ``reports/sanity.json`` ->
    ``reports/sanity.headline.json``."""
    return Path(report).with_suffix(".headline.json")


def write_headline(path: Path, values: dict[str, float | int], *, atomic: bool = True) -> None:
    """Write ``values`` (shared names only) as the headline JSON file ``path``.

    Raises:
        ValueError: a name outside the shared ones, or a value that is not a number (a bug in
            the stage, not in the data).
    """
    try:
        Headline.model_validate(values)
    except ValidationError as exc:
        raise ValueError(f"{Path(path).name}: not a headline ({exc.errors()[0]['msg']}); "
                         f"use only {', '.join(STAGE_KEYS + MODEL_KEYS)}") from None
    order = [k for k in STAGE_KEYS + MODEL_KEYS if k in values]
    text = json.dumps({k: values[k] for k in order}, indent=2) + "\n"
    if atomic:
        atomic_write_text(Path(path), text)
    else:
        Path(path).write_text(text, encoding="utf-8", newline="\n")
