"""Render a summary (see :mod:`vidlab.stages.report.summary`) as text, Markdown or JSON.

The text layout is the researchers' existing ``dataset_summary_report.txt`` (70-character rules,
emoji section titles, ``name | count videos (pct%) bar`` rows), with the "Generated: <time>" line
replaced by the dataset fingerprint so that reruns are byte-identical, and with more sections.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vidlab.core.render import markdown_table

TITLE = "CHILD DEVELOPMENT VIDEO DATASET SUMMARY REPORT"
RULE, SUBRULE = "=" * 70, "-" * 70
BAR = "█"
NAME_WIDTH = 10  # the seed's right-aligned name column; longer names widen their section only
MAX_LISTED = 20  # inconsistent videos shown in the text; summary.json lists them all
DISTRIBUTIONS = (
    ("📊", "DISTRIBUTION BY AGE GROUP", "age_group"),
    ("🎯", "DISTRIBUTION BY DOMAIN", "domain"),
    ("✅", "DISTRIBUTION BY LABEL", "label"),
)
CROSSTABS = (
    ("🔀", "AGE GROUP × DOMAIN", "age_domain_crosstab", "age group"),
    ("🔀", "DOMAIN × LABEL", "domain_label_crosstab", "domain"),
)


JSON_FORMAT = {"indent": 2, "ensure_ascii": False, "sort_keys": False}  # summary.json's


def to_json(summary: Mapping[str, Any]) -> str:
    """The summary as indented UTF-8 JSON in its own key order, with a final newline."""
    return json.dumps(summary, **JSON_FORMAT) + "\n"


def _pct(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def bar_rows(counts: Mapping[str, int], total: int, *, bar_width: int,
             unit: str = "videos") -> list[str]:
    """Seed-style rows ``      0-6m |    3 videos ( 12.0%) ██████``.

    The bar has ``round(pct / 100 * bar_width)`` characters, so a bar of ``bar_width`` means the
    whole dataset, as in the seed.
    """
    width = max([NAME_WIDTH, *(len(name) for name in counts)])
    rows = []
    for name, count in counts.items():
        pct = _pct(count, total)
        bar = BAR * round(pct / 100 * bar_width)
        rows.append(f"{name:>{width}} | {count:4d} {unit} ({pct:5.1f}%) {bar}".rstrip())
    return rows


def table_rows(table: Mapping[str, Mapping[str, int]], corner: str) -> list[str]:
    """A cross-tab as aligned text with row and column totals."""
    cols = list(next(iter(table.values()), {}))
    first = max([NAME_WIDTH, len(corner), *(len(r) for r in table)])
    widths = [max(5, len(c)) for c in cols]

    def line(name: str, cells: list[int | str], total: int | str) -> str:
        body = " ".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True))
        return f"{name:>{first}} | {body} | {total:>5}"

    rows = [line(corner, cols, "total")]
    for name, cells in table.items():
        rows.append(line(name, list(cells.values()), sum(cells.values())))
    col_totals = [sum(cells[c] for cells in table.values()) for c in cols]
    rows.append(line("total", col_totals, sum(col_totals)))
    return rows


def _section(title: str) -> list[str]:
    return ["", SUBRULE, title, SUBRULE]


def _subject_rows(stats: Mapping[str, Any], bar_width: int) -> list[str]:
    rows = [f"  Subjects: {stats['n_subjects']}",
            f"  Videos without a subject id: {stats['videos_without_subject']}"]
    if stats["n_subjects"]:
        rows.append(f"  Videos per subject: min {stats['min']}, median {stats['median']:g}, "
                    f"max {stats['max']}, mean {stats['mean']:.2f}")
        hist = {f"{k} videos": n for k, n in stats["histogram"].items()}
        rows += bar_rows(hist, stats["n_subjects"], bar_width=bar_width, unit="subjects")
    return rows


def _mark(ok: bool) -> str:
    return "  ✓" if ok else "  ⚠"


def _names(values: list[str]) -> str:
    return ", ".join(values) or "none"


def _inconsistent_rows(summary: Mapping[str, Any]) -> list[str]:
    flagged = summary["age_milestone_inconsistent"]
    rows = [
        f"      {row['video_id']}: age {row['child_age']}m, milestone {row['milestone_id']} "
        f"({row['milestone_age']}m), gap {row['gap']:+}m"
        for row in flagged[:MAX_LISTED]
    ]
    if len(flagged) > MAX_LISTED:
        rows.append(f"      ... and {len(flagged) - MAX_LISTED} more (see summary.json)")
    return rows


def quality_rows(summary: Mapping[str, Any]) -> list[str]:
    """The DATA QUALITY CHECKS section: ✓ for a clean check, ⚠ for one to look at."""
    qc = summary["quality_checks"]
    rows = []
    if qc["quarantine_provided"]:
        n_quarantined, orphans = qc["quarantined_rows"], qc["files_without_rows"]
        rows.append(f"{_mark(not n_quarantined)} Quarantined CSV rows: {n_quarantined}")
        rows.append(f"{_mark(not orphans)} Video files without a CSV row: {orphans}")
        rows += [f"      {reason}: {n}" for reason, n in qc["quarantine_by_reason"].items()]
    else:
        rows.append("  • Quarantine table: not provided")
    for key, text in (("missing_subject_ids", "Missing subject ids"),
                      ("missing_child_age", "Missing child ages"),
                      ("missing_milestone_age", "Missing milestone ages"),
                      ("ages_out_of_range", "Ages outside the age bins"),
                      ("identical_content_videos", "Videos with identical bytes")):
        rows.append(f"{_mark(not qc[key])} {text}: {qc[key]}")
    if qc.get("duplicates_provided"):
        n = qc["duplicate_clusters"]
        rows.append(f"{_mark(not n)} Duplicate clusters (dedup: identical or near-identical "
                    f"frames): {n}, {qc['videos_in_duplicate_clusters']} videos, "
                    f"{qc['duplicate_pairs']} pairs")
        review = qc["duplicate_review_pairs"]
        rows.append(f"{_mark(not review)} Pairs just above the duplicate threshold, to look at: "
                    f"{review}")
    else:
        rows.append("  • Duplicate clusters: dedup has not run (pass --duplicates)")
    ratio = qc["label_imbalance_ratio"]
    rows.append(f"  • Label imbalance (majority / minority): {ratio:.2f}" if ratio is not None
                else f"  ⚠ Label imbalance: a class has no videos ({_names(qc['absent_labels'])})")
    n_bad = qc["age_milestone_inconsistent"]
    rows.append(f"{_mark(not n_bad)} Child age more than {qc['age_tolerance_months']} months from "
                f"the milestone age: {n_bad} videos")
    rows += _inconsistent_rows(summary)
    for key, text in (("empty_age_groups", "Empty age groups"), ("empty_domains", "Empty domains")):
        rows.append(f"{_mark(not qc[key])} {text}: {_names(qc[key])}")
    for column, values in qc["unexpected_values"].items():
        if values:
            rows.append(f"  ⚠ Unexpected {column} values: {_names(values)}")
    return rows


def to_text(summary: Mapping[str, Any], *, bar_width: int) -> str:
    """The plain-text report in the seed's layout, ending with a newline.

    Args:
        summary: the dict returned by :func:`vidlab.stages.report.summary.summarize`.
        bar_width: characters of a bar that stands for the whole dataset.
    """
    total = summary["total_videos"]
    lines = [RULE, TITLE, RULE,
             f"Dataset fingerprint: {summary['dataset_fingerprint'] or '(none)'}",
             f"Total Videos: {total}"]
    for emoji, title, name in DISTRIBUTIONS:
        lines += _section(f"{emoji} {title}")
        lines += bar_rows(summary[f"{name}_distribution"], total, bar_width=bar_width)
    for emoji, title, key, corner in CROSSTABS:
        lines += _section(f"{emoji} {title}") + table_rows(summary[key], corner)
    lines += _section("🏆 TOP MILESTONES")
    ranked = summary["top_milestones"]
    width = max([12, *(len(m) for m, _ in ranked)])
    lines += [f"  {i:2d}. {m:<{width}} | {n:4d} videos" for i, (m, n) in enumerate(ranked, 1)]
    lines += _section("👶 PER-SUBJECT VIDEO COUNTS") + _subject_rows(summary["per_subject"],
                                                                     bar_width)
    lines += _section("🔍 DATA QUALITY CHECKS") + quality_rows(summary)
    lines += ["", RULE]
    return "\n".join(lines) + "\n"


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A table with a spaced alignment row, then a blank line."""
    return [*markdown_table(header, rows, spaced_rule=True), ""]


def _md_crosstab(table: Mapping[str, Mapping[str, int]], corner: str) -> list[str]:
    cols = list(next(iter(table.values()), {}))
    rows = [[name, *cells.values(), sum(cells.values())] for name, cells in table.items()]
    totals = [sum(cells[c] for cells in table.values()) for c in cols]
    return _md_table([corner, *cols, "total"], [*rows, ["**total**", *totals, sum(totals)]])


def to_markdown(summary: Mapping[str, Any]) -> str:
    """The report as Markdown tables (for a dataset card or a pull request), ending with a newline.

    Args:
        summary: the dict returned by :func:`vidlab.stages.report.summary.summarize`.
    """
    total = summary["total_videos"]
    lines = ["# Child development video dataset summary", "",
             f"- Dataset fingerprint: `{summary['dataset_fingerprint'] or '(none)'}`",
             f"- Total videos: {total}", ""]
    for _, title, name in DISTRIBUTIONS:
        counts = summary[f"{name}_distribution"]
        lines += [f"## {title.capitalize()}", ""]
        lines += _md_table([name.replace("_", " "), "videos", "%"],
                           [[k, n, f"{_pct(n, total):.1f}"] for k, n in counts.items()])
    for _, title, key, corner in CROSSTABS:
        lines += [f"## {title.capitalize()}", ""] + _md_crosstab(summary[key], corner)
    lines += ["## Top milestones", ""]
    lines += _md_table(["rank", "milestone", "videos"],
                       [[i, f"`{m}`", n] for i, (m, n) in enumerate(summary["top_milestones"], 1)])
    stats = summary["per_subject"]
    lines += ["## Per-subject video counts", ""]
    lines += _md_table(["statistic", "value"],
                       [[k, "—" if stats[k] is None else stats[k]]
                        for k in ("n_subjects", "videos_without_subject", "min", "median", "max",
                                  "mean")])
    lines += _md_table(["videos per subject", "subjects"], list(stats["histogram"].items()))
    lines += ["## Data quality checks", "", "```text", *quality_rows(summary), "```"]
    return "\n".join(lines) + "\n"
