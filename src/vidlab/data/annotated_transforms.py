"""Samples of the annotated datasets (:mod:`vidlab.data.annotated`) and the augmentations that
move their annotations with the pixels and the frames.

Every sample is a NamedTuple whose first field is the clip, a ``tv_tensors.Video``
``(T, 3, H, W)`` with time first; the annotations are per clip position (boxes, tracks, masks)
or per segment over the positions (segments):

* :class:`SegmentsSample` ``(clip, segments, labels)``: ``segments`` bool ``(N, T)``, True where
  clip position ``t`` shows a frame inside segment ``n``; ``labels`` int64 ``(N,)``;
* :class:`BoxesSample` ``(clip, boxes, labels)``: ``T`` ``BoundingBoxes`` ``(N_t, 4)`` and ``T``
  int64 ``(N_t,)`` class indices;
* :class:`TracksSample` ``(frames, tracks)``: ``T`` dicts ``boxes``, ``ids`` (track ids),
  ``labels``;
* :class:`MasksSample` ``(frames, masks)``: ``T`` dicts ``masks`` (``tv_tensors.Mask``
  ``(N_t, H, W)`` uint8 0/1), ``ids`` (object ids), ``labels``;
* :class:`CaptionSample` ``(clip, caption)``.

Spatial: :func:`apply_spatial` calls a torchvision v2 transform once on the clip and all its
boxes or masks, so flips, crops and resizes draw one set of parameters for every frame and move
boxes and masks with the pixels; boxes and masks pushed out of the frame are then dropped.
Temporal: :func:`drop_frames` removes clip positions with their annotations and re-expresses
segments over the positions left; :func:`random_keep` draws which positions a frame drop keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

Transform = Callable[..., object]


class SegmentsSample(NamedTuple):
    """A clip and the temporal segments that intersect it, over its positions."""

    clip: torch.Tensor          # Video (T, 3, H, W)
    segments: torch.Tensor      # bool (N, T): position t lies inside segment n
    labels: torch.Tensor        # int64 (N,) class indices


class BoxesSample(NamedTuple):
    """A clip and, per position, the boxes drawn on that frame and their classes."""

    clip: torch.Tensor
    boxes: list[tv_tensors.BoundingBoxes]   # T x (N_t, 4) XYXY pixels, canvas (H, W)
    labels: list[torch.Tensor]              # T x int64 (N_t,)


class TracksSample(NamedTuple):
    """Frames and, per position, the tracked boxes on that frame."""

    frames: torch.Tensor
    tracks: list[dict[str, torch.Tensor]]   # T x {"boxes", "ids", "labels"}


class MasksSample(NamedTuple):
    """Frames and, per position, the object masks on that frame."""

    frames: torch.Tensor
    masks: list[dict[str, torch.Tensor]]    # T x {"masks", "ids", "labels"}


class CaptionSample(NamedTuple):
    """A clip and a caption of its video."""

    clip: torch.Tensor
    caption: str


Sample = SegmentsSample | BoxesSample | TracksSample | MasksSample | CaptionSample


def random_keep(length: int, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Which of ``length`` positions a frame drop keeps: each but the first dropped with
    probability ``p`` (torch's generator, seeded per DataLoader worker), so one always stays."""
    if not 0 <= p < 1:
        raise ValueError(f"The frame drop probability must be in [0, 1). Got {p!r} instead.")
    keep = torch.rand(length, generator=generator) >= p
    if length:
        keep[0] = True
    return keep


def drop_frames(sample: Sample, keep: Sequence[bool] | Sequence[int] | torch.Tensor) -> Sample:
    """The sample with only the clip positions ``keep`` names, in that order.

    Args:
        sample: a sample of an annotated dataset (time first in its clip).
        keep: a bool mask over the ``T`` positions, or the positions to keep (ints).

    Returns:
        A sample of the same type: the kept frames, the kept positions' boxes, tracks and masks,
        segments over the kept positions (a segment left with none is dropped with its label).

    Raises:
        ValueError: for a mask of another length, a position out of range, or nothing kept.
    """
    clip = sample[0]
    positions = _positions(keep, clip.shape[0])
    clip = _take(clip, positions)
    if isinstance(sample, SegmentsSample):
        member = sample.segments[:, positions]
        alive = member.any(dim=1)
        return SegmentsSample(clip, member[alive], sample.labels[alive])
    if isinstance(sample, CaptionSample):
        return CaptionSample(clip, sample.caption)
    picked = positions.tolist()
    if isinstance(sample, BoxesSample):
        return BoxesSample(clip, [sample.boxes[k] for k in picked],
                           [sample.labels[k] for k in picked])
    if isinstance(sample, TracksSample):
        return TracksSample(clip, [sample.tracks[k] for k in picked])
    if isinstance(sample, MasksSample):
        return MasksSample(clip, [sample.masks[k] for k in picked])
    raise TypeError(f"drop_frames takes a sample of an annotated dataset. Got {type(sample)}.")


def _positions(keep, length: int) -> torch.Tensor:
    """``keep`` as int64 positions."""
    keep = torch.as_tensor(keep)
    if keep.dtype == torch.bool:
        if keep.shape != (length,):
            raise ValueError(f"A keep mask must have one entry per clip position ({length}). "
                             f"Got shape {tuple(keep.shape)} instead.")
        keep = torch.nonzero(keep).flatten()
    keep = keep.long().flatten()
    if not len(keep):
        raise ValueError("drop_frames must keep at least one clip position.")
    if int(keep.min()) < 0 or int(keep.max()) >= length:
        raise ValueError(f"Positions to keep must lie in [0, {length - 1}]. "
                         f"Got {keep.tolist()} instead.")
    return keep


def _take(clip: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Positions of a clip along time, keeping its tv_tensor type."""
    out = clip[positions]
    return tv_tensors.wrap(out, like=clip) if isinstance(clip, tv_tensors.TVTensor) else out


def apply_spatial(sample: Sample, transform: Transform, *, min_size: float = 1.0) -> Sample:
    """The sample through a v2 transform, boxes and masks moved with the pixels.

    The transform is called once with the clip (a ``tv_tensors.Video``) and every position's
    boxes or masks, so random parameters are drawn once for the whole clip. Afterwards a box
    narrower or lower than ``min_size`` pixels (pushed out by a crop) and a mask left without a
    pixel are dropped, with their ids and labels. Masks are resized by pixel centres, as the
    clip is (see :class:`_CentredMask`).
    """
    if isinstance(sample, (SegmentsSample, CaptionSample)):
        return sample._replace(clip=transform(sample.clip))
    if isinstance(sample, BoxesSample):
        clip, boxes = transform(sample.clip, list(sample.boxes))
        kept = [_sanitize(b, min_size) for b in boxes]
        return BoxesSample(clip, [b for b, _ in kept],
                           [labels[k] for labels, (_, k) in zip(sample.labels, kept, strict=True)])
    if isinstance(sample, TracksSample):
        clip, boxes = transform(sample.frames, [t["boxes"] for t in sample.tracks])
        tracks = []
        for track, b in zip(sample.tracks, boxes, strict=True):
            b, k = _sanitize(b, min_size)
            tracks.append({"boxes": b, "ids": track["ids"][k],
                           "labels": track["labels"][k]})
        return TracksSample(clip, tracks)
    if isinstance(sample, MasksSample):
        clip, masks = transform(sample.frames, [m["masks"].as_subclass(_CentredMask)
                                                for m in sample.masks])
        objects = []
        for item, m in zip(sample.masks, masks, strict=True):
            m = tv_tensors.Mask(m.as_subclass(torch.Tensor))
            k = (m.flatten(1) != 0).any(dim=1)
            objects.append({"masks": tv_tensors.wrap(m[k], like=m), "ids": item["ids"][k],
                            "labels": item["labels"][k]})
        return MasksSample(clip, objects)
    raise TypeError(f"apply_spatial takes a sample of an annotated dataset. Got {type(sample)}.")


def _sanitize(boxes: tv_tensors.BoundingBoxes,
              min_size: float) -> tuple[tv_tensors.BoundingBoxes, torch.Tensor]:
    """Boxes clamped to the canvas, without those under ``min_size`` pixels wide or high, and
    which of the given boxes were kept."""
    boxes = F.clamp_bounding_boxes(boxes)
    xyxy = F.convert_bounding_box_format(boxes, new_format=tv_tensors.BoundingBoxFormat.XYXY)
    xyxy = xyxy.as_subclass(torch.Tensor)
    keep = ((xyxy[:, 2] - xyxy[:, 0]) >= min_size) & ((xyxy[:, 3] - xyxy[:, 1]) >= min_size)
    return tv_tensors.wrap(boxes[keep], like=boxes), keep


class _CentredMask(tv_tensors.Mask):
    """A mask that resizes sampling at pixel centres (nearest-exact), where the image does.

    torchvision resizes masks with legacy ``nearest``, which takes output pixel ``j`` from input
    ``floor(j * scale)``: against the bilinear-resized pixels a mask moves by up to half an input
    pixel up and left (an object's mask met its pixels with IoU 0.76 after a random resized
    crop; 0.95 or more with nearest-exact). :func:`apply_spatial` passes masks as this class
    so the kernels below apply, and hands back plain ``tv_tensors.Mask``.
    """


@F.register_kernel(F.resize, _CentredMask)
def _resize_centred(mask: _CentredMask, size: list[int] | None, interpolation=None,
                    max_size: int | None = None, **kwargs) -> _CentredMask:
    out = F.resize_mask(mask.as_subclass(torch.Tensor), size, max_size=max_size,
                        interpolation=InterpolationMode.NEAREST_EXACT)
    return tv_tensors.wrap(out, like=mask)


@F.register_kernel(F.resized_crop, _CentredMask)
def _resized_crop_centred(mask: _CentredMask, top: int, left: int, height: int, width: int,
                          size: list[int], **kwargs) -> _CentredMask:
    out = F.crop_mask(mask.as_subclass(torch.Tensor), top, left, height, width)
    out = F.resize_mask(out, size, interpolation=InterpolationMode.NEAREST_EXACT)
    return tv_tensors.wrap(out, like=mask)
