"""The clips stage: exact frames through decoding into the cache, shards, reproducibility."""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidlab.config import Params, replace
from vidlab.core.errors import DataError
from vidlab.stages.clips import stage as clips_stage


def build(params: Params, splits: Path, out: Path) -> dict:
    return clips_stage.run(params, splits=splits, out=out / "clips", reports=out / "reports")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def grey_ids(clip: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.rint(clip.reshape(len(clip), -1).mean(1) / 8))


def test_cache_holds_exactly_the_sampled_frames(clip_params: Params, index_splits: Path,
                                                tmp_path: Path) -> None:
    summary = build(clip_params, index_splits, tmp_path / "a")
    folder = tmp_path / "a" / "clips"
    assert summary["splits"] == {"train": {"videos": 3, "clips": 6},
                                 "val": {"videos": 2, "clips": 4},
                                 "test": {"videos": 1, "clips": 2}}
    assert summary["failed"] == [] and summary["padded_clips"] == 2  # the 3-frame video
    index = pd.read_csv(folder / "index.csv", dtype={"video_id": str})
    for split in ("train", "val", "test"):
        array = np.load(folder / f"{split}.npy", mmap_mode="r")
        assert array.shape == (len(index[index.split == split]), 4, 16, 16, 3)
        assert array.dtype == np.uint8
        for row in index[index.split == split].itertuples():
            frames = tuple(int(f) for f in row.frames.split())
            assert grey_ids(array[row.row]) == frames, row.key
    val = index[index.video_id == "a000000000000004"]  # 20 frames, 2 evenly spaced clips of 4
    assert val.frames.tolist() == ["0 1 2 3", "16 17 18 19"]
    short = index[index.video_id == "a000000000000003"]
    assert short.padded.all() and set(short.frames) == {"0 1 2 0"}
    train = index[index.split == "train"]
    assert (train.groupby("video_id").clip_index.apply(list) == [[0, 1]] * 3).all()


def test_random_training_clips_follow_the_seed(clip_params: Params, index_splits: Path,
                                               tmp_path: Path) -> None:
    build(clip_params, index_splits, tmp_path / "a")
    other = replace(clip_params, base=replace(clip_params.base, seed=99))
    build(other, index_splits, tmp_path / "b")
    frames = [pd.read_csv(tmp_path / n / "clips" / "index.csv").query("split == 'train'").frames
              for n in ("a", "b")]
    assert frames[0].tolist() != frames[1].tolist()


def test_cache_is_byte_reproducible_for_any_worker_count(clip_params: Params,
                                                         index_splits: Path,
                                                         tmp_path: Path) -> None:
    build(clip_params, index_splits, tmp_path / "a")
    build(clip_params, index_splits, tmp_path / "a")  # rerun in place
    one = replace(clip_params, clips=replace(clip_params.clips, workers=1))
    build(one, index_splits, tmp_path / "b")
    first, second = tree(tmp_path / "a" / "clips"), tree(tmp_path / "b" / "clips")
    assert first == second
    assert sorted(n for n in first if n.startswith("shards/")) == [
        "shards/test-000000.tar", "shards/train-000000.tar", "shards/train-000001.tar",
        "shards/val-000000.tar", "shards/val-000001.tar"]


def test_shards_are_webdataset_samples_of_the_same_clips(clip_params: Params,
                                                         index_splits: Path,
                                                         tmp_path: Path) -> None:
    import webdataset as wds

    build(clip_params, index_splits, tmp_path / "a")
    folder = tmp_path / "a" / "clips"
    index = pd.read_csv(folder / "index.csv", dtype={"video_id": str}).set_index("key")
    for split in ("train", "val", "test"):
        array = np.load(folder / f"{split}.npy")
        shards = sorted(str(p) for p in (folder / "shards").glob(f"{split}-*.tar"))
        samples = list(wds.WebDataset(shards, shardshuffle=False, empty_check=False).decode())
        assert sorted(s["__key__"] for s in samples) == sorted(index[index.split == split].index)
        for sample in samples:
            row = index.loc[sample["__key__"]]
            assert np.array_equal(sample["npy"], array[row["row"]])
            assert sample["json"]["video_id"] == row["video_id"]
            assert sample["json"]["frames"] == row["frames"]
            assert sample["json"]["label"] == row["label"]
    with tarfile.open(folder / "shards" / "train-000000.tar") as tar:
        assert {(m.mtime, m.uid, m.uname) for m in tar.getmembers()} == {(0, 0, "")}


def test_undecodable_video_is_left_out_and_reported(clip_params: Params, index_splits: Path,
                                                    tmp_path: Path, caplog) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with open(index_splits, "a") as handle:
        handle.write(f"b000000000000009,{broken},achieved,motor,7-12m,M_12M_001,val\n")
    with caplog.at_level(logging.WARNING):
        summary = build(clip_params, index_splits, tmp_path / "a")
    assert [f["video_id"] for f in summary["failed"]] == ["b000000000000009"]
    assert summary["splits"]["val"] == {"videos": 2, "clips": 4}
    assert "1 video(s) could not be decoded" in caplog.text
    stored = json.loads((tmp_path / "a" / "clips" / "clips.json").read_text())
    assert stored["failed"][0]["reason"].startswith("error")


def test_missing_manifest_is_a_clear_error(clip_params: Params, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Run the split stage first"):
        build(clip_params, tmp_path / "nope.csv", tmp_path / "a")


def test_decord_asked_for_where_it_is_not_installed(clip_params: Params, index_splits: Path,
                                                    tmp_path: Path, monkeypatch) -> None:
    """`clips.backend: decord` on a platform without decord stops before any decoding, saying
    what to set; `auto` builds the same cache with PyAV."""
    import sys

    from vidlab.core.errors import ParamsError

    monkeypatch.setitem(sys.modules, "decord", None)  # `import decord` now fails
    decord = replace(clip_params, clips=replace(clip_params.clips,
                                                                        backend="decord"))
    with pytest.raises(ParamsError, match="Set clips.backend to auto or pyav"):
        clips_stage.run(decord, splits=index_splits, out=tmp_path / "c", reports=tmp_path / "r")
    assert not (tmp_path / "c").exists()
    auto = replace(clip_params, clips=replace(clip_params.clips,
                                                                      backend="auto"))
    summary = clips_stage.run(auto, splits=index_splits, out=tmp_path / "c", reports=tmp_path / "r")
    assert summary["backend"] == "pyav" and set(summary["backend_of"].values()) == {"pyav"}


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_videos_leave_the_bytes_of_a_run_without_them(clip_params: Params,
                                                             index_splits: Path, tmp_path: Path,
                                                             workers: int) -> None:
    """Rows are laid out before decoding, a block per video; undecodable videos in the middle
    of train and val leave gaps that are compacted away: arrays, index and shards are the bytes
    of a run that never listed those videos, for any worker count."""
    build(clip_params, index_splits, tmp_path / "a")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    splits = tmp_path / "with-broken.csv"
    text = index_splits.read_text()
    for video_id, split in (("a000000000000001b", "train"), ("a000000000000004b", "val")):
        text += f"{video_id},{broken},achieved,motor,7-12m,M_12M_001,{split}\n"
    splits.write_text(text)
    params = replace(clip_params, clips=replace(clip_params.clips, workers=workers))
    summary = build(params, splits, tmp_path / "b")
    assert [f["video_id"] for f in summary["failed"]] == ["a000000000000001b",
                                                          "a000000000000004b"]
    first, second = (tree(tmp_path / n / "clips") for n in ("a", "b"))
    assert first.pop("clips.json") != second.pop("clips.json")  # it lists the failures
    assert first == second
    assert not [p for p in (tmp_path / "b" / "clips").iterdir() if p.name.startswith(".")
                and p.name != ".vidlab-clips"]  # no compaction leftovers


def test_the_stage_keeps_no_pixels_in_memory(clip_params: Params, index_splits: Path,
                                             tmp_path: Path, monkeypatch) -> None:
    """Each video's clips go to their rows as the video arrives; what the stage keeps per
    video (for the index and the summary) holds no array."""
    kept: list[dict] = []
    summary = clips_stage._summary

    def spy(index, failed, results, params, backend):
        kept.extend(results.values())
        return summary(index, failed, results, params, backend)

    monkeypatch.setattr(clips_stage, "_summary", spy)
    build(clip_params, index_splits, tmp_path / "a")
    assert len(kept) == 6
    for value in kept:
        assert set(value) == {"video_id", "backend", "clips"}
        assert not any(isinstance(v, np.ndarray) for c in value["clips"] for v in c)


def test_the_summary_names_the_decoder_with_its_version(clip_params: Params,
                                                        index_splits: Path,
                                                        tmp_path: Path) -> None:
    """Which decoder built the cache, with its version (the card quotes it); versions only, so
    the cache's bytes stay the same from run to run on one install."""
    from vidlab import contracts
    from vidlab.tracking.environment import decoder_description

    summary = build(clip_params, index_splits, tmp_path / "a")
    assert summary["decoder"] == decoder_description(summary["backend"])
    assert summary["decoder"].startswith(("decord 0.", "PyAV "))
    stored = contracts.read(tmp_path / "a" / "reports" / "summary.json", contracts.ClipsSummary)
    assert stored.decoder == summary["decoder"]
    assert json.loads((tmp_path / "a" / "clips" / "clips.json").read_text())["decoder"] == (
        summary["decoder"])


def test_the_decoder_says_where_pyav_stood_in() -> None:
    from vidlab.tracking.environment import decoder_description

    assert clips_stage._decoder("decord", 0) == decoder_description("decord")
    assert clips_stage._decoder("decord", 2) == (
        f"{decoder_description('decord')}; {decoder_description('pyav')} for 2 video(s) "
        "decord refused")
