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

from vidlab.stages.ingest.csvread import CsvRow
from vidlab.stages.ingest.deid import tag_violations

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
    from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
    from vidlab.stages.ingest.rows import DETAILS

    text = " ".join([*DETAILS, *DETAILS.values(), *METADATA_COLUMNS, *QUARANTINE_COLUMNS])
    return frozenset(w.lower() for w in re.findall(r"[^\W\d_]+", text))


@functools.cache
def _not_names() -> frozenset[str]:
    """Words in file names that are no names: boilerplate and vidlab's own vocabulary."""
    return frozenset(STOP_WORDS) | _vocabulary()


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
                if word.lower() not in _not_names():
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


_WORD = re.compile(rb"[A-Za-z0-9_]+")
_DIGIT = re.compile(rb"[0-9]")
_ANCHOR = re.compile(rb"[A-Za-z0-9_]{3,}")


def _bounded(data: bytes, start: int, end: int, kind: str) -> bool:
    """Whole words only: a child id '1001' must not match inside a pseudonym's hex digits, nor
    a name inside a reason such as 'path_outside_data'. A date only needs no digit around it,
    so that '2024-03-15T10:21:33Z' still counts."""
    edge = _DIGIT if kind == "exact_date" else _WORD
    before = data[start - 1 : start] if start else b""
    return not (edge.fullmatch(before) or edge.fullmatch(data[end : end + 1]))


class TermIndex:
    """Find many terms in one pass over large data.

    One big regex alternation of hundreds of terms ran at about 400 KB/s. Instead each term is
    keyed by its longest ASCII word (its anchor); the data is split into words with one simple
    regex, and only words that are some term's anchor are checked in place.
    """

    def __init__(self, terms: dict[str, str], min_len: int) -> None:
        self.by_anchor: dict[bytes, list[tuple[bytes, int, str]]] = {}
        self.loose: list[tuple[bytes, str]] = []  # no anchor of 3+ word characters
        for term, kind in sorted(terms.items()):
            if len(term) < min_len:
                continue
            raw = term.encode()
            runs = [(m.start(), m.group()) for m in _WORD.finditer(raw)]
            offset, anchor = max(runs, key=lambda r: len(r[1]), default=(0, b""))
            if len(anchor) >= 3:
                self.by_anchor.setdefault(anchor, []).append((raw, offset, kind))
            else:
                self.loose.append((raw, kind))

    def kinds_in(self, data: bytes) -> set[str]:
        """The kinds of the terms that occur in ``data`` as whole words."""
        found = set()
        for match in _ANCHOR.finditer(data):
            for raw, offset, kind in self.by_anchor.get(match.group(), ()):
                start = match.start() - offset
                if start >= 0 and data.startswith(raw, start) and \
                        _bounded(data, start, start + len(raw), kind):
                    found.add(kind)
        for raw, kind in self.loose:
            pos = data.find(raw)
            while pos != -1 and kind not in found:
                if _bounded(data, pos, pos + len(raw), kind):
                    found.add(kind)
                pos = data.find(raw, pos + 1)
        return found


def _read_for_scan(path: Path) -> bytes:
    """Whole text files; for videos the head and tail, where containers keep their metadata."""
    if path.suffix.lower() not in VIDEO_SUFFIXES or path.stat().st_size <= 2 * VIDEO_SCAN_BYTES:
        return path.read_bytes()
    with open(path, "rb") as handle:
        head = handle.read(VIDEO_SCAN_BYTES)
        handle.seek(-VIDEO_SCAN_BYTES, 2)
        return head + b"\n" + handle.read()


def _scan(path: Path, rel: str, text: TermIndex, binary: TermIndex) -> list[dict]:
    content = binary if path.suffix.lower() in VIDEO_SUFFIXES else text
    found = [{"file": rel, "where": "name", "kind": k} for k in text.kinds_in(rel.encode())]
    found += [{"file": rel, "where": "content", "kind": k}
              for k in content.kinds_in(_read_for_scan(path))]
    return found


_INDEXES: tuple[TermIndex, TermIndex] | None = None  # (text, binary), set before forking


def _scan_one(item: tuple[Path, str]) -> tuple[list[dict], list[dict]]:
    """Leaks and metadata violations of one output file (runs in a forked worker)."""
    path, rel = item
    text, binary = _INDEXES  # type: ignore[misc]
    tags = []
    if path.suffix.lower() in VIDEO_SUFFIXES:
        tags = [{"file": rel, "violation": v} for v in tag_violations(path)]
    return _scan(path, rel, text, binary), tags


def verify(outputs: dict[str, Path], terms: dict[str, str], *, workers: int = 1) -> dict:
    """Check every file under each output root; returns the verification report.

    Args:
        outputs: display name (e.g. 'data/interim/videos') -> folder or file to check.
        terms: from :func:`forbidden_terms`.
        workers: processes scanning files at once (forked, sharing the term indexes).
    """
    global _INDEXES
    _INDEXES = TermIndex(terms, 1), TermIndex(terms, MIN_BINARY_TERM)
    items = []
    for label, root in outputs.items():
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        items += [(path, f"{label}/{path.relative_to(root).as_posix()}" if root.is_dir()
                   else label) for path in files]
    try:
        if workers > 1 and len(items) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, len(items)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                found = list(pool.map(_scan_one, items, chunksize=8))
        else:
            found = [_scan_one(item) for item in items]
    finally:
        _INDEXES = None
    leaks = [leak for file_leaks, _ in found for leak in file_leaks]
    tags = [tag for _, file_tags in found for tag in file_tags]
    unique = {(d["file"], d["where"], d["kind"]): d for d in leaks}
    return {
        "ok": not unique and not tags,
        "files_checked": len(items),
        "videos_checked": sum(p.suffix.lower() in VIDEO_SUFFIXES for p, _ in items),
        "terms_checked": len(terms),
        "leaks": sorted(unique.values(), key=lambda d: (d["file"], d["where"], d["kind"])),
        "metadata_violations": tags,
    }
