"""The `probe` stage: one manifest row per de-identified video, optional CFR normalisation.

Outputs: ``data/interim/manifest.parquet`` (probe.MANIFEST_COLUMNS, in that order, the quality
columns of :mod:`vidlab.media.quality` among them), ``data/interim/frames.parquet`` (each
video's dedup signature and contact-sheet thumbnails, from the same decode:
:func:`vidlab.media.probe.write_frames`), ``data/interim/quality.parquet`` (the per-frame quality
series: :func:`vidlab.media.quality.write_series`), ``data/interim/normalized/`` (re-encoded files
when ``probe.normalize: cfr`` or ``probe.deinterlace`` asks for them; else only a marker) and
``reports/probe/summary.json`` (counts by status and warning).
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
from vidlab.media import quality
from vidlab.media.probe import (
    MANIFEST_COLUMNS,
    Limits,
    probe_all,
    probe_file,
    write_frames,
)

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
               "decode_errors", *quality.INT_COLUMNS)
FLOAT_COLUMNS = ("duration_s", "container_duration_s", "fps_avg", "fps_nominal", "gop_mean",
                 "keyframe_interval_s", "audio_duration_s", *quality.FLOAT_COLUMNS)
BOOL_COLUMNS = ("audio", "vfr")


def limits_of(params: Params) -> Limits:
    p = params.probe
    return Limits(p.frame_tolerance, p.vfr_tolerance, p.fps_tolerance, p.max_keyframe_interval_s,
                  truncation_tolerance=p.truncation_tolerance, integrity=p.integrity,
                  signature_frames=params.dedup.frames, sheet_frames=params.dedup.sheet_frames,
                  quality=p.quality, quality_fps=p.quality_fps, max_combing=p.max_combing)


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


def normalize_cfr(src: Path, dst: Path, *, fps: float, keyframe_interval: int,
                  deinterlace: str = "none") -> None:
    """Re-encode to constant ``fps`` by timestamp: output frame i shows the latest source frame
    at or before i / fps, so VFR sources keep their timing. Frames are taken as a player shows
    them (display order, display matrix applied), so the new file is upright without a matrix.
    With ``deinterlace`` (yadif or bwdif) every frame first goes through that FFmpeg filter, one
    output frame per input frame."""
    from vidlab.media.encode import write_video
    from vidlab.media.reference import reference_decode

    if deinterlace == "none":
        decoded, pictures = reference_decode(src, keep_pictures=True)
        times = decoded.times()
    else:
        times, pictures = deinterlaced(src, deinterlace)
    count = int(np.floor(times[-1] * fps)) + 1
    picks = np.searchsorted(times, np.arange(count) / fps + 1e-6, side="right") - 1
    rate = max(1, round(fps))
    write_video(dst, (pictures[i] for i in picks), fps=rate, crf=18, gop=keyframe_interval)


def deinterlaced(src: Path, method: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every frame through FFmpeg's ``method`` filter (yadif or bwdif: one frame out per frame
    in, field order from the stream, every frame treated), as displayed pictures with their
    times (seconds from the first)."""
    import av

    from vidlab.media.reference import displayed, turns

    pictures, stamps, rotation = [], [], None
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        graph = av.filter.Graph()
        chain = [graph.add_buffer(template=stream),
                 graph.add(method, "mode=send_frame:parity=auto:deint=all"),
                 graph.add("buffersink")]
        chain[0].link_to(chain[1])
        chain[1].link_to(chain[2])
        graph.configure()

        def drain() -> None:
            while True:
                try:
                    out = graph.vpull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                pictures.append(displayed(out, rotation))

        for frame in container.decode(stream):
            if rotation is None:
                rotation = turns(frame.rotation) * 90
            stamps.append(None if frame.pts is None else float(frame.pts * stream.time_base))
            graph.vpush(frame)
            drain()
        graph.vpush(None)
        drain()
        rate = float(stream.average_rate or stream.guessed_rate or 30)
    if None in stamps or len(stamps) != len(pictures):
        times = np.arange(len(pictures)) / rate
    else:
        times = np.array(stamps) - stamps[0]
    return times, pictures


def run(params: Params, *, metadata_csv: Path, videos: Path, manifest: Path, normalized: Path,
        reports: Path, frames: Path | None = None, series: Path | None = None) -> dict:
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
        quality_tmp = outputs.file(Path(series or Path(manifest).with_name("quality.parquet")))
        summary_tmp = outputs.file(Path(reports) / "summary.json")
        headline_tmp = outputs.file(Path(reports) / "headline.json")
        rows = probe_all(paths, limits, workers=worker_count(params.probe.workers, len(paths)),
                         timeout_s=params.probe.timeout_s,
                         per_gigapixel_s=params.probe.timeout_per_gigapixel_s,
                         engine=params.engine.name, address=params.engine.address)
        for row, video_id in zip(rows, meta["video_id"], strict=True):
            row["video_id"] = video_id
        (tmp / NORMALIZED_MARKER).write_text("Written by `vidlab probe`.\n")
        if params.probe.normalize == "cfr" or params.probe.deinterlace != "none":
            rows = [_normalized(row, tmp, normalized, params, limits) for row in rows]
        frame = to_frame(rows)
        frame.to_parquet(manifest_tmp, index=False, engine="pyarrow")
        write_frames(frames_tmp, rows)
        quality.write_series(quality_tmp, rows)
        summary = _summary(frame)
        contracts.write(summary_tmp, contracts.ProbeSummary, summary, atomic=False, indent=2)
        write_headline(headline_tmp, {"videos": summary["videos"],
                                      "flagged": summary["videos"] - summary["ok"]}, atomic=False)
    return summary


def _normalized(row: dict, tmp: Path, final: Path, params: Params, limits: Limits) -> dict:
    p = params.probe
    warned = set(filter(None, row["warnings"].split(",")))
    flagged = warned & {"vfr", "sparse_keyframes"} if p.normalize == "cfr" else set()
    method = p.deinterlace if "interlaced" in warned else "none"
    if row["status"] != "ok" or not (flagged or method != "none"):
        return row
    dst = tmp / f"{row['video_id']}.mp4"
    # The measured average rate: a VFR file's nominal rate is its finest tick (e.g. 30 for
    # frames 33-100 ms apart), which would duplicate most frames.
    normalize_cfr(Path(row["path"]), dst, fps=row["fps_avg"] or row["fps_nominal"] or 15.0,
                  keyframe_interval=p.cfr_keyframe_interval, deinterlace=method)
    new = probe_file(dst, limits)
    reasons = sorted(flagged | ({"interlaced"} if method != "none" else set()))
    treatment = ["cfr"] + ([method] if method != "none" else [])
    new.update(video_id=row["video_id"], path=str(final / dst.name),
               normalized_from=f"{row['path']} ({'+'.join(reasons)}: {'+'.join(treatment)})")
    log.info("probe: re-encoded %s (%s: %s)", row["video_id"], ", ".join(reasons),
             ", ".join(treatment))
    return new


def _summary(frame: pd.DataFrame) -> dict:
    warnings = Counter(w for cell in frame["warnings"] for w in cell.split(",") if w)
    return {
        "videos": len(frame),
        "ok": int((frame["status"] == "ok").sum()),
        "by_status": dict(sorted(Counter(frame["status"]).items())),
        "warnings": dict(sorted(warnings.items())),
        "normalized": int((frame["normalized_from"] != "").sum()),
        "deinterlaced": int(frame["normalized_from"].str.contains(r"\+(?:yadif|bwdif)\)").sum()),
        "decoded_frames": int(frame["frames_decoded"].fillna(0).sum()),
    }
