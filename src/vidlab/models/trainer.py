"""The one Lightning Trainer factory and model builder (train, sanity, benchmarks), the precision
policy and the rank."""

from __future__ import annotations

import logging
import os

from vidlab.config import Params, TrainParams
from vidlab.core.progress import enabled as progress_enabled
from vidlab.core.quiet import quiet_libraries


def trainer(t: TrainParams, *, epochs: int, callbacks: list | None = None, logger=False,
            **overrides):
    """A deterministic ``pl.Trainer`` from ``train`` params (accelerator, devices, nodes,
    strategy, precision); no sanity validation steps, no model summary."""
    import pytorch_lightning as pl

    if not logging.getLogger("vidlab").isEnabledFor(logging.DEBUG):
        quiet_libraries()  # tips, the hardware banner, known deprecations (also for tests)
    callbacks = list(callbacks or [])
    if progress_enabled():
        callbacks.append(_bar())
    options = dict(max_epochs=epochs, accelerator=t.accelerator, devices=t.devices,
                   num_nodes=t.nodes, strategy=t.strategy, precision=precision(t),
                   deterministic=True, logger=logger, callbacks=callbacks,
                   enable_progress_bar=progress_enabled(), enable_model_summary=False,
                   log_every_n_steps=1, num_sanity_val_steps=0)
    return pl.Trainer(**(options | overrides))


def _bar():
    """Lightning's bar with the epoch and validation video accuracy, without its ``v_num``."""
    from pytorch_lightning.callbacks import TQDMProgressBar

    class Bar(TQDMProgressBar):
        def get_metrics(self, trainer, pl_module) -> dict:
            items = super().get_metrics(trainer, pl_module)
            items.pop("v_num", None)
            return items

    return Bar()


def epoch_logger(tracking_uri: str, run_id: str):
    """Lightning's MLflow logger with the epoch as each metric's step, and without Lightning's own
    ``epoch`` metric (a second copy of the step that would sit among the run's summary
    metrics): the history reads per epoch under ``epoch/…`` and nothing else."""
    from pytorch_lightning.loggers import MLFlowLogger

    class EpochLogger(MLFlowLogger):
        def log_metrics(self, metrics: dict, step: int | None = None) -> None:
            metrics = dict(metrics)
            epoch = metrics.pop("epoch", None)
            if metrics:
                super().log_metrics(metrics, step=int(epoch) if epoch is not None else step)

    return EpochLogger(tracking_uri=tracking_uri, run_id=run_id, log_model=False)


def history():
    """A callback that keeps every training epoch's logged metrics (after validation), as
    ``[{"epoch": 0, "epoch/val_video_acc": ...}, ...]`` in its ``epochs`` list."""
    import pytorch_lightning as pl

    class History(pl.Callback):
        def __init__(self) -> None:
            self.epochs: list[dict] = []

        def on_train_epoch_end(self, trainer, pl_module) -> None:  # validation has run
            scores = {k: round(float(v), 4) for k, v in sorted(trainer.callback_metrics.items())
                      if k.startswith("epoch/")}
            self.epochs.append({"epoch": int(trainer.current_epoch), **scores})

    return History()


def classifier(net, params: Params, *, class_weights: list[float] | None = None,
               schedule: str | None = None, weight_decay: float | None = None):
    """``net`` in a :class:`~vidlab.models.module.ClipClassifier` configured from ``train`` params.

    Args:
        net: the network (from ``registry.build_network``).
        params: the pipeline params (classes, lr, optimizer, schedule, weight decay).
        class_weights: per-class loss weights, or None.
        schedule: overrides ``train.schedule`` (e.g. ``"none"``) when given.
        weight_decay: overrides ``train.weight_decay`` when given.
    """
    from vidlab.models.module import ClipClassifier

    t = params.train
    return ClipClassifier(net, classes=len(params.base.classes), lr=t.lr,
                          weight_decay=t.weight_decay if weight_decay is None else weight_decay,
                          optimizer=t.optimizer, schedule=schedule or t.schedule,
                          class_weights=class_weights)


def precision(t: TrainParams) -> str:
    """bf16 mixed precision on a GPU that has it, else full precision (CPU: deterministic)."""
    if t.precision != "auto":
        return t.precision
    import torch

    gpu = t.accelerator != "cpu" and torch.cuda.is_available()
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


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
