"""The demo's annotations, made from the truth of its rendered figure, and their planted faults.

Every task's records come from :class:`~vidlab.synth.scene.Truth` (where the figure is in every
frame), so they are exactly right except for the faults planted on purpose:

* segments (``activitynet``): maximal runs of frames with the figure's centre in the left half
  ("Left half") or right half ("Right half") of the frame; ``t0`` is the run's first frame's
  time, ``t1`` the time just after its last frame. Static figures give one, moving ones several;
* boxes (``ava``): the normalised box at t = 0.5, 1.5, ... s (the frame on screen at t is
  ``floor(t * fps)``), action "1" (crawl) for achieved, "2" (sit) for not achieved, person 1;
* tracks (``mot``, ``cvat``): the box in every frame, track 1, label "child" (MOTChallenge's
  class is an integer: "1"); CVAT marks every 5th frame a keyframe, the rest interpolated, as
  CVAT exports them;
* masks (``youtube_vis``, ``davis``): the mask in every frame, object 1 ("child"; DAVIS: no label);
* captions (``msrvtt``, ``activitynet_captions``): templated sentences from the truth.

Videos are named as a user's export would name them: the original file name, or its stem where
the format names videos without an extension (:data:`STEM_FORMATS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

import numpy as np

from vidlab.annotations import rle
from vidlab.annotations.schema import FORMATS, RawRecord, VideoInfo
from vidlab.synth.scene import Truth

STEM_FORMATS = frozenset({"mot", "davis", "youtube_vis", "msrvtt", "activitynet",
                          "activitynet_captions"})
LABEL = "child"
MOT_CLASS = {LABEL: "1", "adult": "2"}  # MOTChallenge writes classes as integers
ACTION = {True: "1", False: "2"}  # AVA action id: 1 crawl (achieved), 2 sit (not achieved)
KEYFRAME_EVERY = 5
# nearest-colour names for the caption (the children's colours are pastel: s 0.55, v 0.95)
PALETTE = {
    "red": (242, 109, 109), "orange": (242, 170, 109), "yellow": (242, 232, 109),
    "green": (124, 222, 109), "teal": (109, 222, 205), "blue": (109, 150, 242),
    "purple": (170, 109, 242), "pink": (242, 109, 200), "grey": (150, 150, 150),
}
NOT_IN_DATASET = "video_not_in_dataset"


@dataclass(frozen=True)
class Subject:
    """What the captions and labels need to know of a recording beside its truth."""

    filename: str
    achieved: bool
    domain: str
    rgb: tuple[int, int, int]


@dataclass
class Bundle:
    """One format's records over all annotated videos and the VideoInfo its writer needs."""

    records: list[RawRecord]
    videos: dict[str, VideoInfo]


def video_name(fmt: str, filename: str) -> str:
    """How format ``fmt`` names the video stored in ``filename``."""
    return PurePosixPath(filename).stem if fmt in STEM_FORMATS else filename


def video_info(truth: Truth) -> VideoInfo:
    """Size, frame rate, frame count and duration of a rendered clip."""
    n = truth.n_frames
    return VideoInfo(truth.width, truth.height, float(truth.fps), n, n / truth.fps)


def segments(truth: Truth) -> list[tuple[int, int, str]]:
    """(first frame, frame after the last, label) of each run in the left or right half."""
    left = truth.centre_x < truth.width / 2
    starts = [0, *(np.flatnonzero(left[1:] != left[:-1]) + 1).tolist()]
    ends = [*starts[1:], truth.n_frames]
    return [(a, b, "Left half" if left[a] else "Right half") for a, b in zip(starts, ends,
                                                                             strict=True)]


def colour_name(rgb: Iterable[int]) -> str:
    """The :data:`PALETTE` name nearest to ``rgb``."""
    target = np.array(list(rgb), dtype=float)
    return min(PALETTE, key=lambda k: float(np.sum((np.array(PALETTE[k]) - target) ** 2)))


def annotate(truth: Truth, subject: Subject, tasks: Iterable[str]) -> dict[str, list[RawRecord]]:
    """The records of every format of ``tasks`` for one video, by format."""
    tasks = set(tasks)
    out: dict[str, list[RawRecord]] = {}
    for fmt, task in FORMATS.items():
        if task in tasks:
            name = video_name(fmt, subject.filename)
            out[fmt] = [RawRecord(video=name, task=task, source=fmt, where=f"truth[{i}]", **kw)
                        for i, kw in enumerate(_fields(fmt, truth, subject))]
    return out


def _fields(fmt: str, truth: Truth, subject: Subject) -> list[dict]:
    fps, width, height = truth.fps, truth.width, truth.height
    runs = segments(truth)
    if fmt == "activitynet":
        return [dict(label=label, t0=a / fps, t1=b / fps) for a, b, label in runs]
    if fmt == "activitynet_captions":
        return [dict(t0=a / fps, t1=b / fps,
                     text=f"the child is in the {label.lower()} of the room")
                for a, b, label in runs]
    if fmt == "msrvtt":
        colour, room = colour_name(subject.rgb), f"a {subject.domain} room"
        verb = "crawls across" if subject.achieved else "sits still in"
        doing = "is crawling" if subject.achieved else "is sitting still"
        return [dict(text=f"a child in a {colour} shirt {verb} {room}"),
                dict(text=f"a child wearing {colour} {doing}")]
    if fmt == "ava":
        times = [k + 0.5 for k in range(math.ceil(truth.n_frames / fps - 0.5))]
        boxes = [truth.boxes[math.floor(t * fps)] for t in times]
        return [dict(t0=t, label=ACTION[subject.achieved], track_id=1, normalized=True,
                     x1=int(b[0]) / width, y1=int(b[1]) / height, x2=int(b[2]) / width,
                     y2=int(b[3]) / height) for t, b in zip(times, boxes, strict=True)]
    frames = range(truth.n_frames)
    if fmt in ("mot", "cvat"):
        extra = (dict(fps=float(fps), width=width, height=height) if fmt == "mot" else
                 dict(width=width, height=height))
        label = MOT_CLASS[LABEL] if fmt == "mot" else LABEL
        return [dict(frame=f, track_id=1, label=label, **_box(truth, f), **extra,
                     **({} if fmt == "mot" else dict(keyframe=f % KEYFRAME_EVERY == 0)))
                for f in frames]
    label = LABEL if fmt == "youtube_vis" else ""
    return [dict(frame=f, track_id=1, label=label, mask=rle.encode(truth.masks[f]),
                 mask_height=height, mask_width=width) for f in frames]


def _box(truth: Truth, frame: int) -> dict[str, float]:
    x1, y1, x2, y2 = (int(v) for v in truth.boxes[frame])
    return dict(x1=x1, y1=y1, x2=x2, y2=y2)


def bundles(per_video: list[tuple[str, VideoInfo, dict[str, list[RawRecord]]]]
            ) -> dict[str, Bundle]:
    """Each format's records of all videos, in the order given (filename, info, records)."""
    out: dict[str, Bundle] = {}
    for filename, info, by_format in per_video:
        for fmt, records in by_format.items():
            bundle = out.setdefault(fmt, Bundle([], {}))
            bundle.records.extend(records)
            bundle.videos[video_name(fmt, filename)] = info
    return out


# --- planted faults -------------------------------------------------------------------------

# A planter gets the format's bundle, the video's name in it, its records there and its info;
# it changes the bundle and returns (note, changed records, related records), or returns None
# (changing nothing) when the video does not suit the fault.
Planted = tuple[str, list[RawRecord], list[RawRecord]]
Planter = Callable[[Bundle, str, list[RawRecord], VideoInfo], "Planted | None"]


def _insert_after(bundle: Bundle, last: RawRecord, new: RawRecord) -> RawRecord:
    bundle.records.insert(next(i for i, r in enumerate(bundle.records) if r is last) + 1, new)
    return new


def _outside_video(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    recs[-1].t1 = info.duration_s + 2.0
    return "the last segment ends 2 s after the video's end", [recs[-1]], []


def _empty_segment(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    t = (info.frames // 2) / info.fps
    host = next(r for r in recs if r.t0 is not None and r.t0 <= t < (r.t1 or 0))
    new = _insert_after(b, recs[-1], replace(host, t0=t, t1=t, where="planted"))
    return "an extra segment with t1 == t0 (the middle frame's time)", [new], []


def _overlap(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted | None:
    # the neighbour lasts at least 0.5 s: the moved end stays inside it (and the video)
    for first, second in zip(recs, recs[1:], strict=False):
        if (second.t1 or 0.0) - (second.t0 or 0.0) >= 0.5:
            first.t1 = (first.t1 or 0.0) + 0.5
            return ("a segment's end moved 0.5 s into the next segment", [first], [second])
    return None


def _unknown_class(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    recs[0].label = "Jumping"
    return "the first segment is labelled 'Jumping' (not a class of the task)", [recs[0]], []


def _box_outside(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    recs[0].x2 = 1.4
    return "the first box has x2 = 1.4 (normalised: beyond the right edge)", [recs[0]], []


def _empty_box(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    recs[0].x2 = recs[0].x1
    return "the first box has x1 == x2 (zero width)", [recs[0]], []


def _jump(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted | None:
    half = info.width // 2
    for k in range(len(recs) // 2, len(recs) - 1):
        rec = recs[k]
        shift = half if (rec.x2 or 0) + half <= info.width else -half
        if (rec.x1 or 0) + shift >= 0 and (rec.x2 or 0) + shift <= info.width:
            rec.x1, rec.x2 = (rec.x1 or 0) + shift, (rec.x2 or 0) + shift
            return (f"frame {rec.frame}'s box moved {shift:+d} px (half the frame width); the "
                    "next frame is back in place", [rec], [recs[k + 1]])
    return None


def _duplicate_id(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    rec = recs[len(recs) // 2]
    shift = 2 if (rec.x2 or 0) + 2 <= info.width else -2
    new = _insert_after(b, rec, replace(rec, x1=(rec.x1 or 0) + shift, x2=(rec.x2 or 0) + shift,
                                        where="planted"))
    return (f"a second box with track id 1 on frame {rec.frame} ({shift:+d} px beside the "
            "first)", [new], [rec])


def _frame_out_of_range(b: Bundle, name: str, recs: list[RawRecord],
                        info: VideoInfo) -> Planted:
    new = _insert_after(b, recs[-1], replace(recs[-1], frame=info.frames - 1 + 10,
                                             where="planted"))
    return f"a row at frame {new.frame}, 10 beyond the last ({info.frames - 1})", [new], []


def _fps_mismatch(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    b.videos[name] = replace(info, fps=2 * info.fps)
    for rec in recs:
        rec.fps = 2 * info.fps
    return (f"seqinfo.ini frameRate is {2 * info.fps:g}, the video's is {info.fps:g}: every "
            "row of the sequence is suspect", [], [])


def _label_changes(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    rec = recs[len(recs) // 2]
    rec.label = MOT_CLASS["adult"]
    return (f"frame {rec.frame}'s row has class {rec.label}, the rest of track 1 class "
            f"{MOT_CLASS[LABEL]}", [rec], [])


def _mask_size(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
    rec = recs[len(recs) // 2]
    h, w = info.height - 2, info.width - 2
    mask = rle.decode(rec.mask or "", info.height, info.width)[:h, :w]
    rec.mask, rec.mask_height, rec.mask_width = rle.encode(mask), h, w
    return f"frame {rec.frame}'s mask is {w}x{h}, 2 px smaller than the frame", [rec], []


def _caption(text: str, note: str) -> Planter:
    def plant(b: Bundle, name: str, recs: list[RawRecord], info: VideoInfo) -> Planted:
        return note, [_insert_after(b, recs[-1], replace(recs[-1], text=text, where="planted"))], []

    return plant


# (reason, format, planter); the ones that need a suitable video come first
FAULTS: tuple[tuple[str, str, Planter], ...] = (
    ("overlapping_segments", "activitynet", _overlap),
    ("track_jump", "mot", _jump),
    ("segment_outside_video", "activitynet", _outside_video),
    ("empty_segment", "activitynet", _empty_segment),
    ("unknown_class", "activitynet", _unknown_class),
    ("box_outside_frame", "ava", _box_outside),
    ("empty_box", "ava", _empty_box),
    ("duplicate_track_id", "mot", _duplicate_id),
    ("frame_out_of_range", "mot", _frame_out_of_range),
    ("fps_mismatch", "mot", _fps_mismatch),
    ("track_label_changes", "mot", _label_changes),
    ("mask_size_mismatch", "youtube_vis", _mask_size),
    ("empty_caption", "msrvtt", _caption("", "an extra caption that is empty")),
    ("caption_language", "msrvtt", _caption("ein Kind sitzt still in einem Zimmer",
                                            "an extra caption in German")),
)
RECORD_KEYS = ("label", "t0", "t1", "frame", "track_id", "x1", "y1", "x2", "y2", "text",
               "mask_height", "mask_width")


def _locate(rec: RawRecord) -> dict:
    """The fields that identify a record as a reader gives it back (unset fields left out;
    YouTube-VIS numbers its annotations across the file, so its track id is left out too)."""
    found = {k: getattr(rec, k) for k in RECORD_KEYS if getattr(rec, k) not in (None, "")}
    if rec.source == "youtube_vis":
        found.pop("track_id", None)
    return found | ({"text": rec.text} if rec.source == "msrvtt" else {})


def plant_faults(found: dict[str, Bundle], filenames: list[str]) -> list[dict]:
    """Plant one annotation fault of each kind whose format is in ``found``, changing it.

    Each fault goes to the first video (in ``filenames`` order) that suits it and carries no
    other planted fault; videos are reused only when there are too few, and never twice in one
    format. Returns the answer key entries (see the demo stage's faults.json).
    """
    key: list[dict] = []
    used: dict[str, set[str]] = {}  # filename -> formats with a fault there
    for reason, fmt, planter in FAULTS:
        if fmt not in found:
            continue
        order = sorted(filenames, key=lambda f: len(used.get(f, ())) > 0)
        for filename in (f for f in order if fmt not in used.get(f, set())):
            bundle, name = found[fmt], video_name(fmt, filename)
            recs = [r for r in bundle.records if r.video == name]
            planted = planter(bundle, name, recs, bundle.videos[name]) if recs else None
            if planted is not None:
                used.setdefault(filename, set()).add(fmt)
                key.append(_entry(fmt, reason, filename, planted))
                break
    if "msrvtt" in found and found["msrvtt"].videos:
        bundle = found["msrvtt"]
        info = next(iter(bundle.videos.values()))
        bundle.videos[NOT_IN_DATASET] = info  # the file lists it, as exports of other sets do
        new = RawRecord(video=NOT_IN_DATASET, task="captions", source="msrvtt", where="planted",
                        text="a child plays with blocks in a room")
        bundle.records.append(new)
        key.append(_entry("msrvtt", "unknown_video", NOT_IN_DATASET,
                          ("a caption of a video that is not in the dataset", [new], [])))
    return key


def _entry(fmt: str, reason: str, filename: str, planted: Planted) -> dict:
    note, changed, related = planted
    return {"task": FORMATS[fmt], "format": fmt, "video": filename,
            "name_in_file": video_name(fmt, filename), "reason": reason, "note": note,
            "scope": "video" if reason == "fps_mismatch" else "records",
            "records": [_locate(r) for r in changed], "related": [_locate(r) for r in related]}
