"""Commands of the data stages: demo, ingest, report, probe, validate, annotations, dedup,
split, clips."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlab.cli.app import (
    FramesOption,
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
def demo(
    out: Annotated[Path, typer.Option(help="Output folder of the demo dataset.")] = paths.DEMO,
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Generate the synthetic demo dataset: videos, metadata.csv and the faults.json answer key."""
    from vidlab import config as params_mod
    from vidlab.stages.demo import stage as generate

    loaded = generate.PARAMS.view(params_mod.load(params_file))
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
@stage_command
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
    from vidlab import config as params_mod
    from vidlab.core import boundary
    from vidlab.stages.ingest import stage

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
@stage_command
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
    from vidlab import config as params_mod
    from vidlab.stages.report import stage as report_mod
    from vidlab.tracking import data_version_of

    loaded = params_mod.load(params_file)
    summary = report_mod.run(params=loaded, metadata_csv=metadata, quarantine_csv=quarantine,
                             out=out, fingerprint=data_version_of(metadata) or "",
                             duplicates_json=duplicates)
    typer.echo(f"report: {summary['total_videos']} videos summarised -> {out}")


@app.command()
@stage_command
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
    frames: FramesOption = paths.INTERIM / "frames.parquet",
    quality: Annotated[
        Path, typer.Option(help="Per-frame quality series to write (docs/quality.md).")
    ] = paths.INTERIM / "quality.parquet",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Probe and decode every video (all frames, or keyframes with probe.integrity: fast) into
    the manifest, each file in its own process; keep its dedup signature and sheet frames."""
    from vidlab import config as params_mod
    from vidlab.stages.probe import stage as manifest_mod

    loaded = params_mod.load(params_file)
    summary = manifest_mod.run(loaded, metadata_csv=metadata, videos=videos, manifest=manifest,
                               normalized=normalized, reports=reports, frames=frames,
                               series=quality)
    bad = {k: v for k, v in summary["by_status"].items() if k != "ok"}
    typer.echo(f"probe: {summary['ok']} of {summary['videos']} videos ok"
               + (f", problems {bad}" if bad else "")
               + (f", warnings {summary['warnings']}" if summary["warnings"] else "")
               + f" -> {manifest}")


@app.command()
@stage_command
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
    from vidlab import config as params_mod
    from vidlab.stages.validate import stage as validate_mod

    loaded = params_mod.load(params_file)
    summary = validate_mod.run(loaded, metadata_csv=metadata, manifest=manifest,
                               ingest_quarantine=ingest_quarantine, ingest_report=ingest_report,
                               suites=suites, quarantine=quarantine, reports=reports)
    validate_mod.print_summary(summary, typer.echo)
    docs = reports / "docs" / "index.html"
    typer.echo(f"  results: {reports / 'index.html'} (Data Docs: {docs})")


@app.command()
@stage_command
def annotations(
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    out: Annotated[
        Path, typer.Option(help="The aligned annotations table to write.")
    ] = paths.INTERIM / "annotations.parquet",
    rejected: Annotated[
        Path, typer.Option(help="The annotations' quarantine CSV to write.")
    ] = paths.INTERIM / "quarantine_annotations.csv",
    reports: Annotated[
        Path, typer.Option(help="Folder for summary.json.")
    ] = paths.REPORTS / "annotations",
    suites: Annotated[Path, typer.Option(help="Folder of suite JSON files.")] = Path(
        "expectations"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Read the annotation exports (annotations.files), align them to the decoded frames, check
    them (Great Expectations) and quarantine what fails, with reasons."""
    from vidlab import config as params_mod
    from vidlab.stages.annotations import stage as annotations_mod

    summary = annotations_mod.run(params_mod.load(params_file), manifest=manifest,
                                  quarantine=quarantine, out=out, rejected=rejected,
                                  reports=reports, suites=suites)
    annotations_mod.print_summary(summary, typer.echo, rejected)


@app.command()
@stage_command
def dedup(
    manifest: ManifestOption = paths.INTERIM / "manifest.parquet",
    quarantine: MergedQuarantineOption = paths.INTERIM / "quarantine.csv",
    out: Annotated[
        Path, typer.Option(help="duplicates.json to write (pairs, distances, clusters).")
    ] = paths.INTERIM / "duplicates.json",
    reports: Annotated[
        Path, typer.Option(help="Folder for summary.json and sheets/ (one per cluster).")
    ] = paths.REPORTS / "dedup",
    frames: FramesOption = paths.INTERIM / "frames.parquet",
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Find exact and near-duplicate videos (perceptual hashes) and cluster them."""
    from vidlab import config as params_mod
    from vidlab.stages.dedup import stage as dedup_mod

    summary = dedup_mod.run(params_mod.load(params_file), manifest=manifest,
                            quarantine=quarantine, out=out, reports=reports, frames=frames)
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
@stage_command
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
    from vidlab import config as params_mod
    from vidlab.stages.split import stage as split_mod

    summary = split_mod.run(params_mod.load(params_file), metadata_csv=metadata,
                            manifest=manifest, quarantine=quarantine, duplicates=duplicates,
                            out_csv=out, reports=reports)
    split_mod.print_summary(summary, typer.echo)
    typer.echo(f"  -> {out}; reports in {reports}")


@app.command()
@stage_command
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
    from vidlab import config as params_mod
    from vidlab.stages.clips import stage as clips_stage

    summary = clips_stage.run(params_mod.load(params_file), splits=splits, out=out, reports=reports)
    counts = ", ".join(f"{name} {c['clips']} clips / {c['videos']} videos"
                       for name, c in summary["splits"].items())
    typer.echo(f"clips: {counts}; shape {summary['clip_shape']} uint8 -> {out}")
    typer.echo(f"  decoded with {summary['decoder']}")
    if summary["fallback_pyav"]:
        typer.echo(f"  {summary['fallback_pyav']} video(s) decoded by PyAV where "
                   f"{summary['backend']} refused or failed: see 'backend_of' in "
                   f"{out / 'clips.json'}")
    if summary["failed"]:
        typer.echo(f"  {len(summary['failed'])} video(s) could not be decoded: "
                   f"see 'failed' in {out / 'clips.json'}")


@app.command()
@stage_command
def faces(
    metadata: MetadataOption = paths.INTERIM / "metadata.csv",
    videos: Annotated[Path, typer.Option(help="The de-identified videos.")] = (
        paths.INTERIM / "videos"),
    out: Annotated[Path, typer.Option(help="The release folder (blurred copies).")] = (
        paths.DATA / "release"),
    reports: Annotated[Path, typer.Option(help="Folder for the summary.")] = (
        paths.REPORTS / "faces"),
    params_file: ParamsOption = paths.PARAMS_FILE,
) -> None:
    """Count faces (ingest.faces: report) or blur them into a verified release (blur)."""
    from vidlab import config as params_mod
    from vidlab.stages.faces import stage

    summary = stage.run(params_mod.load(params_file), metadata=metadata, videos=videos,
                        out=out, reports=reports)
    if summary["mode"] == "keep":
        typer.echo("faces: not looked for (ingest.faces: keep); the videos show faces as "
                   f"recorded -> {reports / 'summary.json'}")
        return
    typer.echo(f"faces ({summary['mode']}): {summary['videos_with_faces']} of "
               f"{summary['videos']} videos show faces, on {summary['frames_with_faces']} of "
               f"{summary['frames']} frames -> {reports / 'summary.json'}")
    if summary["mode"] == "blur":
        typer.echo(f"  blurred copies in {out / 'videos'}: {summary['verified']} verified; "
                   f"{summary['failed']} still showed a face and were left out of the release "
                   f"(see {out / 'quarantine.csv'})")
    if summary.get("private_report"):
        typer.echo("  frame numbers and boxes: the private report beside the key")
