"""The sanity checks themselves: the statistics behind them, the label-shuffle check and the
overfit-a-tiny-subset check (see :mod:`vidlab.stages.sanity.stage` for what each proves)."""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path

import numpy as np
from pytorch_lightning.callbacks import Callback

from vidlab.config import Params
from vidlab.stages.sanity import common

# --- statistics --------------------------------------------------------------------------------


def binomial_range(n: int, p: float, alpha: float) -> tuple[int, int]:
    """The two-sided (1 - alpha) acceptance range of successes for Binomial(n, p).

    Returns ``(low, high)``: the largest ``low`` with ``P(X < low) <= alpha / 2`` and the smallest
    ``high`` with ``P(X > high) <= alpha / 2``.
    """
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    low, below = 0, 0.0
    while low < n and below + pmf[low] <= alpha / 2:
        below += pmf[low]
        low += 1
    high, above = n, 0.0
    while high > 0 and above + pmf[high] <= alpha / 2:
        above += pmf[high]
        high -= 1
    return low, high


def chance_accuracy(predicted: list[int], truth: list[int], classes: int) -> float:
    """Expected accuracy of a predictor with these predicted-class shares, independent of truth."""
    n = max(1, len(truth))
    q = [predicted.count(c) / n for c in range(classes)]
    pi = [truth.count(c) / n for c in range(classes)]
    return sum(a * b for a, b in zip(q, pi, strict=True))


def shuffle_power(n: int, top_share: float, alpha: float, learning: float) -> dict:
    """Whether a label-shuffle check on ``n`` validation videos can tell chance from learning.

    Args:
        n: validation videos.
        top_share: the largest class share among them (the most a label-blind predictor scores).
        alpha: the check's level.
        learning: the accuracy of a model that clearly learned.

    Returns:
        ``{"proven": bool, "upper": top of the range as a share, "needed": videos needed}``.
    """
    @functools.cache
    def upper(count: int) -> float:
        return binomial_range(count, top_share, alpha)[1] / count if count else 1.0

    # The range's top is not monotonic in n (it moves in steps of 1/n): "needed" is the first
    # count from which it stays below ``learning`` for the next 50 counts as well (searched up
    # to 1000 videos; None beyond).
    needed = next((m for m in range(2, 951)
                   if all(upper(k) < learning for k in range(m, m + 51))), None)
    return {"proven": upper(n) < learning, "upper": round(upper(n), 4), "needed": needed}


def trivial_stats(clip: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of each colour channel of a uint8 clip ``(T, H, W, 3)``."""
    pixels = np.asarray(clip, dtype=np.float64).reshape(-1, clip.shape[-1])
    return np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)])


def matched_subset(stats: dict[str, np.ndarray], labels: dict[str, int],
                   count: int) -> list[str]:
    """Up to ``count`` videos in pairs of two classes whose trivial statistics are closest
    (greedy, on standardised statistics; ties by video id, so the choice is reproducible)."""
    videos = sorted(stats)
    matrix = np.stack([stats[v] for v in videos])
    matrix = (matrix - matrix.mean(axis=0)) / (matrix.std(axis=0) + 1e-9)
    pairs = sorted((float(np.linalg.norm(matrix[i] - matrix[j])), videos[i], videos[j])
                   for i in range(len(videos)) for j in range(i + 1, len(videos))
                   if labels[videos[i]] != labels[videos[j]])
    chosen: list[str] = []
    for _, a, b in pairs:
        if len(chosen) + 2 > count:
            break
        if a not in chosen and b not in chosen:
            chosen += [a, b]
    return chosen


def trivial_accuracy(stats: dict[str, np.ndarray], labels: dict[str, int]) -> float:
    """Leave-one-out accuracy of a nearest-centroid classifier on trivial statistics."""
    videos = sorted(stats)
    matrix = np.stack([stats[v] for v in videos])
    matrix = (matrix - matrix.mean(axis=0)) / (matrix.std(axis=0) + 1e-9)
    y = np.array([labels[v] for v in videos])
    correct = 0
    for k in range(len(videos)):
        rest = np.arange(len(videos)) != k
        classes = [c for c in np.unique(y[rest])]
        centroids = [matrix[rest & (y == c)].mean(axis=0) for c in classes]
        guess = classes[int(np.argmin([np.linalg.norm(matrix[k] - c) for c in centroids]))]
        correct += int(guess == y[k])
    return correct / max(1, len(videos))


# --- training helpers --------------------------------------------------------------------------


def _trainer(params: Params, epochs: int, callbacks: list | None = None):
    from vidlab.models.trainer import trainer

    return trainer(params.train, epochs=epochs, callbacks=callbacks, devices=1, num_nodes=1,
                   strategy="auto", enable_checkpointing=False, limit_val_batches=0,
                   log_every_n_steps=50)


def video_predictions(net, loader) -> tuple[list[str], list[int], list[int]]:
    """Per video (sorted by id): true label and argmax of the clip-averaged softmax."""
    from vidlab.models.scoring import per_video, predict_clips

    videos = per_video(predict_clips(net, loader))
    return (list(videos["video_id"]), [int(y) for y in videos["label"]],
            [int(np.argmax(p)) for p in videos["probs"]])


# --- the checks --------------------------------------------------------------------------------


def label_shuffle(params: Params, model: str, *, splits: Path, clips: Path) -> dict:
    """Train ``model`` on permuted training labels; validation accuracy must look like chance."""
    import pytorch_lightning as pl

    from vidlab.models.registry import build_network, class_weights
    from vidlab.models.trainer import classifier

    s, seed = params.sanity, params.base.seed
    pl.seed_everything(seed, workers=True, verbose=False)
    data = common.data(params, splits, clips)
    val = list(data.labels["val"].values())
    top = max(val.count(c) for c in set(val)) / len(val) if val else 1.0
    power = shuffle_power(len(val), top, s.alpha, s.learning_accuracy)
    if not power["proven"]:
        return {"status": "not_proven", "passed": False, "val_videos": len(val),
                "top_class_share": round(top, 4), "alpha": s.alpha,
                "learning_accuracy": s.learning_accuracy, "range_top": power["upper"],
                "videos_needed": power["needed"],
                "reason": (f"label shuffle needs at least {power['needed']} validation videos to "
                           f"tell chance ({top:.2f}) from {s.learning_accuracy:.2f} at alpha "
                           f"{s.alpha}; you have {len(val)} (its chance range reaches "
                           f"{power['upper']:.2f}). Add validation videos or raise "
                           "split.val.")}
    train_labels = data.labels["train"]
    videos = sorted(train_labels)
    permuted = [train_labels[v] for v in videos]
    random.Random(seed).shuffle(permuted)
    data.datasets["train"].labels = dict(zip(videos, permuted, strict=True))
    net = build_network(model, params)
    module = classifier(net, params, class_weights=class_weights(data, params))
    _trainer(params, s.shuffle_epochs).fit(module, train_dataloaders=data.train_dataloader())
    _, truth, predicted = video_predictions(net, data.val_dataloader())
    n, correct = len(truth), sum(int(a == b) for a, b in zip(truth, predicted, strict=True))
    chance = chance_accuracy(predicted, truth, len(params.base.classes))
    low, high = binomial_range(n, chance, s.alpha)
    passed = low <= correct <= high
    kept = sum(int(a == b) for a, b in zip(permuted, (train_labels[v] for v in videos),
                                            strict=True))
    result = {"status": "passed" if passed else "failed", "passed": passed,
              "epochs": s.shuffle_epochs, "val_videos": n, "range_top_before": power["upper"],
              "learning_accuracy": s.learning_accuracy,
              "val_video_acc": round(correct / max(1, n), 4), "chance": round(chance, 4),
              "range": [round(low / max(1, n), 4), round(high / max(1, n), 4)],
              "alpha": s.alpha, "train_labels_unchanged": round(kept / max(1, len(videos)), 4)}
    if not passed:
        side = "above" if correct > high else "below"
        result["reason"] = (
            f"{model} trained on shuffled labels scores {correct}/{n} on validation, {side} the "
            f"{1 - s.alpha:.0%} range of chance [{low}/{n}, {high}/{n}] (chance {chance:.2f}). "
            + ("The input carries the label some other way: look for a label leak in the data "
               "pipeline, or validation videos that copy training videos."
               if side == "above" else "Far below chance: check the label mapping of the "
               "validation split."))
    return result


def overfit_subset(params: Params, model: str, *, splits: Path, clips: Path) -> dict:
    """Train ``model`` on a tiny fixed batch; its training accuracy must reach the target."""
    import pandas as pd
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from vidlab.data.datasets import CachedClips
    from vidlab.data.transforms import EvalPreset
    from vidlab.models.registry import build_network
    from vidlab.models.trainer import classifier

    s, c, seed = params.sanity, params.clips, params.base.seed
    pl.seed_everything(seed, workers=True, verbose=False)
    data = common.data(params, splits, clips)
    labels = data.labels["train"]
    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str})
    first = index[index["split"] == "train"].sort_values(["video_id", "clip_index"])
    first = first.groupby("video_id").head(1)
    array = np.load(Path(clips) / "train.npy", mmap_mode="r")
    stats = {row.video_id: trivial_stats(array[row.row]) for row in first.itertuples()
             if row.video_id in labels}
    chosen = matched_subset(stats, labels, s.overfit_clips)
    if len(chosen) < 2:
        return {"status": "not_proven", "passed": False, "clips": 0, "train_acc": 0.0,
                "target": s.overfit_target, "trivial_stats_acc": 1.0,
                "reason": "the training split holds videos of one class only: there is nothing "
                          "to tell apart; add training videos of every class"}
    trivial = trivial_accuracy({v: stats[v] for v in chosen}, labels)
    rows = first[first["video_id"].isin(chosen)]
    subset = CachedClips(Path(clips), "train", rows, data.labels["train"],
                         EvalPreset(mean=c.mean, std=c.std), train=False)
    loader = DataLoader(subset, batch_size=len(subset), shuffle=False)
    net = build_network(model, params)
    module = classifier(net, params, schedule="none", weight_decay=0.0)
    stop = _StopWhenFit(loader, s.overfit_target)
    trainer = _trainer(params, s.overfit_epochs, callbacks=[stop])
    trainer.fit(module, train_dataloaders=loader)
    accuracy = _accuracy(net, loader)
    passed = accuracy >= s.overfit_target
    proven = trivial < s.overfit_target
    result = {"status": "passed" if passed and proven else "failed" if not passed
              else "not_proven", "passed": passed and proven, "clips": len(subset),
              "epochs": int(trainer.current_epoch), "max_epochs": s.overfit_epochs,
              "train_acc": round(accuracy, 4), "target": s.overfit_target,
              "trivial_stats_acc": round(trivial, 4),
              "subset": "pairs of different classes matched on each clip's mean and spread per "
                        "colour channel"}
    if passed and not proven:
        result["reason"] = (
            f"the {len(subset)} clips can be told apart by their mean and spread of colour alone "
            f"(leave-one-out {trivial:.0%}), so fitting them proves nothing; add training videos "
            "whose classes look alike in brightness and colour.")
    if not passed:
        result["reason"] = (
            f"{model} reaches only {accuracy:.0%} training accuracy on {len(subset)} clips after "
            f"{s.overfit_epochs} full-batch steps (target {s.overfit_target:.0%}): the model "
            "cannot fit even a tiny set. Check the learning rate, the network and the labels.")
    return result


def _accuracy(net, loader) -> float:
    _, truth, predicted = video_predictions(net, loader)
    return sum(int(a == b) for a, b in zip(truth, predicted, strict=True)) / max(1, len(truth))


class _StopWhenFit(Callback):
    """Every ``every`` epochs, measure training accuracy in eval mode; stop once it is reached."""

    def __init__(self, loader, target: float, every: int = 5) -> None:
        self.loader, self.target, self.every = loader, target, every

    def on_train_epoch_end(self, trainer, module) -> None:
        if (trainer.current_epoch + 1) % self.every:
            return
        reached = _accuracy(module.net, self.loader) >= self.target
        module.net.train()
        if reached:
            trainer.should_stop = True

