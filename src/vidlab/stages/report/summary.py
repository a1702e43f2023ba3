"""Dataset summary: counts, cross-tabs and quality checks of the de-identified metadata.

Everything here is a pure function of its inputs: no clock, no randomness, and every mapping is
built in a fixed order (the configured categories first, anything unexpected after them, sorted),
so the report files are byte-identical on rerun and diff cleanly between dataset versions.
Subject pseudonyms are counted but never listed: per-subject statistics are aggregates only.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from vidlab.config import IngestParams, ReportParams
from vidlab.contracts import Duplicates
from vidlab.core.errors import DataError

MISSING = "(missing)"
"""Stands in for an empty or absent category value, so it is counted rather than dropped."""

USED_COLUMNS = (
    "video_id", "subject_id", "child_age", "age_group", "milestone_id", "milestone_age",
    "domain", "label", "sha256",
)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str | Path) -> None:
    """Raise DataError naming the first of ``columns`` that ``frame`` lacks.

    Args:
        frame: the table read from ``source``.
        columns: the column names the caller needs.
        source: the file (or a description) the table came from, for the message.
    """
    for column in columns:
        if column not in frame.columns:
            raise DataError(
                f"{source} has no '{column}' column. Expected the columns "
                f"{', '.join(columns)}; found {', '.join(map(str, frame.columns)) or 'none'}. "
                "Re-run the ingest stage to rebuild it."
            )


def _clean(series: pd.Series) -> list[str]:
    """Category values as stripped strings, with empty or missing ones as :data:`MISSING`."""
    return [(str(v).strip() or MISSING) if pd.notna(v) else MISSING for v in series]


def _numbers(series: pd.Series) -> pd.Series:
    """Months as floats; empty or unparsable values become NaN."""
    return pd.to_numeric(series, errors="coerce").astype(float)


def _categories(values: Iterable[str], expected: Sequence[str]) -> list[str]:
    """``expected`` in order, then any value outside it, sorted."""
    return [*expected, *sorted(set(values) - set(expected))]


def _count(values: Sequence[str], categories: Sequence[str]) -> dict[str, int]:
    counts = Counter(values)
    return {c: counts.get(c, 0) for c in categories}


def _crosstab(rows: Sequence[str], cols: Sequence[str], row_categories: Sequence[str],
              col_categories: Sequence[str]) -> dict[str, dict[str, int]]:
    counts = Counter(zip(rows, cols, strict=True))
    return {r: {c: counts.get((r, c), 0) for c in col_categories} for r in row_categories}


def _percentages(counts: dict[str, int], total: int) -> dict[str, float]:
    return {k: round(100.0 * v / total, 1) if total else 0.0 for k, v in counts.items()}


def _ranked(counts: Counter, limit: int | None = None) -> list[tuple[str, int]]:
    """Most frequent first, ties by key, so the order never depends on input row order."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _month(value: float) -> int | float:
    """A month count as an int when whole (the contract's case), else as a float."""
    return int(value) if float(value).is_integer() else float(value)


def top_milestones(milestones: Sequence[str], limit: int) -> list[list[Any]]:
    """The ``limit`` most filmed milestones as ``[milestone_id, count]``, most first, ties by id."""
    counts = Counter(m for m in milestones if m != MISSING)
    return [[m, n] for m, n in _ranked(counts, limit)]


def per_subject(subjects: Sequence[str]) -> dict[str, Any]:
    """Aggregate video counts per subject; subject pseudonyms themselves are not returned.

    Args:
        subjects: the cleaned subject_id of every video (:data:`MISSING` when unknown).

    Returns:
        ``n_subjects``, ``videos_without_subject``, ``min``/``median``/``max``/``mean`` videos per
        subject (null without subjects) and ``histogram`` {n_videos: n_subjects} in numeric order.
    """
    per = Counter(s for s in subjects if s != MISSING)
    sizes = sorted(per.values())
    stats: dict[str, Any] = {"min": None, "median": None, "max": None, "mean": None}
    if sizes:
        stats = {
            "min": sizes[0],
            "median": float(statistics.median(sizes)),
            "max": sizes[-1],
            "mean": round(sum(sizes) / len(sizes), 2),
        }
    histogram = Counter(sizes)
    return {
        "n_subjects": len(sizes),
        "videos_without_subject": sum(s == MISSING for s in subjects),
        **stats,
        # JSON keys are strings; numeric order keeps "10" after "9".
        "histogram": {str(k): histogram[k] for k in sorted(histogram)},
    }


def imbalance_ratio(label_counts: dict[str, int], classes: Sequence[str]) -> float | None:
    """Majority / minority count over ``classes``; None when a class has no video."""
    counts = [label_counts.get(c, 0) for c in classes]
    if not counts or min(counts) == 0:
        return None
    return round(max(counts) / min(counts), 3)


def age_milestone_inconsistent(meta: pd.DataFrame, tolerance: int) -> list[dict[str, Any]]:
    """Videos whose child age is more than ``tolerance`` months from the milestone's age.

    ``gap`` is child_age - milestone_age: negative when the milestone is meant for older children.
    Largest absolute gap first, ties by video_id. Rows missing either age are not judged here.
    """
    ages, milestone_ages = _numbers(meta["child_age"]), _numbers(meta["milestone_age"])
    gaps = ages - milestone_ages
    flagged = []
    for i in (gaps.abs() > tolerance).to_numpy().nonzero()[0]:
        flagged.append({
            "video_id": str(meta["video_id"].iloc[i]),
            "child_age": _month(ages.iloc[i]),
            "milestone_id": str(meta["milestone_id"].iloc[i]),
            "milestone_age": _month(milestone_ages.iloc[i]),
            "gap": _month(gaps.iloc[i]),
        })
    return sorted(flagged, key=lambda row: (-abs(row["gap"]), row["video_id"]))


def _quarantine_checks(quarantine: pd.DataFrame | None) -> dict[str, Any]:
    if quarantine is None:
        return {"quarantine_provided": False, "quarantined_rows": 0, "files_without_rows": 0,
                "quarantine_problems": 0, "quarantine_by_reason": {}, "quarantine_by_stage": {}}
    require_columns(quarantine, ("stage", "reason"), "The quarantine table")
    # The same definitions as ingest.json and the card: a quarantined row is a line of the CSV
    # (several problems on one line count once); a file no row names is counted apart.
    lines = quarantine["line"].astype(str).str.strip() if "line" in quarantine else None
    rows = int(lines[lines != ""].nunique()) if lines is not None else len(quarantine)
    return {
        "quarantine_provided": True,
        "quarantined_rows": rows,
        "files_without_rows": int((quarantine["reason"] == "no_metadata_row").sum()),
        "quarantine_problems": len(quarantine),
        "quarantine_by_reason": dict(_ranked(Counter(_clean(quarantine["reason"])))),
        "quarantine_by_stage": dict(_ranked(Counter(_clean(quarantine["stage"])))),
    }


def _quality_checks(meta: pd.DataFrame, clean: dict[str, list[str]], summary: dict[str, Any], *,
                    ingest: IngestParams, report: ReportParams, classes: Sequence[str],
                    quarantine: pd.DataFrame | None) -> dict[str, Any]:
    ages = _numbers(meta["child_age"])
    sha = [s for s in _clean(meta["sha256"]) if s != MISSING]
    sha_counts = Counter(sha)
    expected = {"age_group": ingest.age_groups(), "domain": list(ingest.domains.values()),
                "label": list(classes)}
    return {
        **_quarantine_checks(quarantine),
        "missing_subject_ids": summary["per_subject"]["videos_without_subject"],
        "missing_child_age": int(ages.isna().sum()),
        "missing_milestone_age": int(_numbers(meta["milestone_age"]).isna().sum()),
        "ages_out_of_range": int(((ages < 0) | (ages > ingest.max_age)).sum()),
        "age_tolerance_months": report.age_tolerance_months,
        "age_milestone_inconsistent": len(summary["age_milestone_inconsistent"]),
        "label_imbalance_ratio": summary["label_imbalance_ratio"],
        "empty_age_groups": [g for g, n in summary["age_group_distribution"].items() if n == 0],
        "empty_domains": [d for d, n in summary["domain_distribution"].items() if n == 0],
        "absent_labels": [c for c in classes if summary["label_distribution"].get(c, 0) == 0],
        "unexpected_values": {
            col: sorted(set(clean[col]) - set(cats)) for col, cats in expected.items()
        },
        # Same bytes under two pseudonyms: the same recording entered twice. Near-duplicates
        # (re-encoded or edited copies) are the dedup stage's, reported in the card.
        "identical_content_videos": sum(n for n in sha_counts.values() if n > 1),
    }


def duplicate_counts(duplicates: Duplicates | None) -> dict[str, Any]:
    """The dedup stage's counts, as every report shows them (None: dedup did not run)."""
    if duplicates is None:
        return {"duplicates_provided": False}
    return {"duplicates_provided": True,
            "duplicate_clusters": len(duplicates.clusters),
            "videos_in_duplicate_clusters": sum(len(c.video_ids) for c in duplicates.clusters),
            "duplicate_pairs": len(duplicates.pairs),
            "duplicate_review_pairs": len(duplicates.review)}


def summarize(meta: pd.DataFrame, *, ingest: IngestParams, report: ReportParams,
              classes: tuple[str, ...], quarantine: pd.DataFrame | None = None,
              fingerprint: str = "", duplicates: Duplicates | None = None
              ) -> dict[str, Any]:
    """Summarise the de-identified metadata table into a JSON-serialisable dict.

    Args:
        meta: rows of the metadata CSV with its METADATA_COLUMNS; child_age and milestone_age as
            numbers or NaN, subject_id possibly empty.
        ingest: gives the age groups and domains, in report order.
        report: gives the top-milestone count and the age-vs-milestone tolerance.
        classes: the label classes, in report order.
        quarantine: the quarantine table (QUARANTINE_COLUMNS), or None when there is none.
        fingerprint: an identifier of the dataset version, copied into the summary.
        duplicates: the dedup stage's duplicates.json, or None when it has not run.

    Returns:
        The summary; its keys are listed in the module's tests and in the README.

    Raises:
        DataError: when ``meta`` lacks a column this summary needs.
    """
    require_columns(meta, USED_COLUMNS, "The metadata table")
    clean = {col: _clean(meta[col]) for col in ("age_group", "domain", "label")}
    groups = _categories(clean["age_group"], ingest.age_groups())
    domains = _categories(clean["domain"], list(ingest.domains.values()))
    labels = _categories(clean["label"], classes)
    total = len(meta)
    summary: dict[str, Any] = {
        "dataset_fingerprint": fingerprint,
        "total_videos": total,
        "age_group_distribution": _count(clean["age_group"], groups),
        "domain_distribution": _count(clean["domain"], domains),
        "label_distribution": _count(clean["label"], labels),
    }
    summary["percentages"] = {
        name: _percentages(summary[f"{name}_distribution"], total)
        for name in ("age_group", "domain", "label")
    }
    summary["age_domain_crosstab"] = _crosstab(clean["age_group"], clean["domain"], groups, domains)
    summary["domain_label_crosstab"] = _crosstab(clean["domain"], clean["label"], domains, labels)
    summary["top_milestones"] = top_milestones(_clean(meta["milestone_id"]), report.top_milestones)
    summary["per_subject"] = per_subject(_clean(meta["subject_id"]))
    summary["label_imbalance_ratio"] = imbalance_ratio(summary["label_distribution"], classes)
    summary["age_milestone_inconsistent"] = age_milestone_inconsistent(
        meta, report.age_tolerance_months
    )
    summary["quality_checks"] = _quality_checks(
        meta, clean, summary, ingest=ingest, report=report, classes=classes, quarantine=quarantine
    ) | duplicate_counts(duplicates)
    return summary
