"""The `score_task@<task>` stages: the classical baseline of one annotation task, scored.

The predictions `task_baselines` wrote (:mod:`vidlab.stages.task_baselines.stage`) go through the
same path as a user's file in `vidlab score` (read in their results layout, aligned, checked),
on each split of ``evaluate.splits``:

* every metric of the task (:mod:`vidlab.taskmetrics`), with percentile bootstrap intervals
  (``tasks.n_boot`` resamples at ``evaluate.ci``) over the split's subjects (a child's videos are
  drawn together) for the headline metrics; tracks and masks resample per-video sums, the rest
  are computed again on each resample;
* on the test split, the headline metrics under each perturbation of the baselines' robustness
  conditions, and their change from clean.

Writes ``<out>/<task>.json`` (everything, with the reason for every metric that is ``null``),
``<out>/<task>.metrics.json`` (every headline metric per split with its interval, and the
robustness changes: ``dvc metrics show reports/tasks/<task>.metrics.json``) and
``<out>/<task>.headline.json`` (the DVC metric: test videos and the task's main metric), and logs
the test scores, the intervals and the full result on an MLflow run ``classical-<task>``. A
task the annotations do not hold is written as not scored, with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.annotations.schema import TASKS
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text
from vidlab.data.usable import read_usable
from vidlab.taskmetrics import HEADLINE, MAIN, scoring

PARAMS = Declaration(
    "score_task",
    outputs=("base.seed", "annotations", "tasks.n_boot", "evaluate.splits", "evaluate.ci"),
    runtime=("tracking", "data.source", "data.csv"),
)
# per task: the headline metrics given bootstrap intervals
INTERVALS = {
    "segments": ("map", "map_50"),
    "boxes": ("map", "map_50"),
    "tracks": ("mota", "idf1", "hota"),
    "masks": ("j_and_f", "j_mean", "f_mean"),
    "captions": ("bleu_4", "rouge_l", "cider"),
}
MODEL = "classical_{task}"  # the MLflow model tag and run name


def run(params: Params, *, task: str, predictions: Path, annotations: Path, splits: Path,
        manifest: Path, quarantine: Path, metadata: Path | None, out: Path,
        root: Path | None = None) -> dict:
    """Score the baseline's predictions of ``task``; write and log the result."""
    params = PARAMS.view(params)
    if task not in TASKS:
        raise DataError(f"Unknown task {task!r}; expected one of {', '.join(TASKS)}.")
    predictions, out = Path(predictions), Path(out)
    made = json.loads((predictions / "summary.json").read_text())["tasks"].get(task)
    if made is None:
        result = {"task": task, "scored": False,
                  "reason": f"the annotations hold no {task} on annotated videos of the train "
                            "and evaluation splits, so there is no baseline to score"}
        _write(out, task, result, {})
        return result
    table = pd.read_parquet(annotations)
    split_table = pd.read_csv(splits, dtype=str, keep_default_na=False)
    subject_of = dict(zip(split_table["video_id"], split_table["subject_id"], strict=True))
    held = table[(table["task"] == task) & (table["source"] == made["truth_format"])]
    result: dict = {"task": task, "scored": True, "model": MODEL.format(task=task),
                    "format": made["format"], "truth_format": made["truth_format"],
                    "splits": {}, "robustness": {}}
    files = {name: predictions / entry["path"] for name, entry in made["conditions"].items()}

    usable, _ = read_usable(Path(manifest), Path(quarantine))

    def place(condition: str, split: str) -> scoring.Scored:
        made_any = made["conditions"][condition]["predictions"] > 0  # else: all missed
        return scoring.place(params, predictions=files[condition] if made_any else None,
                             fmt=made["format"],
                             split=split, annotations=annotations, splits=splits,
                             usable=usable, truth_format=made["truth_format"])

    clean: dict[str, dict] = {}
    for split in params.evaluate.splits:
        members = set(split_table.loc[split_table["split"] == split, "video_id"])
        if not held["video_id"].isin(members).any():
            result["splits"][split] = {"scored": False,
                                       "reason": f"no {task} annotations in the {split} split"}
            continue
        scored = place("clean", split)
        metrics = scoring.metrics(task, scored.truth, scored.predicted, scored.usable)
        clean[split] = metrics
        result["splits"][split] = scored.facts | {
            "scored": True, "metrics": metrics,
            "intervals": bootstrap(params, scored, metrics, subject_of)}
    if "test" in clean:
        for condition in made["conditions"]:
            if condition == "clean":
                continue
            scored = place(condition, "test")
            metrics = scoring.metrics(task, scored.truth, scored.predicted, scored.usable)
            result["robustness"][condition] = {
                name: {"value": _r(metrics.get(name)),
                       "change": _change(metrics.get(name), clean["test"].get(name))}
                for name in HEADLINE[task]}
    metrics = metrics_of(result)
    _write(out, task, result, metrics)
    _log_mlflow(params, task, result, metrics, out, Path(splits), metadata, root)
    return result


def metrics_of(result: dict) -> dict:
    """``<task>.metrics.json``: per scored split, each headline metric that has a value, with
    its interval; the robustness changes on test."""
    task = result["task"]
    out: dict = {}
    for split, entry in result["splits"].items():
        if not entry.get("scored"):
            continue
        row = {}
        for name in HEADLINE[task]:
            value = entry["metrics"].get(name)
            if value is None:
                continue
            row[name] = _r(value)
            interval = entry["intervals"].get(name) or {}
            if interval.get("low") is not None:
                row[f"{name}_low"], row[f"{name}_high"] = interval["low"], interval["high"]
        out[split] = row
    if result["robustness"]:
        out["robustness"] = {condition: {name: entry["change"] for name, entry in
                                         changes.items() if entry["change"] is not None}
                             for condition, changes in result["robustness"].items()}
    return out


def bootstrap(params: Params, scored: scoring.Scored, metrics: dict,
              subject_of: dict[str, str]) -> dict:
    """Percentile intervals of the task's interval metrics from resampling subjects."""
    task = scored.task
    names = INTERVALS[task]
    videos = sorted(set(scored.truth["video_id"]))
    subjects = sorted({subject_of.get(v, v) for v in videos})
    groups = {s: [v for v in videos if subject_of.get(v, v) == s] for s in subjects}
    n_boot = params.tasks.n_boot if len(subjects) > 1 else 0
    score = _resampler(task, scored, metrics)
    rng = np.random.default_rng([params.base.seed, TASKS.index(task)])
    draws: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(n_boot):
        chosen = [v for k in rng.integers(0, len(subjects), len(subjects))
                  for v in groups[subjects[k]]]
        for name, value in score(chosen).items():
            if name in draws and value is not None and math.isfinite(value):
                draws[name].append(float(value))
    tail = (1 - params.evaluate.ci) / 2 * 100
    out: dict = {"units": len(subjects), "resamples": n_boot, "level": params.evaluate.ci}
    for name in names:
        values = draws[name]
        enough = n_boot and len(values) >= max(1, n_boot // 2)
        low, high = np.percentile(values, [tail, 100 - tail]) if enough else (None, None)
        out[name] = {"value": _r(metrics.get(name)), "low": _r(low), "high": _r(high)}
    return out


def _resampler(task: str, scored: scoring.Scored, metrics: dict):
    """A function from a list of video ids (repeats allowed) to the interval metrics."""
    if task == "masks":
        by_video = metrics["by_video"]

        def masks(chosen: list[str]) -> dict:
            weight = sum(by_video[v]["objects"] for v in chosen)
            return {name: sum(by_video[v][name] * by_video[v]["objects"] for v in chosen)
                    / weight for name in ("j_mean", "f_mean", "j_and_f")} if weight else {}
        return masks
    if task == "tracks":
        from vidlab.taskmetrics.tracks import combine_units, track_units

        units = track_units(scored.truth, scored.predicted)

        def tracks(chosen: list[str]) -> dict:
            return combine_units([units[v] for v in chosen if v in units])
        return tracks
    truth = dict(iter(scored.truth.groupby("video_id")))
    predicted = dict(iter(scored.predicted.groupby("video_id")))

    def again(chosen: list[str]) -> dict:
        def copies(parts: dict) -> pd.DataFrame:
            frames = [parts[v].assign(video_id=f"{v}~{k}") for k, v in enumerate(chosen)
                      if v in parts]
            return pd.concat(frames, ignore_index=True) if frames else scored.predicted.iloc[:0]
        return scoring.metrics(task, copies(truth), copies(predicted), scored.usable)
    return again


def _write(out: Path, task: str, result: dict, metrics: dict) -> None:
    """The result, every headline metric (``<task>.metrics.json``) and the DVC headline: test
    videos and the task's main metric on test (:mod:`vidlab.contracts.headline`)."""
    out.mkdir(parents=True, exist_ok=True)
    test = result.get("splits", {}).get("test", {})
    headline = {"videos": test["videos"], "score": metrics["test"][MAIN[task]]} if (
        test.get("scored") and MAIN[task] in metrics.get("test", {})) else {}
    text = json.dumps(result, indent=2, default=scoring.plain) + "\n"
    atomic_write_text(out / f"{task}.json", text)
    atomic_write_text(out / f"{task}.metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_headline(out / f"{task}.headline.json", headline)


def _log_mlflow(params: Params, task: str, result: dict, metrics: dict, out: Path,
                splits: Path, metadata: Path | None, root: Path | None) -> None:
    """One MLflow run per task, under this pipeline run's parent (the data and processed-data
    fingerprints the models' runs carry): the headline metrics, their bounds, the JSON."""
    import mlflow

    from vidlab import tracking
    from vidlab.core.paths import project_root
    from vidlab.tracking.pipeline import DATA_OUTS, pipeline_run

    root = Path(root) if root is not None else project_root()
    pipe = pipeline_run(params, root, splits, root / DATA_OUTS[1], metadata)

    flat = {f"{split}_{name.replace('_low', '_lo').replace('_high', '_hi')}": value
            for split, row in metrics.items() if split != "robustness"
            for name, value in row.items()}
    flat |= {f"robust_{condition}_{name}_change": value
             for condition, row in metrics.get("robustness", {}).items()
             for name, value in row.items()}
    with tracking.start_run(params.tracking, run_name=MODEL.format(task=task),
                            fingerprint=pipe.dataset, processed=pipe.processed, root=root,
                            parent_run_id=pipe.parent,
                            tags={"vidlab.model": MODEL.format(task=task), "vidlab.task": task,
                                  tracking.NOTE: tracking.describe(
                                      f"Classical baseline of the {task} task, scored",
                                      "A floor to beat (vidlab.taskbaselines); the metrics are "
                                      "vidlab.taskmetrics', intervals over subjects.")}):
        mlflow.log_params({"task": task, "truth_format": result["truth_format"],
                           "tasks.n_boot": params.tasks.n_boot, "base.seed": params.base.seed})
        mlflow.log_metrics(flat)
        mlflow.log_artifact(str(out / f"{task}.json"), artifact_path="evaluation")


def _r(value) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), 4)


def _change(value, base) -> float | None:
    if value is None or base is None:
        return None
    return _r(value - base)

