"""The eda outliers: videos far out on the dataset's own distribution, odd frame rates and
flagged files, with a gallery of their first, middle and last frames.

"Far out" is judged per measure with a robust z-score, z = (value - median) / (1.4826 * MAD),
where MAD is the median of the absolute distances to the median (1.4826 * MAD is the standard
deviation for normally distributed values, but the outliers themselves barely move it). A video
whose |z| exceeds ``eda.outlier_z`` (3.5, Iglewicz and Hoaglin's usual cut-off) is an outlier on
that measure. When more than half the videos share the median exactly, MAD is 0: the scale is
then 1.2533 times the mean absolute deviation (the usual fallback), so a lone different value
is still found while a large group of another value is not; when every value is the median
there is no spread and nothing is flagged (no division by zero).

The measures are the manifest's duration, decoded frame rate and frame size (pixels), and the
mean brightness and motion of each video's cached clips (the clips cache the stage reads anyway:
no further decode).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import Params
from vidlab.contracts import Cluster
from vidlab.stages.eda import common, sheet
from vidlab.stages.eda.common import SPLIT_ORDER

MAD_SCALE = 1.4826  # 1 / (the normal distribution's 75th percentile): MAD -> standard deviation
MEAN_AD_SCALE = 1.2533  # sqrt(pi / 2): mean absolute deviation -> standard deviation (normal)

# column of the per-video table: (its name on the page, how a value is written)
MEASURES: dict[str, tuple[str, Callable[[float], str]]] = {
    "duration_s": ("duration", lambda v: f"{v:.1f} s"),
    "fps": ("frame rate", lambda v: f"{v:.2f} fps"),
    "frame_px": ("frame size", lambda v: f"{v:,.0f} px"),
    "brightness": ("mean brightness", lambda v: f"{v:.0f} of 255"),
    "motion": ("motion", lambda v: f"{v:.1f} of 255"),
}


def spread(values: pd.Series) -> dict:
    """The median of ``values`` and the scale a robust z-score divides by, and what it is."""
    x = pd.to_numeric(values, errors="coerce").astype(float)
    x = x[np.isfinite(x)]
    if x.empty:
        return {"videos": 0, "median": None, "mad": None, "scale": None, "basis": "no values"}
    median = float(x.median())
    distance = (x - median).abs()
    mad = float(distance.median())
    tiny = 1e-6 * max(1.0, abs(median))  # a rounding error (29.9999999 fps) is no spread
    scale, basis = MAD_SCALE * mad, "MAD"
    if scale <= tiny:
        scale, basis = MEAN_AD_SCALE * float(distance.mean()), "mean absolute deviation (MAD is 0)"
    if scale <= tiny:
        scale, basis = None, "none (every value is the median)"
    return {"videos": int(len(x)), "median": median, "mad": mad, "scale": scale, "basis": basis}


def robust_outliers(table: pd.DataFrame, threshold: float) -> tuple[list[dict], dict]:
    """Videos whose robust z-score on a measure of :data:`MEASURES` exceeds ``threshold``.

    Args:
        table: one row per video (index: video_id), a column per measure; NaN: not measured.
        threshold: the |z| above which a video is an outlier.

    Returns:
        The outliers (video_id, measure, value, z, median, reason), by measure and then the
        furthest out first; and each measure's :func:`spread` with its outlier count.
    """
    found, stats = [], {}
    for column, (name, write) in MEASURES.items():
        if column not in table:
            continue
        values = pd.to_numeric(table[column], errors="coerce").astype(float)
        values = values[np.isfinite(values)]
        measured = spread(values)
        scale, median = measured["scale"], measured["median"]
        note = "" if measured["basis"] == "MAD" else \
            "; MAD is 0, scaled by the mean absolute deviation"
        picked = []
        if scale:
            z = (values - median) / scale
            for video, score in z[z.abs() > threshold].items():
                picked.append({"video_id": str(video), "measure": column,
                               "value": round(float(values[video]), 4),
                               "z": round(float(score), 2), "median": round(median, 4),
                               "reason": f"{name} {write(float(values[video]))}, robust z = "
                                         f"{score:.1f} (median {write(median)}{note})"})
        stats[column] = {"name": name} | {k: round(v, 4) if isinstance(v, float) else v
                                          for k, v in measured.items()} | {
                                              "outliers": len(picked)}
        found += sorted(picked, key=lambda item: (-abs(item["z"]), item["video_id"]))
    return found, stats


def clip_looks(clips: Path) -> pd.DataFrame:
    """Mean brightness and motion (mean absolute change of a pixel from one cached frame to the
    next, both 0-255) of every video in the clips cache; index: video_id."""
    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str,
                                                          "frames": str})
    parts = []
    for split in SPLIT_ORDER:
        rows = index[index["split"] == split].sort_values("row")
        if rows.empty:
            continue
        array = np.load(Path(clips) / f"{split}.npy", mmap_mode="r")
        block = max(1, 2**25 // max(1, int(np.prod(array.shape[1:])) * 4))  # ~32 MiB of floats
        for start in range(0, len(rows), block):
            part = rows.iloc[start:start + block]
            pixels = np.asarray(array[part["row"].astype(int).to_numpy()], dtype=np.float32)
            change = np.abs(np.diff(pixels, axis=1)).mean(axis=(2, 3, 4))  # (clips, T - 1)
            forward = np.stack([_forward(f, pixels.shape[1]) for f in part["frames"]])
            moved = np.where(forward, change, 0).sum(axis=1)
            steps = forward.sum(axis=1)
            parts.append(pd.DataFrame({
                "video_id": part["video_id"].to_numpy(),
                "brightness": pixels.mean(axis=(1, 2, 3, 4)),
                "motion": np.divide(moved, steps, out=np.full(len(part), np.nan),
                                    where=steps > 0)}))
    if not parts:
        return pd.DataFrame(columns=["brightness", "motion"], dtype=float)
    return pd.concat(parts).groupby("video_id")[["brightness", "motion"]].mean()


def _forward(frames: str, length: int) -> np.ndarray:
    """Which steps of a clip go forward in the video: padding repeats or loops frames, and a
    jump back to the start is no motion."""
    positions = [int(i) for i in str(frames).split()]
    if len(positions) != length:
        return np.ones(max(0, length - 1), bool)
    return np.diff(positions) > 0


def video_measures(videos: pd.DataFrame, clips: Path) -> pd.DataFrame:
    """One row per decodable video (index: video_id): every measure of :data:`MEASURES`."""
    ok = videos[videos["status"] == "ok"].set_index("video_id")
    number = lambda column: pd.to_numeric(ok[column], errors="coerce").astype(float)  # noqa: E731
    table = pd.DataFrame({"duration_s": number("duration_s"), "fps": number("fps_avg"),
                          "frame_px": number("width") * number("height")}, index=ok.index)
    return table.join(clip_looks(clips), how="left")


def outliers(videos: pd.DataFrame, flagged: pd.DataFrame, clusters: list[Cluster],
             params: Params, clips: Path, out: Path) -> dict:
    """The outliers by category, the spread of each measure, and the gallery."""
    e = params.eda
    info = videos.set_index("video_id")

    def entry(video: str, reason: str, **more) -> dict:
        row = info.loc[video]
        return {"video_id": video, "reason": reason,
                "duration_s": None if pd.isna(row.duration_s) else round(float(row.duration_s),
                                                                          2),
                "fps": None if pd.isna(row.fps_avg) else round(float(row.fps_avg), 2)} | more

    unusual, stats = robust_outliers(video_measures(videos, clips), e.outlier_z)
    found: dict[str, list[dict]] = {
        "unusual": [entry(u["video_id"], u["reason"], **{k: u[k] for k in (
            "measure", "value", "z", "median")}) for u in unusual]}
    durations = [u for u in found["unusual"] if u["measure"] == "duration_s"]
    found["shortest"] = [u for u in durations if u["z"] < 0]  # unusually short, and long
    found["longest"] = [u for u in durations if u["z"] > 0]
    ok = videos[videos["status"] == "ok"]
    median_fps = float(ok["fps_avg"].median()) if len(ok) else 0.0
    found["odd_fps"] = _odd_fps(videos, median_fps, e.odd_fps_tolerance, entry)
    found["flagged"] = [entry(v, "; ".join(why)) for v, why in sorted(
        _flags(videos, flagged, clusters).items())]
    _gallery(found, info["path"], e.outliers, out / "outliers.png")
    ingest_only = flagged[flagged["stage"] == "ingest"]["reason"].value_counts()
    return found | {"threshold": e.outlier_z, "gallery_per_measure": e.outliers,
                    "measures": stats,
                    "quarantined_at_ingest": {str(k): int(v) for k, v in ingest_only.items()},
                    "median_fps": round(median_fps, 3)}


def _odd_fps(videos: pd.DataFrame, median_fps: float, tolerance: float, entry) -> list[dict]:
    found = []
    for row in videos.sort_values("video_id").itertuples():
        fps = float(row.fps_avg) if not pd.isna(row.fps_avg) else None
        off = fps is not None and median_fps and abs(fps - median_fps) / median_fps > tolerance
        if off or bool(row.vfr):
            why = [f"{fps:.2f} fps vs median {median_fps:.2f}"] if off else []
            found.append(entry(row.video_id, ", ".join(
                why + (["variable frame rate"] if row.vfr else []))))
    return found


def _flags(videos: pd.DataFrame, flagged: pd.DataFrame, clusters: list[Cluster]) -> dict:
    """Why each file is flagged: probe status and warnings, duplicate clusters, quarantine."""
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
    known = set(videos["video_id"])
    return {video: why for video, why in reasons.items() if video in known}


def _gallery(found: dict, paths: pd.Series, most: int, path: Path) -> None:
    """One row per video (every reason it is shown for): at most ``most`` per measure, the
    furthest out first; every odd frame rate and flagged file."""
    why: dict[str, list[str]] = {}
    for measure in MEASURES:
        for item in [u for u in found["unusual"] if u["measure"] == measure][:most]:
            why.setdefault(item["video_id"], []).append(item["reason"])
    for category, prefix in (("odd_fps", "odd frame rate: "), ("flagged", "flagged: ")):
        for item in found[category]:
            why.setdefault(item["video_id"], []).append(prefix + item["reason"])
    grey = np.full((72, 96, 3), 200, np.uint8)
    rows = [("\n".join([video, *reasons]), common.frames(paths[video], count=3) or [grey])
            for video, reasons in why.items()]
    sheet.contact_sheet(rows or [("No video is an outlier, has an odd frame rate or is "
                                  "flagged.", [])], path,
                        title="Outliers: first, middle and last frame of each video "
                              "(grey: it cannot be decoded)")
