"""The `classical` stage: what hand-made features achieve, as a reference for the networks.

Every cached training clip (all ``clips.train_clips`` per video, no augmentation) becomes the
feature vector of :mod:`vidlab.models.classical` (colour histograms and frame-difference motion
energy); scikit-learn standardises them and fits a logistic regression (L2, ``classical.c``,
lbfgs; classes weighted by inverse frequency unless ``train.balance: none``). The fitted
scaler and coefficients go into a :class:`~vidlab.models.classical.ClassicalNet` state dict,
``models/classical/model.pt``, which ``evaluate@classical`` scores exactly like the networks
(same clips, video averaging, intervals, subgroups, robustness).

MLflow: a ``classical`` run under the pipeline's parent run, tagged with the state dict's sha256
so the evaluate stage logs onto it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from vidlab.config import Params
from vidlab.config.declare import LOADING, Declaration
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_bytes, atomic_write_text, sha256_file

PARAMS = Declaration(
    "classical",
    outputs=("base", "clips.size", "clips.mean", "clips.std", "loader.batch_size",
             "train.balance", "classical"),
    runtime=(*LOADING, "tracking"),
)


log = logging.getLogger(__name__)


def split_features(params: Params, data, split: str, net=None) -> dict[str, np.ndarray]:
    """Features of every cached clip of ``split`` (eval preset, no augmentation).

    Returns ``features`` ``(clips, F)``, ``labels``, ``video_ids`` and ``clip_index``.
    """
    import torch
    from torch.utils.data import DataLoader

    from vidlab.data.datasets import CachedClips
    from vidlab.data.transforms import EvalPreset
    from vidlab.models.registry import CLASSICAL, build_network

    net = net or build_network(CLASSICAL, params)
    c = params.clips
    source = data.datasets[split]
    dataset = CachedClips(source.path.parent, split, source.index, source.labels,
                          EvalPreset(mean=c.mean, std=c.std), train=False)
    parts, labels, videos, clips = [], [], [], []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=params.loader.batch_size, shuffle=False):
            parts.append(net.features(batch["video"]).double().numpy())
            labels += batch["label"].tolist()
            videos += list(batch["video_id"])
            clips += [int(k) for k in batch["clip_index"]]
    width = net.feature_mean.numel()
    return {"features": np.concatenate(parts) if parts else np.zeros((0, width)),
            "labels": np.asarray(labels, dtype=np.int64), "video_ids": np.asarray(videos),
            "clip_index": np.asarray(clips, dtype=np.int64)}


def fit(params: Params, features: np.ndarray, labels: np.ndarray):
    """A :class:`ClassicalNet` holding a scaler and logistic regression fitted on the clips."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from vidlab.models.classical import ABSENT
    from vidlab.models.registry import CLASSICAL, build_network

    k = params.classical
    present = sorted(set(labels.tolist()))
    if len(present) < 2:  # only with split.require_all_classes: false; the networks train too
        log.warning("The train split holds one class only (%s): the classical baseline predicts "
                    "it for every clip.", present)
        net = build_network(CLASSICAL, params)
        with torch.no_grad():
            net.intercept.fill_(ABSENT)
            net.intercept[present] = 0.0
        return net, 0
    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    weight = None if params.train.balance == "none" else "balanced"
    model = LogisticRegression(C=k.c, max_iter=k.max_iter, class_weight=weight)
    model.fit((features - scaler.mean_) / scale, labels)
    net = build_network(CLASSICAL, params)
    classes = net.coef.shape[0]
    coef = np.zeros((classes, features.shape[1]))
    intercept = np.full(classes, ABSENT)
    present = model.classes_.astype(int)
    if len(present) == 2:  # scikit-learn keeps one row: logit of the second class vs the first
        coef[present[1]], intercept[present[1]] = model.coef_[0], model.intercept_[0]
        intercept[present[0]] = 0.0
    else:
        coef[present], intercept[present] = model.coef_, model.intercept_
    state = {"feature_mean": scaler.mean_, "feature_scale": scale, "coef": coef,
             "intercept": intercept}
    net.load_state_dict({name: torch.as_tensor(value, dtype=torch.float64)
                         for name, value in state.items()})
    return net, int(np.max(model.n_iter_))


def _video_acc(net, feats: dict[str, np.ndarray]) -> float | None:
    """Accuracy of the video-averaged probabilities, from precomputed features."""
    import pandas as pd
    import torch

    from vidlab.models.scoring import per_video

    if not len(feats["labels"]):
        return None
    probs = net.head(torch.as_tensor(feats["features"])).softmax(1).numpy()
    videos = per_video(pd.DataFrame({"video_id": feats["video_ids"], "label": feats["labels"],
                                     "probs": list(probs)}))
    hits = [int(np.argmax(p) == label) for p, label in zip(videos["probs"], videos["label"],
                                                           strict=True)]
    return round(float(np.mean(hits)), 4)


def run(params: Params, *, splits: Path, clips: Path, out: Path,
        root: Path | None = None, metadata: Path | None = None) -> dict:
    """Fit the classical baseline; write ``out/model.pt`` and ``out/metrics.json``."""
    params = PARAMS.view(params)
    import mlflow
    import torch

    from vidlab import tracking
    from vidlab.core.paths import project_root
    from vidlab.data.datamodule import VideoDataModule
    from vidlab.models.classical import feature_names
    from vidlab.models.registry import CLASSICAL, SUMMARY
    from vidlab.tracking.pipeline import TAG_WEIGHTS, pipeline_run

    root = Path(root) if root is not None else project_root()
    data = VideoDataModule(params, splits=splits, clips=clips, source="memmap", augment=False)
    data.setup()
    train = split_features(params, data, "train")
    if not len(train["labels"]):
        raise DataError(f"The train split of {clips} has no cached clips; nothing to fit.")
    net, iterations = fit(params, train["features"], train["labels"])
    val = split_features(params, data, "val", net)
    k = params.classical
    result = {"features": int(train["features"].shape[1]), "train_clips": len(train["labels"]),
              "iterations": iterations, "train_video_acc": _video_acc(net, train),
              "val_video_acc": _video_acc(net, val)}
    pipe = pipeline_run(params, root, splits, clips, metadata)
    out = Path(out)
    with tracking.start_run(params.tracking, run_name=CLASSICAL, fingerprint=pipe.dataset,
                            processed=pipe.processed, root=root, parent_run_id=pipe.parent,
                            tags={"vidlab.model": CLASSICAL}) as active, \
            tempfile.TemporaryDirectory(prefix="vidlab-classical-") as tmp:
        staged = Path(tmp) / "model.pt"
        torch.save(net.state_dict(), staged)
        mlflow.log_params({"model": CLASSICAL, "classical.hist_bins": k.hist_bins,
                           "classical.motion_grid": k.motion_grid, "classical.c": k.c,
                           "classical.max_iter": k.max_iter, "train.balance": params.train.balance,
                           "base.seed": params.base.seed, "base.target": params.base.target,
                           "features": result["features"], "train_clips": result["train_clips"],
                           "iterations": iterations})
        mlflow.log_metrics({name: result[name] for name in ("val_video_acc", "train_video_acc")})
        mlflow.set_tag(tracking.NOTE, tracking.describe(
            SUMMARY[CLASSICAL], f"{result['features']} features, {iterations} iterations of "
                                "L-BFGS; scored by `vidlab evaluate --model classical`."))
        mlflow.log_dict({"features": feature_names(k.hist_bins, k.motion_grid)},
                        "model/features.json")
        mlflow.log_artifact(str(staged), artifact_path="model")
        mlflow.set_tag(TAG_WEIGHTS, sha256_file(staged))
        atomic_write_bytes(out / "model.pt", staged.read_bytes())
        atomic_write_text(out / "metrics.json", json.dumps(result, indent=2) + "\n")
        result["run_id"] = active.info.run_id
    return result
