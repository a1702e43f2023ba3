"""The `clips` stage: sample clips once, decode them, fit them to the model size, cache them.

For each video of ``splits.csv``: training videos get ``clips.train_clips`` random clips (seeded
by ``base.seed`` and the video id, so any worker count gives the same draws; training picks one
per epoch), val and test videos ``clips.eval_clips`` evenly spaced clips (``multi``). All of a
video's clips are decoded in one forward pass and :func:`~vidlab.data.transforms.fit` to
``size x size``.

Output folder (every byte reproducible, so DVC's cache and citations hold):

* ``<split>.npy``: uint8 ``(clips, T, size, size, 3)`` RGB; ``np.load(..., mmap_mode="r")``
  reads one clip without loading the rest;
* ``index.csv``: one row per clip: split, row in that array, shard key, video id, clip index,
  start time, padded, frame indices, and the label columns;
* ``shards/<split>-NNNNNN.tar``: the same clips as WebDataset samples (``<key>.npy`` +
  ``<key>.json``), ``clips.shard_size`` per shard, training shards in a seeded shuffled order;
* ``clips.json``: what was sampled, how, and what could not be decoded.

A video that fails to decode (or overruns ``clips.timeout_s``) is left out and listed; the stage
warns with the count. decord failures are retried with PyAV first.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.data.decode import resolve_backend
from vidlab.errors import DataError, ParamsError
from vidlab.fsutil import JOURNAL_PREFIX, OutputSet
from vidlab.params import SPLIT_NAMES, ClipsParams, Params
from vidlab.paths import project_root
from vidlab.progress import track, worker_count

log = logging.getLogger(__name__)

MARKER = ".vidlab-clips"
LABEL_COLUMNS = ("label", "domain", "age_group", "milestone_id")
INDEX_COLUMNS = ("split", "row", "key", "video_id", "clip_index", "start_s", "padded", "frames",
                 *LABEL_COLUMNS)


def video_rng(seed: int, video_id: str) -> np.random.Generator:
    """A generator that depends on the seed and the video only (not on order or workers)."""
    digest = hashlib.sha256(video_id.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def sampler_for(split: str, p: ClipsParams):
    """Random clips for training, evenly spaced (``multi``) clips for val and test."""
    from vidlab.data.sampling import make_clip_sampler

    train = split == "train"
    return make_clip_sampler("random" if train else "multi", clip_len=p.clip_len, stride=p.stride,
                             target_fps=p.target_fps, pad=p.pad,
                             clips_per_video=1 if train else p.eval_clips)


def sample_video(times: np.ndarray, split: str, p: ClipsParams,
                 rng: np.random.Generator | None) -> list:
    """The clips of one video: ``train_clips`` random draws, or the eval clips."""
    sampler = sampler_for(split, p)
    if split == "train":
        return [c._replace(clip_index=k) for k in range(p.train_clips)
                for c in sampler(times, rng)]
    return sampler(times)


def read_clips(path: str | Path, p: ClipsParams, choose: Callable[[np.ndarray], list], *,
               threads: int = 1) -> tuple[list, np.ndarray, np.ndarray, str]:
    """Open a video, let ``choose`` pick clips from its frame times, decode them in one pass and
    fit them to ``p.size``. A backend that refuses the file (see
    :class:`~vidlab.data.decode.UnsupportedVideo`), fails, or returns a frozen clip the video
    does not have is replaced by PyAV.

    Returns:
        The clips, their frames as uint8 ``(clips, T, size, size, 3)``, the frame times and the
        backend that decoded them.

    Raises:
        FrozenClip: when even PyAV's frames of a clip are identical while the video's differ.
    """
    import torch

    from vidlab.data.decode import open_video
    from vidlab.data.transforms import fit

    first = resolve_backend(p.backend)
    backends = [first] + (["pyav"] if first != "pyav" else [])
    for attempt, backend in enumerate(backends):
        try:
            reader = open_video(path, backend, threads=threads)
            try:
                clips = choose(reader.times)
                frames = reader.get_frames([i for clip in clips for i in clip.indices])
                times = reader.times
            finally:
                reader.close()
            _check_not_frozen(path, clips, frames)
            break
        except Exception as exc:
            if attempt == len(backends) - 1:
                raise
            log.debug("%s failed on %s (%s); retrying with PyAV", backend, Path(path).name,
                      type(exc).__name__)
    fitted = fit(torch.from_numpy(frames), size=p.size, crop=p.crop).numpy()
    return clips, fitted.reshape(len(clips), p.clip_len, *fitted.shape[1:]), times, backend


class FrozenClip(RuntimeError):
    """A decoded clip repeats one picture where the video shows different ones."""


def _check_not_frozen(path: str | Path, clips: list, frames: np.ndarray) -> None:
    """Refuse clips whose frames are all the same picture although they come from different
    frames that the reference decode shows to differ (a backend returning one frame again and
    again, as decord did with AVI timestamps). A truly still video passes."""
    start = 0
    for clip in clips:
        block = frames[start:start + len(clip.indices)]
        start += len(clip.indices)
        if len(set(clip.indices)) < 2 or not np.all(block == block[:1]):
            continue
        from vidlab.media.reference import reference_decode

        _, pictures = reference_decode(path, keep_pictures=True)
        shown = {pictures[i].tobytes() for i in set(clip.indices) if i < len(pictures)}
        if len(shown) > 1:
            raise FrozenClip(f"clip {clip.clip_index} repeats one frame; the video's frames "
                             f"{min(clip.indices)}..{max(clip.indices)} differ")


def decode_clips(path: str, split: str, video_id: str, p: ClipsParams, seed: int) -> dict:
    """Sample, decode and fit all clips of one video (runs in a worker process)."""
    import torch

    torch.set_num_threads(1)
    rng = video_rng(seed, video_id)
    clips, arrays, times, backend = read_clips(
        path, p, lambda times: sample_video(times, split, p, rng))
    return {"video_id": video_id, "backend": backend, "arrays": arrays,
            "clips": [(c.clip_index, round(float(times[c.indices[0]]), 6), c.padded, c.indices)
                      for c in clips]}


def _item(job: tuple) -> dict:
    return decode_clips(*job)


def resolve_paths(paths: pd.Series, splits: Path) -> pd.Series:
    """Video paths of splits.csv, which are relative to the project root, made absolute, so the
    stage and the DataModule work from any working directory."""
    root = project_root(Path(splits).resolve().parent)
    if not (root / "params.yaml").is_file():  # a manifest outside a project: relative to the cwd
        root = Path.cwd()
    return paths.map(lambda p: str(p if Path(p).is_absolute() else root / p))


def _read_splits(path: Path) -> pd.DataFrame:
    if not Path(path).is_file():
        raise DataError(f"{path} does not exist. Run the split stage first (dvc repro split).")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"video_id", "path", "split", *LABEL_COLUMNS} - set(frame.columns)
    if missing:
        raise DataError(f"{path} lacks column(s) {', '.join(sorted(missing))}; "
                        "rebuild it with the split stage.")
    frame["path"] = resolve_paths(frame["path"], Path(path))
    order = {name: k for k, name in enumerate(SPLIT_NAMES)}
    frame = frame[frame["split"].isin(order)]
    frame = frame.assign(_order=frame["split"].map(order))
    return frame.sort_values(["_order", "video_id"]).drop(columns="_order").reset_index(drop=True)


def run(params: Params, *, splits: Path, out: Path, reports: Path) -> dict:
    """Build the clips cache; returns the summary (also written to ``reports/summary.json``)."""
    from vidlab.data import transforms  # noqa: F401  imported once here, inherited by workers
    from vidlab.quality.isolate import run_isolated

    p, seed = params.clips, params.base.seed
    try:  # before any decoding: decord asked for where it is not installed
        backend = resolve_backend(p.backend)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    videos = _read_splits(Path(splits))
    if videos.empty:
        raise DataError(f"{splits} lists no train, val or test videos.")
    jobs = [(row.path, row.split, row.video_id, p, seed) for row in videos.itertuples()]
    results: dict[int, dict] = {}
    failed: dict[str, str] = {}
    # the cache and its summary are staged, then published together (fsutil.OutputSet): a run
    # killed at any point leaves the previous run's cache and summary, or this one's
    with OutputSet(Path(out).parent / f"{JOURNAL_PREFIX}clips.json") as outputs:
        tmp = outputs.folder(Path(out), marker=MARKER)
        summary_tmp = outputs.file(Path(reports) / "summary.json")
        outcomes = run_isolated(_item, jobs, workers=worker_count(p.workers, len(jobs)),
                                timeout_s=p.timeout_s)
        for outcome in track(outcomes, total=len(jobs), desc="clips"):
            if outcome.status == "ok":
                results[outcome.index] = outcome.value
            else:
                failed[videos.at[outcome.index, "video_id"]] = (
                    f"{outcome.status}: {outcome.detail.splitlines()[0] if outcome.detail else ''}")
        (tmp / MARKER).touch()
        index = _write_arrays(tmp, videos, results, p)
        _write_shards(tmp / "shards", tmp, index, p.shard_size, seed)
        summary = _summary(index, failed, results, params, backend)
        (tmp / "index.csv").write_text(index.to_csv(index=False, lineterminator="\n"),
                                       encoding="utf-8")
        (tmp / "clips.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        summary_tmp.write_text(json.dumps({k: v for k, v in summary.items() if k != "params"},
                                          indent=2) + "\n", encoding="utf-8")
    if failed:
        log.warning("%d video(s) could not be decoded and were left out of the clips cache; "
                    "see 'failed' in %s.", len(failed), Path(out) / "clips.json")
    return summary


def _write_arrays(tmp: Path, videos: pd.DataFrame, results: dict[int, dict],
                  p: ClipsParams) -> pd.DataFrame:
    """One memory-mappable array per split; the index rows that describe it."""
    rows = []
    for split in SPLIT_NAMES:
        members = [i for i in videos.index[videos["split"] == split] if i in results]
        count = sum(len(results[i]["clips"]) for i in members)
        shape = (count, p.clip_len, p.size, p.size, 3)
        array = np.lib.format.open_memmap(tmp / f"{split}.npy", mode="w+", dtype=np.uint8,
                                          shape=shape)
        row = 0
        for i in members:
            video = videos.loc[i]
            done = results[i]
            for (clip_index, start, padded, frames), clip in zip(done["clips"], done["arrays"],
                                                                 strict=True):
                array[row] = clip
                rows.append({"split": split, "row": row,
                             "key": f"{video.video_id}_{clip_index:03d}",
                             "video_id": video.video_id, "clip_index": clip_index,
                             "start_s": start, "padded": padded,
                             "frames": " ".join(map(str, frames)),
                             **{c: video[c] for c in LABEL_COLUMNS}})
                row += 1
        array.flush()
        del array
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add a member with fixed owner, mode and time, so the tar's bytes are reproducible."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _write_shards(folder: Path, arrays: Path, index: pd.DataFrame, size: int, seed: int) -> None:
    """WebDataset tar shards per split: ``<key>.npy`` (the clip) and ``<key>.json`` per sample.

    Training shards are written in a seeded shuffled order so every shard mixes videos and
    classes (streaming readers then only need a small shuffle buffer).
    """
    folder.mkdir()
    for split in SPLIT_NAMES:
        part = index[index["split"] == split]
        if split == "train":
            part = part.iloc[np.random.default_rng([seed, 1]).permutation(len(part))]
        data = np.load(arrays / f"{split}.npy", mmap_mode="r")
        for number, start in enumerate(range(0, len(part), size)):
            name = folder / f"{split}-{number:06d}.tar"
            with tarfile.open(name, "w", format=tarfile.USTAR_FORMAT) as tar:
                for row in part.iloc[start:start + size].itertuples(index=False):
                    buffer = io.BytesIO()
                    np.save(buffer, np.ascontiguousarray(data[row.row]))
                    meta = {c: getattr(row, c) for c in INDEX_COLUMNS if c != "row"}
                    meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in meta.items()}
                    _tar_add(tar, f"{row.key}.npy", buffer.getvalue())
                    _tar_add(tar, f"{row.key}.json", json.dumps(meta, sort_keys=True).encode())


def _summary(index: pd.DataFrame, failed: dict[str, str], results: dict[int, dict],
             params: Params, backend: str) -> dict:
    p = params.clips
    counts = {split: {"videos": int(index.loc[index["split"] == split, "video_id"].nunique()),
                      "clips": int((index["split"] == split).sum())} for split in SPLIT_NAMES}
    backends = pd.Series([r["backend"] for r in results.values()], dtype=object)
    return {
        "splits": counts,
        "clips": int(len(index)),
        "clip_shape": [p.clip_len, p.size, p.size, 3],
        "padded_clips": int(index["padded"].sum()),
        "bytes": int(len(index) * p.clip_len * p.size * p.size * 3),
        # what clips.backend meant here ("auto": decord where installed, else PyAV)
        "backend": backend,
        "fallback_pyav": int((backends != backend).sum()) if len(backends) else 0,
        # which backend served each video (a refusal or failure of decord falls back to PyAV)
        "backend_of": dict(sorted((r["video_id"], r["backend"]) for r in results.values())),
        "failed": [{"video_id": k, "reason": v} for k, v in sorted(failed.items())],
        # with the backend resolved ("auto" is an instruction, not a fact about this cache)
        "params": {key: (backend if key == "backend" else value)
                   for key, value in asdict(p).items()
                   if key not in ("workers", "timeout_s", "mean", "std")},
    }
