"""Commands of what people read: eda, card, release; the MLflow UI; params."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlab.cli.app import (
    ClipsOption,
    DuplicatesOption,
    ManifestOption,
    MergedQuarantineOption,
    MetadataOption,
    ParamsOption,
    SplitsOption,
    app,
    stage_command,
)
from vidlab.core import paths


@app.command()
@stage_command
def eda(
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    duplicates: DuplicatesOption = paths.INTERIM / "duplicates.json",
    clips: ClipsOption = paths.PROCESSED / "clips",
    annotations: Annotated[Path, typer.Option(help="The aligned annotations table; a section "
                                                  "per annotation task (statistics, overlays, "
                                                  "GIFs). Missing: no annotation views.")] = (
        paths.INTERIM / "annotations.parquet"),
    quality: Annotated[Path, typer.Option(help="The probe's per-frame quality series (the "
                                              "quality section's time plots).")] = (
        paths.INTERIM / "quality.parquet"),
    weights: Annotated[Path | None, typer.Option(help="State dict of eda.embedding_model "
                                                     "(default: models/<it>/model.pt).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the views and index.html.")] = (
        paths.REPORTS / "eda"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Exploratory views: distributions, outliers, contact sheets, GIFs, preprocessing and
    augmentation panels, t-SNE maps, and per annotation task its statistics, overlays and GIFs;
    all on one HTML page."""
    from vidlab import config as params_mod
    from vidlab.stages.eda import stage as eda_mod

    loaded = params_mod.load(params_file)
    chosen = weights or paths.MODELS / loaded.eda.embedding_model / "model.pt"
    summary = eda_mod.run(loaded, manifest=manifest, splits=splits, quarantine=quarantine,
                          duplicates=duplicates, clips=clips, weights=chosen, out=out,
                          metadata=metadata, annotations=annotations, series=quality)
    if summary["annotations"]:
        shown = "annotations: " + ", ".join(summary["annotations"])
    else:  # not an error: a dataset without annotations has no annotation views
        shown = (f"no annotation views: {annotations} "
                 f"{'has no rows' if annotations.is_file() else 'not found'}")
    typer.echo(f"eda: {len(summary['figures'])} figures ({shown}) -> {out / 'index.html'}")


@app.command()
@stage_command
def card(
    reports: Annotated[Path, typer.Option(help="The reports folder the other stages wrote.")] = (
        paths.REPORTS),
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    duplicates: DuplicatesOption = paths.INTERIM / "duplicates.json",
    lock: Annotated[Path, typer.Option(help="dvc.lock (data hashes).")] = Path("dvc.lock"),
    clips: Annotated[Path, typer.Option(help="The clips cache (read for frozen clips).")] = (
        paths.PROCESSED / "clips"),
    models: Annotated[list[str] | None, typer.Option("--model", help="Evaluated models, in "
                                                      "order (repeat the option).")] = None,
    out: Annotated[Path, typer.Option(help="The dataset card.")] = (paths.REPORTS
                                                                    / "DATASET_CARD.md"),
    readiness: Annotated[Path, typer.Option(help="The readiness JSON (the .md goes beside "
                                                 "it).")] = paths.REPORTS / "readiness.json",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """The dataset card and the Go/No-Go readiness checklist, from the pipeline's outputs."""
    from vidlab import config as params_mod
    from vidlab.core.paths import project_root
    from vidlab.models.registry import EVALUATED
    from vidlab.stages.card import stage as card_mod

    result = card_mod.run(params_mod.load(params_file), root=project_root(), reports=reports,
                          manifest=manifest, splits=splits, metadata=metadata,
                          duplicates=duplicates, lock=lock, models=list(models or EVALUATED),
                          card=out, readiness_json=readiness, clips=clips)
    for item in result["items"]:
        typer.echo(f"  {item['state']:<10} {item['id']}: {item['why']}")
    typer.echo(f"card: readiness {result['verdict']} -> {out}, {readiness.with_suffix('.md')}")


@app.command()
@stage_command
def release(
    version: Annotated[str, typer.Argument(help="The version, which becomes a git tag (v1.0).")],
    remote: Annotated[str | None, typer.Option(help="DVC remote to push to (default: the "
                                                    "default remote).")] = None,
    allow_nogo: Annotated[bool, typer.Option("--allow-nogo", help="Release although readiness "
                                             "is No-Go (the tag says so).")] = False,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Pin this dataset version: check the workspace is clean and reproduced, push the data,
    write CITATION.cff, tag the commit, and print how others get exactly this version."""
    from vidlab import config as params_mod
    from vidlab.core.paths import project_root
    from vidlab.stages.release import stage as release_mod

    info = release_mod.release(params_mod.load(params_file), version, root=project_root(),
                               allow_nogo=allow_nogo, remote=remote)
    typer.echo(info["instructions"])


@app.command()
@stage_command
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Start the MLflow UI on 127.0.0.1 against the project's tracking store (Ctrl-C stops)."""
    import os
    import sys

    from vidlab import config as params_mod
    from vidlab import tracking

    params = params_mod.load(params_file).tracking
    uri = tracking.tracking_uri(params)
    command = tracking.server_command(uri, port=port)
    typer.echo(f"MLflow UI for {uri}; open {tracking.ui_url(params, port=port)} for the "
               "training runs (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execv(command[0], command)  # the server takes over this process (signals go to it)


if __name__ == "__main__":  # pragma: no cover
    app()


@app.command("params")
@stage_command
def params_cmd(params_file: ParamsOption = paths.PARAMS_FILE) -> None:
    """Validate params.yaml and print the resolved values of every section."""

    import yaml

    from vidlab import config as params_mod

    loaded = params_mod.load(params_file)
    typer.echo(yaml.safe_dump(loaded.model_dump(mode="json"), sort_keys=False), nl=False)
