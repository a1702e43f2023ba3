"""The validate stage: real Great Expectations suites, quarantine, stop rules, Data Docs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.browser import look, need_chromium
from tests.conftest import ROOT
from tests.stages.validate.conftest import manifest, metadata
from vidlab.config import replace
from vidlab.core.errors import DataError


def quarantined(tmp: Path) -> list[tuple[str, str]]:
    rows = pd.read_csv(tmp / "q.csv", dtype=str, keep_default_na=False)
    return sorted(zip(rows["video_id"], rows["reason"], strict=True))


def test_clean_data_passes_and_builds_data_docs(stage) -> None:
    import hashlib

    def digest() -> dict[str, str]:
        reports = stage.tmp / "reports"
        return {p.relative_to(reports).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(reports.rglob("*")) if p.is_file()
                and p.relative_to(reports).parts[0] != "docs"}

    stage(metadata())
    first = digest()
    summary = stage(metadata())
    # reruns write every output byte for byte but the Data Docs, which show when they ran
    assert digest() == first
    assert set(first) == {"headline.json", "index.html", "quarantine.csv", "results.json",
                          "summary.json"}
    assert summary["passed"] and summary["expectations_failed"] == 0
    assert summary["expectations"] == 34
    index = stage.tmp / "reports" / "docs" / "index.html"
    html = index.read_text()
    assert all(name in html for name in ("metadata", "labels", "manifest"))
    offline = (stage.tmp / "reports" / "index.html").read_text()
    assert "Validation PASSED" in offline and offline.count("<tr class=pass>") == 34
    assert quarantined(stage.tmp) == []


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("label", "maybe", "metadata.expect_column_values_to_be_in_set(label)"),
        ("child_age", "40", "metadata.expect_column_values_to_be_between(child_age)"),
        ("milestone_id", "m12", "metadata.expect_column_values_to_match_regex(milestone_id)"),
        ("domain", "music", "metadata.expect_column_values_to_be_in_set(domain)"),
    ],
)
def test_row_failures_quarantine_with_the_expectation_name(stage, column, value, reason) -> None:
    meta = metadata()
    meta.loc[3, column] = value
    summary = stage(meta)
    assert summary["passed"] and summary["quarantined_by_validate"] == 1
    assert quarantined(stage.tmp) == [("v0003", reason)]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("status", "truncated", "manifest.expect_column_values_to_be_in_set(status)"),
        ("duration_s", 0.0, "manifest.expect_column_values_to_be_between(duration_s)"),
        ("frames_decoded", 30, "manifest.expect_column_values_to_be_between(frames_ratio)"),
        ("codec", "prores", "manifest.expect_column_values_to_be_in_set(codec)"),
        ("width", 32, "manifest.expect_column_values_to_be_between(width)"),
        # a single-frame file: no frame rate can be measured, which a range check would skip
        ("fps_avg", float("nan"), "manifest.expect_column_values_to_not_be_null(fps_avg)"),
    ],
)
def test_manifest_row_failures(stage, column, value, reason) -> None:
    meta = metadata()
    probed = manifest(meta)
    probed.loc[5, column] = value
    stage(meta, probed)
    assert quarantined(stage.tmp) == [("v0005", reason)]


def test_age_gap_is_a_warning_not_a_quarantine(stage) -> None:
    meta = metadata()
    meta.loc[7, ["child_age", "milestone_age"]] = ["3", "30"]
    summary = stage(meta)
    assert summary["passed"] and quarantined(stage.tmp) == []
    assert summary["warnings"] == [{"expectation":
                                    "labels.expect_column_values_to_be_between(age_gap)",
                                    "rows": 1, "videos": ["v0007"]}]


def test_missing_class_stops_the_stage(stage) -> None:
    meta = metadata()
    meta["label"] = "achieved"
    with pytest.raises(DataError, match=r"blocking expectation failed: labels\."
                                        r"expect_column_distinct_values_to_contain_set\(label\)"):
        stage(meta)
    summary = json.loads((stage.tmp / "reports" / "summary.json").read_text())
    assert not summary["passed"]  # the reports are written for the person who has to fix it


def test_later_stages_refuse_a_failed_validation(stage, params) -> None:
    """A passing run writes the quarantine later stages read; a failing one removes it (its
    table goes to the reports folder), so dedup and split stop with a message, not stale data."""
    from vidlab.stages.dedup import stage as dedup
    from vidlab.stages.split.stage import load_rows

    assert stage(metadata())["passed"]
    assert (stage.tmp / "q.csv").is_file()
    meta = metadata()
    meta.loc[:9, "label"] = "maybe"
    with pytest.raises(DataError, match=r"the reasons are in .*reports/quarantine\.csv"):
        stage(meta)
    assert not (stage.tmp / "q.csv").exists()
    held = pd.read_csv(stage.tmp / "reports" / "quarantine.csv", dtype=str)
    assert set(held["reason"]) == {"metadata.expect_column_values_to_be_in_set(label)"}
    with pytest.raises(DataError, match="has not run or did not pass"):
        dedup.run(params, manifest=stage.tmp / "m.parquet", quarantine=stage.tmp / "q.csv",
                  out=stage.tmp / "dup.json", reports=stage.tmp / "dedup")
    with pytest.raises(DataError, match="has not run or did not pass"):
        load_rows(stage.tmp / "metadata.csv", stage.tmp / "m.parquet", stage.tmp / "q.csv")
    assert not (stage.tmp / "dup.json").exists()


def test_imbalance_stops_the_stage(stage, params) -> None:
    meta = metadata()
    meta.loc[:35, "label"] = "achieved"
    with pytest.raises(DataError, match=r"label_fraction"):
        stage(meta)
    lenient = replace(params, validate=replace(
        params.validate, min_class_fraction=0.05, max_class_fraction=0.95))
    assert stage(meta, run_params=lenient)["passed"]


def test_quarantine_fraction_stops_the_stage(stage) -> None:
    meta = metadata()
    meta.loc[:9, "label"] = "maybe"
    with pytest.raises(DataError, match=r"25% of the rows are quarantined"):
        stage(meta)
    with pytest.raises(DataError, match=r"quarantined"):
        stage(metadata(), quarantined=30)


def test_missing_column_is_a_blocking_failure(stage) -> None:
    with pytest.raises(DataError, match="expect_table_columns_to_match_ordered_list"):
        stage(metadata().drop(columns=["recorded_period"]))


def test_suite_mistakes_are_refused(stage, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(ROOT / "expectations", suites)
    raw = json.loads((suites / "labels.json").read_text())
    raw["expectations"][0]["type"] = "expect_column_values_to_be_splendid"
    (suites / "labels.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match="unknown expectation type"):
        stage(metadata(), suites=suites)
    raw["expectations"][0] = {**raw["expectations"][1], "meta": {}}
    (suites / "labels.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match="meta.severity"):
        stage(metadata(), suites=suites)


def test_data_docs_render_in_chromium(stage, tmp_path: Path) -> None:
    """The pages as a browser without a network shows them (every host name fails to resolve)."""
    need_chromium()
    meta = metadata()
    meta.loc[7, ["child_age", "milestone_age"]] = ["3", "30"]  # a warning on one row
    stage(meta)
    reports = stage.tmp / "reports"

    def chromium(page: Path, screenshot: Path | None = None) -> str:
        return look(page.as_uri(), tmp_path / "profile", screenshot=screenshot, size="1200,900")

    shot = tmp_path / "docs.png"
    chromium(reports / "docs" / "index.html", screenshot=shot)
    assert shot.stat().st_size > 10_000
    index = chromium(reports / "docs" / "index.html")
    assert index.count('href="validations/') == 3 and index.count('href="expectations/') == 3
    (result,) = (reports / "docs" / "validations" / "labels").rglob("*.html")
    page = chromium(result)  # GX's content, and our stand-in script ran
    assert 'class="vidlab-js"' in page and "Run Time" in page and "v0007" in page
    dump = chromium(reports / "index.html")
    assert "Validation PASSED" in dump and "labels.expect_column_values_to_be_between" in dump
