"""The eda panels of the model input: preprocessing (raw frame beside cached input) and
augmentation (one training clip under each transform), with their reproducibility checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import Params, replace
from vidlab.stages.eda import common, sheet


def _cached(clips: Path, split: str) -> tuple[pd.DataFrame, np.ndarray]:
    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str})
    array = np.load(Path(clips) / f"{split}.npy", mmap_mode="r")
    return index[index["split"] == split], array


def preprocessing(table: pd.DataFrame, videos: pd.DataFrame, params: Params, clips: Path,
                  out: Path) -> dict:
    """Raw frame beside the cached model input made from it (one val/test video per class);
    ``eda.redecode`` val/test videos decoded again and compared with the cache byte for byte."""
    c, target = params.clips, params.base.target
    paths = videos.set_index("video_id")["path"]
    rows, shown = [], set()
    cached = {split: _cached(clips, split) for split in ("val", "test")}
    for split, (index, array) in cached.items():
        for name in params.base.classes:
            members = sorted(set(index["video_id"]) & set(
                table.loc[table[target] == name, "video_id"]))
            if not members or name in shown:
                continue
            video = members[0]
            clip = index[(index["video_id"] == video) & (index["clip_index"] == 0)].iloc[0]
            positions = [int(i) for i in str(clip["frames"]).split()]
            raw = common.frames(paths[video], [positions[len(positions) // 2]])
            fitted = np.asarray(array[int(clip["row"])])[len(positions) // 2]
            if raw:
                height, width = raw[0].shape[:2]
                rows.append((f"{video} ({split}, {name})\nraw {width}x{height} -> {c.crop}\n"
                             f"{c.size}x{c.size} @ {c.target_fps or 'native'} fps", [raw[0],
                                                                                  fitted]))
                shown.add(name)
    if rows:
        sheet.contact_sheet(rows, out / "preprocessing.png",
                            title="Preprocessing: raw frame (left), cached model input (right)")
    candidates = sorted((video, split) for split, (index, _) in cached.items()
                        for video in set(index["video_id"]))
    checked = common.spread(candidates, params.eda.redecode) if params.eda.redecode else []
    identical = sum(_redecoded_identical(paths[video], split, params, cached[split][1],
                                         cached[split][0], video) for video, split in checked)
    return {"checked": len(checked), "identical": int(identical)}


def _redecoded_identical(path: str, split: str, params: Params, array: np.ndarray,
                         index: pd.DataFrame, video: str) -> bool:
    """Decode a cached video's eval clips again: the same bytes as the cache?"""
    from vidlab.data.cache import read_clips, sample_video

    try:
        _, arrays, _, _ = read_clips(path, params.clips,
                                     lambda times: sample_video(times, split, params.clips, None))
    except Exception:
        return False
    rows = index[index["video_id"] == video].sort_values("clip_index")["row"].astype(int)
    cached = np.stack([np.asarray(array[r]) for r in rows])
    return cached.shape == arrays.shape and bool(np.array_equal(cached, arrays))


def _single(params: Params, group: str, **changes) -> object:
    """AugmentParams with every transform off except ``changes`` (in ``group``)."""
    off = dict(hflip=0.0, crop_scale=1.0, rotate=0.0, translate=0.0, color=0.0, grayscale=0.0,
               noise=0.0, blur=0.0, frame_drop=0.0, jitter=0, time_warp=0.0, reverse=0.0)
    return replace(params.augment, use=(group,), **(off | changes))


def augmentation_rows(params: Params) -> list[tuple[str, object]]:
    """(label, AugmentParams) per augmentation at its configured strength, applied for sure."""
    a = params.augment
    rows = [("none (eval preset)", None)]
    candidates = [
        ("spatial: horizontal flip", a.hflip > 0, "spatial", {"hflip": 1.0}),
        (f"spatial: resized crop >= {a.crop_scale:.0%}", a.crop_scale < 1, "spatial",
         {"crop_scale": a.crop_scale}),
        (f"spatial: rotate {a.rotate:g} deg, shift {a.translate:.0%}", a.rotate or a.translate,
         "spatial", {"rotate": a.rotate, "translate": a.translate}),
        (f"spatial: colour jitter {a.color:g}", a.color > 0, "spatial", {"color": a.color}),
        ("spatial: grayscale", a.grayscale > 0, "spatial", {"grayscale": 1.0}),
        ("spatial: blur", a.blur > 0, "spatial", {"blur": 1.0}),
        (f"spatial: noise sigma {a.noise:g}", a.noise > 0, "spatial", {"noise": a.noise}),
        (f"temporal: time warp {a.time_warp:g}", a.time_warp > 0, "temporal",
         {"time_warp": a.time_warp}),
        (f"temporal: jitter {a.jitter}", a.jitter > 0, "temporal", {"jitter": a.jitter}),
        (f"temporal: frame drop {a.frame_drop:g}", a.frame_drop > 0, "temporal",
         {"frame_drop": max(a.frame_drop, 0.5)}),
        ("temporal: reverse", a.reverse > 0, "temporal", {"reverse": 1.0}),
        (f"compression: JPEG q{a.jpeg[0]}", True, "compression", {}),
    ]
    for label, on, group, changes in candidates:
        if on:
            label += "" if group in a.use else " (off: not in augment.use)"
            rows.append((label, _single(params, group, **changes)
                         if group != "compression" else replace(
                             _single(params, "compression"), jpeg=(a.jpeg[0], a.jpeg[0]))))
    rows.append((f"train preset: {', '.join(a.use) or 'none'}", a))
    return rows


def _to_uint8(video, params: Params) -> np.ndarray:
    """A normalised (3, T, H, W) tensor back to uint8 (T, H, W, 3)."""
    mean = np.asarray(params.clips.mean).reshape(3, 1, 1, 1)
    std = np.asarray(params.clips.std).reshape(3, 1, 1, 1)
    pixels = np.clip(video.numpy() * std + mean, 0, 1)
    return (pixels * 255).round().astype(np.uint8).transpose(1, 2, 3, 0)


def augmentation(params: Params, clips: Path, out: Path) -> dict:
    """One training clip under each augmentation; returns the reproducibility check."""
    import torch

    from vidlab.data.transforms import EvalPreset, TrainPreset

    c = params.clips
    index, array = _cached(clips, "train")
    if index.empty:
        return {"reproducible": None, "shown": [], "video_id": None, "frames": []}
    clip = torch.from_numpy(np.array(array[int(index.sort_values(["video_id", "clip_index"])
                                               .iloc[0]["row"])]))
    video_id = index.sort_values(["video_id", "clip_index"]).iloc[0]["video_id"]
    frames = common.spread(list(range(clip.shape[0])), 4)
    rows = []
    for k, (label, augment) in enumerate(augmentation_rows(params)):
        torch.manual_seed(params.base.seed + k)
        preset = EvalPreset(mean=c.mean, std=c.std) if augment is None else TrainPreset(
            size=c.size, mean=c.mean, std=c.std, augment=augment)
        shown = _to_uint8(preset(clip), params)
        rows.append((label, [shown[f] for f in frames]))
    sheet.contact_sheet(rows, out / "augmentation.png",
                        title=f"Augmentation of one training clip ({video_id}): frames "
                              f"{', '.join(map(str, frames))} of its {clip.shape[0]}, one row "
                              "per transform")
    full = TrainPreset(size=c.size, mean=c.mean, std=c.std, augment=params.augment)
    draws = []
    for _ in range(2):
        torch.manual_seed(params.base.seed)
        draws.append(full(clip))
    return {"reproducible": bool(torch.equal(*draws)), "shown": [label for label, _ in rows],
            "video_id": video_id, "frames": frames}
