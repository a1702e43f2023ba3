"""What the card stage reads: the pipeline's reports, tables and dvc.lock (`Inputs`, `load`),
the frozen-clip scan of the clips cache, and the rows of the splits proper (`in_splits`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import SPLIT_NAMES, Params


@dataclass
class Inputs:
    """Everything the card and the checklist read (the reports as their contracts; None when
    missing)."""

    params: Params
    root: Path
    reports: Path
    manifest: pd.DataFrame | None = None
    splits: pd.DataFrame | None = None
    metadata: pd.DataFrame | None = None
    duplicates: contracts.Duplicates | None = None
    summary: contracts.DatasetSummary | None = None
    ingest: contracts.IngestCounts | None = None
    verification: contracts.Verification | None = None
    faces: contracts.FacesSummary | None = None
    probe: contracts.ProbeSummary | None = None
    validation: contracts.ValidationSummary | None = None
    dedup: contracts.DedupSummary | None = None
    annotations: contracts.AnnotationsSummary | None = None
    split: contracts.SplitSummary | None = None
    leakage: contracts.Leakage | None = None
    clips: contracts.ClipsSummary | None = None
    sanity: contracts.SanityReport | None = None
    eda: contracts.EdaSummary | None = None
    metrics: dict[str, contracts.Metrics] = field(default_factory=dict)  # model -> its metrics
    lock: dict = field(default_factory=dict)
    outs: dict[str, str] = field(default_factory=dict)  # dvc.lock: output path -> md5
    eda_inputs: str | None = None  # eda.inputs_hash of the current manifest and splits
    frozen_clips: list[str] | None = None  # cached clips that repeat one picture (None: unread)
    missing: list[str] = field(default_factory=list)


REPORTS = {  # attribute of Inputs -> (path under reports/, its contract)
    "summary": ("summary/summary.json", contracts.DatasetSummary),
    "ingest": ("deidentify/ingest.json", contracts.IngestCounts),
    "verification": ("deidentify/verification.json", contracts.Verification),
    "faces": ("faces/summary.json", contracts.FacesSummary),
    "probe": ("probe/summary.json", contracts.ProbeSummary),
    "validation": ("validation/summary.json", contracts.ValidationSummary),
    "dedup": ("dedup/summary.json", contracts.DedupSummary),
    "annotations": ("annotations/summary.json", contracts.AnnotationsSummary),
    "split": ("split/summary.json", contracts.SplitSummary),
    "leakage": ("split/leakage.json", contracts.Leakage),
    "clips": ("clips/summary.json", contracts.ClipsSummary),
    "sanity": ("sanity.json", contracts.SanityReport),
    "eda": ("eda/summary.json", contracts.EdaSummary),
}


def frozen_clips(clips: Path) -> list[str] | None:
    """Keys of cached clips whose frames are all one picture although they were sampled from
    different frames: what the cache holds, not what the clips stage says. None without a cache."""
    index_file = Path(clips) / "index.csv"
    if not index_file.is_file():
        return None
    index = pd.read_csv(index_file, dtype={"frames": str, "key": str, "split": str})
    frozen = []
    for split, part in index.groupby("split"):
        array = np.load(Path(clips) / f"{split}.npy", mmap_mode="r")
        for row in part.itertuples():
            if len(set(str(row.frames).split())) > 1:
                clip = np.asarray(array[row.row])
                if np.all(clip == clip[:1]):
                    frozen.append(row.key)
    return sorted(frozen)


def load(params: Params, *, root: Path, reports: Path, manifest: Path, splits: Path,
         metadata: Path, duplicates: Path, lock: Path, models: list[str],
         clips: Path | None = None) -> Inputs:
    """Read every input that exists; note the missing ones (items that need them are No-Go)."""
    from vidlab import tracking
    from vidlab.tracking.pipeline import inputs_hash

    inputs = Inputs(params=params, root=Path(root), reports=Path(reports))
    for name, (rel, contract) in REPORTS.items():
        path = Path(reports) / rel
        if path.is_file():
            setattr(inputs, name, contracts.read(path, contract))
        else:
            inputs.missing.append(str(path))
    for model in models:
        path = Path(reports) / "metrics" / f"{model}.json"
        if path.is_file():
            inputs.metrics[model] = contracts.read(path, contracts.Metrics)
        else:
            inputs.missing.append(str(path))
    if Path(manifest).is_file():
        inputs.manifest = pd.read_parquet(manifest)
    else:
        inputs.missing.append(str(manifest))
    for attr, path in (("splits", splits), ("metadata", metadata)):
        if Path(path).is_file():
            setattr(inputs, attr, pd.read_csv(path, dtype=str, keep_default_na=False))
        else:
            inputs.missing.append(str(path))
    if Path(duplicates).is_file():
        inputs.duplicates = contracts.read(Path(duplicates), contracts.Duplicates)
    else:
        inputs.missing.append(str(duplicates))
    if Path(lock).is_file():
        inputs.lock = tracking.read_lock(Path(lock))
        inputs.outs = tracking.lock_outs(inputs.lock)
    if Path(manifest).is_file() and Path(splits).is_file():
        inputs.eda_inputs = inputs_hash(manifest, splits)
    if clips is not None:
        inputs.frozen_clips = frozen_clips(Path(clips))
        if inputs.frozen_clips is None:
            inputs.missing.append(str(Path(clips) / "index.csv"))
    return inputs


def in_splits(inputs: Inputs) -> pd.DataFrame:
    frame = inputs.splits
    return frame[frame["split"].isin(SPLIT_NAMES)]
