"""The eda quality section on the demo and its degraded copies: the histograms, the gallery
with each video's reasons, the per-frame series, and the page."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.media.test_quality import RANKS
from vidlab import config as params_mod
from vidlab.config import quality_thresholds
from vidlab.media import quality
from vidlab.stages.eda.page import _quality
from vidlab.stages.eda.quality import NAMES, quality_views
from vidlab.stages.probe.stage import to_frame

ROOT = Path(__file__).resolve().parents[3]


def test_quality_views_name_each_degraded_video_with_its_reason(quality_set, tmp_path) -> None:
    rows = list(quality_set.values())
    quality.write_series(tmp_path / "q.parquet", rows)
    thresholds = quality_thresholds(params_mod.load(ROOT / "params.yaml"))
    summary = quality_views(to_frame(rows), thresholds, tmp_path / "q.parquet", 50, tmp_path)
    for name in ("quality.png", "quality_outliers.png", "quality_series.png"):
        with Image.open(tmp_path / name) as image:
            assert image.size[0] <= 1200 and image.size[1] > 200
    why = {f["video_id"]: f["reasons"] for f in summary["flagged"]}
    assert not {v for v in why if v.startswith("clean")}
    for measure, (variant, _) in RANKS.items():
        if measure == "combing":
            continue  # the interlaced copies are flagged by the decoder's flag
        for k in (0, 1):
            assert any(r.startswith(NAMES[measure][0] + " ") for r in why[f"{variant}{k}"]), (
                measure, why.get(f"{variant}{k}"))
    assert "sharpness" in why["blurred0"][0] and "< 20" in why["blurred0"][0]
    m = summary["measures"]["dropped_frames"]
    assert m["past"] >= 2 and m["measured"] == len(rows)
    assert m["share"] == round(m["past"] / m["measured"], 4)
    page = "\n".join(_quality({"quality": summary}, {n: (1200, 600) for n in (
        "quality.png", "quality_outliers.png", "quality_series.png")}))
    assert "blurred0" in page and "Video quality" in page


def test_without_quality_measures_the_section_says_so(quality_set, tmp_path) -> None:
    rows = [dict(r, **dict.fromkeys(quality.COLUMNS)) for r in quality_set.values()]
    thresholds = quality_thresholds(params_mod.load(ROOT / "params.yaml"))
    summary = quality_views(to_frame(rows), thresholds, None, 4, tmp_path)
    assert summary["measured"] == 0 and summary["flagged"] == []
    assert not (tmp_path / "quality.png").exists()
    assert "probe.quality: false" in "".join(_quality({"quality": summary}, {}))
