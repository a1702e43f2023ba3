"""The `sanity` stage: can training fail, can it succeed, and where do the models look?

Three checks per model in ``sanity.models``, written to ``reports/sanity.json`` (and a sanity run
in MLflow under the pipeline's parent run):

* **Label shuffle** ("should fail to learn"). Before training, the check asks whether it can
  fail at all: with ``n`` validation videos and the largest class share ``pi`` (the most a
  label-blind predictor scores), the upper end of the binomial (1 - alpha) range of ``pi`` must
  lie below ``sanity.learning_accuracy``, or a model that clearly learned could not be told from
  chance; the check is then **not proven**, says how many validation videos it needs, and is
  not run. Otherwise the training videos' labels are permuted (seeded)
  and the model trains ``sanity.shuffle_epochs`` epochs as ``train`` params say. Its validation
  accuracy (softmax averaged per video) must then stay inside the two-sided binomial range of
  chance at level ``sanity.alpha``. Chance is what a predictor independent of the labels scores
  in expectation: ``sum_c q_c * pi_c`` with ``q`` the model's own predicted-class shares and ``pi``
  the validation class shares. Above the range, the input carries the label some other way (a
  label leak in the loader, validation videos that are copies of training videos): the check
  fails loudly.
* **Overfit a tiny subset** ("can learn at all"). ``sanity.overfit_clips`` training clips, one
  fixed clip per video and no augmentation, chosen in pairs of different classes whose trivial
  statistics (each clip's mean and spread per colour channel) are as alike as possible, so the
  subset cannot be fitted by memorising brightness or colour. A leave-one-out nearest-centroid
  classifier on those statistics is scored on the subset and reported; if it alone reaches
  ``sanity.overfit_target``, the check is **not proven**. The model trains on the subset as one
  full batch for at most ``sanity.overfit_epochs`` steps; the training accuracy, measured in eval
  mode (every 5 steps, and at the end), must reach ``sanity.overfit_target``.
* **Grad-CAM** of each trained model (``models/<model>/model.pt``) on ``sanity.gradcam_clips``
  validation clips: a PNG grid (clip per row, frame per column) and a GIF, so a person sees what
  the model looks at. ``center_frame`` only sees the middle frame, so only that frame has heat.

Each check has a ``status``: ``passed``, ``failed`` or ``not_proven``. A failed check fails the
stage after the report is written (``sanity.fail: false`` only reports); a check that is not
proven never counts as passed.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
from pytorch_lightning.callbacks import Callback

from vidlab.config import Params
from vidlab.core.errors import VidlabError
from vidlab.core.fsutil import atomic_dir, atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

FIGURES = "figures.json"  # in the figures folder: which clips each Grad-CAM shows
CHECKS = ("label_shuffle", "overfit")


class SanityError(VidlabError):
    """A sanity check failed (the report says which and why)."""


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


def _module(net, params: Params, *, class_weights=None, schedule=None, weight_decay=None):
    from vidlab.models.module import ClipClassifier

    t = params.train
    return ClipClassifier(net, classes=len(params.base.classes), lr=t.lr,
                          weight_decay=t.weight_decay if weight_decay is None else weight_decay,
                          optimizer=t.optimizer, schedule=schedule or t.schedule,
                          class_weights=class_weights)


def video_predictions(net, loader) -> tuple[list[str], list[int], list[int]]:
    """Per video (sorted by id): true label and argmax of the clip-averaged softmax."""
    from vidlab.models.scoring import per_video, predict_clips

    videos = per_video(predict_clips(net, loader))
    return (list(videos["video_id"]), [int(y) for y in videos["label"]],
            [int(np.argmax(p)) for p in videos["probs"]])


def _data(params: Params, splits: Path, clips: Path):
    from vidlab.data.datamodule import VideoDataModule

    data = VideoDataModule(params, splits=splits, clips=clips, source="memmap")
    data.setup()
    return data


# --- the checks --------------------------------------------------------------------------------


def label_shuffle(params: Params, model: str, *, splits: Path, clips: Path) -> dict:
    """Train ``model`` on permuted training labels; validation accuracy must look like chance."""
    import pytorch_lightning as pl

    from vidlab.models.registry import build_network, class_weights

    s, seed = params.sanity, params.base.seed
    pl.seed_everything(seed, workers=True, verbose=False)
    data = _data(params, splits, clips)
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
    module = _module(net, params, class_weights=class_weights(data, params))
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

    s, c, seed = params.sanity, params.clips, params.base.seed
    pl.seed_everything(seed, workers=True, verbose=False)
    data = _data(params, splits, clips)
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
    module = _module(net, params, schedule="none", weight_decay=0.0)
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


def _alternating(labels: dict[str, int], count: int) -> list[str]:
    """``count`` video ids, classes taking turns, each class's videos in sorted order."""
    by_class: dict[int, list[str]] = {}
    for video in sorted(labels):
        by_class.setdefault(labels[video], []).append(video)
    queues = [by_class[k] for k in sorted(by_class)]
    chosen: list[str] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


# --- Grad-CAM ----------------------------------------------------------------------------------


def target_layer(net):
    """The last convolutional stage: where Grad-CAM reads activations and gradients."""
    trunk = getattr(net, "trunk", None)
    if trunk is not None:
        return trunk.layer4
    if hasattr(net, "layer4"):
        return net.layer4
    raise ValueError(f"No Grad-CAM layer known for {type(net).__name__}.")


def gradcam(net, video, target: int):
    """Grad-CAM (Selvaraju et al. 2017) of class ``target`` for one clip.

    Args:
        net: a baseline network (see :func:`target_layer`).
        video: ``(3, T, H, W)`` float, normalised as in training.
        target: class index.

    Returns:
        ``(cam, probs)``: ``cam`` is ``(T, H, W)`` in [0, 1] (frames the network never sees are
        0); ``probs`` the softmax over classes.
    """
    import torch
    from torch.nn import functional as F

    net.eval()
    seen: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        seen["act"] = output

    hook = target_layer(net).register_forward_hook(keep)
    try:
        video = video.unsqueeze(0).detach().to(next(net.parameters()).device)
        net.zero_grad(set_to_none=True)
        logits = net(video)
        logits[0, target].backward()
    finally:
        hook.remove()
    act, grad = seen["act"].detach().float().cpu(), seen["act"].grad.detach().float().cpu()
    _, frames, height, width = video.shape[1:]
    if act.dim() == 5:  # (1, C, t, h, w): a 3D network
        weights = grad.mean(dim=(2, 3, 4), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=(frames, height, width), mode="trilinear",
                            align_corners=False)[0, 0]
    else:  # (N, C, h, w): N frames of a 2D trunk; weights over all of them, as one volume
        weights = grad.mean(dim=(0, 2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)[:, 0]
        if cam.shape[0] != frames:  # center_frame: the middle frame only
            full = torch.zeros(frames, height, width)
            full[frames // 2] = cam[0]
            cam = full
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else cam
    return cam.clamp(0, 1), logits.detach().float().softmax(1)[0].cpu()


def _overlay(frames: np.ndarray, cam: np.ndarray, scale: int) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 blended with the heat map, upscaled ``scale`` times."""
    from matplotlib import colormaps

    heat = (colormaps["inferno"](cam)[..., :3] * 255).astype(np.float32)
    alpha = 0.6 * cam[..., None]
    mixed = frames.astype(np.float32) * (1 - alpha) + heat * alpha
    mixed = mixed.round().clip(0, 255).astype(np.uint8)
    return mixed.repeat(scale, axis=1).repeat(scale, axis=2)


def gradcam_figures(params: Params, model: str, *, weights: Path, splits: Path, clips: Path,
                    out: Path) -> dict:
    """Grad-CAM PNG grid and GIF of ``model`` on a few validation clips (classes alternating)."""
    import io

    import pandas as pd
    import torch
    from PIL import Image, ImageDraw

    from vidlab.data.transforms import EvalPreset
    from vidlab.models.registry import build_network

    s, c = params.sanity, params.clips
    data = _data(params, splits, clips)
    chosen = _alternating(data.labels["val"], s.gradcam_clips)
    if not chosen:
        return {"clips": 0, "files": []}
    net = build_network(model, params)
    if not Path(weights).is_file():
        raise SanityError(f"No trained weights at {weights}. Run `dvc repro train@{model}` first.")
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str})
    array = np.load(Path(clips) / "val.npy", mmap_mode="r")
    preset = EvalPreset(mean=c.mean, std=c.std)
    classes = list(params.base.classes)
    scale = max(1, 96 // c.size)
    rows, captions, shown = [], [], []
    for video in chosen:
        clip_rows = index[(index["split"] == "val") & (index["video_id"] == video)]
        middle = clip_rows.sort_values("clip_index").iloc[len(clip_rows) // 2]
        frames = np.array(array[int(middle["row"])])
        truth = data.labels["val"][video]
        cam, probs = gradcam(net, preset(torch.from_numpy(frames)), truth)
        rows.append(_overlay(frames, cam.numpy(), scale))
        predicted = int(probs.argmax())
        captions.append(f"{video}  true {classes[truth]}  pred {classes[predicted]} "
                        f"({float(probs[predicted]):.2f})")
        shown.append({"video_id": video, "clip_index": int(middle["clip_index"]),
                      "true": classes[truth], "predicted": classes[predicted],
                      "p_true": round(float(probs[truth]), 4)})
    frames_n, cell = rows[0].shape[0], rows[0].shape[1]
    caption_h, gap = 14, 2
    grid = Image.new("RGB", (frames_n * (cell + gap), len(rows) * (cell + caption_h + gap)),
                     "white")
    draw = ImageDraw.Draw(grid)
    for r, (row, caption) in enumerate(zip(rows, captions, strict=True)):
        top = r * (cell + caption_h + gap)
        draw.text((2, top + 1), caption, fill="black")
        for t in range(frames_n):
            grid.paste(Image.fromarray(row[t]), (t * (cell + gap), top + caption_h))
    png, gif = out / f"gradcam_{model}.png", out / f"gradcam_{model}.gif"
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG")
    atomic_write_bytes(png, buffer.getvalue())
    strip = [Image.fromarray(np.concatenate([row[t] for row in rows], axis=1))
             for t in range(frames_n)]
    buffer = io.BytesIO()
    strip[0].save(buffer, format="GIF", save_all=True, append_images=strip[1:], duration=250,
                  loop=0)
    atomic_write_bytes(gif, buffer.getvalue())
    return {"clips": len(rows), "files": [png.name, gif.name], "shown": shown}


# --- the stage ---------------------------------------------------------------------------------


def run(params: Params, *, splits: Path, clips: Path, models: Path, report: Path, out: Path,
        root: Path | None = None, metadata: Path | None = None) -> dict:
    """Run every check for every model in ``sanity.models``; write the report and figures.

    Raises:
        SanityError: when a check failed and ``sanity.fail`` is true (after writing the report).
    """
    from vidlab import tracking
    from vidlab.core.paths import project_root
    from vidlab.tracking.pipeline import pipeline_run

    root = Path(root) if root is not None else project_root()
    s = params.sanity
    results: dict[str, dict] = {}
    with atomic_dir(Path(out), marker=FIGURES) as folder:
        for model in s.models:
            log.info("sanity %s: label shuffle (%d epochs)", model, s.shuffle_epochs)
            shuffle = label_shuffle(params, model, splits=splits, clips=clips)
            log.info("sanity %s: overfit %d clips", model, s.overfit_clips)
            overfit = overfit_subset(params, model, splits=splits, clips=clips)
            entry = {"label_shuffle": shuffle, "overfit": overfit}
            if s.gradcam_clips:
                entry["gradcam"] = gradcam_figures(
                    params, model, weights=Path(models) / model / "model.pt", splits=splits,
                    clips=clips, out=folder)
            results[model] = entry
        figures = {model: entry.get("gradcam", {}) for model, entry in results.items()}
        atomic_write_text(folder / FIGURES, json.dumps(figures, indent=2) + "\n")
    failures = [f"{model} {check}: {entry[check]['reason']}" for model, entry in results.items()
                for check in CHECKS if entry[check]["status"] == "failed"]
    unproven = [f"{model} {check}: {entry[check]['reason']}" for model, entry in results.items()
                for check in CHECKS if entry[check]["status"] == "not_proven"]
    summary = {"passed": not failures and not unproven, "failures": failures,
               "not_proven": unproven, "models": results}
    atomic_write_text(Path(report), json.dumps(summary, indent=2) + "\n")

    pipe = pipeline_run(params, root, splits, clips, metadata)
    with tracking.start_run(params.tracking, run_name="sanity", fingerprint=pipe.dataset,
                            processed=pipe.processed, root=root, parent_run_id=pipe.parent,
                            tags={"vidlab.stage": "sanity"}):
        import mlflow

        mlflow.log_params({f"sanity.{k}": str(v) for k, v in asdict(s).items()})
        metrics = {"sanity/passed": float(not failures)}
        for model, entry in results.items():
            if "val_video_acc" in entry["label_shuffle"]:
                metrics[f"sanity/{model}/shuffle_val_video_acc"] = entry["label_shuffle"][
                    "val_video_acc"]
            metrics[f"sanity/{model}/overfit_train_acc"] = entry["overfit"]["train_acc"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(report), artifact_path="sanity")
        for path in sorted(Path(out).iterdir()):
            mlflow.log_artifact(str(path), artifact_path="sanity")
        if failures and s.fail:
            raise SanityError(
                f"{len(failures)} sanity check(s) failed (details in {report}):\n  - "
                + "\n  - ".join(failures))
    return summary
