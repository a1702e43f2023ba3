"""The eda views of the annotations (``data/interim/annotations.parquet``): per task present,
under ``annotations/``:

* ``<task>_stats.png``: segments per video and their length; boxes (masks) per annotated frame
  and their area; track lengths, ids and id switches per video; words per caption, captions per
  video, the most frequent words; each label's frequency (labelled tasks);
* ``<task>_sheet.png``: frames of the first :data:`SHOWN_VIDEOS` video ids with the task (sorted)
  with the annotations drawn: boxes and track ids in a colour per id (per label without one),
  tracks with a trail through their last :data:`TRAIL` frames, masks filled semi-transparently,
  segments as a timeline under the frame (the black mark: the frame shown);
* ``<task>.gif``: the first of them over time (with the active segment or the caption in force).

**Id switch** (tracks, MOT-style): between two consecutive annotated frames of a video, for each
id on the earlier frame, the box on the later frame that best overlaps that id's earlier box, if
that IoU is at least :data:`MATCH_IOU`, carries a different id (a tie with the id's own box is no
switch). Two ids swapped on one frame are two switches, one for each id.

Only the frames drawn are decoded (PyAV, upright as boxes and masks are given); only pseudonymous
ids name videos; fixed fonts and colours make the bytes reproducible.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from vidlab.annotations import rle
from vidlab.annotations.schema import TASKS
from vidlab.config import Params
from vidlab.stages.eda import common, sheet
from vidlab.stages.eda.overlay import Shown, draw

log = logging.getLogger(__name__)

SHOWN_VIDEOS = 3  # videos per task on the sheet (the first ids, sorted); the GIF shows the first
MATCH_IOU = 0.5  # an id's earlier box and a later box are the same object from this IoU up
TOP = 15  # bars at most on a label or word chart
NOUNS = {"segments": "segments", "boxes": "boxes", "tracks": "track boxes", "masks": "masks",
         "captions": "captions"}


# --- numbers -----------------------------------------------------------------------------------


def _describe(values) -> dict:
    v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna().astype(float)
    return {"count": int(len(v)), **{k: round(float(getattr(v, k)()), 3) for k in (
        "min", "median", "mean", "max") if len(v)}}


def _labels(rows: pd.DataFrame) -> dict[str, int]:
    counts = Counter(x for x in rows["label"] if x)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def iou(a, b) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes, x2/y2 exclusive."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def id_switches(rows: pd.DataFrame) -> list[dict]:
    """Every id switch (see the module's docstring), by video, frame and id."""
    found = []
    boxed = rows.dropna(subset=["track_id", "frame", "x1", "y1", "x2", "y2"])
    for video, group in boxed.groupby("video_id", sort=True):
        on = {int(f): [(int(r.track_id), (r.x1, r.y1, r.x2, r.y2)) for r in g.itertuples()]
              for f, g in group.groupby("frame", sort=True)}
        frames = sorted(on)
        for before, after in zip(frames, frames[1:], strict=False):
            for track, box in on[before]:
                scores = [(iou(box, other), tid) for tid, other in on[after]]
                best = max(score for score, _ in scores)
                winners = {tid for score, tid in scores if score == best}
                if best >= MATCH_IOU and track not in winners:
                    found.append({"video_id": str(video), "frame": after, "track_id": track,
                                  "became": min(winners)})
    return sorted(found, key=lambda s: (s["video_id"], s["frame"], s["track_id"]))


def _segments(rows: pd.DataFrame, task: str) -> tuple[dict, list]:
    per_video = rows.groupby("video_id").size()
    seconds = rows["t1"] - rows["t0"]
    frames = rows["frame_end"] - rows["frame"] + 1
    return ({"per_video": _describe(per_video), "length_s": _describe(seconds),
             "length_frames": _describe(frames)},
            [("hist", per_video, "Segments per video", "segments", "videos"),
             ("hist", seconds, "Segment length", "seconds", "segments")])


def _regions(rows: pd.DataFrame, task: str) -> tuple[dict, list]:
    noun = NOUNS[task]
    per_frame = rows.groupby(["video_id", "frame"]).size()
    if task == "masks":
        area = [rle.area(m) if m else np.nan for m in rows["mask"]]
    else:
        area = (rows["x2"] - rows["x1"]) * (rows["y2"] - rows["y1"])
    return ({"annotated_frames": len(per_frame), "per_frame": _describe(per_frame),
             "area_px": _describe(area)},
            [("hist", per_frame, f"{noun.capitalize()} per annotated frame", noun, "frames"),
             ("hist", area, "Area", "pixels", noun)])


def _tracks(rows: pd.DataFrame, task: str) -> tuple[dict, list]:
    ided = rows.dropna(subset=["track_id"])
    lengths = ided.groupby(["video_id", "track_id"])["frame"].nunique()
    ids = ided.groupby("video_id")["track_id"].nunique()
    switches = id_switches(ided)
    counts = Counter(s["video_id"] for s in switches)
    per_video = pd.Series([counts.get(v, 0) for v in ids.index], dtype=float)
    return ({"tracks": len(lengths), "without_id": int(rows["track_id"].isna().sum()),
             "length_frames": _describe(lengths), "ids_per_video": _describe(ids),
             "id_switches": len(switches), "id_switches_per_video": dict(sorted(counts.items())),
             "switches": switches[:50]},
            [("hist", lengths, "Track length", "frames", "tracks"),
             ("hist", ids, "Ids per video", "ids", "videos"),
             ("hist", per_video, "Id switches per video", "switches", "videos")])


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def _captions(rows: pd.DataFrame, task: str) -> tuple[dict, list]:
    texts = list(rows["text"])
    words = [len(t.split()) for t in texts]
    vocabulary = Counter(w for t in texts for w in _words(t))
    top = dict(sorted(vocabulary.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP])
    per_video = rows.groupby("video_id").size()
    return ({"per_video": _describe(per_video), "words": _describe(words),
             "vocabulary": len(vocabulary)},
            [("hist", words, "Words per caption", "words", "captions"),
             ("hist", per_video, "Captions per video", "captions", "videos"),
             ("bars", top, f"Most frequent words (of {len(vocabulary)})", "occurrences", "")])


def statistics(task: str, rows: pd.DataFrame) -> tuple[dict, list]:
    """The numbers of one task's rows and the panels that draw them."""
    numbers, panels = {"segments": _segments, "boxes": _regions, "tracks": _tracks,
                       "masks": _regions, "captions": _captions}[task](rows, task)
    labels = _labels(rows)
    if labels:
        panels.append(("bars", dict(list(labels.items())[:TOP]),
                       f"Labels ({len(labels)} in all)", NOUNS[task], ""))
    return {"rows": len(rows), "videos": int(rows["video_id"].nunique()), **numbers,
            "labels": labels}, panels


# --- the statistics figure ---------------------------------------------------------------------


def _hist(ax, values, title: str, xlabel: str, ylabel: str) -> None:
    v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna().astype(float)
    if v.empty:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    elif (v == v.round()).all() and v.nunique() <= 25:  # counts: one bar per value
        counts = v.astype(int).value_counts().sort_index()
        ax.bar(counts.index, counts.values, color="#4c72b0", width=0.8)
        ax.set_xticks(counts.index)
    else:
        low, high = float(v.min()), float(v.max())
        ax.hist(v, bins=20 if high > low else 1,
                range=(low, high) if high > low else (low - 0.5, high + 0.5), color="#4c72b0")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.yaxis.get_major_locator().set_params(integer=True)  # it counts things


def _bars(ax, counts: dict, title: str, xlabel: str, _: str) -> None:
    names = list(counts)[::-1]  # the most frequent on top
    ax.barh(names, [counts[n] for n in names], color="#4c72b0")
    ax.set(title=title, xlabel=xlabel)
    ax.xaxis.get_major_locator().set_params(integer=True)


def _stats_figure(task: str, panels: list, out: Path) -> None:
    with common.style() as plt:
        fig, axes = plt.subplots(1, len(panels), figsize=(common.FIGURE_INCHES, 4.0),
                                 squeeze=False)
        for ax, (kind, data, *text) in zip(axes[0], panels, strict=True):
            (_bars if kind == "bars" else _hist)(ax, data, *text)
        fig.suptitle(f"Annotations: {task}")
        fig.tight_layout()
        common.save(fig, out)


def _decode(video_id: str, path: str, task: str, rows: pd.DataFrame, counts: tuple[int, int]):
    """(frames picked for each count, {index: frame}, times), picked evenly over the annotated
    frames (every frame for segments and captions); only those are decoded."""
    from vidlab.media.decode import open_video

    try:
        reader = open_video(path, "pyav")
        try:
            times = np.asarray(reader.times, dtype=float)
            pool = list(range(len(times))) if task in ("segments", "captions") else sorted(
                {int(f) for f in rows["frame"].dropna() if 0 <= f < len(times)})  # annotated
            picks = [common.spread(pool, count) if count else [] for count in counts]
            wanted = sorted(set().union(*picks))
            got = reader.get_frames(wanted) if wanted else []
            return picks, dict(zip(wanted, got, strict=True)), times
        finally:
            reader.close()
    except Exception as exc:  # an undecodable video is shown without frames, as elsewhere
        log.warning("eda: cannot decode video %s for the %s views (%s)", video_id, task,
                    type(exc).__name__)
        return [[] for _ in counts], {}, np.zeros(0)


def _row_label(task: str, video_id: str, rows: pd.DataFrame) -> str:
    lines = [video_id, f"{NOUNS[task]}: {len(rows)}"]
    if task == "segments":
        lines += [f"{r.label}: {r.t0:.1f}-{r.t1:.1f} s" for r in rows.itertuples()][:6]
    elif task == "captions":
        lines += [f'"{t}"' for t in rows["text"]][:3]
    return "\n".join(lines)


def _write_gif(task: str, frames: dict, picked: list[int], video: Shown, path: Path) -> dict:
    scale = max(1, common.GIF_WIDTH // next(iter(frames.values())).shape[1])
    images = [Image.fromarray(draw(task, frames[i], i, video, scale)) for i in picked]
    span = float(video.times[picked[-1]] - video.times[picked[0]])
    step_ms = max(40, round(1000 * span / max(1, len(picked) - 1)))  # about real speed
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=step_ms, loop=0)
    return {"gif": f"annotations/{path.name}", "gif_frames": picked, "gif_frame_ms": step_ms}


def _overlays(task: str, rows: pd.DataFrame, videos: pd.DataFrame, params: Params,
              labels: tuple[str, ...], folder: Path) -> dict:
    paths = videos.drop_duplicates("video_id").set_index("video_id")["path"]
    sheet_rows, drawn, gif = [], [], {"gif": None}
    for video_id in sorted(set(rows["video_id"]) & set(paths.index))[:SHOWN_VIDEOS]:
        mine = rows[rows["video_id"] == video_id]
        counts = (params.eda.sheet_frames, 0 if gif["gif"] else params.eda.gif_frames)
        (on_sheet, in_gif), frames, times = _decode(video_id, str(paths[video_id]), task, mine,
                                                    counts)
        if not frames:
            continue
        video = Shown(mine, times, labels)
        drawn.append(video_id)
        scale = max(1, sheet.THUMB_HEIGHT // next(iter(frames.values())).shape[0])
        sheet_rows.append((_row_label(task, video_id, mine),
                           [draw(task, frames[i], i, video, scale, text=False)
                            for i in on_sheet]))
        if in_gif:
            gif = {**_write_gif(task, frames, in_gif, video, folder / f"{task}.gif"),
                   "gif_video": video_id}
    if sheet_rows:
        sheet.contact_sheet(sheet_rows, folder / f"{task}_sheet.png",
                            title=f"{task}: {len(sheet_rows)} of {rows['video_id'].nunique()} "
                            "annotated videos (the first ids in sorted order)")
    return {"sheet": f"annotations/{task}_sheet.png" if sheet_rows else None,
            "videos_shown": drawn, **gif}


def annotation_views(table: pd.DataFrame, videos: pd.DataFrame, params: Params,
                     out: Path) -> dict:
    """Draw every task's views under ``out/annotations`` and return their numbers.

    Args:
        table: the aligned annotations (:data:`vidlab.annotations.schema.ALIGNED_COLUMNS`).
        videos: usable manifest rows (``video_id``, ``path``): only these are drawn.
        params: the eda params (``eda.sheet_frames`` per sheet row, ``eda.gif_frames``).
        out: the eda folder.

    Returns:
        Per task present (in :data:`TASKS` order): its numbers (``rows``, ``videos``,
        ``labels`` and the task's own), ``figures`` (paths inside the eda folder) and
        ``videos_shown`` (pseudonymous ids).
    """
    folder = Path(out) / "annotations"
    folder.mkdir(parents=True, exist_ok=True)
    table = table.copy()
    for name in ("t0", "t1", "frame", "frame_end", "track_id", "x1", "y1", "x2", "y2"):
        table[name] = pd.to_numeric(table[name], errors="coerce").astype(float)
    for name in ("label", "text", "mask"):
        table[name] = table[name].fillna("").astype(str)
    result = {}
    for task in TASKS:
        rows = table[table["task"] == task]
        if rows.empty:
            continue
        numbers, panels = statistics(task, rows)
        _stats_figure(task, panels, folder / f"{task}_stats.png")
        labels = tuple(sorted(set(rows["label"]) - {""}))
        shown = _overlays(task, rows, videos, params, labels, folder)
        figures = {"stats": f"annotations/{task}_stats.png", "sheet": shown.pop("sheet"),
                   "gif": shown.pop("gif")}
        result[task] = {**numbers, "figures": figures, **shown}
    return result
