"""Temporal localisation from motion energy: a per-frame classifier, then runs of frames.

Each frame is described by where and how much it moves (:func:`motion_features`: the foreground
share of every cell of a coarse grid, and the mean difference to the background).
:class:`FrameClassifier` (standardisation + logistic regression) learns the frame's label from
the training videos' per-frame labels, ``""`` standing for a frame in no segment (the
background class); :func:`runs` turns per-frame probabilities into labelled segments
``(label, t0, t1, score)`` in seconds, ``t1`` exclusive (the end of the last frame).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from vidlab.taskbaselines.foreground import Foreground


def _edges(size: int, parts: int) -> np.ndarray:
    """``parts + 1`` integer edges splitting ``size`` into parts as equal as possible."""
    return np.array([i * size // parts for i in range(parts + 1)])


def motion_features(fg: Foreground, *, grid: int = 4) -> np.ndarray:
    """Per-frame motion energy on a coarse grid.

    Args:
        fg: the video's foreground.
        grid: cells per side; the frame is cut into ``grid x grid`` cells as equal as integer
            division allows (cell ``i`` spans ``i * size // grid`` to ``(i + 1) * size // grid``).

    Returns:
        (n, grid * grid + 1) float64: per cell (rows, then columns) the share of its pixels that
        are foreground, in [0, 1]; last column the frame's mean difference / 255.
    """
    n, h, w = fg.masks.shape
    ys, xs = _edges(h, grid), _edges(w, grid)
    masks = fg.masks.astype(np.float64)
    cells = [masks[:, ys[r] : ys[r + 1], xs[c] : xs[c + 1]].mean(axis=(1, 2))
             if ys[r + 1] > ys[r] and xs[c + 1] > xs[c] else np.zeros(n)
             for r in range(grid) for c in range(grid)]
    energy = fg.difference.reshape(n, -1).mean(axis=1, dtype=np.float64) / 255.0
    return np.column_stack([*cells, energy])


class FrameClassifier:
    """Per-frame label from motion features: StandardScaler + logistic regression.

    Args:
        c: inverse regularisation strength (sklearn's ``C``).
        seed: ``random_state`` of the regression (the only randomness).

    Attributes:
        classes: the labels seen in training, sorted (``""`` first when present); the columns of
            :meth:`predict_proba`. Set by :meth:`fit`.
    """

    def __init__(self, *, c: float = 1.0, seed: int = 0) -> None:
        self.c = c
        self.seed = seed
        self.classes: list[str] = []
        self._model: Pipeline | None = None

    def fit(self, features: list[np.ndarray], labels: list[np.ndarray]) -> FrameClassifier:
        """Learn from all frames of all training videos.

        Args:
            features: per video an (n_i, d) array from :func:`motion_features`.
            labels: per video an (n_i,) array of str, ``""`` for a frame in no segment.

        Returns:
            ``self``, fitted.

        Raises:
            ValueError: lengths disagree, or fewer than 2 distinct labels.
        """
        if len(features) != len(labels) or any(
                len(f) != len(y) for f, y in zip(features, labels, strict=False)):
            raise ValueError("features and labels must have one row per frame of every video")
        x = np.concatenate([np.asarray(f, dtype=np.float64) for f in features])
        y = np.concatenate([np.asarray(v, dtype=str) for v in labels])
        if len(np.unique(y)) < 2:
            raise ValueError(f"need at least 2 distinct frame labels to fit; got {np.unique(y)}")
        regression = LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed)
        self._model = make_pipeline(StandardScaler(), regression).fit(x, y)
        self.classes = [str(v) for v in regression.classes_]
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, len(classes)) probabilities of each class per frame; rows sum to 1.

        Raises:
            ValueError: not fitted yet.
        """
        if self._model is None:
            raise ValueError("FrameClassifier is not fitted; call fit first")
        return self._model.predict_proba(np.asarray(features, dtype=np.float64))


def _smoothed(probs: np.ndarray, smooth: int) -> np.ndarray:
    """Centred moving average of ``smooth`` frames: frame ``i`` averages frames
    ``i - (smooth - 1) // 2`` to ``i + smooth // 2`` that exist (an even window reaches one
    frame further ahead than back)."""
    n = len(probs)
    if smooth <= 1 or n == 0:
        return probs
    index = np.arange(n)
    lo = np.clip(index - (smooth - 1) // 2, 0, n)
    hi = np.clip(index + smooth // 2 + 1, 0, n)
    cumulative = np.concatenate([np.zeros((1, probs.shape[1])), np.cumsum(probs, axis=0)])
    return (cumulative[hi] - cumulative[lo]) / (hi - lo)[:, None]


def runs(probs: np.ndarray, classes: list[str], fps: float, *, background: str = "",
         min_frames: int = 2, smooth: int = 3) -> list[tuple[str, float, float, float]]:
    """Segments from per-frame class probabilities.

    Per frame the most probable class after a centred moving average of ``smooth`` frames (ties:
    the first class); maximal runs of one class other than ``background``; runs shorter than
    ``min_frames`` are dropped.

    Args:
        probs: (n, len(classes)) per-frame probabilities.
        classes: the column labels.
        fps: frames per second of the video.
        background: the label of frames in no segment.
        min_frames: shortest run kept, in frames.
        smooth: window of the moving average, in frames (1: none).

    Returns:
        (label, t0, t1, score): t0 = first frame / fps, t1 = (last frame + 1) / fps in seconds,
        score = mean of the label's (unsmoothed) probability over the run; sorted by t0, then
        label.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"probs has shape {probs.shape}; expected (n, {len(classes)})")
    if len(probs) == 0:
        return []
    best = _smoothed(probs, smooth).argmax(axis=1)
    starts = np.flatnonzero(np.diff(best, prepend=-1))
    out = []
    for start, stop in zip(starts, [*starts[1:], len(best)], strict=True):
        label = classes[best[start]]
        if label != background and stop - start >= min_frames:
            score = float(probs[start:stop, best[start]].mean())
            out.append((label, float(start / fps), float(stop / fps), score))
    return sorted(out, key=lambda r: (r[1], r[0]))
