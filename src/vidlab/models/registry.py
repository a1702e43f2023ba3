"""The model registry: every model name vidlab trains or evaluates, and how each is built."""

from __future__ import annotations

from pathlib import Path

from vidlab.config import NETWORKS, Params
from vidlab.core.errors import DataError

MODELS = NETWORKS  # the networks, declared once in config (params choose among them)
CLASSICAL = "classical"  # the classical-feature baseline, evaluated alike
EVALUATED = (*MODELS, CLASSICAL)
SUMMARY = {  # one line per evaluated model: its MLflow run's description
    "center_frame": "Center-frame baseline: a 2D CNN on each clip's middle frame.",
    "pool2d": "2D + pooling baseline: a 2D CNN on every frame, features averaged over time.",
    "r2plus1d": "R(2+1)D: a video network with factorised spatial and temporal convolutions.",
    CLASSICAL: "Classical baseline: colour histograms and motion energy, logistic regression.",
}



def build_network(model: str, params: Params, *, start_weights: bool = True):
    """The network of ``model`` from ``train`` params, with the local weights training starts
    from when ``train.weights`` is set and ``start_weights`` (False where trained weights are
    loaded next, so ``train.weights`` is not read); the classical baseline from ``classical``
    params, with zero weights until fitted."""
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
    if start_weights and t.weights:
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
