"""The validate stage: real Great Expectations suites, quarantine, stop rules, Data Docs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from vidlab import contracts
from vidlab.config import replace
from vidlab.core.errors import DataError
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.media.probe import MANIFEST_COLUMNS
from vidlab.stages.validate import stage as validate

N = 40


def metadata(n: int = N) -> pd.DataFrame:
    rows = []
    for k in range(n):
        rows.append({
            "video_id": f"v{k:04d}", "filename": f"v{k:04d}.mp4", "subject_id": f"s{k % 8}",
            "child_age": str(6 + k % 24), "age_group": "", "milestone_id": f"M_{6 + k % 24}M_001",
            "milestone_age": str(6 + k % 24), "domain": ["motor", "language", "social",
                                                         "cognitive"][k % 4],
            "label": ["achieved", "not_achieved"][k % 2], "recorded_period": "2024-Q1",
            "size_bytes": "1000", "sha256": f"{k:064x}",
        })
    return pd.DataFrame(rows, columns=list(METADATA_COLUMNS))


def manifest(meta: pd.DataFrame) -> pd.DataFrame:
    """A clean manifest for ``meta``: every video decodes fully at 15 fps, 128x96."""
    good = {"status": "ok", "duration_s": 3.0, "fps_avg": 15.0, "width": 128, "height": 96,
            "frames_declared": 45, "frames_decoded": 45, "codec": "h264"}
    frame = pd.DataFrame({c: [good.get(c)] * len(meta) for c in MANIFEST_COLUMNS})
    frame["video_id"] = meta["video_id"].to_numpy()
    return frame


@pytest.fixture
def stage(tmp_path: Path, params):
    """Write the inputs and return a function running the stage on them."""

    def go(meta: pd.DataFrame, probed: pd.DataFrame | None = None, *, quarantined: int = 0,
           rows_read: int | None = None, run_params=None, suites: Path | None = None) -> dict:
        meta.to_csv(tmp_path / "metadata.csv", index=False)
        (manifest(meta) if probed is None else probed).to_parquet(tmp_path / "m.parquet")
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)).to_csv(tmp_path / "qi.csv", index=False)
        contracts.write(tmp_path / "ingest.json", contracts.IngestCounts, {
            "rows_read": rows_read or len(meta) + quarantined, "quarantined_rows": quarantined,
            "problems_by_reason": {"missing_file": quarantined} if quarantined else {},
            "files_without_rows": 0})
        return validate.run(run_params or params, metadata_csv=tmp_path / "metadata.csv",
                            manifest=tmp_path / "m.parquet", ingest_quarantine=tmp_path / "qi.csv",
                            ingest_report=tmp_path / "ingest.json",
                            suites=suites or ROOT / "expectations",
                            quarantine=tmp_path / "q.csv", reports=tmp_path / "reports")

    go.tmp = tmp_path
    return go


def quarantined(tmp: Path) -> list[tuple[str, str]]:
    rows = pd.read_csv(tmp / "q.csv", dtype=str, keep_default_na=False)
    return sorted(zip(rows["video_id"], rows["reason"], strict=True))


def test_clean_data_passes_and_builds_data_docs(stage) -> None:
    import hashlib

    def digest() -> dict[str, str]:
        docs = stage.tmp / "reports"
        return {str(p.relative_to(docs)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(docs.rglob("*")) if p.is_file()}

    stage(metadata())
    first = digest()
    summary = stage(metadata())
    assert digest() == first  # reruns are byte-identical, Data Docs included
    assert summary["passed"] and summary["expectations_failed"] == 0
    assert summary["expectations"] == 22
    index = stage.tmp / "reports" / "docs" / "index.html"
    html = index.read_text()
    assert all(name in html for name in ("metadata", "labels", "manifest"))
    offline = (stage.tmp / "reports" / "index.html").read_text()
    assert "Validation PASSED" in offline and offline.count("<tr class=pass>") == 22
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
                                    "rows": 1}]


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
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium to run this check)")
    stage(metadata())
    shot = tmp_path / "docs.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1200,900",
                    (stage.tmp / "reports" / "docs" / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000
    dump = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom",
                           (stage.tmp / "reports" / "index.html").as_uri()],
                          check=True, capture_output=True, text=True, timeout=120).stdout
    assert "Validation PASSED" in dump and "labels.expect_column_values_to_be_between" in dump
