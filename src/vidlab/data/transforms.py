"""Preprocessing and augmentation of clips, on torch tensors with torchvision transforms v2.

Three steps, in this order:

1. :func:`fit` (the same for every split, and what the clips cache stores): resize and crop an RGB
   uint8 clip ``(T, H, W, 3)`` to ``size x size``: ``center`` resizes the short side to ``size``
   and takes the middle, ``letterbox`` fits the long side and pads with black. Frame by frame
   with :func:`vidlab.data.cache.fit_frame` (Pillow, no torch), which the clips stage applies to
   each frame as it is decoded.
2. A preset: :class:`EvalPreset` converts to float, normalises and returns ``(3, T, size, size)``
   (the layout torchvision's video networks take). :class:`TrainPreset` first augments. With
   every augmentation group off it runs exactly the eval steps, so ablations compare like with
   like.
3. Augmentation (train only), each group switched by ``augment.use``:

   * ``spatial``: flip, random resized crop, rotation/shift, colour jitter, grayscale, blur,
     noise. torchvision draws the parameters once per call on a ``tv_tensors.Video``, so every
     frame of a clip gets the same crop, angle and colours (noise alone is per pixel and frame);
   * ``temporal``: frame drop, index jitter, time warp, reversal, as index maps over the clip's
     frames (torchvision has no temporal transforms);
   * ``compression``: JPEG at a quality drawn once per clip.

Randomness comes from torch's global generator, which Lightning seeds per DataLoader worker.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from vidlab.config import AugmentParams
from vidlab.data.cache import fit_frame


def fit(clip: torch.Tensor, *, size: int, crop: str = "center") -> torch.Tensor:
    """Resize and crop (or letterbox) an RGB uint8 clip ``(T, H, W, 3)`` to ``(T, size, size, 3)``:
    :func:`~vidlab.data.cache.fit_frame` on each frame (antialiased, so small model inputs don't
    alias fine background patterns)."""
    frames = clip.detach().cpu().numpy()
    fitted = [fit_frame(frame, size, crop) for frame in frames]
    if not fitted:
        fit_frame(np.zeros((1, 1, 3), np.uint8), size, crop)  # still refuses an unknown crop
        return torch.zeros((0, size, size, 3), dtype=torch.uint8)
    return torch.from_numpy(np.stack(fitted))


def _to_video(clip: torch.Tensor) -> tv_tensors.Video:
    """(T, H, W, 3) uint8 -> tv_tensors.Video (T, 3, H, W), so v2 treats it as one clip."""
    return tv_tensors.Video(clip.permute(0, 3, 1, 2))


def _normalise(video: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) float in [0, 1] -> normalised (3, T, H, W)."""
    video = (video - mean) / std
    return video.permute(1, 0, 2, 3).contiguous()


class EvalPreset:
    """Float conversion and normalisation of a clip already :func:`fit` to the model size."""

    def __init__(self, *, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (3, T, H, W) float32, normalised."""
        video = F.to_dtype(_to_video(clip), torch.float32, scale=True)
        return _normalise(video.as_subclass(torch.Tensor), self.mean, self.std)


class TrainPreset(EvalPreset):
    """Augmentation, then the eval steps. Groups not in ``augment.use`` do nothing."""

    def __init__(self, *, size: int, mean: tuple[float, ...], std: tuple[float, ...],
                 augment: AugmentParams) -> None:
        super().__init__(mean=mean, std=std)
        self.augment = augment
        on = set(augment.use)
        self.temporal = TemporalAugment(augment) if "temporal" in on else None
        self.uint8 = _compose((_spatial_uint8(size, augment) if "spatial" in on else [])
                              + (_compression(augment) if "compression" in on else []))
        self.float = _compose(_spatial_float(augment) if "spatial" in on else [])

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if self.temporal is not None:
            clip = clip[self.temporal(clip.shape[0])]
        video = self.uint8(_to_video(clip))
        video = self.float(F.to_dtype(video, torch.float32, scale=True))
        return _normalise(video.as_subclass(torch.Tensor), self.mean, self.std)


def _compose(steps: list):
    """v2.Compose of the steps; the identity when there are none."""
    return v2.Compose(steps) if steps else (lambda video: video)


def _spatial_uint8(size: int, a: AugmentParams) -> list:
    steps: list = []
    if a.crop_scale < 1:
        steps.append(v2.RandomResizedCrop(size, scale=(a.crop_scale, 1.0), antialias=True))
    if a.hflip:
        steps.append(v2.RandomHorizontalFlip(a.hflip))
    if a.rotate or a.translate:
        steps.append(v2.RandomAffine(a.rotate, translate=(a.translate, a.translate)))
    if a.color:
        steps.append(v2.ColorJitter(brightness=a.color, contrast=a.color, saturation=a.color))
    if a.grayscale:
        steps.append(v2.RandomGrayscale(a.grayscale))
    if a.blur:
        kernel = 2 * max(1, size // 32) + 1  # about 1/16 of the side, odd
        steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 1.5))], p=a.blur))
    return steps


def _spatial_float(a: AugmentParams) -> list:
    return [v2.GaussianNoise(sigma=a.noise, clip=True)] if a.noise else []


def _compression(a: AugmentParams) -> list:
    return [v2.JPEG(quality=(a.jpeg[0], a.jpeg[1]))]


class TemporalAugment:
    """Draws an index map over a clip's ``T`` frames: which frame plays at each position.

    In order: time warp (a smooth monotonic re-timing), jitter (each index moved up to
    ``jitter`` frames, order kept), frame drop (a frame replaced by the one before it), reversal.
    """

    def __init__(self, augment: AugmentParams) -> None:
        self.augment = augment

    def __call__(self, length: int) -> torch.Tensor:
        a = self.augment
        position = torch.arange(length, dtype=torch.float64)
        if a.time_warp and length > 2:
            # u + b * sin(pi u) / pi is monotonic for |b| < 1: slows one half, speeds the other
            u = position / (length - 1)
            bend = (torch.rand(()).item() * 2 - 1) * a.time_warp
            position = (u + bend * torch.sin(math.pi * u) / math.pi) * (length - 1)
        index = position.round().long()
        if a.jitter:
            index = index + torch.randint(-a.jitter, a.jitter + 1, (length,))
            index = index.clamp(0, length - 1).sort().values
        if a.frame_drop and length > 1:
            dropped = torch.rand(length) < a.frame_drop
            dropped[0] = False
            for k in torch.nonzero(dropped).flatten().tolist():
                index[k] = index[k - 1]
        if a.reverse and torch.rand(()).item() < a.reverse:
            index = index.flip(0)
        return index
