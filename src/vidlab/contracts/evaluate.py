"""What the evaluate stage writes for others: ``reports/metrics/<model>.json``."""

from __future__ import annotations

from typing import Literal

from vidlab.config.data import Target
from vidlab.contracts.base import Model


class Interval(Model):
    """A score and its bootstrap interval (null where undefined, e.g. AUROC of one class)."""

    value: float | None
    low: float | None
    high: float | None


class LevelMetrics(Model):
    """The scores of one split at one level (clip or video)."""

    n: int
    acc: Interval
    macro_f1: Interval
    balanced_acc: Interval
    auroc: Interval
    ap: Interval
    ece: Interval


class SplitMetrics(Model):
    video: LevelMetrics  # softmax averaged over a video's clips


class Bootstrap(Model):
    n: int
    level: float
    unit: Literal["subject group", "video"]


class Perturbed(Model):
    """Test scores (video level) under one perturbation."""

    acc_change: float | None  # from the clean test accuracy


class RobustnessSettings(Model):
    fps_factors: list[float]
    jpeg_quality: int
    blur_sigma: float
    occlusion: float


class Robustness(Model):
    """One entry per perturbation (``vidlab.models.scoring.PERTURBATIONS``), and the settings."""

    fps_slow: Perturbed
    fps_fast: Perturbed
    jpeg: Perturbed
    blur: Perturbed
    occlusion: Perturbed
    settings: RobustnessSettings


class Metrics(Model):
    """``reports/metrics/<model>.json``: each evaluated split (``evaluate.splits``), robustness
    when the test split was evaluated."""

    model: str
    target: Target
    classes: list[str]
    bootstrap: Bootstrap
    val: SplitMetrics | None = None
    test: SplitMetrics | None = None
    robustness: Robustness | None = None

    def split(self, name: str) -> SplitMetrics | None:
        """The scores of split ``name`` (val or test); None when it was not evaluated."""
        return {"val": self.val, "test": self.test}.get(name)
