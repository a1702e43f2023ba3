"""What the card stage writes for others: ``reports/readiness.json``."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model

State = Literal["Go", "No-Go", "Not proven"]


class ReadinessItem(Model):
    """One Go/No-Go item, with the reason and the evidence it was decided on."""

    id: str
    state: State
    why: str


class Readiness(Model):
    """``reports/readiness.json``: the overall verdict and the items that keep it from Go."""

    verdict: State
    failed: list[str]  # items that are No-Go
    not_proven: list[str]  # items the evidence cannot decide
    items: list[ReadinessItem]
