"""Scoring a trained network: clip softmax, video-level means, and how a score is written.

Shared by the stages that score networks (evaluate, sanity, classical) and those that show the
scores (compare, card, the CLI).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vidlab.contracts import Interval

PERTURBATIONS = ("fps_slow", "fps_fast", "jpeg", "blur", "occlusion")  # evaluate's robustness


def predict_clips(net, loader) -> pd.DataFrame:
    """Clip-level softmax of every batch: ``video_id``, ``clip_index``, ``label``, ``probs``."""
    import torch

    net.eval()
    tensor = next(iter(net.parameters()), None)
    device = (tensor if tensor is not None else next(iter(net.buffers()))).device
    rows = []
    with torch.no_grad():
        for batch in loader:
            probs = net(batch["video"].to(device)).float().softmax(1).cpu().numpy()
            for video, clip, label, p in zip(batch["video_id"], batch["clip_index"],
                                             batch["label"], probs, strict=True):
                rows.append({"video_id": video, "clip_index": int(clip), "label": int(label),
                             "probs": p.astype(np.float64)})
    return pd.DataFrame(rows)


def per_video(clips: pd.DataFrame) -> pd.DataFrame:
    """Video level: the mean of each video's clip probabilities."""
    grouped = clips.groupby("video_id", sort=True)
    return pd.DataFrame({"video_id": list(grouped.groups),
                         "label": grouped["label"].first().to_numpy(),
                         "probs": [np.mean(np.stack(g), axis=0) for _, g in grouped["probs"]]})


def cell(score: dict | Interval | None) -> str:
    """A score with its interval as table text: ``0.667 [0.500, 0.833]``, or ``n/a``."""
    if isinstance(score, Interval):  # as read from reports/metrics/<model>.json
        score = score.model_dump()
    if not score or score.get("value") is None:
        return "n/a"
    if score.get("low") is None:
        return f"{score['value']:.3f}"
    return f"{score['value']:.3f} [{score['low']:.3f}, {score['high']:.3f}]"
