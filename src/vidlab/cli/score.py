"""`vidlab score`: a predictions file against one split's annotations (task metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlab.cli.app import (
    ManifestOption,
    MergedQuarantineOption,
    MetadataOption,
    ParamsOption,
    SplitsOption,
    app,
    stage_command,
)
from vidlab.core import paths

AnnotationsOption = Annotated[Path, typer.Option("--annotations",
                                                 help="The aligned annotations table.")]

@app.command()
@stage_command
def score(
    predictions: Annotated[Path, typer.Argument(help="The predictions file (or folder).")],
    fmt: Annotated[str, typer.Option("--format", help=(
        "Its format: activitynet (results JSON), ava (detections CSV with scores), mot "
        "(results text), cvat, youtube_vis, davis, msrvtt, activitynet_captions."))],
    split: Annotated[str, typer.Option(help="The split to score on: train, val or test.")] = (
        "test"),
    truth_format: Annotated[str | None, typer.Option(help=(
        "The export that is the ground truth, where the annotations hold the task in several "
        "formats (default: --format when it is one of them)."))] = None,
    annotations: AnnotationsOption = paths.INTERIM / "annotations.parquet",
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    out: Annotated[Path, typer.Option(help="The JSON result to write.")] = (
        paths.REPORTS / "score.json"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Score a predictions file against the annotations of one split (the task's metrics)."""
    from vidlab import config as params_mod
    from vidlab.stages.score import stage as score_mod

    result = score_mod.run(params_mod.load(params_file), predictions=predictions, fmt=fmt,
                           split=split, annotations=annotations, splits=splits,
                           manifest=manifest, quarantine=quarantine, out=out,
                           truth_format=truth_format)
    shown = {k: v for k, v in result["metrics"].items()
             if isinstance(v, float | int) or (k in ("meteor", "spice") and v is None)}
    typer.echo(f"score {result['task']} ({result['format']} vs {result['truth_format']}) on "
               f"{result['split']}: {result['predictions']} prediction(s), {result['videos']} "
               f"video(s) -> {out}")
    for name, value in shown.items():
        shown_value = "unavailable" if value is None else (
            value if isinstance(value, int) else round(float(value), 4))
        typer.echo(f"  {name}: {shown_value}")
    for name, why in result["metrics"].get("undefined", {}).items():
        typer.echo(f"  {name} not computed: {why}")
    if result["outside_split"]:
        typer.echo(f"  {result['outside_split']} prediction(s) for videos outside the "
                   f"{result['split']} split were left out")


@app.command("task-baselines")
@stage_command
def task_baselines(
    annotations: AnnotationsOption = paths.INTERIM / "annotations.parquet",
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    out: Annotated[Path, typer.Option(help="Folder for the predictions.")] = (
        paths.REPORTS / "tasks" / "predictions"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Predict every annotation task with its classical baseline (clean and perturbed)."""
    from vidlab import config as params_mod
    from vidlab.stages.task_baselines import stage as baselines

    summary = baselines.run(params_mod.load(params_file), annotations=annotations,
                            splits=splits, manifest=manifest, quarantine=quarantine, out=out)
    made = ", ".join(f"{task} {count}" for task, count in baselines.counts(summary).items())
    typer.echo(f"task-baselines: fitted on {summary['train_videos']} training video(s), "
               f"predicted {summary['evaluated_videos']} ({made or 'no task annotated'}) "
               f"-> {out}")


@app.command("score-task")
@stage_command
def score_task(
    task: Annotated[str, typer.Option(help="segments, boxes, tracks, masks or captions.")],
    predictions: Annotated[Path, typer.Option(help="The task-baselines folder.")] = (
        paths.REPORTS / "tasks" / "predictions"),
    annotations: AnnotationsOption = paths.INTERIM / "annotations.parquet",
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    out: Annotated[Path, typer.Option(help="Folder for <task>.json and "
                                           "<task>.headline.json.")] = paths.REPORTS / "tasks",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Score the classical baseline of one annotation task, with intervals and robustness."""
    from vidlab import config as params_mod
    from vidlab.stages.score_task import stage as tasks

    result = tasks.run(params_mod.load(params_file), task=task, predictions=predictions,
                       annotations=annotations, splits=splits, manifest=manifest,
                       quarantine=quarantine, metadata=metadata, out=out)
    if not result["scored"]:
        typer.echo(f"score-task {task}: not scored ({result['reason']}) -> {out}")
        return
    for split, entry in result["splits"].items():
        if not entry["scored"]:
            typer.echo(f"score-task {task} on {split}: not scored ({entry['reason']})")
            continue
        values = entry["metrics"]
        shown = ", ".join(f"{name} {values[name]}" if isinstance(values[name], int) else
                          f"{name} {values[name]:.3f}" for name in tasks.HEADLINE[task]
                          if values.get(name) is not None)
        typer.echo(f"score-task {task} on {split} ({entry['videos']} video(s)): {shown}")
        for name in tasks.HEADLINE[task]:
            if values.get(name) is None:
                why = values.get("undefined", {}).get(name, "undefined")
                typer.echo(f"  {name} unavailable: {why}")
    typer.echo(f"  -> {out / f'{task}.json'}")
