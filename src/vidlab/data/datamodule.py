"""`VideoDataModule`: the LightningDataModule every baseline trains from.

It reads the split manifest (``splits.csv``, from the split stage) and the clips cache (from the
clips stage); it never splits anything itself. Train: a random clip per video and the train
preset. Val and test: every evenly spaced clip of every video and the eval preset, so evaluation
can average softmax per video. ``loader.source`` picks where clips come from: ``memmap`` (the
cache's arrays, default), ``shards`` (the cache's WebDataset tars, streamed; a training epoch
then streams every cached clip, ``clips.train_clips`` per video) or ``video`` (decoded live from
the videos, for fresh random clips every epoch at the cost of decoding).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader, WeightedRandomSampler

from vidlab.config import SPLIT_NAMES, Params
from vidlab.core.errors import DataError
from vidlab.data.cache import resolve_paths
from vidlab.data.datasets import CachedClips, LiveClips, shard_stream
from vidlab.data.transforms import EvalPreset, TrainPreset
from vidlab.media.decode import decoder_threads

log = logging.getLogger(__name__)


class VideoDataModule(pl.LightningDataModule):
    """Batches of clip dicts (``video``, ``label``, ``video_id``, ``clip_index``) per split.

    Args:
        params: the validated params (base target and classes, clips, augment, loader).
        splits: ``splits.csv``.
        clips: the clips cache folder.
        source: overrides ``loader.source``.
        augment: False gives the train split the eval preset, so ``augment`` is not read (for
            stages that only read clips back, such as evaluate and classical).
        batch_size: overrides ``loader.batch_size``.
    """

    def __init__(self, params: Params, *, splits: Path, clips: Path, source: str | None = None,
                 batch_size: int | None = None, augment: bool = True) -> None:
        super().__init__()
        self.params, self.splits_path, self.clips_path = params, Path(splits), Path(clips)
        self.augment = augment  # False: the train split too gets the eval preset (no augment)
        self.source = source or params.loader.source
        self.batch_size = batch_size or params.loader.batch_size
        self.classes = list(params.base.classes)
        self.datasets: dict[str, object] = {}
        self.labels: dict[str, dict[str, int]] = {}  # per split: class index by video id

    # --- setup ---------------------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        """Read the manifest and the cache index and build the three datasets (once)."""
        if self.datasets:
            return
        videos = self._videos()
        labels = dict(zip(videos["video_id"], videos["target"], strict=True))
        c = self.params.clips
        presets = {"eval": EvalPreset(mean=c.mean, std=c.std)}
        presets["train"] = (TrainPreset(size=c.size, mean=c.mean, std=c.std,
                                        augment=self.params.augment)
                            if self.augment else presets["eval"])
        index = None if self.source == "video" else self._index(videos)
        for split in SPLIT_NAMES:
            train = split == "train"
            members = videos[videos["split"] == split]
            split_labels = self.labels[split] = {v: labels[v] for v in members["video_id"]}
            preset = presets["train" if train else "eval"]
            if self.source == "memmap":
                self.datasets[split] = CachedClips(self.clips_path, split,
                                                   index[index["split"] == split], split_labels,
                                                   preset, train=train)
            elif self.source == "shards":
                shards = sorted(str(p) for p in (self.clips_path / "shards").glob(f"{split}-*.tar"))
                count = int((index["split"] == split).sum())
                self.datasets[split] = shard_stream(
                    shards, split_labels, preset, train=train, seed=self.params.base.seed,
                    shuffle_buffer=self.params.loader.shuffle_buffer, length=count)
            elif self.source == "video":
                threads = decoder_threads(self.params.loader.decode_threads,
                                          self.params.loader.workers)
                self.datasets[split] = LiveClips(members, split_labels, preset, train=train,
                                                 clips=c, threads=threads)
            else:
                raise DataError(f"Unknown loader source {self.source!r}; "
                                "expected memmap, shards or video.")

    def manifest(self) -> pd.DataFrame:
        """The manifest's videos of the three splits, with their class index in ``target`` and
        resolved ``path``."""
        return self._videos()

    def _videos(self) -> pd.DataFrame:
        """The manifest's videos with their class index in ``target``."""
        if not self.splits_path.is_file():
            raise DataError(f"{self.splits_path} does not exist. Run `dvc repro split` first.")
        frame = pd.read_csv(self.splits_path, dtype=str, keep_default_na=False)
        column = self.params.base.target
        unknown = sorted(set(frame[column]) - set(self.classes))
        if unknown:
            raise DataError(
                f"{self.splits_path}: column {column!r} holds value(s) {unknown[:5]} that are not "
                f"in base.classes {self.classes}. List every class in params.yaml base.classes.")
        frame = frame[frame["split"].isin(SPLIT_NAMES)]
        return frame.assign(target=frame[column].map(self.classes.index),
                            path=resolve_paths(frame["path"], self.splits_path))

    def _index(self, videos: pd.DataFrame) -> pd.DataFrame:
        """The cache index, checked against the manifest (a stale cache is refused)."""
        path = self.clips_path / "index.csv"
        if not path.is_file():
            raise DataError(f"No clips cache at {self.clips_path}. Run `dvc repro clips` first.")
        index = pd.read_csv(path, dtype={"video_id": str, "split": str})
        cached = set(zip(index["video_id"], index["split"], strict=True))
        wanted = set(zip(videos["video_id"], videos["split"], strict=True))
        if cached - wanted:
            raise DataError(
                f"The clips cache {self.clips_path} does not match {self.splits_path}: "
                f"{len(cached - wanted)} cached clip(s) belong to videos or splits the manifest "
                "no longer has. Rebuild it with `dvc repro clips`.")
        missing = wanted - cached
        if missing:
            log.warning("%d video(s) of %s are not in the clips cache (they failed to decode; "
                        "see %s) and are left out.", len(missing), self.splits_path,
                        self.clips_path / "clips.json")
        return index

    # --- loaders -------------------------------------------------------------------------------

    def _loader(self, split: str) -> DataLoader:
        self.setup()
        p = self.params.loader
        dataset = self.datasets[split]
        workers = p.workers
        iterable = self.source == "shards"
        generator = torch.Generator().manual_seed(self.params.base.seed + SPLIT_NAMES.index(split))
        sampler = None
        if split == "train" and self.params.train.balance == "sampler":
            sampler = self._balanced_sampler(dataset, generator)
        return DataLoader(
            dataset, batch_size=self.batch_size, num_workers=workers,
            shuffle=(split == "train" and not iterable and sampler is None), sampler=sampler,
            pin_memory=p.pin_memory and torch.cuda.is_available(),
            persistent_workers=p.persistent_workers and workers > 0,
            prefetch_factor=p.prefetch_factor if workers > 0 else None,
            worker_init_fn=pl_worker_init_function if workers > 0 else None,
            generator=generator,
            # a last training batch of one clip breaks BatchNorm; the shuffle drops other clips
            # each epoch, so no video is left out for good
            drop_last=split == "train" and not iterable and len(dataset) > self.batch_size)

    def _balanced_sampler(self, dataset, generator: torch.Generator) -> WeightedRandomSampler:
        """Videos drawn with replacement, each class equally often (``train.balance: sampler``)."""
        videos = getattr(dataset, "video_ids", None)
        if videos is None:
            raise DataError("train.balance: sampler needs loader.source memmap or video (a "
                            "shards stream cannot be resampled); use train.balance: weights.")
        labels = [self.labels["train"][v] for v in videos]
        counts = {k: labels.count(k) for k in set(labels)}
        weights = torch.tensor([1.0 / counts[k] for k in labels], dtype=torch.double)
        return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True,
                                     generator=generator)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
