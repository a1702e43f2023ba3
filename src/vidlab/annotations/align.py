"""Resolve raw annotation records against the de-identified videos and their decoded frames.

Names: a record's video name (an original file name, or its stem, as exports write it) is looked
up in the private re-identification mapping ingest wrote beside the key; the aligned row carries
only the pseudonym. Times: a time is the frame on screen at that instant, by the clip samplers'
rule (the last frame whose timestamp is at or before it, allowing for timestamps rounded by the
container), so variable-frame-rate files align as they sample. Frames: an index is checked against
the decoded frame count, and a file that says which frame rate it assumed is checked against the
video's. Boxes are pixels of the displayed (upright) frame; normalised ones are scaled to it.

A record that cannot be placed gets a reason instead (:data:`REASONS`); nothing is shifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

import av
import numpy as np
import pandas as pd

from vidlab.annotations.schema import ALIGNED_COLUMNS
from vidlab.core import keys
from vidlab.media.decode import FrameTable

# reasons found here, before the QA suite (which adds its own)
REASONS = {
    "unknown_video": "no video of the dataset has this name (the value is withheld: names are "
                     "private). Check the export's file names against your metadata CSV.",
    "ambiguous_video": "the name without its extension matches several videos; use the full "
                       "file name",
    "video_not_usable": "the video was quarantined or failed the probe, so its frames cannot be "
                        "checked",
    "fps_mismatch": "the file assumes another frame rate than the video has, so its frame "
                    "numbers point at other moments; export at the video's own rate",
    "frame_size_mismatch": "the file describes frames of another size than the video displays",
    "frame_out_of_range": "the frame number is not among the video's decoded frames",
}


# beside the aligned columns while the QA runs: the raw record's index and the mask's own size
HIDDEN = ("_raw", "_mask_h", "_mask_w")


@dataclass(frozen=True)
class Video:
    """What alignment needs of one usable video (from the manifest and its packets)."""

    video_id: str
    width: int            # displayed (after rotation)
    height: int
    fps: float
    frames: int           # decoded
    times: np.ndarray     # presentation time of each frame, seconds from the first

    @property
    def interval(self) -> float:
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else 1 / self.fps

    @property
    def duration(self) -> float:
        return float(self.times[-1] + self.interval) if len(self.times) else 0.0

    def slack(self) -> float:
        """How far past an instant a frame may start and still count as on screen at it (the
        samplers' allowance for timestamps rounded to the container's time base)."""
        return min(0.001, 0.25 * self.interval)

    def on_screen(self, t: float) -> int:
        """The frame on screen at ``t`` seconds (clamped to the video)."""
        index = int(np.searchsorted(self.times, t + self.slack(), side="right")) - 1
        return min(max(index, 0), len(self.times) - 1)

    def last_before(self, t: float) -> int:
        """The last frame that starts before ``t`` (a segment's last frame when it ends at t)."""
        index = int(np.searchsorted(self.times, t - self.slack(), side="left")) - 1
        return min(max(index, 0), len(self.times) - 1)


def video_facts(manifest: pd.DataFrame, wanted: set[str]) -> dict[str, Video]:
    """:class:`Video` for each usable manifest row whose id is in ``wanted`` (frame times from
    the packets: no decoding)."""
    out = {}
    for row in manifest.itertuples(index=False):
        if row.video_id not in wanted:
            continue
        with av.open(str(row.path)) as container:
            stream = container.streams.video[0]
            times = FrameTable(container, stream).times
        out[row.video_id] = Video(row.video_id, int(row.display_width), int(row.display_height),
                                  float(row.fps_avg or row.fps_nominal or 0) or 30.0,
                                  len(times), times)
    return out


def name_index(mapping: dict[str, str]) -> tuple[dict[str, str], dict[str, str | None]]:
    """(exact name -> video id, stem -> video id or None where several share the stem) from the
    private mapping original name -> pseudonymous file name."""
    exact = {name: PurePath(pseudo).stem for name, pseudo in mapping.items()}
    stems: dict[str, str | None] = {}
    for name, video_id in exact.items():
        stem = PurePath(name).stem
        stems[stem] = video_id if stem not in stems else None
    return exact, stems


def resolve(name: str, exact: dict[str, str], stems: dict[str, str | None]) -> tuple[str, str]:
    """(video id, "") or ("", reason) for a record's video name."""
    if name in exact:
        return exact[name], ""
    for candidate in (name, PurePath(name).name, PurePath(name).stem):
        if candidate in exact:
            return exact[candidate], ""
        if candidate in stems:
            found = stems[candidate]
            return (found, "") if found else ("", "ambiguous_video")
    return "", "unknown_video"


def align(raw: pd.DataFrame, mapping: dict[str, str], usable: set[str],
          videos: dict[str, Video], *, ontology: dict[str, str], unlabelled: dict[str, str],
          fps_tolerance: float) -> tuple[pd.DataFrame, list[dict]]:
    """The aligned table (:data:`ALIGNED_COLUMNS`) of the records that could be placed, and one
    problem dict (``index`` of the raw record, ``video_id``, ``column``, ``value``, ``reason``)
    per record that could not. CVAT boxes marked ``outside`` are not annotations (the object is
    out of view) and are dropped without a reason."""
    exact, stems = name_index(mapping)
    rows, problems = [], []
    for index, record in enumerate(raw.itertuples(index=False)):
        video_id, reason = resolve(str(record.video), exact, stems)
        if reason:
            problems.append(_problem(index, "", "video", "<redacted>", reason))
            continue
        if video_id not in usable or video_id not in videos:
            problems.append(_problem(index, video_id, "video", video_id, "video_not_usable"))
            continue
        if record.outside:
            continue
        video = videos[video_id]
        found = _check_frame(record, video, fps_tolerance)
        if found:
            column, value, why = found
            problems.append(_problem(index, video_id, column, value, why))
            continue
        rows.append(_aligned(record, video, ontology, unlabelled))
        rows[-1]["_raw"] = index
    table = pd.DataFrame(rows, columns=[*ALIGNED_COLUMNS, *HIDDEN])
    return typed(table), problems


def _check_frame(record, video: Video, tolerance: float) -> tuple[str, str, str] | None:
    if given(record.fps) and abs(float(record.fps) - video.fps) > tolerance * video.fps:
        return "fps", f"{float(record.fps):g}", "fps_mismatch"
    sizes = [(record.width, record.height)]
    if any(given(w) and given(h) and (int(w), int(h)) != (video.width, video.height)
           for w, h in sizes):
        return "width", f"{int(record.width)}x{int(record.height)}", "frame_size_mismatch"
    if given(record.frame) and not 0 <= int(record.frame) < video.frames:
        return "frame", str(int(record.frame)), "frame_out_of_range"
    return None


def _aligned(record, video: Video, ontology: dict[str, str],
             unlabelled: dict[str, str]) -> dict:
    label = _str(record.label) or unlabelled.get(record.source, "")
    # a format's own ids first ("ava:1"), then names meant for every format ("Left half")
    label = ontology.get(f"{record.source}:{label}", ontology.get(label, label))
    row = {"video_id": video.video_id, "task": record.task, "source": record.source,
           "where": record.where, "label": label,
           "t0": _num(record.t0), "t1": _num(record.t1), "frame": None, "frame_end": None,
           "track_id": int(record.track_id) if given(record.track_id) else None,
           "x1": None, "y1": None, "x2": None, "y2": None, "mask": _str(record.mask),
           "text": _str(record.text), "occluded": bool(record.occluded),
           "score": _num(record.score),
           "_mask_h": int(record.mask_height) if given(record.mask_height) else None,
           "_mask_w": int(record.mask_width) if given(record.mask_width) else None}
    if given(record.frame):
        row["frame"] = row["frame_end"] = int(record.frame)
    elif given(record.t0):
        row["frame"] = video.on_screen(float(record.t0))
        row["frame_end"] = (video.last_before(float(record.t1)) if given(record.t1)
                            else row["frame"])
    if given(record.x1):
        scale_x, scale_y = (video.width, video.height) if record.normalized else (1, 1)
        row.update(x1=float(record.x1) * scale_x, y1=float(record.y1) * scale_y,
                   x2=float(record.x2) * scale_x, y2=float(record.y2) * scale_y)
    return row


def typed(table: pd.DataFrame) -> pd.DataFrame:
    """The aligned table with its column types (nullable ints, floats, strings, bools)."""
    table = table.copy()
    for name in ("frame", "frame_end", "track_id", *HIDDEN):
        if name in table:
            table[name] = table[name].astype("Int64")
    for name in ("t0", "t1", "x1", "y1", "x2", "y2", "score"):
        table[name] = table[name].astype("Float64")
    for name in ("video_id", "task", "source", "where", "label", "mask", "text"):
        table[name] = table[name].astype(str)
    table["occluded"] = table["occluded"].astype(bool)
    return table


def _problem(index: int, video_id: str, column: str, value: str, reason: str) -> dict:
    return {"index": index, "video_id": video_id, "column": column, "value": value,
            "reason": reason, "detail": REASONS[reason]}


def given(value) -> bool:
    """Whether a cell holds a value (not None, NaN or <NA>)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and \
        value is not pd.NA


def _str(value) -> str:
    return str(value) if given(value) else ""


def _num(value) -> float | None:
    return float(value) if given(value) else None


def mapping_file(source: str, csv_path: Path) -> Path:
    """Ingest's private mapping of a dataset (``data.source``, ``data.csv``), beside the key.

    Raises:
        DataError: when there is no usable key for ``source`` here.
    """
    key = keys.load_key(source)
    return keys.key_dir_for(keys.dataset_label(key, Path(csv_path))) / keys.MAPPING_FILE


def mapping_of(path: Path) -> dict[str, str]:
    """The original name -> pseudonymous file name part of ingest's private mapping file."""
    import json

    return dict(json.loads(Path(path).read_text(encoding="utf-8"))["videos"])
