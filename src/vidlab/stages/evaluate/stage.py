"""The `evaluate@model` stage: task metrics with intervals, per subgroup, under perturbations.

For one trained model (``models/<model>/model.pt``) on the cached eval clips of
``evaluate.splits``:

* ``reports/predictions/<model>.csv``: one row per clip and one per video (``level``), with the
  pseudonymous video id, split, true and predicted class and every class probability; a video's
  probabilities are the mean of its clips' softmax. Every number below can be recomputed from it.
* ``reports/metrics/<model>.headline.json`` (the DVC metric): the video-level numbers people
  compare (:mod:`vidlab.contracts.headline`).
* ``reports/metrics/<model>.json``: per split and level (clip, video) the metrics of
  :mod:`~vidlab.models.metrics` with bootstrap intervals, the confusion matrix, and the
  robustness table (each test metric under fps jitter, JPEG, blur and occlusion, and its change).
* ``reports/metrics/<model>.subgroups.json``: the same video-level metrics per value of each
  ``evaluate.subgroups`` column (domain, age group).
* ``reports/plots/<model>/``: ``confusion.csv``, ``roc.csv``, ``pr.csv`` (the test split, per
  video; DVC plots read them) and their PNG renderings.

The test scores are also logged on the model's MLflow training run (found by the sha256 of the
weights it evaluates) as ``test_video_<acc|f1|auroc>`` with ``_lo``/``_hi`` bounds, with the
plots (``evaluation.png`` at the run's top level, the same path in every model's run, so MLflow's
compare view shows them side by side), the full metrics and the predictions as artifacts.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import Params
from vidlab.config.declare import LOADING, Declaration
from vidlab.contracts.headline import model_headline, write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text, csv_text, sha256_file
from vidlab.core.render import save_figure
from vidlab.models.scoring import PERTURBATIONS, per_video, predict_clips

PARAMS = Declaration(
    "evaluate",
    outputs=("base", "clips", "loader.batch_size", "split.strategy", "train.depth", "train.width",
             "train.r2plus1d_variant", "train.r2plus1d_width", "train.pool", "classical",
             "evaluate"),
    runtime=(*LOADING, "tracking"),
)


log = logging.getLogger(__name__)

LEVELS = ("clip", "video")


# --- predictions -------------------------------------------------------------------------------


def predictions_csv(by_split: dict[str, dict[str, pd.DataFrame]], classes: list[str]) -> str:
    """The predictions file: clip rows, then video rows, per split."""
    rows = []
    for split, levels in by_split.items():
        for level, frame in levels.items():
            for row in frame.itertuples(index=False):
                probs = row.probs
                out = {"level": level, "split": split, "video_id": row.video_id,
                       "clip_index": getattr(row, "clip_index", ""),
                       "label": classes[row.label], "predicted": classes[int(np.argmax(probs))]}
                out |= {f"p_{name}": f"{p:.9g}" for name, p in zip(classes, probs, strict=True)}
                rows.append(out)
    columns = ["level", "split", "video_id", "clip_index", "label", "predicted",
               *(f"p_{name}" for name in classes)]
    return csv_text(columns, rows)


# --- perturbations -----------------------------------------------------------------------------


def perturb(name: str, clip, params: Params):
    """A perturbed copy of a uint8 ``(T, H, W, 3)`` clip (fps jitter is done by decoding)."""
    import torch
    from torchvision.transforms.v2 import functional as F

    e = params.evaluate
    frames = clip.permute(0, 3, 1, 2)  # (T, 3, H, W)
    if name == "jpeg":
        frames = F.jpeg(frames, quality=e.jpeg_quality)
    elif name == "blur":
        size = 2 * math.ceil(3 * e.blur_sigma) + 1
        frames = F.gaussian_blur(frames, kernel_size=[size, size], sigma=[e.blur_sigma])
    elif name == "occlusion":
        frames = frames.clone()
        height, width = frames.shape[-2:]
        side_h, side_w = round(height * e.occlusion), round(width * e.occlusion)
        top, left = (height - side_h) // 2, (width - side_w) // 2
        frames[..., top:top + side_h, left:left + side_w] = 127
    else:
        raise ValueError(f"Unknown perturbation {name!r}")
    return frames.permute(0, 2, 3, 1).contiguous().to(torch.uint8)


def _fps_loader(params: Params, members: pd.DataFrame, labels: dict[str, int], factor: float):
    """Test clips decoded again at ``factor`` times the clip frame rate (fps jitter)."""
    import torch
    from torch.utils.data import DataLoader

    from vidlab.data.cache import read_clips, sample_video
    from vidlab.data.datasets import sample
    from vidlab.data.transforms import EvalPreset

    c = params.clips
    preset = EvalPreset(mean=c.mean, std=c.std)
    samples = []
    for row in members.sort_values("video_id").itertuples(index=False):
        def choose(times, p=c):
            rate = p.target_fps or (len(times) - 1) / max(1e-6, float(times[-1] - times[0]))
            changed = p.model_copy(update={"target_fps": rate * factor})
            return sample_video(times, "test", changed, None)

        try:
            _, arrays, _, _ = read_clips(row.path, c, choose)
        except Exception as exc:  # the clips stage already reported undecodable videos
            log.warning("fps jitter: video %s not decodable (%s); left out", row.video_id, exc)
            continue
        for k, frames in enumerate(arrays):
            samples.append(sample(preset(torch.from_numpy(np.array(frames))),
                                   labels[row.video_id], row.video_id, k))
    return DataLoader(samples, batch_size=params.loader.batch_size, shuffle=False)


def _perturbed_loader(params: Params, data, name: str):
    from torch.utils.data import DataLoader

    from vidlab.data.datasets import CachedClips
    from vidlab.data.transforms import EvalPreset

    c = params.clips
    clean = data.datasets["test"]
    preset = EvalPreset(mean=c.mean, std=c.std)
    dataset = CachedClips(clean.path.parent, "test", clean.index, clean.labels,
                          lambda clip: preset(perturb(name, clip, params)), train=False)
    return DataLoader(dataset, batch_size=params.loader.batch_size, shuffle=False)


def robustness(params: Params, net, data, members: pd.DataFrame, clean: dict) -> dict:
    """Test metrics (video level) under each perturbation, and their change from clean."""
    from vidlab.models import metrics

    e, classes = params.evaluate, len(params.base.classes)
    result = {}
    for name in PERTURBATIONS:
        if name.startswith("fps_"):
            factor = e.fps_factors[0 if name == "fps_slow" else 1]
            loader = _fps_loader(params, members, data.labels["test"], factor)
        else:
            loader = _perturbed_loader(params, data, name)
        videos = per_video(predict_clips(net, loader))
        scores = metrics.scalars(np.stack(videos["probs"]), videos["label"].to_numpy(), classes,
                                 bins=e.ece_bins)
        result[name] = {}
        for metric, value in scores.items():
            base = clean[metric]["value"]
            result[name][metric] = _r(value)
            result[name][f"{metric}_change"] = (None if value is None or base is None
                                                else _r(value - base))
    result["settings"] = {"fps_factors": list(e.fps_factors), "jpeg_quality": e.jpeg_quality,
                          "blur_sigma": e.blur_sigma, "occlusion": e.occlusion}
    return result


def _r(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(
        float(value), 4)


# --- the stage ---------------------------------------------------------------------------------


def run(params: Params, *, model: str, splits: Path, clips: Path, weights: Path,
        reports: Path, root: Path | None = None, metadata: Path | None = None) -> dict:
    """Evaluate ``model``; write predictions, metrics, subgroup metrics and plots."""
    params = PARAMS.view(params)
    import torch

    from vidlab.core.paths import project_root
    from vidlab.data.datamodule import VideoDataModule
    from vidlab.models import metrics
    from vidlab.models.registry import build_network

    root = Path(root) if root is not None else project_root()
    e = params.evaluate
    classes = list(params.base.classes)
    if not Path(weights).is_file():
        raise DataError(f"No trained weights at {weights}. Run `dvc repro train@{model}` first.")
    net = build_network(model, params, start_weights=False)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    data = VideoDataModule(params, splits=splits, clips=clips, source="memmap", augment=False)
    data.setup()
    manifest = data.manifest()
    grouped = "group" in params.split.strategy
    unit_of = dict(zip(manifest["video_id"], manifest["group" if grouped else "video_id"].astype(
        str), strict=True))
    seed = params.base.seed
    by_split: dict[str, dict[str, pd.DataFrame]] = {}  # split -> level -> rows
    result: dict = {"model": model, "target": params.base.target, "classes": classes,
                    "bootstrap": {"n": e.n_boot, "level": e.ci,
                                  "unit": "subject group" if grouped else "video"}}
    subgroups: dict = {}
    for split in e.splits:
        loader = data.val_dataloader() if split == "val" else data.test_dataloader()
        clip_rows = predict_clips(net, loader)
        if clip_rows.empty:
            raise DataError(f"The {split} split has no cached clips; nothing to evaluate.")
        by_split[split] = {"clip": clip_rows, "video": per_video(clip_rows)}
        result[split] = {}
        for level, frame in by_split[split].items():
            probs, labels = np.stack(frame["probs"]), frame["label"].to_numpy()
            units = [unit_of[v] for v in frame["video_id"]]
            result[split][level] = metrics.bootstrap(
                probs, labels, units, len(classes), n_boot=e.n_boot, seed=seed, level=e.ci,
                bins=e.ece_bins) | {"n": len(frame)}
            result[split][level]["confusion"] = metrics.confusion(probs, labels, len(classes))
        subgroups[split] = _subgroups(params, by_split[split]["video"], manifest, unit_of)
    if "test" in by_split:
        members = manifest[manifest["split"] == "test"]
        result["robustness"] = robustness(params, net, data, members, result["test"]["video"])
    _write(params, model, result, subgroups, by_split, Path(reports))
    _log_mlflow(params, model, result, Path(reports), Path(weights), root, splits, clips,
                metadata)
    return result


def _subgroups(params: Params, videos: pd.DataFrame, manifest: pd.DataFrame,
               unit_of: dict[str, str]) -> dict:
    from vidlab.models import metrics

    e, classes = params.evaluate, len(params.base.classes)
    info = manifest.set_index("video_id")
    out: dict = {}
    for column in e.subgroups:
        out[column] = {}
        values = info.loc[videos["video_id"], column].to_numpy()
        for value in sorted(set(values)):
            part = videos[values == value]
            out[column][value] = metrics.bootstrap(
                np.stack(part["probs"]), part["label"].to_numpy(),
                [unit_of[v] for v in part["video_id"]], classes, n_boot=e.n_boot,
                seed=params.base.seed, level=e.ci, bins=e.ece_bins) | {"n": len(part)}
    return out


def _write(params: Params, model: str, result: dict, subgroups: dict,
           by_split: dict[str, dict[str, pd.DataFrame]], reports: Path) -> None:
    from vidlab.models import metrics

    classes = list(params.base.classes)
    predictions = reports / "predictions" / f"{model}.csv"
    atomic_write_text(predictions, predictions_csv(by_split, classes))
    contracts.write(reports / "metrics" / f"{model}.json", contracts.Metrics, result, indent=2)
    write_headline(reports / "metrics" / f"{model}.headline.json", model_headline(result))
    atomic_write_text(reports / "metrics" / f"{model}.subgroups.json",
                      json.dumps(subgroups, indent=2) + "\n")
    plots = reports / "plots" / model
    split = "test" if "test" in by_split else next(iter(by_split))
    videos = by_split[split]["video"]
    probs, labels = np.stack(videos["probs"]), videos["label"].to_numpy()
    atomic_write_text(plots / "confusion.csv", csv_text(
        ["actual", "predicted"],
        [{"actual": classes[y], "predicted": classes[int(np.argmax(p))]}
         for p, y in zip(probs, labels, strict=True)]))
    points = metrics.curves(probs, labels, len(classes))
    atomic_write_text(plots / "roc.csv", csv_text(["fpr", "tpr"], points["roc"]))
    atomic_write_text(plots / "pr.csv", csv_text(["recall", "precision"], points["pr"]))
    _draw(plots, model, split, result[split]["video"], points, classes)


def _draw(plots: Path, model: str, split: str, scores: dict, points: dict,
          classes: list[str]) -> None:
    """confusion.png and roc.png (for MLflow and people; DVC draws its own from the CSVs)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    matrix = np.array(scores["confusion"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        axes[0].text(j, i, str(count), ha="center", va="center")
    axes[0].set(xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted",
                ylabel="true", title=f"{model}: {split} confusion (videos)")
    axes[0].set_xticklabels(classes, rotation=30, ha="right")
    axes[0].set_yticklabels(classes)
    roc = points["roc"]
    axes[1].plot([p["fpr"] for p in roc], [p["tpr"] for p in roc], label=model)
    axes[1].plot([0, 1], [0, 1], ":", color="grey")
    auroc = scores["auroc"]["value"]
    axes[1].set(xlabel="false positive rate", ylabel="true positive rate",
                title=f"ROC, AUROC {auroc if auroc is not None else 'n/a'}")
    fig.tight_layout()
    save_figure(fig, plots / "summary.png", dpi=100)


MLFLOW_SCORES = (("acc", "acc"), ("macro_f1", "f1"), ("auroc", "auroc"))


def run_metrics(result: dict, *, with_val: bool = False) -> dict[str, float]:
    """The few numbers logged as MLflow metrics: ``test_video_<acc|f1|auroc>`` with
    ``_lo``/``_hi`` interval bounds (and ``val_video_acc`` when no training run logged it). The
    rest (clip level, balanced accuracy, AP, ECE, robustness) is in the ``evaluation/metrics.json``
    artifact, so the compare view is a short list of the same names for every model."""
    out: dict[str, float] = {}
    splits = ("val", "test") if with_val else ("test",)
    for split in splits:
        for metric, name in MLFLOW_SCORES if split == "test" else (("acc", "acc"),):
            score = result.get(split, {}).get("video", {}).get(metric)
            if not isinstance(score, dict):
                continue
            for part, suffix in (("value", ""), ("low", "_lo"), ("high", "_hi")):
                if score.get(part) is not None and (split == "test" or part == "value"):
                    out[f"{split}_video_{name}{suffix}"] = score[part]
    return out


PLOT_ARTIFACT = "evaluation.png"  # at the run's top level: MLflow compares top-level files only


def _log_mlflow(params: Params, model: str, result: dict, reports: Path, weights: Path,
                root: Path, splits: Path, clips: Path, metadata: Path | None) -> None:
    """Log on the training run of these weights, or on a new run when there is none."""
    import mlflow
    from mlflow.entities import Metric

    from vidlab import tracking
    from vidlab.models.registry import SUMMARY
    from vidlab.tracking.pipeline import TAG_WEIGHTS, pipeline_run

    digest = sha256_file(weights)
    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri(params.tracking, root))

    def log(run_id: str, *, with_val: bool = False) -> None:
        stamp = int(time.time() * 1000)
        scores = run_metrics(result, with_val=with_val)
        client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0)
                                          for k, v in sorted(scores.items())])
        for path in (reports / "predictions" / f"{model}.csv",
                     reports / "metrics" / f"{model}.json"):
            client.log_artifact(run_id, str(path), artifact_path="evaluation")
        for path in sorted((reports / "plots" / model).iterdir()):
            client.log_artifact(run_id, str(path), artifact_path="evaluation/plots")
        with tempfile.TemporaryDirectory(prefix="vidlab-evaluate-") as tmp:
            shutil.copyfile(reports / "plots" / model / "summary.png", Path(tmp) / PLOT_ARTIFACT)
            client.log_artifact(run_id, str(Path(tmp) / PLOT_ARTIFACT))
        test = scores.get("test_video_acc")
        note = client.get_run(run_id).data.tags.get(tracking.NOTE, SUMMARY.get(model, model))
        if test is not None and "Test video accuracy" not in note:
            low, high = scores.get("test_video_acc_lo"), scores.get("test_video_acc_hi")
            bounds = f" ({low:.3f}-{high:.3f})" if low is not None and high is not None else ""
            client.set_tag(run_id, tracking.NOTE, f"{note}\n\nTest video accuracy {test:.3f}"
                           f"{bounds}; plots in {PLOT_ARTIFACT}.")

    found = tracking.find_run(params.tracking, {TAG_WEIGHTS: digest, "vidlab.model": model},
                              root=root)
    if found:
        log(found)
        return
    pipe = pipeline_run(params, root, splits, clips, metadata)
    with tracking.start_run(params.tracking, run_name=f"evaluate-{model}",
                            fingerprint=pipe.dataset, processed=pipe.processed, root=root,
                            parent_run_id=pipe.parent,
                            tags={"vidlab.model": model, TAG_WEIGHTS: digest,
                                  tracking.NOTE: SUMMARY.get(model, model)}) as active:
        log(active.info.run_id, with_val=True)
