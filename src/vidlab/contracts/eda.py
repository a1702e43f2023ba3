"""What the eda stage writes for others: ``reports/eda/summary.json``."""

from __future__ import annotations

from vidlab.contracts.base import Model


class Redecoded(Model):
    """Cached clips decoded again, and how many gave the same bytes."""

    checked: int
    identical: int


class EdaChecks(Model):
    """The two reproducibility checks the readiness checklist reads."""

    clips_redecoded: Redecoded
    augment_reproducible: bool | None  # None: no training clip to augment


class Outlier(Model):
    video_id: str
    reason: str


class Outliers(Model):
    """The outlier gallery's videos, by category."""

    shortest: list[Outlier]
    longest: list[Outlier]
    odd_fps: list[Outlier]
    flagged: list[Outlier]


class Embedding(Model):
    """A t-SNE map: how often a clip's nearest neighbour (of another video) shares its label."""

    neighbour_label_agreement: float | None


class EdaSummary(Model):
    """``reports/eda/summary.json``: the numbers behind the EDA page."""

    inputs_hash: str  # of the manifest and splits the EDA was drawn from
    figures: list[str]
    outliers: Outliers
    checks: EdaChecks
    embeddings: dict[str, Embedding]
    # per annotation task present (segments, boxes, tracks, masks, captions): its numbers and
    # figures; {} when the stage was run without an annotations table (or an empty one)
    annotations: dict[str, dict] = {}
    # the probe's quality measures against their warning thresholds: measured (decodable
    # videos), per measure its threshold, side, videos measured and past it, and quantiles;
    # flagged: every video past a threshold with its reasons
    quality: dict = {}
