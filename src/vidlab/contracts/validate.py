"""What the validate stage writes for others: ``reports/validation/summary.json``."""

from __future__ import annotations

from vidlab.contracts.base import Model


class ValidationWarning(Model):
    """A failed expectation of severity ``warning`` and the rows it failed on."""

    expectation: str
    rows: int
    videos: list[str] = []  # the pseudonyms it failed on


class ValidationSummary(Model):
    """``reports/validation/summary.json``: the verdict of the Great Expectations suites."""

    passed: bool
    blocking_failures: list[str]
    warnings: list[ValidationWarning]
    quarantined_by_ingest: int
    quarantined_by_validate: int
