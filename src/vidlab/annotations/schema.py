"""The annotation tables: what a format reader gives (raw) and what later stages read (aligned).

A reader turns one file into **raw records**, one per annotated element (a segment, a box on one
frame, a mask on one frame, a caption), named and placed exactly as the file says: the video name
as written (an original file name: private, it never leaves the annotations stage), times in
seconds or frame indices (0-based; a 1-based format is shifted by its reader), coordinates in
pixels of the frame the file describes, or normalised to [0, 1] where the format says so (AVA).

The annotations stage resolves every raw record against the manifest (:mod:`.align`) into the
**aligned table** ``data/interim/annotations.parquet``: pseudonymous ``video_id``, the decoded frame
each element lies on, pixel boxes in the displayed (upright) frame, masks as COCO run-length
strings of the displayed frame. Rows that cannot be resolved or fail the QA are quarantined with a
reason, never shifted silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import pandas as pd

from vidlab.core.errors import DataError

TASKS = ("segments", "boxes", "tracks", "masks", "captions")

# format name -> the task its files annotate
FORMATS = {
    "activitynet": "segments",   # ActivityNet JSON: database/video/annotations[segment, label]
    "ava": "boxes",              # AVA CSV: video_id, timestamp, x1, y1, x2, y2, action_id[, person]
    "mot": "tracks",             # MOTChallenge text: frame, id, left, top, width, height, conf, ...
    "cvat": "tracks",            # CVAT for video 1.1 XML: <track><box frame keyframe outside ...>
    "youtube_vis": "masks",      # YouTube-VIS JSON: videos, annotations[segmentations per frame]
    "davis": "masks",            # DAVIS folders: <video>/<frame>.png, palette index = object id
    "msrvtt": "captions",        # MSR-VTT JSON: sentences[video_id, caption]
    "activitynet_captions": "captions",  # ActivityNet Captions: video: timestamps, sentences
}


@dataclass
class RawRecord:
    """One annotated element as its file gives it. Unused fields stay at their defaults."""

    video: str                     # the video's name in the file (private: an original name)
    task: str                      # one of TASKS
    source: str                    # one of FORMATS
    where: str                     # position in the file ("line 12"), for reasons
    label: str = ""                # class name as written ("" where the task has none)
    t0: float | None = None        # seconds from the start of the video (segments, AVA, captions)
    t1: float | None = None        # segment end, seconds
    frame: int | None = None       # 0-based frame index as the file counts frames
    fps: float | None = None       # the frame rate the file assumed, where it says so
    track_id: int | None = None    # track / person / instance / object id
    x1: float | None = None        # box, left; pixels, or [0, 1] when normalized
    y1: float | None = None
    x2: float | None = None        # right edge (exclusive), as x1 + width
    y2: float | None = None
    normalized: bool = False       # box coordinates are fractions of the frame's width/height
    mask: str | None = None        # COCO compressed RLE counts (column-major), see .rle
    mask_height: int | None = None
    mask_width: int | None = None
    text: str = ""                 # caption
    occluded: bool = False
    outside: bool = False          # CVAT: the object left the frame from here on
    keyframe: bool = True          # CVAT: drawn by the annotator (False: interpolated)
    score: float | None = None     # predictions only (confidence)
    width: int | None = None       # frame size the file declares, where it does
    height: int | None = None


RAW_COLUMNS = tuple(f.name for f in fields(RawRecord))


@dataclass(frozen=True)
class VideoInfo:
    """What a writer needs to know of a video beside its records (MOTChallenge's seqinfo.ini,
    ActivityNet's duration and resolution, YouTube-VIS's length), in the displayed frame."""

    width: int
    height: int
    fps: float
    frames: int
    duration_s: float

# The aligned table, data/interim/annotations.parquet, in this column order.
ALIGNED_COLUMNS = (
    "video_id",      # pseudonym (the manifest's)
    "task",          # one of TASKS
    "source",        # the format it was read from
    "where",         # position in the source file (never its name)
    "label",         # class after the ontology map ("" where the task has none)
    "t0", "t1",      # seconds (segments, captions with times; AVA's timestamp in t0)
    "frame",         # decoded frame index (0-based) the element lies on; segments: first frame
    "frame_end",     # segments: last frame on screen before t1 (inclusive); else = frame
    "track_id",      # int or <NA>
    "x1", "y1", "x2", "y2",  # pixels of the displayed (upright) frame, x2/y2 exclusive
    "mask",          # COCO RLE counts of the displayed frame's mask, or ""
    "text",          # caption, or ""
    "occluded",      # bool
    "score",         # predictions only
)


class FormatError(DataError):
    """An annotation file that its format's own tools would refuse (the message says where)."""


def raw_frame(records: list[RawRecord]) -> pd.DataFrame:
    """Raw records as a DataFrame with exactly :data:`RAW_COLUMNS` (nullable dtypes)."""
    frame = pd.DataFrame([asdict(r) for r in records], columns=list(RAW_COLUMNS))
    for name in ("frame", "track_id", "mask_height", "mask_width", "width", "height"):
        frame[name] = frame[name].astype("Int64")
    for name in ("t0", "t1", "fps", "x1", "y1", "x2", "y2", "score"):
        frame[name] = frame[name].astype("Float64")
    return frame
