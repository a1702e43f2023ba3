"""Typed contracts for every JSON file one stage writes and another reads.

One pydantic model per file (one module per writing stage), frozen, declaring with precise types
every field a reader reads; the writer's other keys, written for people, pass through as extras.
`write` is the only way a stage writes such a file and `read` the only way one reads it;
`CONTRACTS` says which stage writes each file, where, and which stages read it
(``tests/test_contracts.py`` holds the code to it).

A library below the stages: it imports only pydantic, `vidlab.config` (for its Literal types) and
`vidlab.core`, so every stage and library may use it.
"""

from vidlab.contracts.annotations import AnnotationCheck, AnnotationsSummary
from vidlab.contracts.base import Model
from vidlab.contracts.card import Readiness, ReadinessItem
from vidlab.contracts.clips import ClipFailure, ClipsSummary
from vidlab.contracts.dedup import (
    Calibration,
    Cluster,
    DedupSummary,
    DuplicatePair,
    Duplicates,
    DuplicatesUsed,
    ReviewPair,
)
from vidlab.contracts.eda import EdaSummary
from vidlab.contracts.evaluate import Interval, LevelMetrics, Metrics
from vidlab.contracts.faces import FacesSummary, FacesVideo
from vidlab.contracts.ingest import IngestCounts, Leak, Verification
from vidlab.contracts.io import ContractError, read, write
from vidlab.contracts.probe import ProbeSummary
from vidlab.contracts.registry import CONTRACTS, Route
from vidlab.contracts.report import DatasetSummary
from vidlab.contracts.sanity import SanityReport
from vidlab.contracts.split import Leakage, SplitSummary
from vidlab.contracts.validate import ValidationSummary

__all__ = [
    "AnnotationCheck", "AnnotationsSummary", "CONTRACTS", "Calibration", "ClipFailure",
    "ClipsSummary", "Cluster", "ContractError",
    "DatasetSummary", "DedupSummary", "DuplicatePair", "Duplicates", "DuplicatesUsed",
    "FacesSummary", "FacesVideo",
    "EdaSummary", "IngestCounts", "Interval", "Leak", "Leakage", "LevelMetrics", "Metrics",
    "Model", "ProbeSummary", "Readiness", "ReadinessItem", "ReviewPair", "Route",
    "SanityReport", "SplitSummary", "ValidationSummary", "Verification", "read", "write",
]
