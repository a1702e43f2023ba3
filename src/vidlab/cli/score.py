"""`vidlab score`: a predictions file against one split's annotations (task metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlab.cli.app import ParamsOption, SplitsOption, app, stage_command
from vidlab.core import paths


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
    annotations: Annotated[Path, typer.Option(help="The aligned annotations table.")] = (
        paths.INTERIM / "annotations.parquet"),
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    manifest: Annotated[Path, typer.Option(help="The manifest from probe.")] = (
        paths.INTERIM / "manifest.parquet"),
    quarantine: Annotated[Path, typer.Option(help="The merged quarantine from validate.")] = (
        paths.INTERIM / "quarantine.csv"),
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
