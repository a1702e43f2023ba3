"""The eda quality views: how usable the pictures are, from the probe's quality measures.

* ``quality.png``: a histogram per measure over the decodable videos, the warning threshold
  drawn on it and the count past it in the panel's title;
* ``quality_outliers.png``: every video past a threshold (at most ``eda.outliers`` per
  measure, the furthest first) with its first, middle and last frame and each reason, e.g.
  ``sharpness 2.3 < 20``;
* ``quality_series.png``: the per-frame series of those videos from the probe's side table
  (``data/interim/quality.parquet``): brightness over time (flicker shows as a saw), the
  sampled frames' sharpness, and where timestamps jump (dropped frames).

Past a threshold means what the manifest suite's warnings mean
(:func:`vidlab.media.thresholds.judged`), so the page, the validation summary and the dataset card
name the same videos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.media import thresholds as thresholds_mod
from vidlab.stages.eda import common, sheet

# measure -> (its name on the page, unit, how a value is written)
NAMES = {
    "sharpness": ("sharpness", "Laplacian variance", "{:.1f}"),
    "noise": ("noise", "grey levels", "{:.2f}"),
    "blockiness": ("blockiness", "ratio", "{:.2f}"),
    "dark_share": ("clipped black", "share", "{:.1%}"),
    "bright_share": ("clipped white", "share", "{:.1%}"),
    "flicker": ("flicker", "share of mean", "{:.1%}"),
    "dropped_frames": ("dropped frames", "frames", "{:.0f}"),
    "fps_changes": ("frame-rate changes", "changes", "{:.0f}"),
    "av_start_offset_s": ("audio start offset", "s", "{:+.3f}"),
    "av_duration_offset_s": ("audio length offset", "s", "{:+.3f}"),
    "interlaced_share": ("interlaced frames", "share", "{:.0%}"),
    "combing": ("combing", "share", "{:.2%}"),
}
SIGN = {"below": "< ", "above": "> ", "apart": "beyond ±"}


def quality_views(videos: pd.DataFrame, thresholds: dict[str, float], series: Path | None,
                  most: int, out: Path) -> dict:
    """Draw the three figures into ``out``; returns the numbers behind them."""
    ok = videos[videos["status"] == "ok"]
    judged = thresholds_mod.judged(videos, thresholds)
    measures = {}
    for measure, j in judged.items():
        values = pd.to_numeric(ok.get(measure, pd.Series(dtype=float)), errors="coerce").dropna()
        measures[measure] = {
            "name": NAMES[measure][0], "threshold": j["threshold"], "side": j["side"],
            "measured": j["measured"], "past": len(j["videos"]),
            "share": round(len(j["videos"]) / j["measured"], 4) if j["measured"] else None,
            **({k: round(float(np.quantile(values, q)), 6)
                for k, q in (("p05", 0.05), ("median", 0.5), ("p95", 0.95))}
               if len(values) else {"p05": None, "median": None, "p95": None}),
        }
    reasons = _reasons(ok, judged, most)
    flagged = [{"video_id": video, "reasons": why} for video, why in reasons.items()]
    if not any(m["measured"] for m in measures.values()):
        return {"measured": 0, "measures": measures, "flagged": []}
    _histograms(ok, measures, out / "quality.png")
    paths = ok.set_index("video_id")["path"]
    grey = np.full((72, 96, 3), 200, np.uint8)
    rows = [("\n".join([video, *why]), common.frames(paths[video], count=3) or [grey])
            for video, why in reasons.items()]
    sheet.contact_sheet(rows or [("No decodable video is past a quality threshold.", [])],
                        out / "quality_outliers.png",
                        title="Past a quality threshold: first, middle and last frame")
    # the series show flicker, dropped frames, rate changes and blur over time: those first
    timed = ("flicker", "dropped frames", "frame-rate changes", "sharpness")
    order = sorted(reasons, key=lambda v: not any(r.startswith(timed) for r in reasons[v]))
    _series(series, order[:most], out / "quality_series.png")
    return {"measured": int(len(ok)), "measures": measures, "flagged": flagged}


def _reasons(ok: pd.DataFrame, judged: dict, most: int) -> dict[str, list[str]]:
    """Video -> why it is past each threshold, at most ``most`` videos per measure (the furthest
    past first)."""
    values = ok.set_index("video_id")
    why: dict[str, list[str]] = {}
    for measure, j in judged.items():
        column = pd.to_numeric(values.loc[j["videos"], measure], errors="coerce") if j[
            "videos"] else pd.Series(dtype=float)
        distance = (column - j["threshold"]).abs() if j["side"] != "apart" else (
            column.abs() - j["threshold"])
        for video in distance.sort_values(ascending=False, kind="stable").index[:most]:
            shown = NAMES[measure][2].format(float(values.loc[video, measure]))
            limit = NAMES[measure][2].format(j["threshold"]).lstrip("+")
            why.setdefault(str(video), []).append(
                f"{NAMES[measure][0]} {shown} {SIGN[j['side']]}{limit}")
    return dict(sorted(why.items()))


def _histograms(ok: pd.DataFrame, measures: dict, path: Path) -> None:
    with common.style() as plt:
        fig, axes = plt.subplots(3, 4, figsize=(common.FIGURE_INCHES, 9))
        for ax, (measure, m) in zip(axes.ravel(), measures.items(), strict=True):
            values = pd.to_numeric(ok[measure], errors="coerce").dropna().astype(float)
            name, unit, _ = NAMES[measure]
            if m["side"] == "apart":
                values = values.abs()
            if len(values):
                ax.hist(values, bins=min(30, max(5, values.nunique())), color="#4c72b0")
            ax.axvline(m["threshold"], color="#c44e52", linestyle="--")
            ax.set(title=f"{name}: {m['past']} of {m['measured']} past",
                   xlabel=f"|{unit}|" if m["side"] == "apart" else unit, ylabel="videos")
        fig.suptitle("Quality measures of the decodable videos; dashed: the warning threshold")
        fig.tight_layout()
        common.save(fig, path)


def _series(series: Path | None, videos: list[str], path: Path) -> None:
    """Brightness and sampled sharpness over time for ``videos``; gaps marked."""
    table = pd.read_parquet(series) if series is not None and Path(series).is_file() else None
    with common.style() as plt:
        shown = [v for v in videos if table is not None and (table["video_id"] == v).any()]
        fig, axes = plt.subplots(max(1, len(shown)), 1, squeeze=False,
                                 figsize=(common.FIGURE_INCHES, 1.8 + 1.6 * max(1, len(shown))))
        if not shown:
            axes[0, 0].text(0.5, 0.5, "No video past a threshold has a per-frame series.",
                            ha="center", va="center")
            axes[0, 0].set_axis_off()
        for ax, video in zip(axes[:, 0], shown, strict=False):
            rows = table[table["video_id"] == video]
            t = rows["t"].to_numpy()
            x = t if np.isfinite(t).all() else rows["frame"].to_numpy()
            ax.plot(x, rows["brightness"], color="#4c72b0", label="brightness")
            sampled = rows["sharpness"].notna()
            twin = ax.twinx()
            twin.plot(x[sampled], rows.loc[sampled, "sharpness"], "o", color="#dd8452",
                      label="sharpness (sampled)")
            for gap in x[rows["missing_before"].to_numpy() > 0]:
                ax.axvline(gap, color="#c44e52", linestyle=":")
            ax.set(title=video, xlabel="seconds" if x is t else "frame", ylabel="brightness")
            ax.ticklabel_format(axis="y", useOffset=False)
            twin.set_ylabel("sharpness")
        fig.tight_layout()
        common.save(fig, path)
