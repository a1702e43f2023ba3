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

import io
import json
import logging
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

PARAMS = Declaration(
    "clips",
    outputs=("base.seed", "clips.backend", "clips.clip_len", "clips.stride", "clips.target_fps",
             "clips.pad", "clips.train_clips", "clips.eval_clips", "clips.size", "clips.crop",
             "clips.shard_size"),
    runtime=("clips.workers", "clips.timeout_s"),
)


log = logging.getLogger(__name__)


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


def run(params: Params, *, splits: Path, out: Path, reports: Path) -> dict:
    """Build the clips cache; returns the summary (also written to ``reports/summary.json``)."""
    params = PARAMS.view(params)
    from vidlab.core.isolate import run_isolated
    from vidlab.data import transforms  # noqa: F401  imported once here, inherited by workers

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
        headline_tmp = outputs.file(Path(reports) / "headline.json")
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
                   for key, value in p.model_dump().items()
                   if key not in ("workers", "timeout_s", "mean", "std")},
    }
