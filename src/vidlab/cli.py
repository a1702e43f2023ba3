"""The `vidlab` command line: one thin command per pipeline stage.

Commands only parse options, load params, call the stage's ``run`` and turn domain errors into a
clear message and exit code 2. Heavy libraries (torch, Lightning, MLflow, Great Expectations) are
imported inside the commands that need them, so `vidlab --help` starts fast.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from vidlab import __version__, paths

log = logging.getLogger("vidlab")

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="vidlab",
    help="Data-versioned experiments on annotated video datasets. Each command is one DVC stage; "
    "run the whole pipeline with `dvc repro`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ParamsOption = Annotated[
    Path, typer.Option("--params", help="The params file to read.", dir_okay=False)
]
# Inputs several stages read, declared once (the option name comes from the parameter's name).
MetadataOption = Annotated[Path, typer.Option(help="De-identified metadata CSV (from ingest).")]
ManifestOption = Annotated[Path, typer.Option(help="The probe manifest.")]
MergedQuarantineOption = Annotated[
    Path, typer.Option(help="Merged quarantine CSV (from validate).")
]
SplitsOption = Annotated[Path, typer.Option(help="splits.csv (from split).")]
ClipsOption = Annotated[Path, typer.Option(help="The clips cache (from clips).")]
DuplicatesOption = Annotated[Path, typer.Option(help="duplicates.json (from dedup).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vidlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and errors; no progress bars.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Data-versioned experiments on annotated video datasets."""
    from vidlab import progress

    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    # vidlab's own INFO lines; libraries (Great Expectations alone logs 200 INFO lines on
    # import) only from WARNING up, unless --verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("vidlab").setLevel(level)
    if not verbose:  # libraries that set their own loggers' levels still stay quiet
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda record: record.levelno >= logging.WARNING
                              or record.name.split(".")[0] == "vidlab")
    progress.set_quiet(quiet)


def _stage(func: F) -> F:
    """Run a command inside the error boundary (:mod:`vidlab.boundary`): every failure becomes
    `Error: ...` on stderr and exit code 2 (130 on Ctrl-C), never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from vidlab import boundary, fsutil

        with boundary.guard(func.__name__.removesuffix("_cmd"),
                            lambda text: typer.echo(text, err=True)):
            # a stage killed while publishing its outputs left a journal: finish it first, so
            # this command reads one run's outputs, never a mix
            fsutil.finish_pending(paths.project_root())
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@app.command("params")
@_stage
def params_cmd(params_file: ParamsOption = paths.PARAMS_FILE) -> None:
    """Validate params.yaml and print the resolved values of every section."""
    import dataclasses

    import yaml

    from vidlab import params as params_mod

    loaded = params_mod.load(params_file)
    typer.echo(yaml.safe_dump(dataclasses.asdict(loaded), sort_keys=False), nl=False)


@app.command()
@_stage
def demo(
    out: Annotated[Path, typer.Option(help="Output folder of the demo dataset.")] = paths.DEMO,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Generate the synthetic demo dataset: videos, metadata.csv and the faults.json answer key."""
    from vidlab import params as params_mod
    from vidlab.demo import generate

    loaded = params_mod.load(params_file)
    if loaded.data.source != "demo":
        generate.skip(out, reason=f"data.source is {loaded.data.source!r}")
        typer.echo(f"demo: skipped ({loaded.data.source!r} data); wrote a marker to {out}")
        return
    summary = generate.run(loaded.demo, seed=loaded.base.seed, out=out)
    typer.echo(
        f"demo: {summary['files']} files, {summary['rows']} CSV rows, "
        f"{summary['faults']} planted faults -> {out}"
    )


@app.command()
@_stage
def ingest(
    csv: Annotated[Path | None, typer.Option(help="Metadata CSV (default: data.csv).")] = None,
    videos: Annotated[
        Path | None, typer.Option(help="Folder the CSV's file names are in (default: data.videos).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the de-identified data.")] = paths.INTERIM,
    reports: Annotated[
        Path, typer.Option(help="Folder for the leak verification and counts.")
    ] = paths.REPORTS / "deidentify",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the original -> pseudonym mapping; write nothing."),
    ] = False,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Read the metadata CSV, quarantine bad rows, de-identify every video and verify no leak."""
    from vidlab import boundary
    from vidlab import params as params_mod
    from vidlab.ingest import stage

    loaded = params_mod.load(params_file)
    csv_path = csv or Path(loaded.data.csv)
    video_dir = videos or Path(loaded.data.videos)
    boundary.register_folder(video_dir)  # no original name in any message or log from here on
    counts = stage.run(loaded, csv_path=csv_path, videos=video_dir, out=out, reports=reports,
                       dry_run=dry_run)
    if dry_run:
        for original, pseudo in sorted(counts["mapping"].items()):
            typer.echo(f"{original} -> {pseudo}")
        typer.echo(f"(dry run: {len(counts['mapping'])} videos; nothing was written)")
        return
    typer.echo(
        f"ingest: {counts['usable_videos']} of {counts['rows_read']} rows usable, "
        f"{counts['problems']} problem(s) quarantined -> {out / 'quarantine_ingest.csv'}"
    )


@app.command()
@_stage
def report(
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    quarantine: Annotated[
        Path, typer.Option(help="Quarantine CSV to summarise in the quality checks.")
    ] = paths.INTERIM / "quarantine_ingest.csv",
    duplicates: Annotated[Path | None, typer.Option(
        help="duplicates.json (from dedup) for the duplicate counts; left out, they are not "
             "reported.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the summary files.")] = paths.REPORTS
    / "summary",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Write the dataset summary: distributions, cross-tabs, ASCII bars, JSON, Markdown, charts."""
    from vidlab import params as params_mod
    from vidlab.analytics import report as report_mod
    from vidlab.tracking import data_version_of

    loaded = params_mod.load(params_file)
    summary = report_mod.run(params=loaded, metadata_csv=metadata, quarantine_csv=quarantine,
                             out=out, fingerprint=data_version_of(metadata) or "",
                             duplicates_json=duplicates)
    typer.echo(f"report: {summary['total_videos']} videos summarised -> {out}")


@app.command()
@_stage
def probe(
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    videos: Annotated[Path, typer.Option(help="De-identified videos.")] = paths.INTERIM / "videos",
    manifest: Annotated[Path, typer.Option(help="Manifest to write.")] = paths.INTERIM
    / "manifest.parquet",
    normalized: Annotated[
        Path, typer.Option(help="Folder for CFR re-encodes (probe.normalize: cfr).")
    ] = paths.INTERIM / "normalized",
    reports: Annotated[Path, typer.Option(help="Folder for the probe summary.")] = paths.REPORTS
    / "probe",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Probe and fully decode every video into the manifest, each file in its own process."""
    from vidlab import params as params_mod
    from vidlab.quality import manifest as manifest_mod

    loaded = params_mod.load(params_file)
    summary = manifest_mod.run(loaded, metadata_csv=metadata, videos=videos, manifest=manifest,
                               normalized=normalized, reports=reports)
    bad = {k: v for k, v in summary["by_status"].items() if k != "ok"}
    typer.echo(f"probe: {summary['ok']} of {summary['videos']} videos ok"
               + (f", problems {bad}" if bad else "")
               + (f", warnings {summary['warnings']}" if summary["warnings"] else "")
               + f" -> {manifest}")


@app.command()
@_stage
def validate(
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    ingest_quarantine: Annotated[
        Path, typer.Option(help="Ingest's quarantine CSV.")
    ] = paths.INTERIM / "quarantine_ingest.csv",
    ingest_report: Annotated[
        Path, typer.Option(help="Ingest's counts (rows read, quarantined).")
    ] = paths.REPORTS / "deidentify" / "ingest.json",
    suites: Annotated[Path, typer.Option(help="Folder of suite JSON files.")] = Path(
        "expectations"),
    quarantine: Annotated[
        Path, typer.Option(help="Merged quarantine CSV to write.")
    ] = paths.INTERIM / "quarantine.csv",
    reports: Annotated[
        Path, typer.Option(help="Folder for summary, results and Data Docs.")
    ] = paths.REPORTS / "validation",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Run the Great Expectations suites; quarantine failing rows; stop on blocking failures."""
    from vidlab import params as params_mod
    from vidlab.quality import validate as validate_mod

    loaded = params_mod.load(params_file)
    summary = validate_mod.run(loaded, metadata_csv=metadata, manifest=manifest,
                               ingest_quarantine=ingest_quarantine, ingest_report=ingest_report,
                               suites=suites, quarantine=quarantine, reports=reports)
    validate_mod.print_summary(summary, typer.echo)
    docs = reports / "docs" / "index.html"
    typer.echo(f"  results: {reports / 'index.html'} (Data Docs: {docs})")


@app.command()
@_stage
def dedup(
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    out: Annotated[
        Path, typer.Option(help="duplicates.json to write (pairs, distances, clusters).")
    ] = paths.INTERIM / "duplicates.json",
    reports: Annotated[
        Path, typer.Option(help="Folder for summary.json and sheets/ (one per cluster).")
    ] = paths.REPORTS / "dedup",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Find exact and near-duplicate videos (perceptual hashes) and cluster them."""
    from vidlab import params as params_mod
    from vidlab.quality import dedup as dedup_mod

    summary = dedup_mod.run(params_mod.load(params_file), manifest=manifest,
                            quarantine=quarantine, out=out, reports=reports)
    typer.echo(
        f"dedup: {summary['videos']} videos, {summary['clusters']} duplicate cluster(s) "
        f"({summary['exact_pairs']} exact, {summary['near_pairs']} near pair(s)) -> {out}; "
        f"contact sheets in {reports / 'sheets'}"
    )
    if summary.get("review_pairs"):
        typer.echo(f"  {summary['review_pairs']} pair(s) just above the threshold to review by "
                   f"eye: see 'review' in {out}")
    if summary["failed"]:
        typer.echo(f"  {summary['failed']} video(s) could not be hashed: see 'failed' in {out}")


@app.command()
@_stage
def split(
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    duplicates: Annotated[
        Path, typer.Option(help="duplicates.json (from dedup); clusters stay in one split.")
    ] = paths.INTERIM / "duplicates.json",
    out: Annotated[Path, typer.Option(help="splits.csv to write.")] = paths.PROCESSED
    / "splits.csv",
    reports: Annotated[
        Path, typer.Option(help="Folder for the leakage and distribution reports.")
    ] = paths.REPORTS / "split",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Split into train/val/test (and k folds) without subject or duplicate leakage."""
    from vidlab import params as params_mod
    from vidlab import split as split_mod

    summary = split_mod.run(params_mod.load(params_file), metadata_csv=metadata,
                            manifest=manifest, quarantine=quarantine, duplicates=duplicates,
                            out_csv=out, reports=reports)
    split_mod.print_summary(summary, typer.echo)
    typer.echo(f"  -> {out}; reports in {reports}")


@app.command()
@_stage
def clips(
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    out: Annotated[
        Path, typer.Option(help="Cache folder: <split>.npy arrays, index.csv, shards/.")
    ] = paths.PROCESSED / "clips",
    reports: Annotated[Path, typer.Option(help="Folder for summary.json.")] = paths.REPORTS
    / "clips",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Sample clips once, decode, fit to the model size; cache as arrays and WebDataset shards."""
    from vidlab import params as params_mod
    from vidlab.data import cache

    summary = cache.run(params_mod.load(params_file), splits=splits, out=out, reports=reports)
    counts = ", ".join(f"{name} {c['clips']} clips / {c['videos']} videos"
                       for name, c in summary["splits"].items())
    typer.echo(f"clips: {counts}; shape {summary['clip_shape']} uint8 -> {out}")
    if summary["fallback_pyav"]:
        typer.echo(f"  {summary['fallback_pyav']} video(s) decoded by PyAV where "
                   f"{summary['backend']} refused or failed: see 'backend_of' in "
                   f"{out / 'clips.json'}")
    if summary["failed"]:
        typer.echo(f"  {len(summary['failed'])} video(s) could not be decoded: "
                   f"see 'failed' in {out / 'clips.json'}")


@app.command()
@_stage
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
    from vidlab import params as params_mod
    from vidlab import train as train_mod

    folder = out or paths.MODELS / model
    result = train_mod.run(params_mod.load(params_file), model=model, splits=splits,
                           clips=clips, out=folder, metadata=metadata)
    if result.get("rank"):  # a DDP worker: rank zero reports
        return
    best = {k: v for k, v in result.items() if k.startswith("best_")}
    typer.echo(f"train {model}: {best} after {result['epochs']} epoch(s) -> {folder}; "
               f"MLflow run {result['run_id']}")


@app.command()
@_stage
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
    from vidlab import params as params_mod
    from vidlab import sanity as sanity_mod

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
@_stage
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
    from vidlab import evaluate as evaluate_mod
    from vidlab import params as params_mod

    result = evaluate_mod.run(params_mod.load(params_file), model=model, splits=splits,
                              clips=clips, weights=weights or paths.MODELS / model / "model.pt",
                              reports=reports, metadata=metadata)
    for split in ("val", "test"):
        if split in result:
            score = result[split]["video"]
            typer.echo(f"evaluate {model} {split}: video acc {evaluate_mod._cell(score['acc'])}, "
                       f"macro F1 {evaluate_mod._cell(score['macro_f1'])}, AUROC "
                       f"{evaluate_mod._cell(score['auroc'])}")


@app.command()
@_stage
def compare(
    metrics: Annotated[Path, typer.Option(help="Folder of <model>.json (from evaluate).")] = (
        paths.REPORTS / "metrics"),
    models: Annotated[list[str] | None, typer.Option("--model", help="Models, in order "
                                                      "(repeat the option).")] = None,
    out: Annotated[Path, typer.Option(help="The Markdown table.")] = paths.REPORTS
    / "models.md",
) -> None:
    """A Markdown table comparing the evaluated models."""
    from vidlab import evaluate as evaluate_mod
    from vidlab.train import EVALUATED

    typer.echo(evaluate_mod.compare_files(metrics, list(models or EVALUATED), out), nl=False)


@app.command()
@_stage
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
    from vidlab import classical as classical_mod
    from vidlab import params as params_mod

    result = classical_mod.run(params_mod.load(params_file), splits=splits, clips=clips, out=out,
                               metadata=metadata)
    typer.echo(f"classical: {result['features']} features of {result['train_clips']} train clips; "
               f"train video acc {result['train_video_acc']}, val video acc "
               f"{result['val_video_acc']} -> {out}; MLflow run {result['run_id']}")


@app.command()
@_stage
def eda(
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    splits: SplitsOption = paths.PROCESSED / "splits.csv",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    duplicates: DuplicatesOption = paths.INTERIM / "duplicates.json",
    clips: ClipsOption = paths.PROCESSED / "clips",
    weights: Annotated[Path | None, typer.Option(help="State dict of eda.embedding_model "
                                                     "(default: models/<it>/model.pt).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the views and index.html.")] = (
        paths.REPORTS / "eda"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Exploratory views: distributions, outliers, contact sheets, GIFs, preprocessing and
    augmentation panels, t-SNE maps; all on one HTML page."""
    from vidlab import eda as eda_mod
    from vidlab import params as params_mod

    loaded = params_mod.load(params_file)
    chosen = weights or paths.MODELS / loaded.eda.embedding_model / "model.pt"
    summary = eda_mod.run(loaded, manifest=manifest, splits=splits, quarantine=quarantine,
                          duplicates=duplicates, clips=clips, weights=chosen, out=out,
                          metadata=metadata)
    typer.echo(f"eda: {len(summary['figures'])} figures -> {out / 'index.html'}")


@app.command()
@_stage
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
    from vidlab import card as card_mod
    from vidlab import params as params_mod
    from vidlab.paths import project_root
    from vidlab.train import EVALUATED

    result = card_mod.run(params_mod.load(params_file), root=project_root(), reports=reports,
                          manifest=manifest, splits=splits, metadata=metadata,
                          duplicates=duplicates, lock=lock, models=list(models or EVALUATED),
                          card=out, readiness_json=readiness, clips=clips)
    for item in result["items"]:
        typer.echo(f"  {item['state']:<10} {item['id']}: {item['why']}")
    typer.echo(f"card: readiness {result['verdict']} -> {out}, {readiness.with_suffix('.md')}")


@app.command()
@_stage
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
    from vidlab import params as params_mod
    from vidlab import release as release_mod
    from vidlab.paths import project_root

    info = release_mod.release(params_mod.load(params_file), version, root=project_root(),
                               allow_nogo=allow_nogo, remote=remote)
    typer.echo(info["instructions"])


@app.command()
@_stage
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Start the MLflow UI on 127.0.0.1 against the project's tracking store (Ctrl-C stops)."""
    import os
    import sys

    from vidlab import params as params_mod
    from vidlab import tracking

    uri = tracking.tracking_uri(params_mod.load(params_file).tracking)
    command = tracking.server_command(uri, port=port)
    typer.echo(f"MLflow UI for {uri} at http://127.0.0.1:{port} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execv(command[0], command)  # the server takes over this process (signals go to it)


if __name__ == "__main__":  # pragma: no cover
    app()
