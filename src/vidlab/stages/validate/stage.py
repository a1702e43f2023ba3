"""The `validate` stage: Great Expectations suites as the data contract.

Suites live as JSON in ``expectations/`` (metadata, labels, manifest); their thresholds are
``{"$PARAMETER": name}`` placeholders filled from the ``validate`` params. Each expectation's
``meta`` says its ``severity`` (blocking or warning) and ``scope``: a failing *row* expectation
quarantines the failing videos with the expectation's name as the reason; a failing blocking
*table* expectation stops the stage. The stage also stops when more than
``validate.max_quarantine_fraction`` of the rows are quarantined, counting ingest's quarantine.

Outputs: ``data/interim/quarantine.csv`` (ingest's entries plus validate's; written only when
validation passes, so later stages cannot run on a failed validation's outputs), and under
``reports/validation/``: ``quarantine.csv`` (the same table, pass or fail), ``summary.json`` (a
DVC metric), ``results.json``, ``index.html`` (an offline page of the results) and the Data
Docs site ``docs/index.html`` (offline too, see :mod:`.datadocs`). Reruns on the same inputs
write every output byte for byte except the Data Docs, which show when validation ran.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from vidlab import contracts
from vidlab.config import Params, quality_thresholds
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import JOURNAL_PREFIX, OutputSet
from vidlab.data import suites
from vidlab.data.schema import QUARANTINE_COLUMNS
from vidlab.stages.validate.datadocs import make_offline, offline_page

PARAMS = Declaration(
    "validate",
    outputs=("base.classes", "ingest.domains", "ingest.age_bins", "probe.frame_tolerance",
             "probe.max_combing", "validate"),
)


log = logging.getLogger(__name__)

SUITES = ("metadata", "labels", "manifest")
# the quarantine table in the reports folder, written pass or fail (data/interim/quarantine.csv,
# which later stages read, only on a pass)
REPORTED_QUARANTINE = "quarantine.csv"
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["video_id"],
                 "return_unexpected_index_query": False}


def expectation_parameters(params: Params) -> dict:
    """Values for the suites' ``$PARAMETER`` placeholders."""
    v, tol = params.validate, params.probe.frame_tolerance
    return {
        "min_videos": v.min_videos, "max_age": params.ingest.max_age,
        "classes": list(params.base.classes), "domains": list(params.ingest.domains.values()),
        "min_class_fraction": v.min_class_fraction, "max_class_fraction": v.max_class_fraction,
        "min_age_gap": -v.age_tolerance_months, "max_age_gap": v.age_tolerance_months,
        "min_duration_s": v.min_duration_s, "max_duration_s": v.max_duration_s,
        "min_fps": v.min_fps, "max_fps": v.max_fps, "min_side": v.min_side,
        "max_side": v.max_side, "min_frames_ratio": 1 - tol, "max_frames_ratio": 1 + tol,
        "allowed_codecs": list(v.allowed_codecs),
        **quality_thresholds(params),
    }


def frames(metadata: pd.DataFrame, manifest: pd.DataFrame,
           classes: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The three batches: typed metadata, metadata with label shares and age gaps, manifest."""
    meta = metadata.replace("", None)
    for column in ("child_age", "milestone_age", "size_bytes"):
        meta[column] = pd.to_numeric(meta[column], errors="coerce")
    labels = meta.copy()
    # Shares of the known classes only: an invalid label is the metadata suite's to quarantine.
    shares = labels["label"].value_counts(normalize=True)
    labels["label_fraction"] = labels["label"].map(shares).where(labels["label"].isin(classes))
    labels["age_gap"] = labels["child_age"] - labels["milestone_age"]
    return {"metadata": meta, "labels": labels, "manifest": manifest_batch(manifest)}


def manifest_batch(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest with the columns its suite checks beside the probe's: decoded over declared
    frames, and the audio offsets' sizes (warned on either side)."""
    probed = manifest.copy()
    declared = probed["frames_declared"].astype("float64")
    decoded = probed["frames_decoded"].astype("float64")
    probed["frames_ratio"] = decoded / declared.where(declared > 0)
    for column in ("av_start_offset_s", "av_duration_offset_s"):
        if column in probed:
            probed[f"{column}_abs"] = pd.to_numeric(probed[column], errors="coerce").abs()
    return probed


def run_suites(batches: dict[str, pd.DataFrame], suite_dir: Path, parameters: dict,
               docs: Path) -> dict:
    """Validate each batch with its suite and build Data Docs into ``docs``.

    The Data Docs are a human view stamped with when validation ran (the real time, in the
    result pages' "Run Time", their folder names and the index), so they differ from run to
    run; nothing downstream reads them. Every other output of the stage holds no time, so DVC
    sees the same bytes when the inputs have not changed.

    Returns:
        suite name -> the GX validation result.
    """
    context = suites.context(docs)
    run_time = dt.datetime.now(dt.UTC)
    results = suites.run(context, {name: batches[name] for name in SUITES},
                         {name: suite_dir / f"{name}.json" for name in SUITES}, parameters,
                         RESULT_FORMAT, run_time)
    context.build_data_docs(site_names=["local_site"])
    _make_reproducible(docs)
    make_offline(docs, results, run_time)
    return results


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _make_reproducible(docs: Path) -> None:
    """GX gives page elements random ids; number them in order, so that two runs' pages differ
    only where they show the run time. (The time itself stays: it is in the result pages' paths,
    and stripping it once broke every link of the index.)"""
    for page in docs.rglob("*.html"):
        page.write_text(_number_ids(page.read_text(encoding="utf-8")), encoding="utf-8")


def _number_ids(text: str) -> str:
    ids: dict[str, str] = {}
    return _UUID.sub(lambda m: ids.setdefault(m.group(), f"id{len(ids):04d}"), text)


def _name(suite: str, config) -> str:
    column = config.kwargs.get("column")
    return f"{suite}.{config.type}" + (f"({column})" if column else "")


def collect(results: dict) -> dict:
    """Sort every expectation result into passes, blocking failures, warnings and quarantine."""
    checks, blocking, warnings, quarantine = [], [], [], []
    for suite, result in results.items():
        for item in result.results:
            config, meta = item.expectation_config, item.expectation_config.meta or {}
            name, failed = _name(suite, config), not item.success
            rows = (item.result or {}).get("unexpected_index_list") or []
            checks.append({"expectation": name, "severity": meta.get("severity"),
                           "scope": meta.get("scope"), "success": item.success,
                           "unexpected_count": (item.result or {}).get("unexpected_count")})
            if not failed:
                continue
            row_level = meta.get("scope") == "row" and bool(rows)
            if meta.get("severity") == "warning":
                # pseudonyms only (the manifest has no other id), so the warning can name them
                videos = sorted({str(r["video_id"]) for r in rows if r.get("video_id")})
                warnings.append({"expectation": name, "rows": len(rows), "videos": videos})
            elif row_level:
                column = config.kwargs.get("column", "")
                quarantine += [{"stage": "validate", "line": "", "video_id": r["video_id"],
                                "column": column, "value": str(r.get(column, "")),
                                "reason": name, "detail": meta.get("notes", "")} for r in rows]
            else:  # a table-level failure, or one GX could not evaluate (e.g. missing column)
                blocking.append(name)
    return {"checks": checks, "blocking": blocking, "warnings": warnings,
            "quarantine": quarantine}


def _ingest_counts(ingest_report: Path) -> contracts.IngestCounts:
    if not Path(ingest_report).is_file():
        raise DataError(f"{ingest_report} does not exist. Run `vidlab ingest` first.")
    return contracts.read(Path(ingest_report), contracts.IngestCounts)


def run(params: Params, *, metadata_csv: Path, manifest: Path, ingest_quarantine: Path,
        ingest_report: Path, suites: Path, quarantine: Path, reports: Path) -> dict:
    """Validate, quarantine failing rows, write reports; raise DataError on a stop condition."""
    params = PARAMS.view(params)
    for path in (metadata_csv, manifest, ingest_quarantine):
        if not Path(path).is_file():
            raise DataError(f"{path} does not exist. Run the ingest and probe stages first.")
    metadata = pd.read_csv(metadata_csv, dtype=str, keep_default_na=False)
    probed = pd.read_parquet(manifest)
    earlier = pd.read_csv(ingest_quarantine, dtype=str, keep_default_na=False)
    counts = _ingest_counts(ingest_report)
    # the reports and the quarantine are published together (fsutil.OutputSet). The quarantine
    # that later stages read is written only when validation passes: after a failure it goes to
    # the reports folder instead, and data/interim/quarantine.csv is removed, so dedup, split and
    # the card refuse to run on the outputs of a failed validation.
    with OutputSet(Path(quarantine).parent / f"{JOURNAL_PREFIX}validate.json") as outputs:
        tmp = outputs.folder(Path(reports), marker="summary.json")
        results = run_suites(frames(metadata, probed, params.base.classes), Path(suites),
                             expectation_parameters(params), tmp / "docs")
        found = collect(results)
        new_ids = {q["video_id"] for q in found["quarantine"]} - set(earlier["video_id"])
        fraction = (counts.quarantined_rows + len(new_ids)) / max(1, counts.rows_read)
        summary = _summary(found, counts, new_ids, fraction, params)
        merged = pd.concat([earlier, pd.DataFrame(found["quarantine"],
                                                  columns=list(QUARANTINE_COLUMNS))],
                           ignore_index=True).to_csv(index=False, lineterminator="\n")
        (tmp / REPORTED_QUARANTINE).write_text(merged, encoding="utf-8")
        held = Path(quarantine) if summary["passed"] else Path(reports) / REPORTED_QUARANTINE
        if summary["passed"]:
            outputs.text(Path(quarantine), merged)
        else:
            outputs.remove(Path(quarantine))
        contracts.write(tmp / "summary.json", contracts.ValidationSummary, summary, atomic=False,
                        indent=2)
        write_headline(tmp / "headline.json", {
            "videos": summary["rows_read"],
            "flagged": summary["quarantined_by_ingest"] + summary["quarantined_by_validate"]},
            atomic=False)
        (tmp / "results.json").write_text(json.dumps(found["checks"], indent=2) + "\n",
                                          encoding="utf-8")
        (tmp / "index.html").write_text(offline_page(summary, found["checks"]), encoding="utf-8")
    _stop_if_needed(summary, params, Path(reports), held)
    return summary


def _summary(found: dict, counts: contracts.IngestCounts, new_ids: set, fraction: float,
             params: Params) -> dict:
    reasons = Counter(q["reason"] for q in found["quarantine"])
    over = fraction > params.validate.max_quarantine_fraction
    return {
        "passed": not found["blocking"] and not over,
        "expectations": len(found["checks"]),
        "expectations_failed": sum(not c["success"] for c in found["checks"]),
        "blocking_failures": found["blocking"],
        "warnings": found["warnings"],
        "rows_read": counts.rows_read,
        "quarantined_by_ingest": counts.quarantined_rows,
        "quarantined_by_validate": len(new_ids),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "quarantined_fraction": round(fraction, 4),
        "max_quarantine_fraction": params.validate.max_quarantine_fraction,
    }


def _stop_if_needed(summary: dict, params: Params, reports: Path, quarantine: Path) -> None:
    docs = reports / "docs" / "index.html"
    problems = [f"blocking expectation failed: {name}" for name in summary["blocking_failures"]]
    if summary["quarantined_fraction"] > params.validate.max_quarantine_fraction:
        problems.append(
            f"{summary['quarantined_fraction']:.0%} of the rows are quarantined "
            f"(validate.max_quarantine_fraction is {params.validate.max_quarantine_fraction:.0%}); "
            f"the reasons are in {quarantine}")
    if problems:
        raise DataError("Validation stopped the pipeline: " + "; ".join(problems)
                        + f". Details: {reports / 'summary.json'} and {docs}.")


def print_summary(summary: dict, echo) -> None:
    """The short terminal summary."""
    echo(f"validate: {summary['expectations'] - summary['expectations_failed']} of "
         f"{summary['expectations']} expectations passed; quarantined "
         f"{summary['quarantined_by_ingest']} rows at ingest and "
         f"{summary['quarantined_by_validate']} here ({summary['quarantined_fraction']:.1%})")
    for warning in summary["warnings"]:
        echo(f"  warning: {warning['expectation']} ({warning['rows']} rows)")
    if summary["warnings"]:
        echo("  the videos each warning names: summary.json beside the results")

