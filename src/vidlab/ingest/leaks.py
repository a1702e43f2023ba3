"""Leak verification: re-open every output and look for anything that identifies a child.

Checked: video metadata against an allowlist (see deid.tag_violations), and every output file's
name and bytes for original file names (and the name-like words in them), child ids and exact
dates from the source CSV. The report says which output file and what kind of term leaked, never
the term itself, so the report is safe to share.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from vidlab.ingest.csvread import CsvRow
from vidlab.ingest.deid import tag_violations

# Words common in camera and messenger file names: not names, and they occur in reports.
STOP_WORDS = {"video", "videos", "whatsapp", "img", "vid", "mov", "movie", "clip", "clips",
              "recording", "record", "child", "baby", "camera", "image", "file", "copy", "final",
              "trim", "edit", "export", "screen"}
MIN_BINARY_TERM = 6  # shorter terms match compressed video data by chance
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"}
VIDEO_SCAN_BYTES = 4 << 20  # metadata boxes sit at a container's start or end


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Words vidlab itself writes into its outputs (reasons, sentences, column names)."""
    from vidlab.ingest.rows import DETAILS
    from vidlab.ingest.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS

    text = " ".join([*DETAILS, *DETAILS.values(), *METADATA_COLUMNS, *QUARANTINE_COLUMNS])
    return frozenset(w.lower() for w in re.findall(r"[^\W\d_]+", text))


def forbidden_terms(rows: Iterable[CsvRow], *, check_dates: bool) -> dict[str, str]:
    """Terms that must not appear in any output, each with its kind.

    Args:
        rows: every row of the source CSV, good or quarantined.
        check_dates: False when ingest.dates is 'keep' (exact dates are then kept on purpose).
    """
    terms: dict[str, str] = {}
    for row in rows:
        name = row.cells.get("filename", "").strip()
        if name:
            stem = PurePosixPath(name).stem
            terms[name] = terms[PurePosixPath(name).name] = "original_filename"
            if stem.lower() not in _vocabulary():  # a file called 'link.mp4' vs our sentences
                terms.setdefault(stem, "original_filename")
            for word in re.findall(r"[^\W\d_]{4,}", stem):
                if word.lower() not in STOP_WORDS | _vocabulary():
                    terms.setdefault(word, "name_in_filename")
        child = row.cells.get("child_id", "").strip()
        if child:
            terms[child] = "child_id"
        date = row.cells.get("recorded_on", "").strip()
        if date and check_dates:
            terms[date] = "exact_date"
            try:
                day = dt.date.fromisoformat(date.replace("/", "-")[:10])
                terms[day.isoformat()] = terms[day.strftime("%Y%m%d")] = "exact_date"
                terms[day.strftime("%d/%m/%Y")] = terms[day.strftime("%m/%d/%Y")] = "exact_date"
            except ValueError:
                pass
    return terms


def _compile(terms: dict[str, str], min_len: int) -> re.Pattern | None:
    """One regex for all terms (longest first), whole words only: a child id '1001' must not
    match inside a pseudonym's hex digits, nor a name inside a reason like 'path_outside_data'."""
    chosen = sorted((t for t in terms if len(t) >= min_len), key=lambda t: (-len(t), t))
    if not chosen:
        return None
    alternatives = b"|".join(re.escape(t.encode()) for t in chosen)
    return re.compile(rb"(?<![A-Za-z0-9_])(" + alternatives + rb")(?![A-Za-z0-9_])")


def _read_for_scan(path: Path) -> bytes:
    """Whole text files; for videos the head and tail, where containers keep their metadata."""
    if path.suffix.lower() not in VIDEO_SUFFIXES or path.stat().st_size <= 2 * VIDEO_SCAN_BYTES:
        return path.read_bytes()
    with open(path, "rb") as handle:
        head = handle.read(VIDEO_SCAN_BYTES)
        handle.seek(-VIDEO_SCAN_BYTES, 2)
        return head + b"\n" + handle.read()


def _scan(path: Path, rel: str, terms: dict[str, str], text_re, binary_re) -> list[dict]:
    binary = path.suffix.lower() in VIDEO_SUFFIXES
    found = []
    for where, haystack, pattern in (("name", rel.encode(), text_re),
                                     ("content", _read_for_scan(path),
                                      binary_re if binary else text_re)):
        if pattern is None:
            continue
        for match in pattern.finditer(haystack):
            found.append({"file": rel, "where": where, "kind": terms[match.group(1).decode()]})
    return found


def verify(outputs: dict[str, Path], terms: dict[str, str]) -> dict:
    """Check every file under each output root; returns the verification report.

    Args:
        outputs: display name (e.g. 'data/interim/videos') -> folder or file to check.
        terms: from :func:`forbidden_terms`.
    """
    text_re, binary_re = _compile(terms, 1), _compile(terms, MIN_BINARY_TERM)
    leaks, tags, checked, videos = [], [], 0, 0
    for label, root in outputs.items():
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            rel = f"{label}/{path.relative_to(root).as_posix()}" if root.is_dir() else label
            checked += 1
            leaks += _scan(path, rel, terms, text_re, binary_re)
            if path.suffix.lower() in VIDEO_SUFFIXES:
                videos += 1
                tags += [{"file": rel, "violation": v} for v in tag_violations(path)]
    unique = {(d["file"], d["where"], d["kind"]): d for d in leaks}
    return {
        "ok": not unique and not tags,
        "files_checked": checked,
        "videos_checked": videos,
        "terms_checked": len(terms),
        "leaks": sorted(unique.values(), key=lambda d: (d["file"], d["where"], d["kind"])),
        "metadata_violations": tags,
    }
