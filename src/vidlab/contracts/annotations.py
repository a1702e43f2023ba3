"""What the annotations stage writes for others: ``reports/annotations/summary.json``."""

from __future__ import annotations

from vidlab.contracts.base import Model


class AnnotationCheck(Model):
    """One expectation of the annotations suite and how many rows failed it."""

    expectation: str
    reason: str
    success: bool
    unexpected_count: int


class AnnotationsSummary(Model):
    """Counts of the annotations read, kept and quarantined, per task, format and reason."""

    read: int
    kept: int
    quarantined: int
    by_task: dict[str, int]
    by_format: dict[str, int]
    videos: int
    reasons: dict[str, int]
    checks: list[AnnotationCheck]
