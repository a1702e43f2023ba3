"""Normalise metadata rows and match them to video files; anything wrong becomes a Problem.

A Problem is a quarantine entry: the row's line number, the column, the value (redacted where it
identifies a child) and a machine-readable reason with a sentence for people. Nothing here
crashes on a bad row or touches a file outside the data folder.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from vidlab.config import IngestParams
from vidlab.stages.ingest.csvread import CsvRow

IDENTIFYING = {"filename", "file", "child_id", "recorded_on"}
REDACTED = "<redacted>"
_AGE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(m|mo|mos|month|months)?\s*$", re.I)
_MILESTONE = re.compile(r"^[A-Z0-9]+(?:_[A-Z0-9]+)+$")
_MILESTONE_AGE = re.compile(r"_(\d+)M(?:_|$)")


@dataclass
class Problem:
    """One quarantine entry. ``path`` (private) lets a later step add the video's pseudonym."""

    line: int | None
    column: str
    value: str
    reason: str
    detail: str
    path: Path | None = None
    video_id: str = ""

    def __post_init__(self) -> None:
        if self.column in IDENTIFYING and self.value:
            self.value = REDACTED


@dataclass
class Record:
    """A row that passed every check, with its normalised values and its (private) originals."""

    line: int
    filename: str
    path: Path | None
    child_age: int
    milestone_id: str
    milestone_age: int | None
    domain: str
    label: str
    age_group: str
    child_id: str = ""
    recorded_on: str = ""
    recorded_period: str = ""
    notes: list[str] = field(default_factory=list)


def parse_age(text: str, max_age: int) -> tuple[int | None, str]:
    """'12', ' 12 months', '12.0' -> 12. Returns (age, '') or (None, reason)."""
    if not text.strip():
        return None, "missing_value"
    match = _AGE.match(text)
    if not match:
        return None, "age_not_a_number"
    value = float(match.group(1))
    if not value.is_integer():
        return None, "age_not_integer"
    if not 0 <= value <= max_age:
        return None, "age_out_of_range"
    return int(value), ""


def normalize_label(text: str, classes: tuple[str, ...]) -> str | None:
    """'Achieved ', 'NOT ACHIEVED', 'not-achieved' -> a class name; None when it is none."""
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return key if key in classes else None


def normalize_milestone(text: str) -> str:
    """' m_12m_001 ' -> 'M_12M_001' (upper case; spaces and hyphens become underscores)."""
    return re.sub(r"[\s\-]+", "_", text.strip().upper())


def milestone_age(milestone: str) -> int | None:
    """The typical age in months a milestone id names ('M_12M_001' -> 12), if any."""
    match = _MILESTONE_AGE.search(milestone)
    return int(match.group(1)) if match else None


def age_group(age: int, params: IngestParams) -> str:
    """The age-bin label for ``age`` months, e.g. '7-12m'."""
    for label, upper in zip(params.age_groups(), params.age_bins, strict=True):
        if age <= upper:
            return label
    return "unknown"


def generalize_date(text: str, mode: str) -> tuple[str | None, str]:
    """Turn a recording date into a period ('2024-Q1', '2024', '' or the date itself).

    Returns:
        (period, iso_date), or (None, '') when the text is not a date.
    """
    if not text.strip():
        return "", ""
    try:
        day = dt.date.fromisoformat(text.strip().replace("/", "-")[:10])
    except ValueError:
        return None, ""
    period = {"drop": "", "year": f"{day.year}", "quarter": f"{day.year}-Q{(day.month + 2) // 3}",
              "keep": day.isoformat()}[mode]
    return period, day.isoformat()


def _unsafe(name: str) -> bool:
    """Absolute paths, drive letters and '..' are refused before anything is opened."""
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    return posix.is_absolute() or windows.is_absolute() or bool(windows.drive) or \
        ".." in posix.parts or ".." in windows.parts


def index_videos(root: Path, extensions: tuple[str, ...]) -> dict[str, Path]:
    """Video files under ``root`` by NFC-normalised POSIX path relative to root."""
    found = {}
    for path in sorted(root.rglob("*")):
        # folders, devices, pipes and dangling links with a video name are indexed too: a row
        # naming one gets its own reason (never opened), and they are not "files without a row"
        if path.suffix.lower() in extensions and (path.is_symlink() or path.exists()):
            rel = unicodedata.normalize("NFC", path.relative_to(root).as_posix())
            found[rel] = path
    return found


def locate(name: str, root: Path, index: dict[str, Path],
           params: IngestParams) -> tuple[Path | None, str]:
    """Find the file a row names, safely. Returns (path, '') or (None, reason)."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        return None, "missing_value"
    if _unsafe(name):
        return None, "path_outside_data"
    if PurePosixPath(name).suffix.lower() not in params.extensions:
        return None, "unsupported_extension"
    path = index.get(PurePosixPath(name).as_posix())
    if path is None:
        return None, "missing_file"
    # the path comes back with a refusal too: the row names it (it is no orphan), but it is
    # never opened
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        return path, "symlink_outside_data"
    if path.is_symlink() and not path.exists():
        return path, "dangling_link"
    if not path.is_file():
        return path, "not_a_file"
    return path, ""


DETAILS = {
    "missing_value": "The cell is empty; fill it in.",
    "age_not_a_number": "child_age must be a whole number of months, e.g. 12.",
    "age_not_integer": "child_age must be a whole number of months.",
    "age_out_of_range": "child_age is outside 0..{max_age} months (ingest.age_bins).",
    "invalid_label": "label must be one of {classes}.",
    "bad_milestone_id": "milestone_id must look like M_12M_001 (prefix_age_number).",
    "unknown_domain": "The milestone prefix is not in ingest.domains ({prefixes}).",
    "bad_date": "recorded_on must be a date such as 2024-03-15.",
    "path_outside_data": "The name leaves the video folder (absolute or '..'); refused, not read.",
    "unsupported_extension": "Only {extensions} files are read (ingest.extensions).",
    "missing_file": "No such file in the video folder.",
    "symlink_outside_data": "The file is a link to a place outside the video folder; refused.",
    "dangling_link": "The file is a link that points to nothing.",
    "not_a_file": "The name is a folder, device or pipe, not a video file; not opened.",
    "duplicate_row": "The same row appears earlier in the CSV; this copy was skipped.",
    "conflicting_rows": "Several rows name this file with different values; fix them to one.",
    "no_metadata_row": "A video file that no CSV row names.",
}


def problem(line: int | None, column: str, value: str, reason: str, params: IngestParams,
            classes: tuple[str, ...], path: Path | None = None) -> Problem:
    """A Problem with the standard sentence for ``reason``."""
    detail = DETAILS.get(reason, reason).format(
        max_age=params.max_age, classes=", ".join(classes), prefixes=", ".join(params.domains),
        extensions=", ".join(params.extensions))
    return Problem(line, column, value, reason, detail, path)


def check_row(row: CsvRow, root: Path | None, index: dict[str, Path], params: IngestParams,
              classes: tuple[str, ...]) -> Record | list[Problem]:
    """Normalise one row; return a Record, or every Problem found in it.

    With ``root`` None only the metadata is checked and the Record's ``path`` is None.
    """
    cells, problems = row.cells, []

    def fail(column: str, reason: str) -> None:
        problems.append(problem(row.line, column, cells.get(column, ""), reason, params, classes))

    age, reason = parse_age(cells["child_age"], params.max_age)
    if reason:
        fail("child_age", reason)
    label = normalize_label(cells["label"], classes)
    if label is None:
        fail("label", "missing_value" if not cells["label"].strip() else "invalid_label")
    milestone = normalize_milestone(cells["milestone_id"])
    domain = params.domains.get(milestone.split("_", 1)[0])
    if not milestone:
        fail("milestone_id", "missing_value")
    elif not _MILESTONE.match(milestone):
        fail("milestone_id", "bad_milestone_id")
    elif domain is None:
        fail("milestone_id", "unknown_domain")
    period, iso = generalize_date(cells.get("recorded_on", ""), params.dates)
    if period is None:
        fail("recorded_on", "bad_date")
    if root is None:  # metadata only (no video folder): check the name, match no file
        path, reason = None, locate(cells["filename"], Path("."), {}, params)[1]
        reason = "" if reason == "missing_file" else reason
    else:
        path, reason = locate(cells["filename"], root, index, params)
    if reason:
        fail("filename", reason)
    if problems:
        for item in problems:  # the file is still "named": not an orphan, and gets a pseudonym
            item.path = path
        return problems
    record = Record(
        line=row.line, filename=unicodedata.normalize("NFC", cells["filename"].strip()), path=path,
        child_age=age, milestone_id=milestone, milestone_age=milestone_age(milestone),
        domain=domain, label=label, age_group=age_group(age, params),
        child_id=cells.get("child_id", "").strip(), recorded_on=iso, recorded_period=period,
    )
    if cells["label"] != label:
        record.notes.append("label_normalised")
    return record


def _key(record: Record) -> tuple:
    return (record.child_age, record.milestone_id, record.label, record.child_id,
            record.recorded_on)


def dedupe(records: list[Record], params: IngestParams,
           classes: tuple[str, ...]) -> tuple[list[Record], list[Problem]]:
    """Keep one row per file: exact repeats are dropped, disagreeing rows all quarantined."""
    by_file: dict[Path | str, list[Record]] = defaultdict(list)
    for record in records:
        by_file[record.path or record.filename].append(record)
    kept, problems = [], []
    for group in by_file.values():
        if len({_key(r) for r in group}) > 1:
            problems += [problem(r.line, "filename", r.filename, "conflicting_rows", params,
                                 classes, r.path) for r in group]
            continue
        kept.append(group[0])
        problems += [problem(r.line, "filename", r.filename, "duplicate_row", params, classes,
                             r.path) for r in group[1:]]
    kept.sort(key=lambda r: r.line)
    return kept, problems


def orphans(index: dict[str, Path], named: set[Path], params: IngestParams,
            classes: tuple[str, ...]) -> list[Problem]:
    """Files in the video folder that no row names (reported by count, never by name)."""
    return [problem(None, "file", rel, "no_metadata_row", params, classes, path)
            for rel, path in index.items() if path not in named]
