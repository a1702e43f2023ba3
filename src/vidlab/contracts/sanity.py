"""What the sanity stage writes for others: ``reports/sanity.json``."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model


class ShuffleCheck(Model):
    """The label-shuffle check of one model."""

    status: Literal["passed", "failed", "not_proven"]
    # the top of the chance range before training (absent when the check could not be run)
    range_top_before: float | None = None


class ModelChecks(Model):
    """Every check of one model."""

    label_shuffle: ShuffleCheck


class SanityReport(Model):
    """``reports/sanity.json``: the verdict and each model's checks."""

    passed: bool
    failures: list[str]
    not_proven: list[str]
    models: dict[str, ModelChecks]
