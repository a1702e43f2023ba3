"""What the dedup stage writes for others: ``data/interim/duplicates.json`` (pairs, clusters,
review pairs) and ``reports/dedup/summary.json`` (counts and the calibration's figures)."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model

Kind = Literal["exact", "near"]  # same bytes, or same frames after an edit


class DuplicatePair(Model):
    """Two videos at or below the threshold (or byte-identical)."""

    a: str
    b: str
    kind: Kind
    distance: float


class ReviewPair(Model):
    """Two videos just above the threshold, in no cluster together: for a person to look at."""

    a: str
    b: str
    distance: float


class Cluster(Model):
    """Videos joined by duplicate pairs; a cluster is kept in one split."""

    id: str
    kind: Kind  # exact when every pair in it is
    video_ids: list[str]


class DuplicatesUsed(Model):
    """The dedup params the document was made with."""

    threshold: float
    review_margin: float


class Duplicates(Model):
    """``data/interim/duplicates.json``: by pseudonymous id."""

    params: DuplicatesUsed
    pairs: list[DuplicatePair]
    clusters: list[Cluster]
    review: list[ReviewPair]


class Calibration(Model):
    """The committed calibration's figures at the configured threshold; only the head (no
    figures) when it was made for other signature settings (``current`` false)."""

    current: bool
    threshold: float | None = None
    positives: int | None = None
    negatives: int | None = None
    precision: float | None = None
    recall: float | None = None
    positive_max: float | None = None
    negative_min: float | None = None


class DedupSummary(Model):
    """``reports/dedup/summary.json``: counts, the review pairs, the calibration."""

    exact_pairs: int
    near_pairs: int
    clusters: int
    videos_in_clusters: int
    review: list[ReviewPair]
    calibration: Calibration
