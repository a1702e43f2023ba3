"""The eda views of the dataset itself: distributions, class counts, class sheets (the outliers
are :mod:`vidlab.stages.eda.outliers`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import Params
from vidlab.stages.eda import common, sheet
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
        ax.text(k, v, str(v), ha="center", va="bottom")
    ax.set(title=title, xlabel=xlabel, ylabel="videos")
    ax.margins(y=0.12)  # room for the count above the tallest bar
    ax.tick_params(axis="x", labelrotation=30 if len(names) > 3 else 0)


def distributions(videos: pd.DataFrame, out: Path) -> dict:
    """The container facts of every probed video; returns their summary numbers."""
    ok = videos[videos["status"] == "ok"]
    resolution = (ok["width"].astype(str) + "x" + ok["height"].astype(str)).value_counts()
    codecs = ok["codec"].fillna("none").value_counts()
    audio = {"with audio": int(ok["audio"].sum()), "without": int((~ok["audio"]).sum())}
    with common.style() as plt:
        fig, axes = plt.subplots(2, 3, figsize=(common.FIGURE_INCHES, 7.5))
        _draw_distributions(axes, ok, {"resolution": resolution.to_dict(),
                                       "video codec": codecs.to_dict(), "audio track": audio})
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


def _draw_distributions(axes, ok: pd.DataFrame, counts: dict[str, dict]) -> None:
    axes[0, 0].hist(ok["duration_s"], **_bins(ok["duration_s"]), color="#4c72b0")
    axes[0, 0].set(title="duration", xlabel="seconds", ylabel="videos")
    axes[0, 1].hist(ok["fps_avg"], **_bins(ok["fps_avg"]), color="#4c72b0")
    axes[0, 1].set(title="frame rate (decoded average)", xlabel="fps", ylabel="videos")
    _bars(axes[0, 2], counts["resolution"], "resolution", "width x height")
    rates = ok["bit_rate"].astype(float) / 1000
    axes[1, 0].hist(rates, **_bins(rates), color="#4c72b0")
    axes[1, 0].set(title="bit rate", xlabel="kbit/s", ylabel="videos")
    _bars(axes[1, 1], counts["video codec"], "video codec")
    _bars(axes[1, 2], counts["audio track"], "audio track")


def class_counts(table: pd.DataFrame, params: Params, out: Path) -> dict:
    target, classes = params.base.target, list(params.base.classes)
    overall = {c: int((table[target] == c).sum()) for c in classes}
    per_split = {s: {c: int(((table["split"] == s) & (table[target] == c)).sum())
                     for c in classes} for s in SPLIT_ORDER}
    with common.style() as plt:
        _draw_class_counts(plt, overall, per_split, target, out)
    return {"overall": overall, "per_split": per_split}


def _draw_class_counts(plt, overall: dict, per_split: dict, target: str, out: Path) -> None:
    classes = list(overall)
    fig, axes = plt.subplots(1, 2, figsize=(common.FIGURE_INCHES, 4.5))
    _bars(axes[0], overall, f"{target}: all splits")
    width = 0.8 / len(classes)
    for k, name in enumerate(classes):
        xs = np.arange(len(SPLIT_ORDER)) + (k - (len(classes) - 1) / 2) * width
        axes[1].bar(xs, [per_split[s][name] for s in SPLIT_ORDER], width, label=name)
    axes[1].set_xticks(range(len(SPLIT_ORDER)), SPLIT_ORDER)
    axes[1].set(title=f"{target} per split", ylabel="videos")
    axes[1].legend()
    fig.tight_layout()
    common.save(fig, out / "class_counts.png")


def class_sheets(table: pd.DataFrame, videos: pd.DataFrame, params: Params, out: Path) -> dict:
    """A contact sheet and a few GIFs per class of the target."""
    from PIL import Image

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
            sheet.contact_sheet(rows, out / "sheets" / f"{_slug(name)}.png",
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
            gifs.append({"file": f"gifs/{target_path.name}", "video_id": video,
                         "split": str(split_of[video]), "frames": len(frames),
                         "duration_s": round(duration, 2), "frame_ms": step_ms})
        shown[name] = {"sheet": f"sheets/{_slug(name)}.png" if rows else None,
                       "videos": picked, "gifs": gifs, "members": len(members),
                       "shown": len(rows), "frames": e.sheet_frames}
    return shown


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(text))
