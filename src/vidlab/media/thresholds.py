"""Which videos a quality measure warns on: the thresholds of the manifest suite's quality
warnings (``expectations/manifest.json``), judged the same way for the validation summary, the
EDA page and the dataset card."""

from __future__ import annotations

# measure -> (its threshold: a key of params validate.quality, or probe.max_combing; the bad
# side: "below" the minimum, "above" the maximum, or "apart": its size above the maximum).
# The manifest suite (expectations/manifest.json) warns on exactly these.
WARNED = {
    "sharpness": ("min_sharpness", "below"),
    "noise": ("max_noise", "above"),
    "blockiness": ("max_blockiness", "above"),
    "dark_share": ("max_dark_share", "above"),
    "bright_share": ("max_bright_share", "above"),
    "flicker": ("max_flicker", "above"),
    "dropped_frames": ("max_dropped_frames", "above"),
    "fps_changes": ("max_fps_changes", "above"),
    "av_start_offset_s": ("max_av_start_offset_s", "apart"),
    "av_duration_offset_s": ("max_av_duration_offset_s", "apart"),
    "interlaced_share": ("max_interlaced_share", "above"),
    "combing": ("max_combing", "above"),
}


def judged(manifest, thresholds: dict[str, float]) -> dict[str, dict]:
    """Each warned measure over the manifest's decodable videos: its threshold and bad side, how
    many videos it was measured on, and the ids of those past the threshold (as the manifest
    suite's warnings: a missing value is not judged).

    Args:
        manifest: the manifest (a pandas DataFrame with ``video_id``, ``status`` and the
            measures).
        thresholds: every threshold :data:`WARNED` names, by its key.
    """
    import pandas as pd

    usable = manifest[manifest["status"] == "ok"] if "status" in manifest else manifest
    out = {}
    for measure, (key, side) in WARNED.items():
        limit = float(thresholds[key])
        values = pd.to_numeric(usable[measure], errors="coerce") if measure in usable else (
            pd.Series(dtype=float))
        measured = values.notna()
        past = {"below": values < limit, "above": values > limit,
                "apart": values.abs() > limit}[side] & measured
        out[measure] = {"threshold": limit, "side": side, "measured": int(measured.sum()),
                        "videos": sorted(usable.loc[past[past].index, "video_id"].astype(str))}
    return out
