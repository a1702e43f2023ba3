"""Tests for vidlab.analytics: summary counts, the seed's text layout, charts and run()."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from vidlab import contracts
from vidlab.config import IngestParams, Params, ReportParams, from_dict, replace
from vidlab.core.errors import DataError
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.stages.report import plots, render
from vidlab.stages.report import stage as report
from vidlab.stages.report.summary import imbalance_ratio, summarize

INGEST = IngestParams()
REPORT = ReportParams()
CLASSES = ("achieved", "not_achieved")
TOP_LEVEL_KEYS = [
    "dataset_fingerprint", "total_videos", "age_group_distribution", "domain_distribution",
    "label_distribution", "percentages", "age_domain_crosstab", "domain_label_crosstab",
    "top_milestones", "per_subject", "label_imbalance_ratio", "age_milestone_inconsistent",
    "quality_checks",
]
BAR_ROW = re.compile(r"^\s*(\S+) \|\s+(\d+) videos \(\s*([\d.]+)%\) ?(█*)$")


def _group(age: int) -> str:
    return next(g for g, hi in zip(INGEST.age_groups(), INGEST.age_bins, strict=True) if age <= hi)


def _row(video_id: str, age: int, milestone: str, label: str = "achieved",
         subject: str = "s-a") -> dict[str, object]:
    """One metadata row; domain, age group and milestone age derived as ingest would."""
    return {
        "video_id": video_id, "filename": f"{video_id}.mp4", "subject_id": subject,
        "child_age": age, "age_group": _group(age), "milestone_id": milestone,
        "milestone_age": int(milestone.split("_")[1].rstrip("M")),
        "domain": INGEST.domains[milestone[0]], "label": label, "recorded_period": "2024-Q1",
        "size_bytes": "1000", "sha256": f"sha-{video_id}",
    }


# No cognitive domain and nobody in 31-36m (zero categories); 8 achieved vs 4 (ratio 2.0);
# M_12M_001 x3, then L_12M_001 and S_6M_001 tied at 2 (ties by id); vid03 is a 3-month-old
# filmed for a 30-month milestone; vid12 has no subject id.
ROWS = [
    _row("vid01", 12, "M_12M_001"),
    _row("vid02", 11, "M_12M_001", "not_achieved"),
    _row("vid03", 3, "M_30M_001", "not_achieved", subject="s-b"),
    _row("vid04", 14, "M_12M_001", subject="s-b"),
    _row("vid05", 5, "S_6M_001", subject="s-b"),
    _row("vid06", 6, "S_6M_001", "not_achieved", subject="s-c"),
    _row("vid07", 13, "L_12M_001", subject="s-c"),
    _row("vid08", 16, "L_12M_001", subject="s-c"),
    _row("vid09", 20, "L_24M_001", subject="s-d"),
    _row("vid10", 25, "S_24M_001", subject="s-d"),
    _row("vid11", 28, "M_30M_001", subject="s-d"),
    _row("vid12", 24, "S_24M_001", "not_achieved", subject=""),
]


@pytest.fixture
def meta() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=list(METADATA_COLUMNS))


@pytest.fixture
def quarantine() -> pd.DataFrame:
    reasons = ["invalid_label", "missing_file", "invalid_label"]
    rows = [{"stage": "ingest", "line": str(i + 2), "video_id": "", "column": "label",
             "value": "x", "reason": r, "detail": "fix it"} for i, r in enumerate(reasons)]
    return pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))


@pytest.fixture
def summary(meta: pd.DataFrame, quarantine: pd.DataFrame) -> dict:
    return summarize(meta, ingest=INGEST, report=REPORT, classes=CLASSES, quarantine=quarantine,
                     fingerprint="fp-123")


@pytest.mark.parametrize("key, column", [
    ("age_group_distribution", "age_group"),
    ("domain_distribution", "domain"),
    ("label_distribution", "label"),
])
def test_counts_match_pandas_value_counts(summary: dict, meta: pd.DataFrame, key: str,
                                          column: str) -> None:
    expected = meta[column].value_counts().to_dict()
    assert summary["total_videos"] == len(meta)
    assert {k: v for k, v in summary[key].items() if v} == expected
    assert sum(summary[key].values()) == len(meta)


def test_every_category_is_listed_in_configured_order(summary: dict) -> None:
    assert list(summary["age_group_distribution"]) == INGEST.age_groups()
    assert list(summary["domain_distribution"]) == list(INGEST.domains.values())
    assert list(summary["label_distribution"]) == list(CLASSES)
    assert summary["age_group_distribution"]["31-36m"] == 0
    assert summary["domain_distribution"]["cognitive"] == 0
    assert summary["quality_checks"]["empty_age_groups"] == ["31-36m"]
    assert summary["quality_checks"]["empty_domains"] == ["cognitive"]


@pytest.mark.parametrize("key, rows_key, cols_key", [
    ("age_domain_crosstab", "age_group_distribution", "domain_distribution"),
    ("domain_label_crosstab", "domain_distribution", "label_distribution"),
])
def test_crosstab_margins_equal_distributions(summary: dict, key: str, rows_key: str,
                                              cols_key: str) -> None:
    table = summary[key]
    assert {r: sum(cells.values()) for r, cells in table.items()} == summary[rows_key]
    assert {c: sum(cells[c] for cells in table.values()) for c in summary[cols_key]} == (
        summary[cols_key]
    )


@pytest.mark.parametrize("limit, expected", [
    (3, [["M_12M_001", 3], ["L_12M_001", 2], ["M_30M_001", 2]]),
    (10, [["M_12M_001", 3], ["L_12M_001", 2], ["M_30M_001", 2], ["S_24M_001", 2],
          ["S_6M_001", 2], ["L_24M_001", 1]]),
])
def test_top_milestones_most_first_ties_by_id(meta: pd.DataFrame, limit: int,
                                              expected: list) -> None:
    params = replace(REPORT, top_milestones=limit)
    result = summarize(meta, ingest=INGEST, report=params, classes=CLASSES)
    assert result["top_milestones"] == expected


@pytest.mark.parametrize("counts, expected", [
    ({"achieved": 8, "not_achieved": 4}, 2.0),
    ({"achieved": 3, "not_achieved": 3}, 1.0),
    ({"achieved": 2, "not_achieved": 3}, 1.5),
    ({"achieved": 5, "not_achieved": 0}, None),
    ({"achieved": 5}, None),
])
def test_imbalance_ratio(counts: dict[str, int], expected: float | None) -> None:
    assert imbalance_ratio(counts, CLASSES) == expected


def test_summary_imbalance_ratio(summary: dict) -> None:
    assert summary["label_imbalance_ratio"] == 2.0
    assert summary["quality_checks"]["label_imbalance_ratio"] == 2.0


@pytest.mark.parametrize("age, milestone, tolerance, flagged", [
    (3, "M_30M_001", 6, True),     # a 30-month milestone on a 3-month-old
    (12, "M_12M_001", 6, False),   # exactly the milestone's age
    (18, "M_12M_001", 6, False),   # at the tolerance: not flagged
    (19, "M_12M_001", 6, True),    # one month past it
    (3, "M_30M_001", 30, False),   # a wide tolerance accepts it
])
def test_age_vs_milestone_flags(age: int, milestone: str, tolerance: int, flagged: bool) -> None:
    frame = pd.DataFrame([_row("vidX", age, milestone)], columns=list(METADATA_COLUMNS))
    params = replace(REPORT, age_tolerance_months=tolerance)
    result = summarize(frame, ingest=INGEST, report=params, classes=CLASSES)
    assert bool(result["age_milestone_inconsistent"]) is flagged
    assert result["quality_checks"]["age_milestone_inconsistent"] == int(flagged)


def test_inconsistent_video_details(summary: dict) -> None:
    assert summary["age_milestone_inconsistent"] == [
        {"video_id": "vid03", "child_age": 3, "milestone_id": "M_30M_001", "milestone_age": 30,
         "gap": -27},
    ]


def test_per_subject_counts_without_listing_subjects(summary: dict) -> None:
    stats = summary["per_subject"]
    assert stats == {"n_subjects": 4, "videos_without_subject": 1, "min": 2, "median": 3.0,
                     "max": 3, "mean": 2.75, "histogram": {"2": 1, "3": 3}}
    assert summary["quality_checks"]["missing_subject_ids"] == 1
    assert "s-a" not in render.to_json(summary)


def test_quarantine_counts(summary: dict) -> None:
    checks = summary["quality_checks"]
    assert checks["quarantined_rows"] == 3 and checks["files_without_rows"] == 0
    assert checks["quarantine_by_reason"] == {"invalid_label": 2, "missing_file": 1}
    assert list(summary) == TOP_LEVEL_KEYS


def test_empty_metadata_summarises_and_plots(tmp_path: Path) -> None:
    frame = pd.DataFrame(columns=list(METADATA_COLUMNS))
    result = summarize(frame, ingest=INGEST, report=REPORT, classes=CLASSES)
    assert result["total_videos"] == 0 and result["label_imbalance_ratio"] is None
    assert "Total Videos: 0" in render.to_text(result, bar_width=50)
    assert all(path.stat().st_size > 0 for path in plots.write_plots(result, tmp_path))


def test_text_matches_the_seed_example() -> None:
    """The seed README's own numbers give its own rows, character for character."""
    ages = [3] * 3 + [9] * 7 + [15] * 3 + [20] * 5 + [27] * 2 + [33] * 5
    frame = pd.DataFrame([_row(f"v{i:02d}", a, "M_12M_001") for i, a in enumerate(ages)],
                         columns=list(METADATA_COLUMNS))
    text = render.to_text(summarize(frame, ingest=INGEST, report=REPORT, classes=CLASSES),
                          bar_width=50)
    seed_rows = [
        "      0-6m |    3 videos ( 12.0%) ██████",
        "     7-12m |    7 videos ( 28.0%) ██████████████",
        "    13-18m |    3 videos ( 12.0%) ██████",
        "    19-24m |    5 videos ( 20.0%) ██████████",
        "    25-30m |    2 videos (  8.0%) ████",
        "    31-36m |    5 videos ( 20.0%) ██████████",
    ]
    assert "\n".join(seed_rows) in text
    assert text.startswith("=" * 70 + "\nCHILD DEVELOPMENT VIDEO DATASET SUMMARY REPORT\n")


@pytest.mark.parametrize("bar_width", [10, 37, 50])
def test_text_sections_and_bar_lengths(summary: dict, bar_width: int) -> None:
    text = render.to_text(summary, bar_width=bar_width)
    for title in ("📊 DISTRIBUTION BY AGE GROUP", "🎯 DISTRIBUTION BY DOMAIN",
                  "✅ DISTRIBUTION BY LABEL", "AGE GROUP × DOMAIN", "DOMAIN × LABEL",
                  "TOP MILESTONES", "PER-SUBJECT VIDEO COUNTS", "DATA QUALITY CHECKS",
                  "Dataset fingerprint: fp-123", "Total Videos: 12"):
        assert title in text
    rows = [m for line in text.splitlines() if (m := BAR_ROW.match(line))]
    assert len(rows) >= 12
    for match in rows[:12]:  # the three distributions; per-subject rows count subjects
        pct = 100 * int(match[2]) / summary["total_videos"]
        assert len(match[4]) == round(pct / 100 * bar_width)
    assert "vid03: age 3m, milestone M_30M_001 (30m), gap -27m" in text


def test_markdown_has_tables(summary: dict) -> None:
    text = render.to_markdown(summary)
    assert "| age group | motor | language | social | cognitive | total |" in text
    assert "| 0-6m | 3 | 25.0 |" in text


@pytest.fixture
def csvs(tmp_path: Path, meta: pd.DataFrame, quarantine: pd.DataFrame) -> tuple[Path, Path]:
    meta_csv, quarantine_csv = tmp_path / "metadata.csv", tmp_path / "quarantine.csv"
    meta.to_csv(meta_csv, index=False)
    quarantine.to_csv(quarantine_csv, index=False)
    return meta_csv, quarantine_csv


def _run(csvs: tuple[Path, Path], out: Path, params: Params | None = None) -> dict:
    return report.run(params=params or from_dict({}), metadata_csv=csvs[0],
                      quarantine_csv=csvs[1], out=out, fingerprint="fp-123")


def test_a_read_the_stage_does_not_declare_stops_it(csvs, tmp_path, monkeypatch) -> None:
    """report reads report.bar_width; without it in PARAMS (and so in dvc.yaml) the stage stops
    before writing, rather than leave DVC blind to that key."""
    from vidlab.config.declare import Declaration, UndeclaredParamError

    outputs = [e for e in report.PARAMS.outputs if e != "report"]
    monkeypatch.setattr(report, "PARAMS", Declaration(
        "report", outputs=(*outputs, "report.top_milestones", "report.age_tolerance_months")))
    with pytest.raises(UndeclaredParamError, match="read params 'report.bar_width'"):
        _run(csvs, tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_run_twice_is_byte_identical(csvs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = _run(csvs, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = _run(csvs, out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == sorted(report.OUTPUT_FILES) and len(before) == 7
    assert before == after and first == second
    assert json.loads(before["summary.json"]) == first
    text = before["summary.txt"].decode("utf-8")
    assert not re.search(r"\d{2}:\d{2}:\d{2}", text)
    assert not re.search(r"Generated", text)
    assert all(before[name].startswith(b"\x89PNG") for name in before if name.endswith(".png"))


@pytest.mark.parametrize("column", ["label", "child_age", "subject_id"])
def test_missing_column_is_named(csvs: tuple[Path, Path], tmp_path: Path, column: str) -> None:
    meta_csv = csvs[0]
    pd.read_csv(meta_csv, dtype=str).drop(columns=[column]).to_csv(meta_csv, index=False)
    with pytest.raises(DataError, match=f"'{column}'") as info:
        _run(csvs, tmp_path / "report")
    assert str(meta_csv) in str(info.value)
    assert not (tmp_path / "report").exists()


def test_missing_metadata_file(tmp_path: Path, csvs: tuple[Path, Path]) -> None:
    with pytest.raises(DataError, match="does not exist"):
        _run((tmp_path / "nope.csv", csvs[1]), tmp_path / "report")


def test_non_numeric_age_names_line_and_column(csvs: tuple[Path, Path], tmp_path: Path) -> None:
    frame = pd.read_csv(csvs[0], dtype=str)
    frame.loc[2, "child_age"] = "three"
    frame.to_csv(csvs[0], index=False)
    with pytest.raises(DataError, match=r"line 4, column 'child_age'.*'three'"):
        _run(csvs, tmp_path / "report")


def test_empty_subject_ids_stay_empty(csvs: tuple[Path, Path]) -> None:
    frame = report.read_metadata(csvs[0])
    assert frame["subject_id"].tolist()[-1] == ""
    assert frame["child_age"].tolist()[:3] == [12.0, 11.0, 3.0]


def test_quarantine_counts_rows_and_files_without_rows_as_ingest_does() -> None:
    """Two problems on one CSV line are one quarantined row; a file no row names is counted
    apart (the summary once said 8 where ingest.json and the card said 7 of 142, plus 1 file)."""
    rows = [{"stage": "ingest", "line": "5", "video_id": "", "column": c, "value": "x",
             "reason": r, "detail": ""} for c, r in (("label", "invalid_label"),
                                                     ("child_age", "age_not_a_number"))]
    rows.append({"stage": "ingest", "line": "", "video_id": "v9", "column": "filename",
                 "value": "", "reason": "no_metadata_row", "detail": ""})
    quarantine = pd.DataFrame(rows, columns=list(QUARANTINE_COLUMNS))
    frame = pd.DataFrame(columns=list(METADATA_COLUMNS))
    checks = summarize(frame, ingest=INGEST, report=REPORT, classes=CLASSES,
                       quarantine=quarantine)["quality_checks"]
    assert (checks["quarantined_rows"], checks["files_without_rows"],
            checks["quarantine_problems"]) == (1, 1, 3)


def test_duplicate_counts_are_dedups_own(csvs: tuple[Path, Path], tmp_path: Path) -> None:
    """The report shows dedup's clusters and review pairs as the card counts them: read from
    duplicates.json, not recomputed; before dedup it says so instead of a zero."""
    duplicates = {"params": {"threshold": 0.18, "review_margin": 0.03},
                  "pairs": [{"a": a, "b": b, "kind": "near", "distance": 0.1}
                            for a, b in (("a", "b"), ("a", "c"), ("b", "c"))],
                  "clusters": [{"id": "dup-001", "kind": "near", "video_ids": ["a", "b", "c"]}],
                  "review": [{"a": "d", "b": "e", "distance": 0.19}]}
    path = tmp_path / "duplicates.json"
    contracts.write(path, contracts.Duplicates, duplicates)
    summary = report.run(params=from_dict({}), metadata_csv=csvs[0], quarantine_csv=csvs[1],
                         out=tmp_path / "with", fingerprint="fp-123", duplicates_json=path)
    qc = summary["quality_checks"]
    assert (qc["duplicate_clusters"], qc["videos_in_duplicate_clusters"], qc["duplicate_pairs"],
            qc["duplicate_review_pairs"]) == (1, 3, 3, 1)
    text = (tmp_path / "with" / "summary.txt").read_text()
    assert "Duplicate clusters (dedup: identical or near-identical frames): 1, 3 videos, 3 pairs" \
        in text and "to look at: 1" in text
    without = _run(csvs, tmp_path / "without")
    assert "duplicate_clusters" not in without["quality_checks"]
    assert "dedup has not run" in (tmp_path / "without" / "summary.txt").read_text()
    with pytest.raises(DataError, match="run the dedup stage first"):
        report.run(params=from_dict({}), metadata_csv=csvs[0], quarantine_csv=csvs[1],
                   out=tmp_path / "absent", fingerprint="fp-123",
                   duplicates_json=tmp_path / "none.json")
