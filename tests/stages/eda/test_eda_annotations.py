"""The annotation views of the eda stage, on two real short videos and a hand-made aligned table
whose numbers are known: a white square moving on grey, boxed, masked, tracked (two ids that
swap where they cross, one id renamed), segmented and captioned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.stages.eda.test_eda import (
    eda_inputs,  # noqa: F401  (the real probed project)
    page_images,
)
from vidlab.annotations import rle
from vidlab.annotations.schema import ALIGNED_COLUMNS
from vidlab.media.decode import open_video
from vidlab.media.encode import write_video
from vidlab.stages.eda import annotations as views
from vidlab.stages.eda import common, overlay
from vidlab.stages.eda import stage as eda

W, H, N, SIDE = 64, 48, 20, 12
IDS = ("a0000000000000a1", "a0000000000000b2")  # pseudonyms
NAMES = ("Alice_Original_2019-03-02.mp4", "Bobby_Original_2020-01-09.mp4")  # private names


def square_x(video: int, f: int) -> int:
    """The square's left edge on frame ``f``: video 0 moves right, video 1 left."""
    return 4 + 2 * f if video == 0 else 48 - 2 * f


def row(video: int, task: str, **values) -> dict:
    base = dict.fromkeys(ALIGNED_COLUMNS)
    base |= {"video_id": IDS[video], "task": task, "source": "hand", "where": "test", "label": "",
             "mask": "", "text": "", "occluded": False}
    return base | values


def box(video: int, task: str, f: int, x: int, y: int = 18, **values) -> dict:
    return row(video, task, frame=f, frame_end=f, x1=x, y1=y, x2=x + SIDE, y2=y + SIDE,
               **values)


def make_table() -> pd.DataFrame:
    rows = [row(0, "segments", label="crawl", t0=0.0, t1=0.6, frame=0, frame_end=5),
            row(0, "segments", label="sit", t0=1.0, t1=2.0, frame=10, frame_end=19),
            row(1, "segments", label="crawl", t0=0.0, t1=1.0, frame=0, frame_end=9)]
    for v in (0, 1):
        for f in range(N):
            rows.append(box(v, "boxes", f, square_x(v, f), label="person"))
            if v == 0 or f % 5 == 0:
                mask = np.zeros((H, W), bool)
                mask[18:30, square_x(v, f):square_x(v, f) + SIDE] = True
                rows.append(row(v, "masks", frame=f, frame_end=f, track_id=1, label="person",
                                mask=rle.encode(mask)))
    for f in range(N):  # video 0: two ids cross; from frame 14 on they carry each other's id
        right, left = (1, 2) if f < 14 else (2, 1)
        rows += [box(0, "tracks", f, 2 + 2 * f, track_id=right, label="person"),
                 box(0, "tracks", f, 50 - 2 * f, y=22, track_id=left, label="person")]
        # video 1: one object, id 3 renamed 4 from frame 10
        rows.append(box(1, "tracks", f, square_x(1, f), track_id=3 if f < 10 else 4,
                        label="person"))
    rows += [row(0, "captions", text="A white square moves to the right."),
             row(1, "captions", text="a square", t0=0.0, t1=1.0),
             row(1, "captions", text="The square moves left on grey", t0=1.0, t1=2.0)]
    table = pd.DataFrame(rows, columns=list(ALIGNED_COLUMNS))
    for name in ("frame", "frame_end", "track_id"):
        table[name] = table[name].astype("Int64")
    for name in ("t0", "t1", "x1", "y1", "x2", "y2", "score"):
        table[name] = table[name].astype("Float64")
    return table


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Two real 64x48 videos of 20 frames at 10 fps, stored under private-looking names."""
    root = tmp_path_factory.mktemp("annotated")
    rows = []
    for v, name in enumerate(NAMES):
        frames = []
        for f in range(N):
            frame = np.full((H, W, 3), 128, np.uint8)
            frame[18:30, square_x(v, f):square_x(v, f) + SIDE] = 255
            frames.append(frame)
        write_video(root / name, frames, fps=10, crf=0)
        rows.append({"video_id": IDS[v], "path": str(root / name), "display_width": W,
                     "display_height": H, "status": "ok"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def drawn(videos: pd.DataFrame, params, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("views")
    return {"summary": views.annotation_views(make_table(), videos, params, out), "out": out}


@pytest.fixture(scope="module")
def params():  # module scope (the shared fixture is per test)
    from tests.conftest import ROOT
    from vidlab import config

    return config.load(ROOT / "params.yaml")


def test_every_task_has_its_figures(drawn: dict) -> None:
    summary, out = drawn["summary"], drawn["out"]
    assert list(summary) == ["segments", "boxes", "tracks", "masks", "captions"]
    for task, info in summary.items():
        assert info["figures"] == {"stats": f"annotations/{task}_stats.png",
                                   "sheet": f"annotations/{task}_sheet.png",
                                   "gif": f"annotations/{task}.gif"}
        for name in info["figures"].values():
            assert (out / name).stat().st_size > 0
        assert info["videos_shown"] == list(IDS) and info["gif_video"] == IDS[0]
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == {n for info in summary.values() for n in info["figures"].values()}
    json.dumps(summary)  # JSON as it is


def test_the_numbers_match_the_table(drawn: dict) -> None:
    s = drawn["summary"]
    seg = s["segments"]
    assert seg["rows"] == 3 and seg["videos"] == 2 and seg["labels"] == {"crawl": 2, "sit": 1}
    assert seg["per_video"] == {"count": 2, "min": 1.0, "median": 1.5, "mean": 1.5, "max": 2.0}
    assert seg["length_s"]["min"] == 0.6 and seg["length_s"]["max"] == 1.0
    assert seg["length_frames"] == {"count": 3, "min": 6.0, "median": 10.0,
                                         "mean": 8.667, "max": 10.0}
    boxes = s["boxes"]
    assert boxes["rows"] == 40 and boxes["annotated_frames"] == 40
    assert boxes["per_frame"]["min"] == boxes["per_frame"]["max"] == 1.0
    assert boxes["area_px"]["min"] == boxes["area_px"]["max"] == SIDE * SIDE
    masks = s["masks"]
    assert masks["rows"] == 24 and masks["area_px"]["median"] == SIDE * SIDE
    tracks = s["tracks"]
    assert tracks["tracks"] == 4 and tracks["without_id"] == 0
    assert tracks["length_frames"] == {"count": 4, "min": 10.0, "median": 15.0,
                                            "mean": 15.0, "max": 20.0}
    assert tracks["ids_per_video"]["min"] == tracks["ids_per_video"]["max"] == 2.0
    assert tracks["id_switches"] == 3
    assert tracks["id_switches_per_video"] == {IDS[0]: 2, IDS[1]: 1}
    assert tracks["switches"] == [
        {"video_id": IDS[0], "frame": 14, "track_id": 1, "became": 2},
        {"video_id": IDS[0], "frame": 14, "track_id": 2, "became": 1},
        {"video_id": IDS[1], "frame": 10, "track_id": 3, "became": 4}]
    captions = s["captions"]
    assert captions["words"] == {"count": 3, "min": 2.0, "median": 6.0, "mean": 5.0,
                                      "max": 7.0}
    assert captions["vocabulary"] == 10 and captions["labels"] == {}


def test_no_switch_while_ids_keep_their_boxes() -> None:
    table = make_table()
    kept = table[(table["task"] == "tracks") & (table["frame"] < 14)].astype(
        {"x1": float, "y1": float, "x2": float, "y2": float})
    assert [s["frame"] for s in views.id_switches(kept)] == [10]  # video 1's renamed id only


def test_a_video_outside_the_manifest_counts_but_is_not_drawn(videos, params, tmp_path) -> None:
    table = make_table()
    stranger = table[table["video_id"] == IDS[1]].assign(video_id="c0000000000000c3")
    stranger.loc[stranger["task"] == "segments", ["t0", "t1", "frame", "frame_end"]] = pd.NA
    summary = views.annotation_views(pd.concat([table, stranger]), videos.iloc[:1], params,
                                     tmp_path)
    assert summary["tracks"]["id_switches"] == 4 and summary["segments"]["videos"] == 3
    assert summary["segments"]["length_s"]["count"] == 3  # the unknown times are left out
    assert all(info["videos_shown"] == [IDS[0]] for info in summary.values())


def decoded(videos: pd.DataFrame, video: int, f: int) -> np.ndarray:
    reader = open_video(videos["path"][video], "pyav")
    try:
        return reader.get_frames([f])[0]
    finally:
        reader.close()


@pytest.mark.parametrize("scale", [2, 4])  # on the sheet and in the GIF
def test_a_box_is_drawn_on_its_edge_pixels_and_nowhere_else(videos: pd.DataFrame,
                                                            scale: int) -> None:
    table = make_table()
    rows = table[(table["task"] == "boxes") & (table["video_id"] == IDS[0])].astype(
        {"frame": float, "x1": float, "y1": float, "x2": float, "y2": float})
    raw = decoded(videos, 0, 7)
    shown = overlay.Shown(rows, np.arange(N) / 10, ("person",))
    out = overlay.draw("boxes", raw, 7, shown, scale).astype(int)
    big = raw.repeat(scale, 0).repeat(scale, 1).astype(int)
    x1, y1 = square_x(0, 7) * scale, 18 * scale
    x2, y2 = x1 + SIDE * scale, y1 + SIDE * scale
    edge = np.zeros(out.shape[:2], bool)
    edge[y1:y2, x1:x2] = True
    edge[y1 + scale:y2 - scale, x1 + scale:x2 - scale] = False
    assert (out[edge] == overlay.PALETTE[0]).all()  # "person": the first label's colour
    below = np.zeros(out.shape[:2], bool)
    below[y1:] = True  # the label is written above the box: every other pixel from y1 down
    assert (out[below & ~edge] == big[below & ~edge]).all()
    assert (out[:y1] != big[:y1]).any()  # ... and the name is there


def test_the_gif_and_sheet_show_the_box_where_it_is(drawn: dict) -> None:
    out = drawn["out"]
    shown = drawn["summary"]["boxes"]["gif_frames"]
    assert len(shown) == 16 and shown[0] == 0 and shown[-1] == N - 1
    with Image.open(out / "annotations/boxes.gif") as gif:
        assert gif.n_frames == 16  # eda.gif_frames, evenly over the 20 annotated frames
        frame = np.asarray(gif.convert("RGB")).astype(int)
    scale = 256 // W
    x1, mid = square_x(0, 0) * scale, (18 + SIDE // 2) * scale
    assert np.abs(frame[mid, x1 + 1] - overlay.PALETTE[0]).max() <= 24  # the left edge
    assert np.abs(frame[mid, x1 + SIDE * scale // 2] - 255).max() <= 24  # the white square
    with Image.open(out / "annotations/boxes_sheet.png") as png:
        pixels = np.asarray(png.convert("RGB")).reshape(-1, 3)
    assert (pixels == overlay.PALETTE[0]).all(axis=1).sum() >= 6 * 2 * 4 * SIDE  # 12 outlines


def test_the_same_inputs_give_the_same_bytes(drawn: dict, videos, params, tmp_path) -> None:
    views.annotation_views(make_table(), videos, params, tmp_path)
    for path in (drawn["out"] / "annotations").iterdir():
        assert (tmp_path / "annotations" / path.name).read_bytes() == path.read_bytes(), path


def test_only_the_pseudonyms_name_videos(drawn: dict) -> None:
    text = json.dumps(drawn["summary"])
    named = set(re.findall(r"[0-9a-f]{16}", text))
    assert named == set(IDS)
    for path in drawn["out"].rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for name in NAMES:
                assert Path(name).stem.encode() not in data and name not in str(path)
                assert b"Original" not in data


def run_eda(inputs: dict, out: Path, annotations: Path | None) -> dict:
    return eda.run(inputs["params"], manifest=inputs["manifest"], splits=inputs["splits"],
                   quarantine=inputs["quarantine"], duplicates=inputs["duplicates"],
                   clips=inputs["clips"], weights=inputs["weights"], out=out,
                   annotations=annotations)


def test_the_page_has_a_section_per_task(eda_inputs: dict, tmp_path: Path) -> None:  # noqa: F811
    table = make_table()
    ids = eda_inputs["ids"][:2]  # the real project's videos (8 frames of 64x48)
    table = table[table["task"].isin(["segments", "boxes"]) & (table["frame"] < 8)].copy()
    table["video_id"] = table["video_id"].map(dict(zip(IDS, ids, strict=True)))
    path = tmp_path / "annotations.parquet"
    table.to_parquet(path, index=False)
    summary = run_eda(eda_inputs, tmp_path / "eda", annotations=path)
    assert list(summary["annotations"]) == ["segments", "boxes"]
    expected = {f"annotations/{t}{s}" for t in ("segments", "boxes")
                for s in ("_stats.png", "_sheet.png", ".gif")}
    assert expected <= set(summary["figures"])
    page = (tmp_path / "eda" / "index.html").read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == set(summary["figures"])
    assert "<h2>Annotations: segments</h2>" in page and "<h2>Annotations: boxes</h2>" in page
    assert "16 boxes on 16 frames of 2 videos" in page
    for image in page_images(tmp_path / "eda"):  # captioned, and text readable as shown
        assert len(image["caption"].split()) >= 8 and image["alt"].strip(), image
        if image["src"].endswith(".png"):
            with Image.open(tmp_path / "eda" / image["src"]) as png:
                assert png.info["dpi"][0] * int(image["width"]) / png.width >= common.DPI - 1
    saved = json.loads((tmp_path / "eda" / "summary.json").read_text())
    assert saved["annotations"] == summary["annotations"]

    table.iloc[:0].to_parquet(path, index=False)  # no rows: no section, as with no file
    for given in (path, tmp_path / "missing.parquet", None):
        summary = run_eda(eda_inputs, tmp_path / "empty", annotations=given)
        assert summary["annotations"] == {}
        assert not any(f.startswith("annotations/") for f in summary["figures"])
        assert "Annotations:" not in (tmp_path / "empty" / "index.html").read_text()


def test_the_command_takes_the_table() -> None:
    from vidlab.cli.main import app

    result = CliRunner().invoke(app, ["eda", "--help"])
    assert result.exit_code == 0 and "--annotations" in result.output
