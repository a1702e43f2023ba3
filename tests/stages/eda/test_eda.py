"""The exploratory views, on real videos, a real clips cache and a real (untrained) network."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from vidlab import contracts
from vidlab.config import replace
from vidlab.media.probe import Limits, probe_file
from vidlab.models.registry import build_network
from vidlab.stages.eda import common, preprocess
from vidlab.stages.eda import stage as eda
from vidlab.stages.probe.stage import to_frame


@pytest.fixture(scope="module")
def eda_inputs(texture_project: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The texture project's manifest (probed for real), a near-duplicate cluster, a quarantined
    row and the state dict of an untrained pool2d."""
    root = tmp_path_factory.mktemp("eda")
    splits = pd.read_csv(texture_project["splits"], dtype=str, keep_default_na=False)
    limits = Limits(frame_tolerance=0.02, vfr_tolerance=0.1, fps_tolerance=0.05,
                    max_keyframe_interval_s=5.0)
    rows = [probe_file(Path(p), limits) | {"video_id": v}
            for v, p in zip(splits["video_id"], splits["path"], strict=True)]
    manifest = root / "manifest.parquet"
    to_frame(rows).to_parquet(manifest, index=False)  # as the probe stage writes it
    duplicates = root / "duplicates.json"
    ids = sorted(splits["video_id"])
    contracts.write(duplicates, contracts.Duplicates, {
        "params": {"threshold": 0.19, "review_margin": 0.03},
        "pairs": [{"a": ids[0], "b": ids[1], "kind": "near", "distance": 0.1}],
        "clusters": [{"id": "dup-001", "kind": "near", "video_ids": ids[:2]}], "review": []})
    quarantine = root / "quarantine.csv"
    quarantine.write_text("stage,line,video_id,column,value,reason,detail\n"
                          f"validate,3,{ids[5]},label,,age_gap,too far\n"
                          "ingest,9,,file,,missing_file,no such file\n")
    params = texture_project["params"]
    weights = root / "pool2d.pt"
    torch.manual_seed(0)
    torch.save(build_network("pool2d", params).state_dict(), weights)
    return {"params": params, "manifest": manifest, "splits": texture_project["splits"],
            "quarantine": quarantine, "duplicates": duplicates,
            "clips": texture_project["clips"], "weights": weights, "root": root, "ids": ids}


def run(inputs: dict, out: Path, **changes) -> dict:
    params = inputs["params"]
    if changes:
        params = replace(params, eda=replace(params.eda, **changes))
    return eda.run(params, manifest=inputs["manifest"], splits=inputs["splits"],
                   quarantine=inputs["quarantine"], duplicates=inputs["duplicates"],
                   clips=inputs["clips"], weights=inputs["weights"], out=out)


@pytest.fixture(scope="module")
def made(eda_inputs: dict) -> dict:
    out = eda_inputs["root"] / "eda"
    return {"summary": run(eda_inputs, out, gifs_per_class=2, perplexity=10.0), "out": out}


def test_every_view_is_drawn_and_on_the_page(made: dict, eda_inputs: dict) -> None:
    out, summary = made["out"], made["summary"]
    expected = {"distributions.png", "class_counts.png", "outliers.png", "preprocessing.png",
                "quality.png", "quality_outliers.png", "quality_series.png",
                "augmentation.png", "tsne_model.png", "tsne_classical.png",
                "sheets/achieved.png", "sheets/not_achieved.png", "gifs/achieved_1.gif",
                "gifs/achieved_2.gif", "gifs/not_achieved_1.gif", "gifs/not_achieved_2.gif"}
    assert set(summary["figures"]) == expected
    page = (out / "index.html").read_text()
    shown = set(re.findall(r'<img src="([^"]+)"', page))
    assert shown == expected  # every figure on the one page, and nothing that is not there
    for name in shown:
        assert (out / name).stat().st_size > 0
    splits = pd.read_csv(eda_inputs["splits"], dtype=str)
    for text in (page, (out / "summary.json").read_text()):  # pseudonyms only: no file names
        for path in splits["path"]:
            assert Path(path).name not in text and str(Path(path).parent) not in text
    assert json.loads((out / "summary.json").read_text()) == summary
    for name in ("achieved_1.gif", "not_achieved_2.gif"):
        with Image.open(out / "gifs" / name) as gif:
            assert gif.n_frames == 8  # the texture videos have 8 frames; 16 asked for, 8 exist


def test_numbers_behind_the_figures_match_the_inputs(made: dict, eda_inputs: dict) -> None:
    summary = made["summary"]
    manifest = pd.read_parquet(eda_inputs["manifest"])
    d = summary["distributions"]
    assert d["videos"] == d["decodable"] == len(manifest) == 48
    assert d["resolutions"] == {"64x48": 48} and d["codecs"] == {"h264": 48}
    assert d["audio"] == {"with audio": 0, "without": 48}
    counts = summary["class_counts"]
    assert counts["overall"] == {"achieved": 24, "not_achieved": 24}
    assert counts["per_split"]["val"] == {"achieved": 8, "not_achieved": 8}
    flagged = {item["video_id"]: item["reason"] for item in summary["outliers"]["flagged"]}
    ids = eda_inputs["ids"]
    assert flagged[ids[0]] == flagged[ids[1]] == "near-duplicate dup-001"
    assert flagged[ids[5]] == "quarantined: age_gap"
    assert summary["outliers"]["quarantined_at_ingest"] == {"missing_file": 1}
    outliers = summary["outliers"]
    # every texture video has the same duration, rate and size, and much the same brightness
    # and motion: no spread, nobody far out, and the page says so
    assert outliers["unusual"] == outliers["shortest"] == outliers["longest"] == []
    assert outliers["measures"]["duration_s"]["basis"] == "none (every value is the median)"
    assert outliers["measures"]["brightness"]["videos"] == 48  # every video, from the cache
    assert outliers["threshold"] == 3.5
    assert "No video is an outlier" in (made["out"] / "index.html").read_text()


def test_a_video_far_out_is_an_outlier_with_its_reason(eda_inputs: dict, tmp_path: Path) -> None:
    """One video's duration planted far out: it (and only it) is found, as unusually long."""
    from vidlab.stages.eda import outliers

    videos = pd.read_parquet(eda_inputs["manifest"])
    far = eda_inputs["ids"][10]
    median = videos["duration_s"].median()
    videos.loc[videos["video_id"] == far, "duration_s"] = 41.0
    none = pd.DataFrame(columns=["stage", "video_id", "reason"])
    found = outliers.outliers(videos, none, [], eda_inputs["params"], eda_inputs["clips"],
                              tmp_path)
    assert [item["video_id"] for item in found["unusual"]] == [far]
    assert found["longest"] == found["unusual"] and found["shortest"] == []
    assert found["unusual"][0]["reason"].startswith("duration 41.0 s, robust z = ")
    assert f"(median {median:.1f} s; MAD is 0" in found["unusual"][0]["reason"]
    assert (tmp_path / "outliers.png").is_file()


def test_reproducibility_checks_and_embeddings(made: dict) -> None:
    summary = made["summary"]
    assert summary["checks"]["augment_reproducible"] is True
    redecoded = summary["checks"]["clips_redecoded"]
    assert redecoded["checked"] == 8 and redecoded["identical"] == 8  # eda.redecode
    embeddings = summary["embeddings"]
    assert embeddings["model"]["source"] == "pool2d"
    assert embeddings["model"]["clips"] == embeddings["classical"]["clips"] == 48
    assert embeddings["classical"]["dimensions"] == 43
    # random textures carry no label: neighbours agree about as often as a coin
    assert 0.2 <= embeddings["classical"]["neighbour_label_agreement"] <= 0.8
    rows = summary["augmentations"]
    assert rows[0] == "none (eval preset)" and rows[-1].startswith("train preset")


def test_each_augmentation_row_switches_on_only_its_own_transform(eda_inputs: dict) -> None:
    params = eda_inputs["params"]
    rows = dict(preprocess.augmentation_rows(params))
    flip = rows["spatial: horizontal flip"]
    assert flip.use == ("spatial",) and flip.hflip == 1.0
    assert flip.crop_scale == 1.0 and flip.color == 0 and flip.noise == 0
    warp = next(a for label, a in rows.items() if label.startswith("temporal: time warp"))
    assert warp.use == ("temporal",) and warp.time_warp == params.augment.time_warp
    assert "(off: not in augment.use)" in next(k for k in rows if k.startswith("temporal"))
    none = replace(params, augment=replace(
        params.augment, hflip=0, crop_scale=1, rotate=0, translate=0, color=0, grayscale=0,
        noise=0, blur=0, frame_drop=0, jitter=0, time_warp=0))
    labels = [label for label, _ in preprocess.augmentation_rows(none)]
    assert labels == ["none (eval preset)", "compression: JPEG q50",
                      "train preset: spatial, compression"]


def test_the_same_inputs_give_the_same_bytes(made: dict, eda_inputs: dict) -> None:
    again = eda_inputs["root"] / "again"
    run(eda_inputs, again, gifs_per_class=2, perplexity=10.0)
    for name in [*made["summary"]["figures"], "summary.json", "index.html"]:
        assert (again / name).read_bytes() == (made["out"] / name).read_bytes(), name


def test_without_trained_weights_the_model_map_is_left_out(eda_inputs: dict) -> None:
    params = eda_inputs["params"]
    summary = eda.run(params, manifest=eda_inputs["manifest"], splits=eda_inputs["splits"],
                      quarantine=eda_inputs["quarantine"], duplicates=eda_inputs["duplicates"],
                      clips=eda_inputs["clips"], weights=eda_inputs["root"] / "missing.pt",
                      out=eda_inputs["root"] / "no-model")
    assert set(summary["embeddings"]) == {"classical"}
    assert "tsne_model.png" not in summary["figures"]


def test_distributions_draw_when_every_video_has_the_same_rate(tmp_path: Path) -> None:
    """Every phone video at 30 fps (a rounding error apart) or one video only: one bin, no error
    (numpy refuses 20 bins over a range of 1e-6)."""
    rows = [{"status": "ok", "width": 80, "height": 64, "codec": "h264", "audio": False,
             "duration_s": 2.0, "fps_avg": 30.0 + k * 1e-7, "bit_rate": 1000,
             "pix_fmt": "yuv420p"} for k in range(3)]
    numbers = eda.distributions(pd.DataFrame(rows), tmp_path)
    assert (tmp_path / "distributions.png").is_file()
    assert numbers["videos"] == 3


class Figures(HTMLParser):
    """Every <img> of a page, with its attributes and the caption of the <figure> around it."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.open: list[dict] = []  # the <figure>s we are in
        self.in_caption = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "figure":
            self.open.append({"images": [], "caption": ""})
        elif tag == "figcaption":
            self.in_caption = True
        elif tag == "img":
            image = dict(attrs) | {"caption": None}
            self.images.append(image)
            if self.open:
                self.open[-1]["images"].append(image)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self.in_caption = False
        elif tag == "figure":
            figure = self.open.pop()
            for image in figure["images"]:
                image["caption"] = figure["caption"].strip()

    def handle_data(self, data: str) -> None:
        if self.in_caption and self.open:
            self.open[-1]["caption"] += data


def page_images(out: Path) -> list[dict]:
    parser = Figures()
    parser.feed((out / "index.html").read_text())
    return parser.images


def test_every_image_is_a_captioned_figure_with_alt_text(made: dict) -> None:
    images = page_images(made["out"])
    assert len(images) == len(made["summary"]["figures"])
    for image in images:
        assert image["caption"], f"{image['src']} is not in a <figure> with a <figcaption>"
        assert len(image["caption"].split()) >= 8, image  # says what it shows, in words
        assert image.get("alt", "").strip(), f"{image['src']} has no alt text"


def test_figure_text_is_at_least_10_px_at_the_size_shown(made: dict) -> None:
    """font size (pt) x dpi / 72 = its height in the PNG; x shown width / PNG width = on the
    page. GIFs hold no text (their caption says what they show)."""
    for image in page_images(made["out"]):
        shown = int(image["width"])
        assert shown <= common.PAGE_WIDTH
        if image["src"].endswith(".gif"):
            continue
        with Image.open(made["out"] / image["src"]) as png:
            width, dpi = png.width, png.info["dpi"][0]
        assert round(dpi) == common.DPI
        on_page = common.FONT_PT * dpi / 72 * shown / width
        assert on_page >= 10, (image["src"], on_page)


def test_no_matplotlib_text_is_smaller_than_the_page_font(params, monkeypatch,
                                                          tmp_path: Path) -> None:
    """Every visible text of every matplotlib figure (titles, ticks, bar counts, legends) is
    at least common.FONT_PT, and the figure is never wider than the page shows it."""
    import matplotlib.text

    from vidlab.stages.eda import embeddings, views

    drawn: dict[str, tuple[float, float]] = {}
    save = common.save

    def spy(fig, path: Path) -> None:
        fig.canvas.draw()  # tick labels are made when drawn
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)
                 if t.get_visible() and t.get_text().strip()]
        drawn[Path(path).name] = (min(sizes), fig.get_figwidth() * common.DPI)
        save(fig, path)

    monkeypatch.setattr(common, "save", spy)
    rows = [{"status": "ok", "width": 80 + 16 * (k % 2), "height": 64, "codec": "h264",
             "audio": bool(k % 3), "duration_s": 2.0 + k, "fps_avg": 30.0, "bit_rate": 1000 * k,
             "pix_fmt": "yuv420p"} for k in range(6)]
    views.distributions(pd.DataFrame(rows), tmp_path)
    table = pd.DataFrame({"video_id": list("abcdef"), "split": ["train", "val", "test"] * 2,
                          "label": ["achieved", "not_achieved"] * 3,
                          "domain": ["motor", "social", "motor"] * 2})
    views.class_counts(table, params, tmp_path)
    embeddings._tsne_figure(np.arange(12.0).reshape(6, 2), table.set_index("video_id"), "label",
                            "test", tmp_path / "tsne_test.png")
    assert set(drawn) == {"distributions.png", "class_counts.png", "tsne_test.png"}
    for name, (smallest, width) in drawn.items():
        assert smallest >= common.FONT_PT and width <= common.PAGE_WIDTH, name


def test_the_fingerprints_are_explained(made: dict) -> None:
    from vidlab.stages.eda import page

    text = page._fingerprints({"dataset_fingerprint": "fp-0123456789abcdef",
                               "inputs_hash": "h-0123456789abcdef"})
    assert "fp-0123456789abcdef" in text and "h-0123456789abcdef" in text
    assert "metadata table" in text and "changes when any video, label or age changes" in text
    assert "manifest and splits" in text
    shown = (made["out"] / "index.html").read_text()  # the fixture passes no metadata
    assert "No dataset fingerprint" in shown and made["summary"]["inputs_hash"] in shown
