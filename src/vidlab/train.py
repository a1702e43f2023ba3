"""The `train@model` stage: one baseline trained with Lightning, logged to MLflow.

The network (:mod:`vidlab.models.networks`) is injected into :class:`ClipClassifier`; data comes
from :class:`VideoDataModule` (the split manifest and the clips cache). The best epoch by
``train.monitor`` is kept (early stopping after ``train.patience`` epochs without improvement)
and written as a state dict, never a pickled model.

MLflow: every model's run nests under one parent run per pipeline run: the parent is found (or
created) by a key over the git commit, the dataset fingerprint and params.yaml, so the three
``train@…`` stages of one ``dvc repro`` share it. Runs carry params, per-epoch metrics, the
standard provenance tags, and artifacts: the state dict, params.yaml and dvc.lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from vidlab.errors import DataError
from vidlab.fsutil import atomic_write_text, sha256_file
from vidlab.params import Params
from vidlab.progress import enabled as progress_enabled

log = logging.getLogger(__name__)

MODELS = ("center_frame", "pool2d", "r2plus1d")
CLASSICAL = "classical"  # the classical-feature baseline (vidlab.classical), evaluated alike
EVALUATED = (*MODELS, CLASSICAL)
TAG_WEIGHTS = "vidlab.weights_sha256"  # on a training run: the state dict it wrote
DATA_OUTS = ["data/processed/splits.csv", "data/processed/clips"]


def build_network(model: str, params: Params):
    """The network of ``model`` from ``train`` params, with local weights when configured (the
    classical baseline from ``classical`` params, with zero weights until fitted)."""
    import torch

    from vidlab.models import networks

    if model == CLASSICAL:
        from vidlab.models.classical import ClassicalNet

        k, c = params.classical, params.clips
        return ClassicalNet(len(params.base.classes), bins=k.hist_bins, grid=k.motion_grid,
                            mean=c.mean, std=c.std)
    t = params.train
    width = t.r2plus1d_width if model == "r2plus1d" else t.width
    net = networks.build(model, len(params.base.classes), variant=t.r2plus1d_variant,
                         depth=t.depth, width=width, pool=t.pool)
    if t.weights:
        path = Path(t.weights) / f"{model}.pt"
        if not path.is_file():
            raise DataError(f"train.weights is {t.weights!r} but {path} does not exist. Put a "
                            f"state dict there or set train.weights: null.")
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net


def class_weights(data, params: Params) -> list[float] | None:
    """Inverse-frequency loss weights over the training videos (``train.balance: weights``)."""
    if params.train.balance != "weights":
        return None
    labels = data.labels["train"].values()  # from the manifest, whatever loader.source is
    counts = [sum(1 for label in labels if label == k) for k in range(len(data.classes))]
    total = sum(counts)
    return [total / (len(counts) * c) if c else 0.0 for c in counts]


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


def run(params: Params, *, model: str, splits: Path, clips: Path, out: Path,
        root: Path | None = None, metadata: Path | None = None) -> dict:
    """Train ``model``; write ``out/model.pt`` (state dict) and ``out/metrics.json``.

    Returns:
        The metrics of the best epoch, the epochs trained and the MLflow run id.
    """
    import pytorch_lightning as pl

    from vidlab import tracking
    from vidlab.data.datamodule import VideoDataModule
    from vidlab.models.module import ClipClassifier
    from vidlab.paths import project_root

    if model not in MODELS:
        raise DataError(f"Unknown model {model!r}; expected one of {', '.join(MODELS)}.")
    root = Path(root) if root is not None else project_root()
    t = params.train
    pl.seed_everything(params.base.seed, workers=True, verbose=False)
    data = VideoDataModule(params, splits=splits, clips=clips)
    data.setup()
    net = build_network(model, params)
    module = ClipClassifier(net, classes=len(params.base.classes), lr=t.lr,
                            weight_decay=t.weight_decay, optimizer=t.optimizer,
                            schedule=t.schedule, class_weights=class_weights(data, params))
    rank = global_rank(t.devices)
    if rank != 0:  # a DDP worker Lightning launched: train, but log and write nothing
        with tempfile.TemporaryDirectory(prefix="vidlab-train-") as tmp:
            return _fit(module, data, params, None, Path(tmp)) | {"rank": rank}
    pipe = pipeline_run(params, root, splits, clips, metadata)
    with tracking.start_run(params.tracking, run_name=model, fingerprint=pipe.dataset,
                            processed=pipe.processed, root=root, parent_run_id=pipe.parent,
                            tags={"vidlab.model": model}) as active, \
            tempfile.TemporaryDirectory(prefix="vidlab-train-") as tmp:
        result = _fit(module, data, params, active.info.run_id, Path(tmp))
        _log_run(params, model, result, net, Path(tmp), root)
        result["run_id"] = active.info.run_id
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        staged = out / ".model.pt.tmp"  # same folder, so the rename is atomic
        shutil.copyfile(Path(tmp) / "model.pt", staged)
        os.replace(staged, out / "model.pt")
        metrics = {k: v for k, v in result.items() if k != "run_id"}
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return result


def global_rank(devices: int) -> int:
    """This process's rank before Lightning starts: 0 in the process a user ran.

    Lightning's DDP launcher re-runs the command for ranks > 0 with ``LOCAL_RANK`` and
    ``NODE_RANK`` set; torchrun and SLURM set ``RANK`` / ``SLURM_PROCID``. Only rank zero may
    create MLflow runs or write outputs.
    """
    env = os.environ
    for name in ("RANK", "SLURM_PROCID"):
        if env.get(name, "").strip():
            return int(env[name])
    return int(env.get("NODE_RANK", "0") or 0) * devices + int(env.get("LOCAL_RANK", "0") or 0)


def _fit(module, data, params: Params, run_id: str | None, tmp: Path) -> dict:
    """Lightning fit with best-checkpoint and early stopping; the best weights as a state dict.

    ``run_id`` None (a DDP worker): no logger; returns only what this rank trained on.
    """
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_lightning.loggers import MLFlowLogger

    from vidlab import tracking

    t = params.train
    checkpoint = ModelCheckpoint(dirpath=tmp / "ckpt", monitor=t.monitor, mode="max",
                                 save_top_k=1, filename="best")
    stop = EarlyStopping(monitor=t.monitor, mode="max", patience=t.patience)
    logger = False if run_id is None else MLFlowLogger(
        tracking_uri=tracking.tracking_uri(params.tracking), run_id=run_id, log_model=False)
    trainer = pl.Trainer(max_epochs=t.epochs, accelerator=t.accelerator, devices=t.devices,
                         num_nodes=t.nodes, strategy=t.strategy, precision=_precision(t),
                         deterministic=True, logger=logger, callbacks=[checkpoint, stop],
                         enable_progress_bar=progress_enabled(), enable_model_summary=False,
                         log_every_n_steps=1, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=data)
    spread = {"world_size": int(trainer.world_size),
              "train_samples_per_rank": list(module.samples_per_rank)}
    if trainer.global_rank != 0:  # rank zero's checkpoint folder may already be gone
        return spread
    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)
    state = {k[len("net."):]: v for k, v in best["state_dict"].items() if k.startswith("net.")}
    torch.save(state, tmp / "model.pt")
    scores = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return {"best_" + t.monitor.replace("/", "_"): round(float(checkpoint.best_model_score), 4),
            "best_epoch": int(best["epoch"]), "epochs": int(trainer.current_epoch),
            "last": {k: round(v, 4) for k, v in sorted(scores.items())}, **spread}


def _precision(t) -> str:
    """bf16 mixed precision on a GPU that has it, else full precision (CPU: deterministic)."""
    if t.precision != "auto":
        return t.precision
    import torch

    gpu = t.accelerator != "cpu" and torch.cuda.is_available()
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def _log_run(params: Params, model: str, result: dict, net, tmp: Path, root: Path) -> None:
    """Params, summary metrics and artifacts (state dict, params.yaml, dvc.lock) on the run."""
    import mlflow

    flat = {f"{section}.{key}": value for section in ("train", "clips", "augment", "loader")
            for key, value in asdict(getattr(params, section)).items()}
    flat |= {"base.seed": params.base.seed, "base.target": params.base.target, "model": model,
             "parameters": sum(p.numel() for p in net.parameters()),
             "world_size": result.get("world_size", 1)}
    mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})
    mlflow.log_metrics({k: v for k, v in result.items()
                        if isinstance(v, int | float) and k != "world_size"})
    mlflow.log_artifact(str(tmp / "model.pt"), artifact_path="model")
    mlflow.set_tag(TAG_WEIGHTS, sha256_file(tmp / "model.pt"))  # evaluate finds the run by it
    for name in ("params.yaml", "dvc.lock"):
        if (root / name).is_file():
            mlflow.log_artifact(str(root / name), artifact_path="pipeline")
