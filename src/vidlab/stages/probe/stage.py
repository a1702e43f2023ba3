"""The `probe` stage: one manifest row per de-identified video, optional CFR normalisation.

Outputs: ``data/interim/manifest.parquet`` (probe.MANIFEST_COLUMNS, in that order),
``data/interim/frames.parquet`` (each video's dedup signature and contact-sheet thumbnails, from
the same decode: :func:`vidlab.media.probe.write_frames`),
``data/interim/normalized/`` (re-encoded files when ``probe.normalize: cfr``; else only a marker)
and ``reports/probe/summary.json`` (counts by status and warning).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import JOURNAL_PREFIX, OutputSet
from vidlab.core.progress import worker_count
from vidlab.media.probe import MANIFEST_COLUMNS, Limits, probe_all, probe_file, write_frames

PARAMS = Declaration(
    "probe",
    # dedup.frames and dedup.sheet_frames: the probe's decode keeps those frames for dedup
    outputs=("probe", "dedup.frames", "dedup.sheet_frames"),
    runtime=("engine",),
)


log = logging.getLogger(__name__)

NORMALIZED_MARKER = ".vidlab-probe"
INT_COLUMNS = ("size_bytes", "frames_declared", "frames_decoded", "width", "height",
               "display_width", "display_height", "rotation", "bit_rate", "audio_sample_rate",
               "decode_errors")
FLOAT_COLUMNS = ("duration_s", "container_duration_s", "fps_avg", "fps_nominal", "gop_mean",
                 "keyframe_interval_s", "audio_duration_s")
BOOL_COLUMNS = ("audio", "vfr")


def limits_of(params: Params) -> Limits:
    p = params.probe
    return Limits(p.frame_tolerance, p.vfr_tolerance, p.fps_tolerance, p.max_keyframe_interval_s,
                  truncation_tolerance=p.truncation_tolerance, integrity=p.integrity,
                  signature_frames=params.dedup.frames, sheet_frames=params.dedup.sheet_frames)


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows -> the manifest DataFrame with stable columns and dtypes."""
    frame = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    for column in INT_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Int64")
    for column in FLOAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    for column in BOOL_COLUMNS:
        frame[column] = frame[column].astype(bool)
    for column in set(MANIFEST_COLUMNS) - set(INT_COLUMNS) - set(FLOAT_COLUMNS) - set(BOOL_COLUMNS):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def normalize_cfr(src: Path, dst: Path, *, fps: float, keyframe_interval: int) -> None:
    """Re-encode to constant ``fps`` by timestamp: output frame i shows the latest source frame
    at or before i / fps, so VFR sources keep their timing. Frames are taken as a player shows
    them (display order, display matrix applied), so the new file is upright without a matrix."""
    from vidlab.media.encode import write_video
    from vidlab.media.reference import reference_decode

    decoded, pictures = reference_decode(src, keep_pictures=True)
    times = decoded.times()
    count = int(np.floor(times[-1] * fps)) + 1
    picks = np.searchsorted(times, np.arange(count) / fps + 1e-6, side="right") - 1
    rate = max(1, round(fps))
    write_video(dst, (pictures[i] for i in picks), fps=rate, crf=18, gop=keyframe_interval)


def run(params: Params, *, metadata_csv: Path, videos: Path, manifest: Path, normalized: Path,
        reports: Path, frames: Path | None = None) -> dict:
    """Probe every video the de-identified metadata lists; returns the summary counts."""
    params = PARAMS.view(params)
    if not Path(metadata_csv).is_file():
        raise DataError(f"The metadata CSV {metadata_csv} does not exist. Run `vidlab ingest`.")
    try:
        meta = pd.read_csv(metadata_csv, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{metadata_csv} is not the de-identified metadata `vidlab ingest` "
                        f"writes ({exc}). Point --metadata at data/interim/metadata.csv, or "
                        "rerun `vidlab ingest`.") from None
    # checked before any video is opened: a raw CSV here would decode the originals for nothing
    lacking = [c for c in ("video_id", "filename") if c not in meta.columns]
    if lacking:
        raise DataError(f"{metadata_csv} lacks the column(s) {', '.join(lacking)}: it is not the "
                        "de-identified metadata `vidlab ingest` writes (a raw CSV?). Point "
                        "--metadata at data/interim/metadata.csv.")
    paths = [Path(videos) / name for name in meta["filename"]]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise DataError(f"{len(missing)} video(s) listed in {metadata_csv} are not in {videos} "
                        f"(first: {missing[0]}, a pseudonym). Rerun `vidlab ingest`.")
    limits = limits_of(params)
    # every output is staged, then all are published together (fsutil.OutputSet): a run killed
    # at any point leaves the previous run's manifest, normalized files and summary, or this
    # one's. The output paths are claimed first, so a wrong path fails before any decoding.
    with OutputSet(Path(manifest).parent / f"{JOURNAL_PREFIX}probe.json") as outputs:
        tmp = outputs.folder(Path(normalized), marker=NORMALIZED_MARKER)
        manifest_tmp = outputs.file(Path(manifest))
        frames_tmp = outputs.file(Path(frames or Path(manifest).with_name("frames.parquet")))
        summary_tmp = outputs.file(Path(reports) / "summary.json")
        headline_tmp = outputs.file(Path(reports) / "headline.json")
        rows = probe_all(paths, limits, workers=worker_count(params.probe.workers, len(paths)),
                         timeout_s=params.probe.timeout_s,
                         per_gigapixel_s=params.probe.timeout_per_gigapixel_s,
                         engine=params.engine.name, address=params.engine.address)
        for row, video_id in zip(rows, meta["video_id"], strict=True):
            row["video_id"] = video_id
        (tmp / NORMALIZED_MARKER).write_text("Written by `vidlab probe`.\n")
        if params.probe.normalize == "cfr":
            rows = [_normalized(row, tmp, normalized, params, limits) for row in rows]
        frame = to_frame(rows)
        frame.to_parquet(manifest_tmp, index=False, engine="pyarrow")
        write_frames(frames_tmp, rows)
        summary = _summary(frame)
        contracts.write(summary_tmp, contracts.ProbeSummary, summary, atomic=False, indent=2)
        write_headline(headline_tmp, {"videos": summary["videos"],
                                      "flagged": summary["videos"] - summary["ok"]}, atomic=False)
    return summary


def _normalized(row: dict, tmp: Path, final: Path, params: Params, limits: Limits) -> dict:
    flagged = set(filter(None, row["warnings"].split(","))) & {"vfr", "sparse_keyframes"}
    if row["status"] != "ok" or not flagged:
        return row
    dst = tmp / f"{row['video_id']}.mp4"
    # The measured average rate: a VFR file's nominal rate is its finest tick (e.g. 30 for
    # frames 33-100 ms apart), which would duplicate most frames.
    normalize_cfr(Path(row["path"]), dst, fps=row["fps_avg"] or row["fps_nominal"] or 15.0,
                  keyframe_interval=params.probe.cfr_keyframe_interval)
    new = probe_file(dst, limits)
    new.update(video_id=row["video_id"], path=str(final / dst.name),
               normalized_from=f"{row['path']} ({'+'.join(sorted(flagged))})")
    log.info("probe: re-encoded %s to constant frame rate (%s)", row["video_id"],
             ", ".join(sorted(flagged)))
    return new


def _summary(frame: pd.DataFrame) -> dict:
    warnings = Counter(w for cell in frame["warnings"] for w in cell.split(",") if w)
    return {
        "videos": len(frame),
        "ok": int((frame["status"] == "ok").sum()),
        "by_status": dict(sorted(Counter(frame["status"]).items())),
        "warnings": dict(sorted(warnings.items())),
        "normalized": int((frame["normalized_from"] != "").sum()),
        "decoded_frames": int(frame["frames_decoded"].fillna(0).sum()),
    }
