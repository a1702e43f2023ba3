"""Commands of the model stages: train, sanity, classical, evaluate, compare."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlab.cli.app import (
    ClipsOption,
    MetadataOption,
    ParamsOption,
    SplitsOption,
    app,
    stage_command,
)
from vidlab.core import paths


@app.command()
@stage_command
def train(
    model: Annotated[str, typer.Option(help="center_frame, pool2d or r2plus1d.")],
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    clips: ClipsOption = paths.PROCESSED / "clips",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    out: Annotated[Path | None, typer.Option(help="Folder for model.pt and metrics.json "
                                                  "(default: models/<model>).")] = None,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Train one baseline with Lightning; log it to MLflow; keep the best state dict."""
    from vidlab import config as params_mod
    from vidlab.stages.train import stage as train_mod

    folder = out or paths.MODELS / model
    result = train_mod.run(params_mod.load(params_file), model=model, splits=splits,
                           clips=clips, out=folder, metadata=metadata)
    if result.get("rank"):  # a DDP worker: rank zero reports
        return
    best = {k: v for k, v in result.items() if k.startswith("best_")}
    typer.echo(f"train {model}: {best} after {result['epochs']} epoch(s) -> {folder}; "
               f"MLflow run {result['run_id']}")


@app.command()
@stage_command
def sanity(
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    clips: ClipsOption = paths.PROCESSED / "clips",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    models: Annotated[Path, typer.Option(help="Folder of <model>/model.pt (from train).")] = (
        paths.MODELS),
    report: Annotated[Path, typer.Option(help="The JSON report to write.")] = paths.REPORTS
    / "sanity.json",
    out: Annotated[Path, typer.Option(help="Folder for the Grad-CAM figures.")] = paths.REPORTS
    / "sanity",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Label-shuffle and overfit checks per model, and Grad-CAM figures; fail on a failed check."""
    from vidlab import config as params_mod
    from vidlab.stages.sanity import stage as sanity_mod

    result = sanity_mod.run(params_mod.load(params_file), splits=splits, clips=clips,
                            models=models, report=report, out=out, metadata=metadata)
    for model, entry in result["models"].items():
        shuffle, overfit = entry["label_shuffle"], entry["overfit"]
        said = (f"val {shuffle['val_video_acc']:.2f} (chance {shuffle['chance']:.2f}, range "
                f"{shuffle['range']})" if "val_video_acc" in shuffle else "not run")
        typer.echo(f"sanity {model}: label shuffle {said} {shuffle['status']}; overfit "
                   f"{overfit['clips']} clips {overfit['train_acc']:.2f} (colour statistics "
                   f"alone {overfit['trivial_stats_acc']:.2f}) {overfit['status']}")
    for reason in result["not_proven"]:
        typer.echo(f"  not proven: {reason}")
    if result["failures"]:  # only reached with sanity.fail: false
        typer.echo(f"{len(result['failures'])} sanity check(s) failed; see {report}.", err=True)


@app.command()
@stage_command
def classical(
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    clips: ClipsOption = paths.PROCESSED / "clips",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    out: Annotated[Path, typer.Option(help="Folder for model.pt and metrics.json.")] = (
        paths.MODELS / "classical"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Fit the classical-feature baseline (colour histograms, motion energy, logistic
    regression); evaluate it with `vidlab evaluate --model classical`."""
    from vidlab import config as params_mod
    from vidlab.stages.classical import stage as classical_mod

    result = classical_mod.run(params_mod.load(params_file), splits=splits, clips=clips, out=out,
                               metadata=metadata)
    typer.echo(f"classical: {result['features']} features of {result['train_clips']} train clips; "
               f"train video acc {result['train_video_acc']}, val video acc "
               f"{result['val_video_acc']} -> {out}; MLflow run {result['run_id']}")


@app.command()
@stage_command
def evaluate(
    model: Annotated[str, typer.Option(help="center_frame, pool2d, r2plus1d or classical.")],
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    clips: ClipsOption = paths.PROCESSED / "clips",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    weights: Annotated[Path | None, typer.Option(help="The state dict (default: "
                                                     "models/<model>/model.pt).")] = None,
    reports: Annotated[Path, typer.Option(help="Reports folder: predictions/, metrics/, "
                                               "plots/ go under it.")] = paths.REPORTS,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Metrics with bootstrap intervals, per subgroup and under perturbations; predictions."""
    from vidlab import config as params_mod
    from vidlab.models.scoring import cell
    from vidlab.stages.evaluate import stage as evaluate_mod

    result = evaluate_mod.run(params_mod.load(params_file), model=model, splits=splits,
                              clips=clips, weights=weights or paths.MODELS / model / "model.pt",
                              reports=reports, metadata=metadata)
    for split in ("val", "test"):
        if split in result:
            score = result[split]["video"]
            typer.echo(f"evaluate {model} {split}: video acc {cell(score['acc'])}, "
                       f"macro F1 {cell(score['macro_f1'])}, AUROC "
                       f"{cell(score['auroc'])}")


@app.command()
@stage_command
def compare(
    metrics: Annotated[Path, typer.Option(help="Folder of <model>.json (from evaluate).")] = (
        paths.REPORTS / "metrics"),
    models: Annotated[list[str] | None, typer.Option("--model", help="Models, in order "
                                                      "(repeat the option).")] = None,
    out: Annotated[Path, typer.Option(help="The Markdown table.")] = paths.REPORTS
    / "models.md",
    tasks: Annotated[Path | None, typer.Option(help="Folder of <task>.json (from score-task): "
                                                    "a table per annotation task.")] = None,
) -> None:
    """A Markdown table comparing the evaluated models (and the annotation tasks' baselines)."""
    from vidlab.models.registry import EVALUATED
    from vidlab.stages.compare import stage as compare_stage

    typer.echo(compare_stage.run(metrics, list(models or EVALUATED), out, tasks), nl=False)
