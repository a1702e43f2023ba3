"""Task metrics with bootstrap confidence intervals (torchmetrics), for the evaluate stage.

Every metric is computed from class probabilities ``(N, C)`` and true class indices ``(N,)``:

=================  ==========================================================================
``acc``            top-1 accuracy
``top5``           top-5 accuracy (only with at least 5 classes)
``macro_f1``       F1 averaged over classes
``balanced_acc``   recall averaged over classes
``auroc``          binary: of ``classes[1]`` vs the rest; more classes: macro one-vs-rest
``ap``             average precision, same convention as ``auroc``
``ece``            expected calibration error (top-label confidence, ``bins`` equal-width bins)
=================  ==========================================================================

Confidence intervals resample *units* (videos, or subjects when the split kept each subject's
videos together) with replacement; a unit brings all its rows, so clip-level intervals respect
that a video's clips are not independent. Percentile intervals over ``n_boot`` resamples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.functional import classification as tmc

SCALARS = ("acc", "top5", "macro_f1", "balanced_acc", "auroc", "ap", "ece")


def scalars(probs: np.ndarray, labels: np.ndarray, classes: int, *, bins: int = 10) -> dict:
    """Every scalar metric for one set of rows; ``None`` where undefined (e.g. AUROC of a set
    holding a single class)."""
    p = torch.tensor(np.asarray(probs, dtype=np.float32))
    y = torch.tensor(np.asarray(labels, dtype=np.int64))
    out: dict[str, float | None] = {}
    if len(y) == 0:
        return dict.fromkeys(_names(classes))
    fast = {"validate_args": False}  # inputs are ours; the checks cost more than the metric
    out["acc"] = float(tmc.multiclass_accuracy(p, y, classes, average="micro", **fast))
    if classes >= 5:
        out["top5"] = float(tmc.multiclass_accuracy(p, y, classes, average="micro", top_k=5,
                                                    **fast))
    out["macro_f1"] = float(tmc.multiclass_f1_score(p, y, classes, average="macro", **fast))
    out["balanced_acc"] = float(_balanced_accuracy(p.argmax(1), y, classes))
    present = int(torch.unique(y).numel())
    if classes == 2:
        ranked = present == 2
        out["auroc"] = float(tmc.binary_auroc(p[:, 1], y, **fast)) if ranked else None
        out["ap"] = float(tmc.binary_average_precision(p[:, 1], y, **fast)) if ranked else None
    else:
        ranked = present == classes  # one-vs-rest needs every class among the rows
        out["auroc"] = (float(tmc.multiclass_auroc(p, y, classes, average="macro", **fast))
                        if ranked else None)
        out["ap"] = (float(tmc.multiclass_average_precision(p, y, classes, average="macro",
                                                             **fast)) if ranked else None)
    out["ece"] = float(tmc.multiclass_calibration_error(p, y, classes, n_bins=bins, norm="l1",
                                                        **fast))
    return out


def _names(classes: int) -> list[str]:
    return [name for name in SCALARS if name != "top5" or classes >= 5]


def _balanced_accuracy(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> float:
    """Mean recall over the classes present in ``labels`` (scikit-learn's definition).

    Not ``sklearn.metrics.balanced_accuracy_score``: that one takes float64 recalls where these
    are float32 (rounded to 4 places they differ in ~0.2% of random cases, which would change
    published numbers), warns on predicted classes absent from ``labels`` and rejects empty input.
    """
    recalls = [float((predicted[labels == k] == k).float().mean())
               for k in range(classes) if bool((labels == k).any())]
    return sum(recalls) / len(recalls) if recalls else math.nan


def confusion(probs: np.ndarray, labels: np.ndarray, classes: int) -> list[list[int]]:
    """Rows: true class; columns: predicted class."""
    matrix = tmc.multiclass_confusion_matrix(torch.tensor(np.asarray(probs, dtype=np.float32)),
                                             torch.tensor(np.asarray(labels, dtype=np.int64)),
                                             classes)
    return matrix.tolist()


def bootstrap(probs: np.ndarray, labels: np.ndarray, units: Sequence[str], classes: int, *,
              n_boot: int, seed: int, level: float = 0.95, bins: int = 10) -> dict:
    """Point estimates with percentile intervals from resampling ``units``.

    Returns:
        ``{metric: {"value": v, "low": lo, "high": hi}}`` and ``units`` (how many were
        resampled); the interval is ``None`` when fewer than half of the resamples define the
        metric (e.g. AUROC on tiny sets) or there is a single unit.
    """
    point = scalars(probs, labels, classes, bins=bins)
    units = np.asarray(units)
    names, inverse = np.unique(units, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == u) for u in range(len(names))]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot if len(names) > 1 else 0):
        chosen = rng.integers(0, len(names), len(names))
        rows = np.concatenate([rows_of[u] for u in chosen])
        for name, value in scalars(probs[rows], labels[rows], classes, bins=bins).items():
            if value is not None and not math.isnan(value):
                draws[name].append(value)
    tail = (1 - level) / 2 * 100
    result = {}
    for name, value in point.items():
        values = draws[name]
        enough = len(values) >= max(1, n_boot // 2)
        low, high = (np.percentile(values, [tail, 100 - tail]) if enough else (None, None))
        result[name] = {"value": _round(value), "low": _round(low), "high": _round(high)}
    return result | {"units": len(names)}


def _round(value) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4)


def curves(probs: np.ndarray, labels: np.ndarray, classes: int) -> dict[str, list[dict]]:
    """ROC and precision-recall points: of ``classes[1]`` when binary, else micro-averaged
    one-vs-rest (every (row, class) pair a binary decision)."""
    p = torch.tensor(np.asarray(probs, dtype=np.float32))
    y = torch.tensor(np.asarray(labels, dtype=np.int64))
    if classes == 2:
        scores, truth = p[:, 1], y
    else:
        scores = p.reshape(-1)
        truth = torch.nn.functional.one_hot(y, classes).reshape(-1)
    if int(torch.unique(truth).numel()) < 2:
        return {"roc": [], "pr": []}
    fpr, tpr, _ = tmc.binary_roc(scores, truth)
    precision, recall, _ = tmc.binary_precision_recall_curve(scores, truth)
    return {"roc": [{"fpr": round(float(a), 5), "tpr": round(float(b), 5)}
                    for a, b in zip(fpr, tpr, strict=True)],
            "pr": [{"recall": round(float(r), 5), "precision": round(float(q), 5)}
                   for r, q in zip(recall, precision, strict=True)]}
