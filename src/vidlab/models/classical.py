"""The classical-feature baseline as a torch module, so it is evaluated exactly like the networks.

Hand-made features of a clip ``(B, 3, T, H, W)`` (normalised, as the presets give it):

* colour histograms: per RGB channel, the share of the clip's pixels in each of ``bins`` equal
  bins of [0, 1] (``3 * bins`` numbers);
* motion energy: the mean absolute difference between consecutive grey frames, as its mean, its
  standard deviation and its maximum over time, plus its mean in each cell of a ``grid x grid``
  partition of the frame (where in the frame things move).

:class:`ClassicalNet` standardises them and applies a logistic regression fitted with
scikit-learn (the classical stage); its weights live in buffers, so the state dict is the
whole model and softmax of its output equals scikit-learn's ``predict_proba``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# A class the training data never showed gets this logit offset: probability ~0, never argmax.
ABSENT = -1.0e4


def feature_count(bins: int, grid: int) -> int:
    return 3 * bins + 3 + grid * grid


def feature_names(bins: int, grid: int) -> list[str]:
    names = [f"hist_{c}{k}" for c in "rgb" for k in range(bins)]
    names += ["motion_mean", "motion_std", "motion_max"]
    return names + [f"motion_cell_{r}_{c}" for r in range(grid) for c in range(grid)]


def clip_features(video: torch.Tensor, *, mean, std, bins: int, grid: int) -> torch.Tensor:
    """Features ``(B, feature_count)`` of a normalised clip batch ``(B, 3, T, H, W)``."""
    mean_t = torch.as_tensor(mean, dtype=video.dtype, device=video.device).view(1, 3, 1, 1, 1)
    std_t = torch.as_tensor(std, dtype=video.dtype, device=video.device).view(1, 3, 1, 1, 1)
    pixels = (video * std_t + mean_t).clamp(0.0, 1.0)
    batch = pixels.shape[0]
    index = (pixels * bins).long().clamp(max=bins - 1).flatten(2)  # (B, 3, T*H*W)
    counts = torch.zeros(batch, 3, bins, dtype=video.dtype, device=video.device)
    counts.scatter_add_(2, index, torch.ones_like(index, dtype=video.dtype))
    hist = (counts / index.shape[-1]).flatten(1)
    grey = pixels.mean(1)  # (B, T, H, W)
    if grey.shape[1] > 1:
        diff = (grey[:, 1:] - grey[:, :-1]).abs()
        per_frame = diff.mean((2, 3))
        stats = torch.stack([per_frame.mean(1), per_frame.std(1, unbiased=False),
                             per_frame.amax(1)], 1)
        cells = F.adaptive_avg_pool2d(diff.mean(1, keepdim=True), grid).flatten(1)
    else:  # a single frame has no motion
        stats = video.new_zeros(batch, 3)
        cells = video.new_zeros(batch, grid * grid)
    return torch.cat([hist, stats, cells], 1)


class ClassicalNet(nn.Module):
    """Features, standardisation, logistic regression; outputs class logits ``(B, classes)``."""

    def __init__(self, classes: int, *, bins: int = 8, grid: int = 4,
                 mean=(0.45, 0.45, 0.45), std=(0.225, 0.225, 0.225)) -> None:
        super().__init__()
        self.bins, self.grid = bins, grid
        self.pixel_mean, self.pixel_std = tuple(mean), tuple(std)
        size = feature_count(bins, grid)
        self.register_buffer("feature_mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("feature_scale", torch.ones(size, dtype=torch.float64))
        self.register_buffer("coef", torch.zeros(classes, size, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros(classes, dtype=torch.float64))

    def features(self, video: torch.Tensor) -> torch.Tensor:
        return clip_features(video.float(), mean=self.pixel_mean, std=self.pixel_std,
                             bins=self.bins, grid=self.grid)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits (float64) of precomputed features: standardise, then the regression."""
        z = (features.double() - self.feature_mean) / self.feature_scale
        return z @ self.coef.T + self.intercept

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(video)).float()
