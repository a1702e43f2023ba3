"""The "report" stage: the de-identified metadata (and quarantine) -> summary files and charts.

Writes into one folder, atomically (the old folder stays until the new one is complete):
``summary.txt`` (the researchers' layout), ``summary.json``, ``summary.md`` and four PNG charts.
Nothing in them depends on the clock, so a rerun on the same data is byte-identical.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from vidlab import contracts
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.stages.report import plots, render
from vidlab.stages.report.summary import require_columns, summarize

PARAMS = Declaration(
    "report",
    outputs=("base.classes", "ingest.domains", "ingest.age_bins", "report"),
)


log = logging.getLogger(__name__)

MARKER = "summary.json"
NUMERIC_COLUMNS = ("child_age", "milestone_age")
OUTPUT_FILES = ("summary.txt", "summary.json", "summary.md", *plots.PLOT_FILES, plots.HEATMAP_FILE)


def read_table(path: Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """Read a CSV written by the ingest stage, every cell as a string ("" stays "").

    Args:
        path: the CSV file.
        columns: the columns it must have.
        what: what the file is, for messages ("metadata CSV").

    Raises:
        DataError: when the file is missing, unreadable or lacks one of ``columns``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The {what} {path} does not exist. Run the ingest stage first.")
    try:
        # keep_default_na=False: an empty subject_id must stay "", not become NaN.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"The {what} {path} cannot be read as a UTF-8 CSV: {exc}") from None
    require_columns(frame, columns, f"The {what} {path}")
    return frame


def _to_months(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``column`` as numbers (NaN where empty); a non-numeric value is an error, not a NaN."""
    raw = frame[column].str.strip()
    numbers = pd.to_numeric(raw.where(raw != ""), errors="coerce").astype(float)
    bad = (numbers.isna() & (raw != "")).to_numpy().nonzero()[0]
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}, line {row + 2}, column '{column}': expected a whole number of months or "
            f"an empty cell. Got {raw.iloc[row]!r} instead. Re-run the ingest stage."
        )
    return numbers


def read_metadata(path: Path) -> pd.DataFrame:
    """Read the de-identified metadata CSV; child_age and milestone_age become numbers or NaN.

    Raises:
        DataError: when the file is missing, lacks a METADATA_COLUMNS column or has a
            non-numeric age.
    """
    frame = read_table(path, METADATA_COLUMNS, "metadata CSV")
    for column in NUMERIC_COLUMNS:
        frame[column] = _to_months(frame, column, Path(path))
    return frame


def run(*, params: Params, metadata_csv: Path, quarantine_csv: Path | None, out: Path,
        fingerprint: str, duplicates_json: Path | None = None) -> dict[str, Any]:
    """Summarise the dataset and write the report files into ``out``.

    Args:
        params: all validated params (base.classes, ingest and report sections are used).
        metadata_csv: the de-identified metadata (METADATA_COLUMNS).
        quarantine_csv: the quarantine table (QUARANTINE_COLUMNS), or None when there is none.
        out: the report folder; replaced as a whole, and only if it is vidlab's own output.
        fingerprint: identifies the dataset version in the report (e.g. a content hash).
        duplicates_json: the dedup stage's duplicates.json, or None before dedup has run.

    Returns:
        The summary dict, as written to summary.json.

    Raises:
        DataError: on a missing or malformed input, or when ``out`` holds foreign files.
    """
    params = PARAMS.view(params)
    meta = read_metadata(metadata_csv)
    quarantine = None
    if quarantine_csv is not None:
        quarantine = read_table(quarantine_csv, QUARANTINE_COLUMNS, "quarantine CSV")
    duplicates = None
    if duplicates_json is not None:
        try:
            duplicates = contracts.read(Path(duplicates_json), contracts.Duplicates)
        except FileNotFoundError:
            raise DataError(f"{duplicates_json} does not exist; run the dedup stage first "
                            "(`dvc repro dedup`).") from None
        except OSError as exc:
            raise DataError(f"Cannot read {duplicates_json}: {exc}") from None
    summary = summarize(meta, ingest=params.ingest, report=params.report,
                        classes=params.base.classes, quarantine=quarantine,
                        fingerprint=fingerprint, duplicates=duplicates)
    texts = {
        "summary.txt": render.to_text(summary, bar_width=params.report.bar_width),
        "summary.md": render.to_markdown(summary),
    }
    with atomic_dir(out, marker=MARKER) as tmp:
        # render.to_json's bytes: indented UTF-8 JSON in the summary's own key order
        contracts.write(tmp / "summary.json", contracts.DatasetSummary, summary, atomic=False,
                        **render.JSON_FORMAT)
        for name, text in texts.items():
            # newline="\n": the same bytes on every OS.
            (tmp / name).write_text(text, encoding="utf-8", newline="\n")
        plots.write_plots(summary, tmp)
    qc = summary["quality_checks"]
    log.debug("Report of %d videos written to %s (%d quarantined, %d age/milestone flags)",
              summary["total_videos"], out, qc["quarantined_rows"],
              qc["age_milestone_inconsistent"])
    return summary
