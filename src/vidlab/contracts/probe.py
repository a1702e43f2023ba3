"""What the probe stage writes for others: ``reports/probe/summary.json``."""

from __future__ import annotations

from vidlab.contracts.base import Model


class ProbeSummary(Model):
    """``reports/probe/summary.json``: videos probed, how many decode fully, their warnings."""

    videos: int
    ok: int
    warnings: dict[str, int]  # warning -> videos carrying it
