"""Datasets of clips: from the clips cache (memory-mapped), from its shards, or decoded live.

Every sample is a dict: ``video`` (float ``(3, T, size, size)``, normalised), ``label`` (class
index), ``video_id`` (pseudonym) and ``clip_index``. Training datasets draw a random clip per
video per epoch; evaluation datasets yield every evenly spaced clip of every video, so scores can
be averaged per video.

Random choices use torch's generator, which the DataLoader seeds per worker from its own seeded
generator: a fixed seed and worker count give the same batches.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

Transform = Callable[[torch.Tensor], torch.Tensor]


def sample(video: torch.Tensor, label: int, video_id: str, clip_index: int) -> dict:
    """One sample as every dataset yields it: the clip tensor, label, video id and clip index."""
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
        self.video_ids = self.videos  # train: the video of each item
        self._clips = {v: rows[["row", "clip_index"]].to_numpy()
                       for v, rows in self.index.groupby("video_id")}
        self._items = list(zip(self.index["video_id"], self.index["row"].astype(int),
                               self.index["clip_index"].astype(int), strict=True))
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
            video_id, row, clip_index = self._items[item]
        clip = torch.from_numpy(np.array(self._array[row]))  # copy out of the memory map
        return sample(self.transform(clip), self.labels[video_id], video_id, clip_index)


class LiveClips(Dataset):
    """Clips decoded from the videos at load time (no cache): slower, fresh random clips.

    Decoding goes through the same :func:`~vidlab.data.cache.read_clips` as the clips stage
    (decord, PyAV on failure), so an eval clip equals its cached copy.

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
        self.video_ids = list(self.videos["video_id"])  # train: the video of each item
        self._last: tuple[int, np.ndarray] | None = None  # eval: one decode per video, not per clip

    def __len__(self) -> int:
        return len(self.videos) * self.per_video

    def __getitem__(self, item: int) -> dict:
        number, clip_index = divmod(item, self.per_video)
        video = self.videos.iloc[number]
        try:
            frames, clip_index = self._frames(number, clip_index, video["path"])
        except Exception as exc:
            raise RuntimeError(
                f"Could not decode video {video['video_id']} ({exc}). The clips stage leaves "
                "such videos out (see clips.json); use loader.source: memmap.") from exc
        return sample(self.transform(torch.from_numpy(np.array(frames))),
                       self.labels[video["video_id"]], video["video_id"], clip_index)

    def _frames(self, number: int, clip_index: int, path: str) -> tuple[np.ndarray, int]:
        from vidlab.data.cache import read_clips, sample_video

        if self.train:
            rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))
            _, arrays, _, _ = read_clips(path, self.params,
                                         lambda t: [_random_clip(t, self.params, rng)],
                                         threads=self.threads)
            return arrays[0], 0
        if self._last is None or self._last[0] != number:
            _, arrays, _, _ = read_clips(path, self.params,
                                         lambda t: sample_video(t, "val", self.params, None),
                                         threads=self.threads)
            self._last = (number, arrays)
        return self._last[1][clip_index], clip_index


def _random_clip(times: np.ndarray, params, rng: np.random.Generator):
    from vidlab.data.cache import sampler_for

    return sampler_for("train", params)(times, rng)[0]


def shard_stream(shards: list[str], labels: dict[str, int], transform: Transform, *,
                 train: bool, seed: int, shuffle_buffer: int, length: int):
    """A WebDataset pipeline over the cache's tar shards (streaming, multi-node).

    Shards are split across nodes and workers; training shuffles shard order and a buffer of
    samples. Samples of videos not in ``labels`` (another split) are skipped.
    """
    import webdataset as wds

    pipeline = wds.WebDataset(shards, shardshuffle=len(shards) if train else False,
                              detshuffle=True, nodesplitter=wds.split_by_node, seed=seed,
                              empty_check=False)
    if train:
        pipeline = pipeline.compose(_EpochShuffle(shuffle_buffer))

    def to_sample(raw: dict) -> dict:
        meta = raw["json"]
        clip = torch.from_numpy(np.array(raw["npy"]))
        return sample(transform(clip), labels[meta["video_id"]], meta["video_id"],
                       int(meta["clip_index"]))

    pipeline = pipeline.decode().select(lambda raw: raw["json"]["video_id"] in labels)
    return pipeline.map(to_sample).with_length(length, silent=True)


class _EpochShuffle:
    """A shuffle buffer whose order changes every epoch and follows the seed.

    Seeded from torch's per-worker seed (drawn from the DataLoader's seeded generator, anew each
    epoch when workers are not persistent) and an epoch counter (for persistent workers and the
    main process), so neither setting replays one order.
    """

    def __init__(self, size: int) -> None:
        self.size, self.epoch = size, -1

    def __call__(self, samples):
        self.epoch += 1
        rng = random.Random(f"{torch.initial_seed()}-{self.epoch}")
        buffer: list = []
        for sample in samples:
            buffer.append(sample)
            if len(buffer) >= self.size:
                yield buffer.pop(rng.randrange(len(buffer)))
        rng.shuffle(buffer)
        yield from buffer
