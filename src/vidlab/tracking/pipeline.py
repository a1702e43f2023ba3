"""The pipeline run: the processed data's fingerprint and the MLflow parent run that the train,
sanity, classical and evaluate stages of one ``dvc repro`` log under."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from vidlab.config import Params

TAG_WEIGHTS = "vidlab.weights_sha256"  # on a training run: the state dict it wrote
DATA_OUTS = ["data/processed/splits.csv", "data/processed/clips"]


def fingerprint(root: Path, splits: Path, clips: Path) -> str:
    """The processed data's fingerprint: from dvc.lock when it has them, else by hashing."""
    from vidlab import tracking

    return (tracking.dvc_fingerprint(root / "dvc.lock", DATA_OUTS)
            or "pd-" + tracking.content_hash(splits, clips)[2:])


def pipeline_key(root: Path, data_fingerprint: str) -> str:
    """Same for every train stage of one pipeline run: commit, data and params."""
    from vidlab import tracking

    commit, _ = tracking.git_commit(root)
    params_text = (root / "params.yaml").read_bytes() if (root / "params.yaml").is_file() else b""
    digest = hashlib.sha256(commit.encode() + data_fingerprint.encode() + params_text)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Pipeline:
    """What a run of the train, sanity, classical and evaluate stages is tagged with."""

    dataset: str | None  # the data version (ingest's fingerprint of the metadata)
    processed: str  # the splits and clips cache
    parent: str  # MLflow id of this pipeline run's parent run


def pipeline_run(params: Params, root: Path, splits: Path, clips: Path,
                 metadata: Path | None = None) -> Pipeline:
    """The fingerprints and the parent run of this pipeline run (created on first use): what the
    train, sanity, classical and evaluate stages log under."""
    from vidlab import tracking

    dataset = tracking.data_version_of(metadata)
    processed = fingerprint(root, Path(splits), Path(clips))
    parent = tracking.pipeline_parent(
        params.tracking, key=pipeline_key(root, f"{dataset or ''}{processed}"),
        fingerprint=dataset, processed=processed, root=root)
    return Pipeline(dataset, processed, parent)


def inputs_hash(manifest: Path, splits: Path) -> str:
    """What the EDA views are of: the manifest and the splits (the card checks it is current). Not
    the dataset fingerprint: that names the data version, this the exact files drawn."""
    from vidlab import tracking

    return tracking.content_hash(Path(manifest), Path(splits))
