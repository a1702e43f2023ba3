"""Which stage writes each contract, where, and which stages read it."""

from __future__ import annotations

from typing import NamedTuple

from vidlab.contracts.annotations import AnnotationsSummary
from vidlab.contracts.base import Model
from vidlab.contracts.card import Readiness
from vidlab.contracts.clips import ClipsSummary
from vidlab.contracts.dedup import DedupSummary, Duplicates
from vidlab.contracts.eda import EdaSummary
from vidlab.contracts.evaluate import Metrics
from vidlab.contracts.faces import FacesSummary
from vidlab.contracts.ingest import IngestCounts, Verification
from vidlab.contracts.probe import ProbeSummary
from vidlab.contracts.report import DatasetSummary
from vidlab.contracts.sanity import SanityReport
from vidlab.contracts.split import Leakage, SplitSummary
from vidlab.contracts.validate import ValidationSummary


class Route(NamedTuple):
    """Where a contract's file lives (as dvc.yaml places it), its one writer, its readers."""

    path: str  # relative to the project root; {model} stands for a model name
    writer: str  # the stage package (vidlab.stages.<writer>) that writes it
    readers: tuple[str, ...]  # the stage packages that read it


CONTRACTS: dict[type[Model], Route] = {
    IngestCounts: Route("reports/deidentify/ingest.json", "ingest", ("validate", "card")),
    Verification: Route("reports/deidentify/verification.json", "ingest", ("card",)),
    FacesSummary: Route("reports/faces/summary.json", "faces", ("card",)),
    DatasetSummary: Route("reports/summary/summary.json", "report", ("card", "release")),
    ProbeSummary: Route("reports/probe/summary.json", "probe", ("card",)),
    ValidationSummary: Route("reports/validation/summary.json", "validate", ("card",)),
    Duplicates: Route("data/interim/duplicates.json", "dedup",
                      ("split", "report", "eda", "card")),
    DedupSummary: Route("reports/dedup/summary.json", "dedup", ("card",)),
    AnnotationsSummary: Route("reports/annotations/summary.json", "annotations", ("card",)),
    SplitSummary: Route("reports/split/summary.json", "split", ("card",)),
    Leakage: Route("reports/split/leakage.json", "split", ("card",)),
    ClipsSummary: Route("reports/clips/summary.json", "clips", ("card",)),
    SanityReport: Route("reports/sanity.json", "sanity", ("card",)),
    EdaSummary: Route("reports/eda/summary.json", "eda", ("card",)),
    Metrics: Route("reports/metrics/{model}.json", "evaluate", ("compare", "card")),
    Readiness: Route("reports/readiness.json", "card", ("release",)),
}
