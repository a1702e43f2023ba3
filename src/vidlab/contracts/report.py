"""What the report stage writes for others: ``reports/summary/summary.json``."""

from __future__ import annotations

from vidlab.contracts.base import Model


class PerSubject(Model):
    """Videos per (pseudonymous) child; the statistics are null without subjects."""

    n_subjects: int
    min: int | None
    median: float | None
    max: int | None


class DatasetSummary(Model):
    """``reports/summary/summary.json``: the dataset's counts and its fingerprint."""

    dataset_fingerprint: str
    total_videos: int
    age_group_distribution: dict[str, int]
    domain_distribution: dict[str, int]
    label_distribution: dict[str, int]
    domain_label_crosstab: dict[str, dict[str, int]]
    per_subject: PerSubject
