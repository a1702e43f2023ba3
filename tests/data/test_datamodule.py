"""VideoDataModule: sample dicts from the cache, its shards or live decoding, seeded, checked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from vidlab.config import Params, replace
from vidlab.core.errors import DataError
from vidlab.data.datamodule import VideoDataModule
from vidlab.stages.clips import stage as clips_stage


@pytest.fixture
def cached(clip_params: Params, index_splits: Path, tmp_path: Path) -> Path:
    clips_stage.run(clip_params, splits=index_splits, out=tmp_path / "clips",
              reports=tmp_path / "reports")
    return tmp_path / "clips"


def no_augment(params: Params) -> Params:
    return replace(params, augment=replace(params.augment, use=()))


def module(params: Params, splits: Path, clips: Path, **kwargs) -> VideoDataModule:
    return VideoDataModule(params, splits=splits, clips=clips, **kwargs)


def samples(loader) -> dict[tuple[str, int], torch.Tensor]:
    """Every sample of a loader by (video id, clip index)."""
    out = {}
    for batch in loader:
        for video, video_id, clip_index in zip(batch["video"], batch["video_id"],
                                               batch["clip_index"], strict=True):
            out[(video_id, int(clip_index))] = video
    return out


def test_batches_are_dicts_of_clips(clip_params: Params, index_splits: Path,
                                    cached: Path) -> None:
    whole = module(clip_params, index_splits, cached, batch_size=3).train_dataloader()
    assert sum(len(b["label"]) for b in whole) == 3  # one random clip per training video
    data = module(clip_params, index_splits, cached)  # batch size 2
    train = list(data.train_dataloader())
    assert [len(b["label"]) for b in train] == [2]  # a last batch of one would break BatchNorm
    batch = train[0]
    assert set(batch) == {"video", "label", "video_id", "clip_index"}
    assert batch["video"].shape[1:] == (3, 4, 16, 16) and batch["video"].dtype == torch.float32
    assert batch["label"].dtype == torch.long
    val = samples(data.val_dataloader())
    assert sorted(val) == [("a000000000000004", 0), ("a000000000000004", 1),
                           ("a000000000000005", 0), ("a000000000000005", 1)]
    labels = {vid: int(lab) for b in data.val_dataloader()
              for vid, lab in zip(b["video_id"], b["label"], strict=True)}
    assert labels == {"a000000000000004": 1, "a000000000000005": 0}  # index in base.classes


@pytest.mark.parametrize("source", ["shards", "video"])
def test_every_source_gives_the_cached_eval_clips(clip_params: Params, index_splits: Path,
                                                  cached: Path, source: str) -> None:
    """Decoding on the fly and streaming the shards give the very tensors the cache gives."""
    params = no_augment(clip_params)
    reference = samples(module(params, index_splits, cached).val_dataloader())
    other = samples(module(params, index_splits, cached, source=source).val_dataloader())
    assert sorted(other) == sorted(reference)
    for key, video in reference.items():
        assert torch.equal(other[key], video), key


def test_training_batches_follow_the_seed(clip_params: Params, index_splits: Path,
                                          cached: Path) -> None:
    def first_batch(params: Params) -> torch.Tensor:
        torch.manual_seed(params.base.seed)  # what Lightning's seed_everything does
        return next(iter(module(params, index_splits, cached).train_dataloader()))["video"]

    assert torch.equal(first_batch(clip_params), first_batch(clip_params))
    reseeded = replace(clip_params,
                                   base=replace(clip_params.base, seed=5))
    assert not torch.equal(first_batch(clip_params), first_batch(reseeded))


def test_worker_processes_are_seeded(clip_params: Params, index_splits: Path,
                                     cached: Path) -> None:
    params = replace(clip_params,
                                 loader=replace(clip_params.loader, workers=2))

    def epoch() -> list[torch.Tensor]:
        loader = module(params, index_splits, cached).train_dataloader()
        assert loader.num_workers == 2 and loader.persistent_workers
        assert not loader.pin_memory  # no GPU here: pinning would only cost
        return [b["video"] for b in loader]

    assert all(torch.equal(a, b) for a, b in zip(epoch(), epoch(), strict=True))


def test_stale_cache_is_refused(clip_params: Params, index_splits: Path, cached: Path) -> None:
    frame = pd.read_csv(index_splits, dtype=str)
    frame.loc[frame.video_id == "a000000000000001", "split"] = "val"
    frame.to_csv(index_splits, index=False)
    with pytest.raises(DataError, match="does not match .* Rebuild it with `dvc repro clips`"):
        module(clip_params, index_splits, cached).setup()


def test_unknown_class_is_refused(clip_params: Params, index_splits: Path, cached: Path) -> None:
    params = replace(clip_params, base=replace(
        clip_params.base, classes=("achieved",)))
    with pytest.raises(DataError, match=r"not_achieved.*not in base.classes"):
        module(params, index_splits, cached).setup()


def test_missing_cache_says_what_to_run(clip_params: Params, index_splits: Path,
                                       tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Run `dvc repro clips` first"):
        module(clip_params, index_splits, tmp_path / "none").setup()


def test_streamed_training_order_changes_every_epoch_and_follows_the_seed(
        clip_params: Params, index_splits: Path, cached: Path) -> None:
    def epochs(count: int) -> list[list[tuple[str, int]]]:
        torch.manual_seed(clip_params.base.seed)
        loader = module(clip_params, index_splits, cached, source="shards").train_dataloader()
        return [[(v, int(c)) for b in loader for v, c in zip(b["video_id"], b["clip_index"],
                                                             strict=True)]
                for _ in range(count)]

    first = epochs(3)
    assert all(sorted(e) == sorted(first[0]) and len(e) == 6 for e in first)  # every clip
    assert first[0] != first[1] or first[1] != first[2]
    assert epochs(3) == first


def test_live_decoding_names_a_video_it_cannot_read(clip_params: Params, index_splits: Path,
                                                    cached: Path) -> None:
    frame = pd.read_csv(index_splits, dtype=str)
    broken = Path(frame.loc[frame.split == "test", "path"].iloc[0])
    broken.write_bytes(b"not a video")
    data = module(clip_params, index_splits, cached, source="video")
    with pytest.raises(RuntimeError, match="Could not decode video a000000000000006"):
        list(data.test_dataloader())


def test_relative_video_paths_resolve_against_the_project(clip_params: Params,
                                                          index_splits: Path,
                                                          cached: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    """splits.csv holds paths relative to the project root; any working directory works."""
    (tmp_path / "params.yaml").write_text("{}\n")
    frame = pd.read_csv(index_splits, dtype=str)
    frame["path"] = [str(Path(p).relative_to(tmp_path)) for p in frame["path"]]
    (tmp_path / "data").mkdir()
    moved = tmp_path / "data" / "splits.csv"
    frame.to_csv(moved, index=False)
    monkeypatch.chdir(tmp_path / "data")
    params = no_augment(clip_params)
    live = samples(module(params, moved, cached, source="video").val_dataloader())
    assert sorted(live) == sorted(samples(module(params, moved, cached).val_dataloader()))
