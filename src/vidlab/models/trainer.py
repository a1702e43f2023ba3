"""The one Lightning Trainer factory (train and sanity), the precision policy and the rank."""

from __future__ import annotations

import os

from vidlab.config import TrainParams
from vidlab.core.progress import enabled as progress_enabled


def trainer(t: TrainParams, *, epochs: int, callbacks: list | None = None, logger=False,
            **overrides):
    """A deterministic ``pl.Trainer`` from ``train`` params (accelerator, devices, nodes,
    strategy, precision); no sanity validation steps, no model summary."""
    import pytorch_lightning as pl

    options = dict(max_epochs=epochs, accelerator=t.accelerator, devices=t.devices,
                   num_nodes=t.nodes, strategy=t.strategy, precision=precision(t),
                   deterministic=True, logger=logger, callbacks=callbacks or [],
                   enable_progress_bar=progress_enabled(), enable_model_summary=False,
                   log_every_n_steps=1, num_sanity_val_steps=0)
    return pl.Trainer(**(options | overrides))


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
