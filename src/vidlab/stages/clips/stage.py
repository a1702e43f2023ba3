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
* ``clips.json``: what was sampled, how, by which decoder (with its version) and what could not
  be decoded.

A video that fails to decode (or overruns its time limit, ``clips.timeout_s`` plus
``clips.timeout_per_gigapixel_s`` per gigapixel) is left out and listed; the stage
warns with the count. decord failures are retried with PyAV first.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import SPLIT_NAMES, ClipsParams, Params
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError, ParamsError
from vidlab.core.fsutil import JOURNAL_PREFIX, OutputSet
from vidlab.core.progress import track, worker_count
from vidlab.data.cache import INDEX_COLUMNS, LABEL_COLUMNS, MARKER, decode_clips, resolve_paths
from vidlab.media.decode import resolve_backend
from vidlab.tracking.environment import decoder_description

PARAMS = Declaration(
    "clips",
    outputs=("base.seed", "clips.backend", "clips.clip_len", "clips.stride", "clips.target_fps",
             "clips.pad", "clips.train_clips", "clips.eval_clips", "clips.size", "clips.crop",
             "clips.shard_size"),
    runtime=("clips.workers", "clips.timeout_s", "clips.timeout_per_gigapixel_s", "engine"),
)


log = logging.getLogger(__name__)
COPY_BYTES = 32 << 20  # compaction copies rows this many bytes at a time (at least one row)


def _item(job: tuple) -> dict:
    return decode_clips(*job)


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


def _timeouts(videos: pd.DataFrame, p: ClipsParams) -> list[float]:
    """Per video: ``clips.timeout_s + clips.timeout_per_gigapixel_s x`` its duration x width x
    height x frame rate / 1e9, from splits.csv (the manifest's figures); the base alone where a
    figure is missing."""
    size = np.ones(len(videos))
    for column in ("duration_s", "width", "height", "fps_avg"):
        values = videos[column] if column in videos else pd.Series(0, index=videos.index)
        size = size * pd.to_numeric(values, errors="coerce").fillna(0).to_numpy(float)
    return list(p.timeout_s + p.timeout_per_gigapixel_s * size / 1e9)


def run(params: Params, *, splits: Path, out: Path, reports: Path) -> dict:
    """Build the clips cache; returns the summary (also written to ``reports/summary.json``)."""
    params = PARAMS.view(params)
    from vidlab.core.engine import run_tasks

    p, seed, engine = params.clips, params.base.seed, params.engine
    try:  # before any decoding: decord asked for where it is not installed
        backend = resolve_backend(p.backend)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    videos = _read_splits(Path(splits))
    if videos.empty:
        raise DataError(f"{splits} lists no train, val or test videos.")
    jobs = [(row.path, row.split, row.video_id, p, seed) for row in videos.itertuples()]
    results: dict[int, dict] = {}  # per decoded video: its clips' metadata and backend, no pixels
    failed: dict[str, str] = {}
    # the cache and its summary are staged, then published together (fsutil.OutputSet): a run
    # killed at any point leaves the previous run's cache and summary, or this one's
    with OutputSet(Path(out).parent / f"{JOURNAL_PREFIX}clips.json") as outputs:
        tmp = outputs.folder(Path(out), marker=MARKER)
        summary_tmp = outputs.file(Path(reports) / "summary.json")
        headline_tmp = outputs.file(Path(reports) / "headline.json")
        layout = _Layout(tmp, videos, p)
        outcomes = run_tasks(_item, jobs, workers=worker_count(p.workers, len(jobs)),
                             timeout_s=_timeouts(videos, p), engine=engine.name,
                             address=engine.address)
        for outcome in track(outcomes, total=len(jobs), desc="clips"):
            if outcome.status == "ok":
                layout.write(outcome.index, outcome.value.pop("arrays"))
                results[outcome.index] = outcome.value
            else:
                failed[videos.at[outcome.index, "video_id"]] = (
                    f"{outcome.status}: {outcome.detail.splitlines()[0] if outcome.detail else ''}")
        (tmp / MARKER).touch()
        layout.compact(results)
        index = _index(videos, results)
        _write_shards(tmp / "shards", tmp, index, p.shard_size, seed)
        summary = _summary(index, failed, results, params, backend)
        (tmp / "index.csv").write_text(index.to_csv(index=False, lineterminator="\n"),
                                       encoding="utf-8")
        (tmp / "clips.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        contracts.write(summary_tmp, contracts.ClipsSummary,
                        {k: v for k, v in summary.items() if k != "params"}, atomic=False,
                        indent=2)
        write_headline(headline_tmp, {
            "videos": sum(s["videos"] for s in summary["splits"].values()),
            "flagged": len(summary["failed"])}, atomic=False)
    if failed:
        log.warning("%d video(s) could not be decoded and were left out of the clips cache; "
                    "see 'failed' in %s.", len(failed), Path(out) / "clips.json")
    return summary


class _Layout:
    """Each split's ``<split>.npy``, allocated before decoding with a fixed block of rows per
    video (sorted order; ``train_clips`` for training videos, ``eval_clips`` for the others: the
    ``multi`` sampler always returns that many), filled as videos arrive in any order.

    Rows are written and read as file I/O, not through a memory map, so the pages written stay
    in the page cache, not in this process's memory.
    """

    def __init__(self, tmp: Path, videos: pd.DataFrame, p: ClipsParams) -> None:
        self.videos = videos
        self.row_shape = (p.clip_len, p.size, p.size, 3)
        self.row_bytes = int(np.prod(self.row_shape))
        self.capacity = np.where(videos["split"] == "train", p.train_clips, p.eval_clips)
        self.start = np.zeros(len(videos), dtype=np.int64)
        self.files: dict[str, Path] = {}
        for split in SPLIT_NAMES:
            members = np.flatnonzero((videos["split"] == split).to_numpy())
            self.start[members] = np.cumsum(self.capacity[members]) - self.capacity[members]
            self.files[split] = tmp / f"{split}.npy"
            _create_npy(self.files[split], (int(self.capacity[members].sum()), *self.row_shape))

    def write(self, i: int, arrays: np.ndarray) -> None:
        """Video ``i``'s clips, at its rows."""
        if arrays.shape[1:] != self.row_shape or len(arrays) > self.capacity[i]:
            raise RuntimeError(f"video {self.videos.at[i, 'video_id']} returned clips of shape "
                               f"{arrays.shape}; its rows hold {self.capacity[i]} of "
                               f"{self.row_shape}")
        path = self.files[self.videos.at[i, "split"]]
        with open(path, "r+b") as handle:
            handle.seek(_header_end(handle)[0] + int(self.start[i]) * self.row_bytes)
            handle.write(memoryview(np.ascontiguousarray(arrays, dtype=np.uint8)).cast("B"))

    def compact(self, results: dict[int, dict]) -> None:
        """Close the gaps that failed videos (or videos with fewer clips) left: copy the rows
        kept, in order, into an array of the exact size, a bounded chunk at a time."""
        for split, path in self.files.items():
            members = np.flatnonzero((self.videos["split"] == split).to_numpy())
            kept = [(int(self.start[i]), len(results[i]["clips"])) for i in members
                    if i in results]
            if sum(n for _, n in kept) == self.capacity[members].sum():
                continue  # every video filled its rows
            part = path.with_name(f".{path.name}.compact")
            _create_npy(part, (sum(n for _, n in kept), *self.row_shape))
            step = max(1, COPY_BYTES // self.row_bytes) * self.row_bytes
            with open(path, "rb") as source, open(part, "r+b") as target:
                read_at, _ = _header_end(source)
                target.seek(_header_end(target)[0])
                for start, count in kept:  # in row order: the target is written front to back
                    source.seek(read_at + start * self.row_bytes)
                    for done in range(0, count * self.row_bytes, step):
                        target.write(_read(source, min(step, count * self.row_bytes - done)))
            os.replace(part, path)


def _create_npy(path: Path, shape: tuple[int, ...]) -> None:
    """An all-zero uint8 ``.npy`` of ``shape`` (sparse on disk until written)."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    del array


def _header_end(handle) -> tuple[int, tuple[int, ...]]:
    """Where an open ``.npy`` file's data starts, and the array's shape."""
    handle.seek(0)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, _ = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, _, _ = np.lib.format.read_array_header_2_0(handle)
    return handle.tell(), shape


def _read(handle, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise DataError(f"{handle.name} ends early: the clips cache was changed while written")
    return data


def _index(videos: pd.DataFrame, results: dict[int, dict]) -> pd.DataFrame:
    """The index rows: per split, the decoded videos' clips in sorted order (their rows)."""
    rows = []
    for split in SPLIT_NAMES:
        row = 0
        for i in videos.index[videos["split"] == split]:
            if i not in results:
                continue
            video = videos.loc[i]
            for clip_index, start, padded, frames in results[i]["clips"]:
                rows.append({"split": split, "row": row,
                             "key": f"{video.video_id}_{clip_index:03d}",
                             "video_id": video.video_id, "clip_index": clip_index,
                             "start_s": start, "padded": padded,
                             "frames": " ".join(map(str, frames)),
                             **{c: video[c] for c in LABEL_COLUMNS}})
                row += 1
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
        with open(arrays / f"{split}.npy", "rb") as handle:
            _write_split_shards(folder, split, part, handle, size)


def _write_split_shards(folder: Path, split: str, part: pd.DataFrame, handle, size: int) -> None:
    """One split's shards; each clip read from the array file on its own (no memory map)."""
    begin, shape = _header_end(handle)
    row_shape, row_bytes = shape[1:], int(np.prod(shape[1:]))
    for number, start in enumerate(range(0, len(part), size)):
        name = folder / f"{split}-{number:06d}.tar"
        with tarfile.open(name, "w", format=tarfile.USTAR_FORMAT) as tar:
            for row in part.iloc[start:start + size].itertuples(index=False):
                handle.seek(begin + int(row.row) * row_bytes)
                clip = np.frombuffer(_read(handle, row_bytes), np.uint8).reshape(row_shape)
                buffer = io.BytesIO()
                np.save(buffer, clip)
                meta = {c: getattr(row, c) for c in INDEX_COLUMNS if c != "row"}
                meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in meta.items()}
                _tar_add(tar, f"{row.key}.npy", buffer.getvalue())
                _tar_add(tar, f"{row.key}.json", json.dumps(meta, sort_keys=True).encode())


def _decoder(backend: str, fallback: int) -> str:
    """The decoder that built the cache, with versions (no machine details: the summary stays
    byte-identical between runs on one install), and PyAV where it stood in."""
    said = decoder_description(backend)
    if fallback:
        said += f"; {decoder_description('pyav')} for {fallback} video(s) {backend} refused"
    return said


def _summary(index: pd.DataFrame, failed: dict[str, str], results: dict[int, dict],
             params: Params, backend: str) -> dict:
    p = params.clips
    counts = {split: {"videos": int(index.loc[index["split"] == split, "video_id"].nunique()),
                      "clips": int((index["split"] == split).sum())} for split in SPLIT_NAMES}
    backends = pd.Series([r["backend"] for r in results.values()], dtype=object)
    fallback = int((backends != backend).sum()) if len(backends) else 0
    return {
        "splits": counts,
        "clips": int(len(index)),
        "clip_shape": [p.clip_len, p.size, p.size, 3],
        "padded_clips": int(index["padded"].sum()),
        "bytes": int(len(index) * p.clip_len * p.size * p.size * 3),
        # what clips.backend meant here ("auto": decord where installed, else PyAV)
        "backend": backend,
        "fallback_pyav": fallback,
        "decoder": _decoder(backend, fallback),
        # which backend served each video (a refusal or failure of decord falls back to PyAV)
        "backend_of": dict(sorted((r["video_id"], r["backend"]) for r in results.values())),
        "failed": [{"video_id": k, "reason": v} for k, v in sorted(failed.items())],
        # with the backend resolved ("auto" is an instruction, not a fact about this cache)
        "params": {key: (backend if key == "backend" else value)
                   for key, value in p.model_dump().items()
                   if key not in ("workers", "timeout_s", "timeout_per_gigapixel_s", "mean",
                                  "std")},
    }
