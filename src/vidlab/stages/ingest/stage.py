"""The `ingest` stage: read, normalise, de-identify, verify.

Inputs are only read: originals are never modified or moved. Outputs (all de-identified)::

    <out>/videos/<video_id>.<ext>      remuxed, metadata-free copies
    <out>/metadata.csv                 schema.METADATA_COLUMNS, one row per usable video
    <out>/quarantine_ingest.csv        schema.QUARANTINE_COLUMNS, one row per problem
    <reports>/verification.json        the leak check of everything above
    <reports>/ingest.json              counts: rows read, kept, quarantined by reason, files

The original -> pseudonym mapping goes beside the HMAC key (see vidlab.core.keys), nowhere else.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vidlab import contracts
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.core import keys
from vidlab.core.errors import DataError
from vidlab.core.fsutil import JOURNAL_PREFIX, OutputSet, csv_text, sha256_file
from vidlab.core.progress import track, worker_count
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.stages.ingest import deid, leaks, rows
from vidlab.stages.ingest.csvread import read_rows
from vidlab.tracking import data_version

PARAMS = Declaration(  # all of ingest but faces (the faces stage's) and workers (how, not what)
    "ingest",
    outputs=("base.classes", "data.source", "ingest.domains", "ingest.age_bins", "ingest.dates",
             "ingest.audio", "ingest.pseudonym_length", "ingest.extensions", "ingest.timeout_s",
             "ingest.timeout_per_gigapixel_s"),
    runtime=("engine", "ingest.workers"),
)


log = logging.getLogger(__name__)

VIDEOS_MARKER = ".vidlab-ingest"


@dataclass
class Checked:
    """The rows after normalisation and file matching, before any file is read."""

    records: list[rows.Record]
    problems: list[rows.Problem]
    n_rows: int
    csv_rows: list


def check(params: Params, *, csv_path: Path, videos: Path) -> Checked:
    """Read the CSV and match rows to files (reads no video)."""
    if not Path(videos).is_dir():
        raise DataError(f"The video folder {videos} does not exist or is not a folder. Check "
                        "data.videos in params.yaml.")
    _, csv_rows = read_rows(csv_path)
    index = rows.index_videos(Path(videos), params.ingest.extensions)
    if not index:
        anything = any(Path(videos).iterdir())
        raise DataError(
            f"The video folder {videos} " + (
                f"holds no file ending in {', '.join(params.ingest.extensions)} (looked in every "
                "sub-folder too; ingest.extensions lists the endings read)" if anything else
                "is empty") + f", while the CSV has {len(csv_rows)} row(s). Check data.videos "
            "in params.yaml, or copy the videos there.")
    classes = params.base.classes
    records, problems, named = [], [], set()
    for row in csv_rows:
        result = rows.check_row(row, Path(videos), index, params.ingest, classes)
        if isinstance(result, rows.Record):
            records.append(result)
            named.add(result.path)
        else:
            problems += result
            named.update(p.path for p in result if p.path is not None)
    records, duplicates = rows.dedupe(records, params.ingest, classes)
    problems += duplicates + rows.orphans(index, named, params.ingest, classes)
    return Checked(records, problems, len(csv_rows), csv_rows)


# what a worker that fails leaves to say: never its exception text, which may hold a path
WORKER_FAILURES = {
    "timeout": ("decode_timeout", "Copying the file took longer than its time limit "
                                  "(ingest.timeout_s + ingest.timeout_per_gigapixel_s)."),
    "crash": ("unreadable", "The decoder crashed on this file."),
    "error": ("unreadable", "The file could not be copied (an unexpected error)."),
}


def deidentify(records: list[rows.Record], out_videos: Path, key: bytes,
               params: Params) -> list[dict]:
    """Remux every record's file into ``out_videos``, each in an isolated worker (a process
    here, or a Ray task); results in record order. A worker that hangs past the file's time
    limit is killed and one that crashes is contained: the file is quarantined, nothing of it
    is published."""
    from vidlab.core.engine import run_tasks
    from vidlab.media.budget import timeouts

    p, engine = params.ingest, params.engine
    args = [(r.path, out_videos, key, r.filename, p.pseudonym_length, p.audio == "keep")
            for r in records]
    workers = worker_count(p.workers, len(args))
    limits = timeouts([r.path for r in records], base_s=p.timeout_s,
                      per_gigapixel_s=p.timeout_per_gigapixel_s, workers=workers,
                      engine=engine.name, address=engine.address)
    results: list[dict] = [{}] * len(args)
    outcomes = run_tasks(_deidentify_item, args, workers=workers, timeout_s=limits,
                         engine=engine.name, address=engine.address)
    for outcome in track(outcomes, total=len(args), desc="ingest"):
        if outcome.status == "ok":
            results[outcome.index] = outcome.value
        else:
            status, detail = WORKER_FAILURES[outcome.status]
            log.debug("ingest: a worker failed (%s)", outcome.status)
            results[outcome.index] = {"status": status, "video_id": "", "detail": detail}
    for leftover in out_videos.glob(".*.tmp"):  # what a killed worker was writing
        leftover.unlink()
    return results


def _deidentify_item(args: tuple) -> dict:
    return deid.deidentify_one(*args)


def _metadata_row(record: rows.Record, result: dict, key: bytes, length: int) -> dict:
    return {
        "video_id": result["video_id"], "filename": result["filename"],
        "subject_id": deid.subject_pseudonym(key, record.child_id, length),
        "child_age": record.child_age, "age_group": record.age_group,
        "milestone_id": record.milestone_id,
        "milestone_age": "" if record.milestone_age is None else record.milestone_age,
        "domain": record.domain, "label": record.label,
        "recorded_period": record.recorded_period,
        "size_bytes": result["size_bytes"], "sha256": result["sha256"],
    }


def _problem_row(item: rows.Problem) -> dict:
    return {"stage": "ingest", "line": item.line or "", "video_id": item.video_id,
            "column": item.column, "value": item.value, "reason": item.reason,
            "detail": item.detail}


def _pseudonymise_problems(problems: list[rows.Problem], key: bytes, length: int,
                           videos: Path) -> None:
    """Give quarantined entries whose file exists a video_id, so later stages can link them."""
    inside = Path(videos).resolve()
    for item in problems:
        path = item.path
        if path is None or item.video_id or not path.is_file() \
                or not path.resolve().is_relative_to(inside):
            continue  # nothing to hash, or a link out of the folder that is never opened
        try:
            content = sha256_file(path)
        except OSError:  # unreadable: the row keeps its line number, without a pseudonym
            continue
        item.video_id = deid.pseudonym(key, content, path.relative_to(videos).as_posix(), length)


def run(params: Params, *, csv_path: Path, videos: Path, out: Path, reports: Path,
        dry_run: bool = False, key: bytes | None = None) -> dict:
    """Run the ingest stage.

    Args:
        params: all params (reads base, data and ingest).
        csv_path: the researchers' metadata CSV.
        videos: the folder the CSV's file names are relative to.
        out: folder for the de-identified data (e.g. data/interim).
        reports: folder for the verification and counts (e.g. reports/deidentify).
        dry_run: only compute and return the mapping; write nothing.
        key: the HMAC key; by default the one for ``params.data.source`` (see keys.load_key).

    Returns:
        Counts (and, for a dry run, the mapping original name -> pseudonymous file name).

    Raises:
        DataError: on an unusable CSV or folder, no usable video, or a privacy leak.
    """
    params = PARAMS.view(params)
    key = key or keys.load_key(params.data.source)
    if key == keys.DEMO_KEY:  # the key follows the data: only the generated demo gets it
        keys.require_demo(Path(csv_path), Path(videos))
    if params.ingest.dates == "keep":
        log.warning("ingest.dates is 'keep': exact recording dates stay in the de-identified "
                    "data and are not leak-checked. Use 'quarter' or 'year' to share the data.")
    length = params.ingest.pseudonym_length
    checked = check(params, csv_path=csv_path, videos=videos)
    if dry_run:
        mapping = {r.filename: deid.pseudonym(key, sha256_file(r.path), r.filename, length)
                   + r.path.suffix.lower() for r in checked.records}
        return {"dry_run": True, "mapping": mapping, **_counts(checked, [], checked.problems)}
    problems, meta_rows, mapping = list(checked.problems), [], {}
    failure = None
    out, reports = Path(out), Path(reports)
    # every output is staged, then all are published together (fsutil.OutputSet): a run killed
    # at any point leaves the previous run's outputs or this run's, never a mix
    with OutputSet(out / f"{JOURNAL_PREFIX}ingest.json") as outputs:
        tmp_videos = outputs.folder(out / "videos", marker=VIDEOS_MARKER)
        (tmp_videos / VIDEOS_MARKER).write_text("Written by `vidlab ingest`.\n")
        results = deidentify(checked.records, tmp_videos, key, params)
        for record, result in zip(checked.records, results, strict=True):
            if result["status"] == "ok":
                meta_rows.append(_metadata_row(record, result, key, length))
                mapping[record.filename] = result["filename"]
            else:
                problems.append(rows.Problem(record.line, "file", "", result["status"],
                                             result["detail"], record.path, result["video_id"]))
        _pseudonymise_problems(problems, key, length, Path(videos))
        problems.sort(key=lambda p: (p.line is None, p.line or 0, p.column, p.video_id))
        meta_text = csv_text(METADATA_COLUMNS, meta_rows)
        quarantine_text = csv_text(QUARANTINE_COLUMNS, [_problem_row(p) for p in problems])
        counts = _counts(checked, meta_rows, problems) | {
            # copies a packet remux could not make faithfully: re-encoded losslessly (FFV1)
            "lossless_copies": sum(r.get("method") == "lossless" for r in results),
            "dataset_fingerprint": data_version(meta_text) if meta_rows else None}
        quarantine_file = out / "quarantine_ingest.csv"
        folder = outputs.folder(reports, marker="verification.json")
        contracts.write(folder / "ingest.json", contracts.IngestCounts, counts, atomic=False,
                        indent=2)
        if not meta_rows:  # publish the reasons, and nothing that could pass for data
            report = {"ok": False, "published": False, "reason": "no usable video"}
            outputs.text(quarantine_file, quarantine_text)
            outputs.remove(out / "videos")
            outputs.remove(out / "metadata.csv")
            failure = (f"No usable video: all {checked.n_rows} rows were quarantined "
                       f"({_reasons(counts)}). The reason for each row, by its line in "
                       f"{csv_path}, is in {quarantine_file}.")
        else:
            tables = {}
            for name, text in (("metadata.csv", meta_text),
                               ("quarantine_ingest.csv", quarantine_text)):
                tables[name] = outputs.file(out / name)
                tables[name].write_text(text, encoding="utf-8", newline="\n")
            report = _leak_check(checked, params, tmp_videos, tables, folder / "ingest.json")
            if not report["ok"]:
                outputs.discard(keep=[reports])
                outputs.remove(out / "videos")
                outputs.remove(out / "metadata.csv")
                outputs.remove(quarantine_file)
                failure = (f"De-identification check failed: {len(report['leaks'])} leak(s) and "
                           f"{len(report['metadata_violations'])} metadata violation(s). Nothing "
                           f"was published; see {reports / 'verification.json'}.")
        contracts.write(folder / "verification.json", contracts.Verification, report,
                        atomic=False, indent=2)
    if failure:
        raise DataError(failure)
    counts["mapping_file"] = str(_write_mapping(params, key, csv_path, mapping, checked))
    _log_summary(counts, out)
    return counts


def _leak_check(checked: Checked, params: Params, videos: Path, tables: dict[str, Path],
                counts_file: Path) -> dict:
    """leaks.verify on the staged outputs, under the names they will be published as."""
    terms = leaks.forbidden_terms(checked.csv_rows, check_dates=params.ingest.dates != "keep")
    staged = {"data/interim/videos": videos, "reports/deidentify/ingest.json": counts_file} | {
        f"data/interim/{name}": path for name, path in tables.items()}
    return leaks.verify(staged, terms, workers=worker_count(params.ingest.workers))


def _reasons(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts["problems_by_reason"].items())


def _counts(checked: Checked, meta_rows: list[dict], problems: list[rows.Problem]) -> dict:
    reasons = Counter(p.reason for p in problems)
    return {
        "rows_read": checked.n_rows,
        "usable_videos": len(meta_rows),
        "quarantined_rows": len({p.line for p in problems if p.line is not None}),
        "problems": len(problems),
        "problems_by_reason": dict(sorted(reasons.items())),
        "files_without_rows": reasons.get("no_metadata_row", 0),
        "labels_normalised": sum("label_normalised" in r.notes for r in checked.records),
    }


def _write_mapping(params: Params, key: bytes, csv_path: Path, mapping: dict,
                   checked: Checked) -> Path:
    length = params.ingest.pseudonym_length
    subjects = {r.child_id: deid.subject_pseudonym(key, r.child_id, length)
                for r in checked.records if r.child_id}
    label = keys.dataset_label(key, csv_path)
    path = keys.write_private(keys.MAPPING_FILE, {"videos": mapping, "subjects": subjects},
                              label=label)
    log.info("ingest: the re-identification mapping is beside the key (mode 0600): %s", path)
    return path


def _log_summary(counts: dict, out: Path) -> None:
    log.debug("ingest: %d of %d rows usable", counts["usable_videos"], counts["rows_read"])
    if counts.get("lossless_copies"):
        log.info("ingest: %d video(s) could not be remuxed faithfully and were re-encoded "
                 "losslessly (FFV1 in .mkv), proven frame by frame", counts["lossless_copies"])
    if counts["problems"]:
        reasons = _reasons(counts)
        log.warning("ingest: %d problem(s) quarantined (%s); see %s (line numbers refer to your "
                    "CSV)", counts["problems"], reasons, out / "quarantine_ingest.csv")
