"""What the split stage writes for others: ``reports/split/summary.json`` and
``reports/split/leakage.json``."""

from __future__ import annotations

from vidlab.config.data import SplitName, SplitStrategy, StratifyColumn
from vidlab.contracts.base import Model


class SplitCounts(Model):
    """One split: videos, their share of all, subject groups and classes of the target."""

    videos: int
    share: float
    groups: int
    classes: dict[str, int]


class Excluded(Model):
    """Videos left out of every split (quarantined, or not decodable)."""

    total: int


class PeriodRange(Model):
    """First and last generalised recording period of a split (null: none recorded)."""

    first: str | None
    last: str | None


class Periods(Model):
    ranges: dict[SplitName, PeriodRange]


class SplitSummary(Model):
    """``reports/split/summary.json``: how the splits were made and what each holds."""

    strategy: list[SplitStrategy]
    stratify: list[StratifyColumn]
    seed: int
    ratios: dict[SplitName, float]
    folds: int
    splits: dict[SplitName, SplitCounts]
    excluded: Excluded
    flagged_tests: list[str]
    periods: Periods


class Spanning(Model):
    """Keys (subjects or duplicate clusters) found in more than one part."""

    count: int
    pairs: dict[str, int]  # "<part>|<part>" -> keys in both
    ids: list[str]


class Leakage(Model):
    """``reports/split/leakage.json``: subjects and duplicate clusters in more than one split
    (``by_split``) and fold (``by_fold``), recounted from the written splits."""

    subjects: dict[str, Spanning]
    duplicate_clusters: dict[str, Spanning]
    subjects_total: int
    duplicate_clusters_total: int
