"""Datasets of clips: from the clips cache (memory-mapped), from its shards, or decoded live.

Every sample is a dict: ``video`` (float ``(3, T, size, size)``, normalised), ``label`` (class
index), ``video_id`` (pseudonym) and ``clip_index``. Training datasets draw a random clip per
video per epoch; evaluation datasets yield every evenly spaced clip of every video, so scores can
be averaged per video.

Random choices use torch's generator, which the DataLoader seeds per worker from its own seeded
generator: a fixed seed and worker count give the same batches.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

Transform = Callable[[torch.Tensor], torch.Tensor]


def _sample(video: torch.Tensor, label: int, video_id: str, clip_index: int) -> dict:
    return {"video": video, "label": torch.tensor(label, dtype=torch.long),
            "video_id": video_id, "clip_index": clip_index}


class CachedClips(Dataset):
    """Clips of one split from ``<split>.npy`` in the clips cache.

    Args:
        folder: the cache folder.
        split: train, val or test.
        index: the cache's index rows of this split (``row``, ``video_id``, ``clip_index``).
        labels: class index per video id.
        transform: a preset (uint8 ``(T, H, W, 3)`` -> float ``(3, T, H, W)``).
        train: one random clip per video per item; otherwise one item per clip.
    """

    def __init__(self, folder: Path, split: str, index: pd.DataFrame, labels: dict[str, int],
                 transform: Transform, *, train: bool) -> None:
        self.path = Path(folder) / f"{split}.npy"
        self.transform, self.labels, self.train = transform, labels, train
        self.index = index.reset_index(drop=True)
        self.videos = sorted(self.index["video_id"].unique())
        self._clips = {v: rows[["row", "clip_index"]].to_numpy()
                       for v, rows in self.index.groupby("video_id")}
        self._array: np.ndarray | None = None  # opened lazily, once per worker process

    def __len__(self) -> int:
        return len(self.videos) if self.train else len(self.index)

    def __getitem__(self, item: int) -> dict:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        if self.train:
            video_id = self.videos[item]
            choices = self._clips[video_id]
            row, clip_index = (int(v) for v in choices[torch.randint(len(choices), ()).item()])
        else:
            entry = self.index.iloc[item]
            video_id, row = entry["video_id"], int(entry["row"])
            clip_index = int(entry["clip_index"])
        clip = torch.from_numpy(np.array(self._array[row]))  # copy out of the memory map
        return _sample(self.transform(clip), self.labels[video_id], video_id, clip_index)


class LiveClips(Dataset):
    """Clips decoded from the videos at load time (no cache): slower, fresh random clips.

    Args:
        videos: rows with ``video_id`` and ``path``.
        labels: class index per video id.
        transform: a preset.
        train: one random clip per video per item; otherwise ``clips.eval_clips`` items per video.
        clips: the clips params (sampling, size, crop, backend).
        threads: decoder threads.
    """

    def __init__(self, videos: pd.DataFrame, labels: dict[str, int], transform: Transform, *,
                 train: bool, clips, threads: int = 1) -> None:
        self.videos = videos.sort_values("video_id").reset_index(drop=True)
        self.labels, self.transform, self.train = labels, transform, train
        self.params, self.threads = clips, threads
        self.per_video = 1 if train else clips.eval_clips

    def __len__(self) -> int:
        return len(self.videos) * self.per_video

    def __getitem__(self, item: int) -> dict:
        from vidlab.data.cache import sampler_for
        from vidlab.data.decode import open_video
        from vidlab.data.transforms import fit

        video = self.videos.iloc[item // self.per_video]
        reader = open_video(video["path"], self.params.backend, threads=self.threads)
        try:
            if self.train:
                rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))
                clip = sampler_for("train", self.params)(reader.times, rng)[0]
            else:
                clip = sampler_for("val", self.params)(reader.times)[item % self.per_video]
            frames = torch.from_numpy(reader.get_frames(clip.indices))
        finally:
            reader.close()
        fitted = fit(frames, size=self.params.size, crop=self.params.crop)
        return _sample(self.transform(fitted), self.labels[video["video_id"]], video["video_id"],
                       clip.clip_index if not self.train else 0)


def shard_stream(shards: list[str], labels: dict[str, int], transform: Transform, *,
                 train: bool, seed: int, shuffle_buffer: int, length: int):
    """A WebDataset pipeline over the cache's tar shards (streaming, multi-node).

    Shards are split across nodes and workers; training shuffles shard order and a buffer of
    samples. Samples of videos not in ``labels`` (another split) are skipped.
    """
    import webdataset as wds

    pipeline = wds.WebDataset(shards, shardshuffle=len(shards) if train else False,
                              nodesplitter=wds.split_by_node, seed=seed, empty_check=False)
    if train:
        pipeline = pipeline.shuffle(shuffle_buffer, seed=seed)

    def to_sample(raw: dict) -> dict:
        meta = raw["json"]
        clip = torch.from_numpy(np.array(raw["npy"]))
        return _sample(transform(clip), labels[meta["video_id"]], meta["video_id"],
                       int(meta["clip_index"]))

    pipeline = pipeline.decode().select(lambda raw: raw["json"]["video_id"] in labels)
    with warnings.catch_warnings():  # "with_length only sets __len__": that is all we want
        warnings.simplefilter("ignore", UserWarning)
        return pipeline.map(to_sample).with_length(length)
