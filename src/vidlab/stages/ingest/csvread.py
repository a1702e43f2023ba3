"""Read the researchers' metadata CSV as it comes: BOM or not, comma or semicolon, messy headers.

Problems with the file as a whole (not UTF-8, empty, no data rows, a required column missing)
stop the stage with a message that says what was expected and what was found. Problems with a
single row are the caller's to quarantine: every row keeps its line number in the file.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from vidlab.core.errors import DataError

REQUIRED = ("filename", "child_age", "milestone_id", "label")
OPTIONAL = ("child_id", "recorded_on")
# Header spellings seen in the wild, after lower-casing and trimming.
ALIASES = {
    "file": "filename", "file_name": "filename", "video": "filename", "video_file": "filename",
    "age": "child_age", "age_months": "child_age", "child_age_months": "child_age",
    "milestone": "milestone_id", "subject_id": "child_id", "participant_id": "child_id",
    "date": "recorded_on", "recording_date": "recorded_on", "recorded": "recorded_on",
}


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line number in the file (header = line 1) and its cells by column."""

    line: int
    cells: dict[str, str]


def canonical_header(name: str) -> str:
    """'  Child_Age (months) ' -> 'child_age'; known aliases map to the canonical names."""
    key = re.sub(r"\(.*?\)", "", name).strip().lower()
    key = re.sub(r"[\s\-]+", "_", key).strip("_")
    return ALIASES.get(key, key)


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"The metadata CSV {path} does not exist. Check data.csv in params.yaml."
        ) from None
    except IsADirectoryError:
        raise DataError(f"data.csv points at a folder ({path}), not a CSV file.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 (byte {exc.start} is {raw[exc.start]:#x}). Save it as UTF-8 "
            "(in Excel: 'CSV UTF-8') and run again."
        ) from None


def read_rows(path: Path) -> tuple[list[str], list[CsvRow]]:
    """Read ``path`` into canonical column names and rows.

    Returns:
        The canonical header, and every non-blank data row with its line number.

    Raises:
        DataError: when the file is missing, not UTF-8, empty, has no data rows, has duplicate
            or missing required columns.
    """
    text = _decode(Path(path))
    if not text.strip():
        raise DataError(f"The metadata CSV {path} is empty. Expected a header line "
                        f"({', '.join(REQUIRED)}) and one row per video.")
    first = text.splitlines()[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    if delimiter == "\t":
        raise DataError(f"The metadata CSV {path} is tab-delimited (its header has "
                        f"{counts[chr(9)]} tabs and {counts[',']} commas); vidlab reads comma- "
                        "or semicolon-separated files. Save it as CSV (comma-separated).")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        header = [canonical_header(h) for h in next(reader)]
        _check_header(path, header)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            padded = cells + [""] * (len(header) - len(cells))
            rows.append(CsvRow(reader.line_num, dict(zip(header, padded, strict=False))))
    except csv.Error as exc:
        # csv counts the lines it consumed; a field that runs on is an unmatched quote
        start = _quote_start(text, reader.line_num)
        raise DataError(
            f"The metadata CSV {path} cannot be read past line {start}: a field there opens a "
            f"double quote (\") that is never closed, so everything after it reads as one "
            f"field ({exc}). Remove the stray quote or close it, then run again.") from None
    if not rows:
        raise DataError(f"The metadata CSV {path} has a header but no rows. Add one row per video.")
    return header, rows


def _quote_start(text: str, consumed: int) -> int:
    """The line of the last row start before the reader failed: where the open quote is."""
    lines = text.splitlines()
    quotes = 0
    start = 1
    for number, line in enumerate(lines[:max(consumed, 1)], 1):
        if quotes % 2 == 0:
            start = number
        quotes += line.count('"')
    return start


def _check_header(path: Path, header: list[str]) -> None:
    seen = [h for h in header if h]
    duplicates = sorted({h for h in seen if seen.count(h) > 1})
    if duplicates:
        raise DataError(f"The metadata CSV {path} has the column(s) {', '.join(duplicates)} more "
                        "than once (after ignoring case, spaces and units). Keep one of each.")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(
            f"The metadata CSV {path} lacks the required column(s) {', '.join(missing)}. "
            f"Expected {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}); "
            f"found {', '.join(seen) or 'no named columns'}."
        )
