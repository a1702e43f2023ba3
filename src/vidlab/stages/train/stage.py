"""The `train@model` stage: one baseline trained with Lightning, logged to MLflow.

The network (:mod:`vidlab.models.networks`) is injected into :class:`ClipClassifier`; data comes
from :class:`VideoDataModule` (the split manifest and the clips cache). The best epoch by
``train.monitor`` is kept (early stopping after ``train.patience`` epochs without improvement)
and written as a state dict, never a pickled model.

MLflow: every model's run nests under one parent run per pipeline run: the parent is found (or
created) by a key over the git commit, the dataset fingerprint and params.yaml, so the three
``train@…`` stages of one ``dvc repro`` share it. Runs carry params, per-epoch metrics, the
standard provenance tags, a description, and artifacts: the state dict, params.yaml and dvc.lock.
The per-epoch history is logged under ``epoch/…``; the best checkpoint's validation video accuracy
once, as ``val_video_acc`` (the name every model's run uses, the classical baseline's included).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text, sha256_file
from vidlab.models.registry import MODELS, SUMMARY, build_network, class_weights
from vidlab.models.trainer import classifier, epoch_logger, global_rank, history, trainer
from vidlab.tracking.pipeline import TAG_WEIGHTS, pipeline_run
from vidlab.tracking.runs import NOTE, describe

PARAMS = Declaration(
    "train",
    outputs=("base", "clips.size", "clips.mean", "clips.std", "clips.eval_clips", "augment",
             "loader", "train"),
    runtime=("tracking",),
)


log = logging.getLogger(__name__)


def run(params: Params, *, model: str, splits: Path, clips: Path, out: Path,
        root: Path | None = None, metadata: Path | None = None) -> dict:
    """Train ``model``; write ``out/model.pt`` (state dict) and ``out/metrics.json``.

    Returns:
        The metrics of the best epoch, the epochs trained and the MLflow run id.
    """
    params = PARAMS.view(params)
    import pytorch_lightning as pl

    from vidlab import tracking
    from vidlab.core.paths import project_root
    from vidlab.data.datamodule import VideoDataModule

    if model not in MODELS:
        raise DataError(f"Unknown model {model!r}; expected one of {', '.join(MODELS)}.")
    root = Path(root) if root is not None else project_root()
    t = params.train
    pl.seed_everything(params.base.seed, workers=True, verbose=False)
    data = VideoDataModule(params, splits=splits, clips=clips)
    data.setup()
    net = build_network(model, params)
    module = classifier(net, params, class_weights=class_weights(data, params))
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


def _fit(module, data, params: Params, run_id: str | None, tmp: Path) -> dict:
    """Lightning fit with best-checkpoint and early stopping; the best weights as a state dict.

    ``run_id`` None (a DDP worker): no logger; returns only what this rank trained on.
    """
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from vidlab import tracking

    t = params.train
    checkpoint = ModelCheckpoint(dirpath=tmp / "ckpt", monitor=t.monitor, mode="max",
                                 save_top_k=1, filename="best")
    stop = EarlyStopping(monitor=t.monitor, mode="max", patience=t.patience)
    logger = False if run_id is None else epoch_logger(tracking.tracking_uri(params.tracking),
                                                       run_id)
    epochs = history()
    fit = trainer(t, epochs=t.epochs, callbacks=[checkpoint, stop, epochs], logger=logger)
    fit.fit(module, datamodule=data)
    if stop.stopped_epoch and fit.global_rank == 0:
        log.info("train: stopped early after epoch %d of %d: %s did not improve for %d epoch(s) "
                 "(best %.4f)", stop.stopped_epoch + 1, t.epochs, t.monitor, t.patience,
                 float(checkpoint.best_model_score))
    spread = {"world_size": int(fit.world_size),
              "train_samples_per_rank": list(module.samples_per_rank)}
    if fit.global_rank != 0:  # rank zero's checkpoint folder may already be gone
        return spread
    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)
    state = {k[len("net."):]: v for k, v in best["state_dict"].items() if k.startswith("net.")}
    torch.save(state, tmp / "model.pt")
    best_epoch = int(best["epoch"])
    at_best = next((e for e in epochs.epochs if e["epoch"] == best_epoch), {})
    # the one validation video accuracy of the run: the best checkpoint's (whatever the monitor)
    return {"val_video_acc": at_best.get("epoch/val_video_acc"), "best_epoch": best_epoch,
            "epochs": len(epochs.epochs), "monitor": t.monitor,
            "monitor_best": round(float(checkpoint.best_model_score), 4),
            "history": epochs.epochs, **spread}


def _log_run(params: Params, model: str, result: dict, net, tmp: Path, root: Path) -> None:
    """Params, summary metrics and artifacts (state dict, params.yaml, dvc.lock) on the run."""
    import mlflow

    flat = {f"{section}.{key}": value for section in ("train", "clips", "augment", "loader")
            for key, value in getattr(params, section).model_dump().items()}
    flat |= {"base.seed": params.base.seed, "base.target": params.base.target, "model": model,
             "parameters": sum(p.numel() for p in net.parameters()),
             "world_size": result.get("world_size", 1)}
    mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})
    mlflow.log_metrics({k: result[k] for k in ("val_video_acc", "best_epoch", "epochs")
                        if isinstance(result.get(k), int | float)})
    mlflow.set_tag(NOTE, describe(SUMMARY[model], f"best of {result['epochs']} epoch(s) by "
                                         f"{params.train.monitor} at epoch {result['best_epoch']}"))
    mlflow.log_artifact(str(tmp / "model.pt"), artifact_path="model")
    mlflow.set_tag(TAG_WEIGHTS, sha256_file(tmp / "model.pt"))  # evaluate finds the run by it
    for name in ("params.yaml", "dvc.lock"):
        if (root / name).is_file():
            mlflow.log_artifact(str(root / name), artifact_path="pipeline")
