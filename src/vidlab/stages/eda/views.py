"""The eda views of the dataset itself: distributions, class counts, outliers, class sheets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import Params
from vidlab.contracts import Cluster
from vidlab.stages.eda import common
from vidlab.stages.eda.common import SPLIT_ORDER


def _bins(values: pd.Series, most: int = 20) -> dict:
    """Histogram bins that work on any data: one value or values a rounding error apart (every
    video at 15 fps) get one bin around them instead of numpy's "too many bins" error."""
    finite = pd.to_numeric(values, errors="coerce").dropna()
    finite = finite[np.isfinite(finite)]
    if finite.empty:
        return {"bins": 1, "range": (0.0, 1.0)}
    low, high = float(finite.min()), float(finite.max())
    if high - low <= 1e-6 * max(1.0, abs(high)):
        return {"bins": 1, "range": (low - 0.5, high + 0.5)}
    return {"bins": most, "range": (low, high)}


def _bars(ax, counts: dict, title: str, xlabel: str = "") -> None:
    names = [str(k) for k in counts]
    ax.bar(names, list(counts.values()), color="#4c72b0")
    for k, v in enumerate(counts.values()):
        ax.text(k, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel="videos")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)


def distributions(videos: pd.DataFrame, out: Path) -> dict:
    """The container facts of every probed video; returns their summary numbers."""
    plt = common.plt()
    ok = videos[videos["status"] == "ok"]
    resolution = (ok["width"].astype(str) + "x" + ok["height"].astype(str)).value_counts()
    codecs = ok["codec"].fillna("none").value_counts()
    audio = {"with audio": int(ok["audio"].sum()), "without": int((~ok["audio"]).sum())}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    axes[0, 0].hist(ok["duration_s"], **_bins(ok["duration_s"]), color="#4c72b0")
    axes[0, 0].set(title="duration", xlabel="seconds", ylabel="videos")
    axes[0, 1].hist(ok["fps_avg"], **_bins(ok["fps_avg"]), color="#4c72b0")
    axes[0, 1].set(title="frame rate (decoded average)", xlabel="fps", ylabel="videos")
    _bars(axes[0, 2], resolution.to_dict(), "resolution", "width x height")
    rates = ok["bit_rate"].astype(float) / 1000
    axes[1, 0].hist(rates, **_bins(rates), color="#4c72b0")
    axes[1, 0].set(title="bit rate", xlabel="kbit/s", ylabel="videos")
    _bars(axes[1, 1], codecs.to_dict(), "video codec")
    _bars(axes[1, 2], audio, "audio track")
    fig.suptitle(f"{len(ok)} decodable videos of {len(videos)} probed")
    fig.tight_layout()
    common.save(fig, out / "distributions.png")

    def stats(column: str) -> dict:
        values = ok[column].astype(float)
        return {"min": round(float(values.min()), 3), "median": round(float(values.median()), 3),
                "max": round(float(values.max()), 3)} if len(values) else {}

    return {"videos": len(videos), "decodable": len(ok), "duration_s": stats("duration_s"),
            "fps": stats("fps_avg"), "bit_rate": stats("bit_rate"),
            "resolutions": {str(k): int(v) for k, v in resolution.items()},
            "codecs": {str(k): int(v) for k, v in codecs.items()}, "audio": audio}


def class_counts(table: pd.DataFrame, params: Params, out: Path) -> dict:
    plt = common.plt()
    target, classes = params.base.target, list(params.base.classes)
    overall = {c: int((table[target] == c).sum()) for c in classes}
    per_split = {s: {c: int(((table["split"] == s) & (table[target] == c)).sum())
                     for c in classes} for s in SPLIT_ORDER}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _bars(axes[0], overall, f"{target}: all splits")
    width = 0.8 / len(classes)
    for k, name in enumerate(classes):
        xs = np.arange(len(SPLIT_ORDER)) + (k - (len(classes) - 1) / 2) * width
        axes[1].bar(xs, [per_split[s][name] for s in SPLIT_ORDER], width, label=name)
    axes[1].set_xticks(range(len(SPLIT_ORDER)), SPLIT_ORDER)
    axes[1].set(title=f"{target} per split", ylabel="videos")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    common.save(fig, out / "class_counts.png")
    return {"overall": overall, "per_split": per_split}


def outliers(videos: pd.DataFrame, flagged: pd.DataFrame, clusters: list[Cluster], params: Params,
             out: Path) -> dict:
    """The outlier gallery; returns each category's video ids and reasons."""
    from vidlab.media.sheets import contact_sheet

    e = params.eda
    ok = videos[videos["status"] == "ok"].sort_values(["duration_s", "video_id"])
    median_fps = float(ok["fps_avg"].median()) if len(ok) else 0.0
    found: dict[str, list[dict]] = {"shortest": [], "longest": [], "odd_fps": [], "flagged": []}

    def entry(row, reason: str) -> dict:
        return {"video_id": row.video_id, "reason": reason,
                "duration_s": None if pd.isna(row.duration_s) else round(float(row.duration_s), 2),
                "fps": None if pd.isna(row.fps_avg) else round(float(row.fps_avg), 2)}

    for row in ok.head(e.outliers).itertuples():
        found["shortest"].append(entry(row, "among the shortest"))
    for row in ok.tail(e.outliers).iloc[::-1].itertuples():
        found["longest"].append(entry(row, "among the longest"))
    for row in videos.sort_values("video_id").itertuples():
        fps = float(row.fps_avg) if not pd.isna(row.fps_avg) else None
        off = fps is not None and median_fps and abs(fps - median_fps) / median_fps > \
            e.odd_fps_tolerance
        if off or bool(row.vfr):
            why = [f"{fps:.2f} fps vs median {median_fps:.2f}"] if off else []
            found["odd_fps"].append(entry(row, ", ".join(why + (["variable frame rate"]
                                                                 if row.vfr else []))))
    reasons: dict[str, list[str]] = {}
    for row in videos.itertuples():
        if row.status != "ok":
            reasons.setdefault(row.video_id, []).append(f"probe status {row.status}")
        for warning in filter(None, str(row.warnings).split(",")):
            reasons.setdefault(row.video_id, []).append(f"probe: {warning}")
    for cluster in clusters:
        for video in cluster.video_ids:
            reasons.setdefault(video, []).append(f"{cluster.kind}-duplicate {cluster.id}")
    for row in flagged.itertuples():
        if row.stage != "ingest" and row.video_id:
            reasons.setdefault(row.video_id, []).append(f"quarantined: {row.reason}")
    for row in videos[videos["video_id"].isin(reasons)].sort_values("video_id").itertuples():
        found["flagged"].append(entry(row, "; ".join(reasons[row.video_id])))
    paths = videos.set_index("video_id")["path"]
    rows = []
    for category, entries in found.items():
        for item in entries:
            frames = common.frames(paths[item["video_id"]], count=3)
            label = (f"{category}: {item['video_id']}\n{item['duration_s']} s, "
                     f"{item['fps']} fps\n{item['reason'][:36]}")
            rows.append((label, frames or [np.full((72, 96, 3), 200, np.uint8)]))
    if rows:
        contact_sheet(rows, out / "outliers.png",
                      title="Outliers: first, middle and last frame (grey: not decodable)")
    ingest_only = flagged[flagged["stage"] == "ingest"]["reason"].value_counts()
    return found | {"quarantined_at_ingest": {str(k): int(v) for k, v in ingest_only.items()},
                    "median_fps": round(median_fps, 3)}


def class_sheets(table: pd.DataFrame, videos: pd.DataFrame, params: Params, out: Path) -> dict:
    """A contact sheet and a few GIFs per class of the target."""
    from PIL import Image

    from vidlab.media.sheets import contact_sheet

    e, target = params.eda, params.base.target
    info = videos.set_index("video_id")
    split_of = table.set_index("video_id")["split"]
    shown: dict[str, dict] = {}
    for name in params.base.classes:
        members = sorted(table.loc[table[target] == name, "video_id"])
        if not members:
            continue
        picked = common.spread(members, e.sheet_videos)
        rows = [(f"{v}\n{split_of[v]}", common.frames(info.loc[v, "path"], count=e.sheet_frames))
                for v in picked]
        rows = [(label, frames) for label, frames in rows if frames]
        if rows:
            contact_sheet(rows, out / "sheets" / f"{_slug(name)}.png",
                          title=f"{target} = {name}: {len(rows)} of {len(members)} videos")
        gifs = []
        for k, video in enumerate(common.spread(members, e.gifs_per_class)
                                  if e.gifs_per_class else []):
            frames = common.frames(info.loc[video, "path"], count=e.gif_frames)
            if not frames:
                continue
            duration = float(info.loc[video, "duration_s"])
            step_ms = max(20, round(1000 * duration / max(1, len(frames))))
            images = [Image.fromarray(f) for f in frames]
            target_path = out / "gifs" / f"{_slug(name)}_{k + 1}.gif"
            target_path.parent.mkdir(parents=True, exist_ok=True)
            images[0].save(target_path, format="GIF", save_all=True, append_images=images[1:],
                           duration=step_ms, loop=0)
            gifs.append({"file": f"gifs/{target_path.name}", "video_id": video})
        shown[name] = {"sheet": f"sheets/{_slug(name)}.png" if rows else None,
                       "videos": picked, "gifs": gifs}
    return shown


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(text))
