"""What the card stage reads: the pipeline's reports, tables and dvc.lock (`Inputs`, `load`),
the frozen-clip scan of the clips cache, and the rows of the splits proper (`in_splits`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import SPLIT_NAMES, Params


@dataclass
class Inputs:
    """Everything the card and the checklist read (file contents, or None when missing)."""

    params: Params
    root: Path
    reports: Path
    manifest: pd.DataFrame | None = None
    splits: pd.DataFrame | None = None
    metadata: pd.DataFrame | None = None
    duplicates: dict | None = None
    json: dict[str, dict | None] = field(default_factory=dict)  # name -> parsed report
    metrics: dict[str, dict] = field(default_factory=dict)  # model -> reports/metrics/<model>.json
    lock: dict = field(default_factory=dict)
    outs: dict[str, str] = field(default_factory=dict)  # dvc.lock: output path -> md5
    eda_inputs: str | None = None  # eda.inputs_hash of the current manifest and splits
    frozen_clips: list[str] | None = None  # cached clips that repeat one picture (None: unread)
    missing: list[str] = field(default_factory=list)

    def report(self, name: str) -> dict | None:
        return self.json.get(name)


REPORTS = {  # name -> path under reports/
    "summary": "summary/summary.json", "ingest": "deidentify/ingest.json",
    "verification": "deidentify/verification.json", "probe": "probe/summary.json",
    "validation": "validation/summary.json", "dedup": "dedup/summary.json",
    "split": "split/summary.json", "leakage": "split/leakage.json",
    "clips": "clips/summary.json", "sanity": "sanity.json", "eda": "eda/summary.json",
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
    for name, rel in REPORTS.items():
        path = Path(reports) / rel
        if path.is_file():
            inputs.json[name] = json.loads(path.read_text(encoding="utf-8"))
        else:
            inputs.json[name] = None
            inputs.missing.append(str(path))
    for model in models:
        path = Path(reports) / "metrics" / f"{model}.json"
        if path.is_file():
            inputs.metrics[model] = json.loads(path.read_text(encoding="utf-8"))
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
        inputs.duplicates = json.loads(Path(duplicates).read_text(encoding="utf-8"))
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
