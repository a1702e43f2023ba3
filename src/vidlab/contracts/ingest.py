"""What the ingest stage writes for others: ``reports/deidentify/ingest.json`` (the counts) and
``reports/deidentify/verification.json`` (the leak check of every output)."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model


class IngestCounts(Model):
    """``reports/deidentify/ingest.json``: rows read and quarantined at ingest."""

    rows_read: int
    quarantined_rows: int  # CSV lines with a problem (several problems on one line count once)
    problems_by_reason: dict[str, int]
    files_without_rows: int  # video files no CSV row names (counted apart from the rows)


class Leak(Model):
    """An identifying term found in an output's name or content."""

    file: str
    where: Literal["name", "content"]
    kind: str


class Verification(Model):
    """``reports/deidentify/verification.json``. When nothing was usable, nothing was published
    or checked: only ``ok`` (false) and the reason are written."""

    ok: bool
    files_checked: int | None = None
    terms_checked: int | None = None
    leaks: list[Leak] = []
