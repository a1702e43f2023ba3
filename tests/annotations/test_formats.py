"""Annotation format readers and writers: round trips, published layouts, refusals."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidlab.annotations import formats, rle
from vidlab.annotations.formats.davis import palette
from vidlab.annotations.schema import FORMATS, FormatError, RawRecord, VideoInfo

A, B = "secret_clip_A.mp4", "secret_clip_B.mp4"  # private names: never in a position or message
VIDEOS = {A: VideoInfo(width=4, height=4, fps=25.0, frames=4, duration_s=0.16),
          B: VideoInfo(width=4, height=4, fps=30.0, frames=3, duration_s=0.1)}

RING = np.ones((4, 4), dtype=bool)
RING[1:3, 1:3] = False  # a mask with a hole
DOT = np.zeros((4, 4), dtype=bool)
DOT[2, 1] = True


def rec(fmt: str, video: str, **fields) -> RawRecord:
    return RawRecord(video=video, task=FORMATS[fmt], source=fmt, where="", **fields)


def box(x1: float, y1: float, x2: float, y2: float) -> dict:
    return {"x1": x1, "y1": y1, "x2": x2, "y2": y2}


def mask(fmt: str, video: str, m: np.ndarray, **fields) -> RawRecord:
    return rec(fmt, video, mask=rle.encode(m), mask_height=4, mask_width=4, width=4, height=4,
               **fields)


def _mot(video: str, **fields) -> RawRecord:
    return rec("mot", video, fps=VIDEOS[video].fps, width=4, height=4, **fields)


# Records as each reader gives them back (the fields a writer fills from VideoInfo included).
RECORDS = {
    "activitynet": [
        rec("activitynet", A, label="jump", t0=0.0, t1=0.12, width=4, height=4),
        rec("activitynet", A, label="run", t0=0.04, t1=0.16, width=4, height=4),
        rec("activitynet", B, label="jump", t0=0.01, t1=0.1, width=4, height=4)],
    "ava": [
        rec("ava", A, label="12", t0=902.0, track_id=0, normalized=True,
            **box(0.077, 0.151, 0.2831234567, 0.811)),
        rec("ava", A, label="80", t0=902.0, track_id=None, normalized=True,
            **box(0.0, 0.1, 1 / 3, 1.0)),
        rec("ava", B, label="12", t0=0.5, track_id=3, normalized=True, **box(0.1, 0.2, 0.3, 0.4))],
    "mot": [
        _mot(A, label="1", frame=0, track_id=1, **box(0.0, 1.0, 2.0, 3.5)),
        _mot(A, label="1", frame=1, track_id=1, occluded=True, **box(0.5, 1.0, 2.5, 3.5)),
        _mot(A, label="", frame=1, track_id=2, **box(1.0, 1.0, 2.0, 2.0)),
        _mot(B, label="2", frame=2, track_id=1, **box(0.0, 0.0, 4.0, 4.0))],
    "cvat": [
        rec("cvat", A, label="child", frame=0, track_id=0, width=4, height=4,
            **box(0.0, 0.0, 2.0, 2.0)),
        rec("cvat", A, label="child", frame=1, track_id=0, keyframe=False, occluded=True,
            width=4, height=4, **box(0.25, 0.0, 2.25, 2.0)),
        rec("cvat", A, label="child", frame=2, track_id=0, outside=True, width=4, height=4,
            **box(0.25, 0.0, 2.25, 2.0)),
        rec("cvat", A, label="adult", frame=0, track_id=1, width=4, height=4,
            **box(1.0, 1.0, 3.0, 4.0)),
        rec("cvat", B, label="adult", frame=0, track_id=0, width=4, height=4,
            **box(1.0, 1.0, 3.0, 4.0))],
    "youtube_vis": [  # frame 1 of track 5 is empty (null)
        mask("youtube_vis", A, RING, label="cat", frame=0, track_id=5),
        mask("youtube_vis", A, DOT, label="cat", frame=2, track_id=5),
        mask("youtube_vis", A, DOT, label="dog", frame=0, track_id=6),
        mask("youtube_vis", B, RING, label="dog", frame=1, track_id=7)],
    "davis": [  # frames 1 and 3 of A have no object
        mask("davis", A, RING, frame=0, track_id=1),
        mask("davis", A, DOT, frame=0, track_id=2),
        mask("davis", A, DOT, frame=2, track_id=2),
        mask("davis", B, RING, frame=1, track_id=1)],
    "msrvtt": [rec("msrvtt", A, text="a man is running"), rec("msrvtt", A, text=""),
               rec("msrvtt", B, text="a dog, \"jumping\"")],
    "activitynet_captions": [
        rec("activitynet_captions", A, t0=0.0, t1=0.08, text="A man runs."),
        rec("activitynet_captions", A, t0=0.05, t1=0.16, text=" He stops."),
        rec("activitynet_captions", B, t0=0.0, t1=0.1, text="A dog jumps.")],
}
OUT = {"activitynet": "a.json", "ava": "a.csv", "mot": "mot", "cvat": "cvat",
       "youtube_vis": "v.json", "davis": "davis", "msrvtt": "m.json",
       "activitynet_captions": "c.json"}


def canonical(records: list[RawRecord]) -> list[str]:
    return sorted(repr(dataclasses.replace(r, where="")) for r in records)


def files(paths: list[Path], root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in paths}


def test_every_format_is_covered() -> None:
    assert set(RECORDS) == set(FORMATS)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_and_determinism(fmt: str, tmp_path: Path) -> None:
    first = formats.write(fmt, RECORDS[fmt], tmp_path / "1" / OUT[fmt], VIDEOS)
    again = formats.write(fmt, RECORDS[fmt], tmp_path / "2" / OUT[fmt], VIDEOS)
    assert files(first, tmp_path / "1") == files(again, tmp_path / "2")
    back = formats.read(fmt, tmp_path / "1" / OUT[fmt])
    assert canonical(back) == canonical(RECORDS[fmt])
    assert all(r.where and A not in r.where and B not in r.where for r in back)


def test_davis_writes_every_frame_with_the_voc_palette(tmp_path: Path) -> None:
    paths = formats.write("davis", RECORDS["davis"], tmp_path, VIDEOS)
    assert [p.name for p in paths] == ["00000.png", "00001.png", "00002.png", "00003.png",
                                      "00000.png", "00001.png", "00002.png"]
    with Image.open(paths[1]) as empty:
        assert empty.mode == "P" and not np.asarray(empty).any()
        assert empty.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]


def test_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="known formats: activitynet, ava, mot"):
        formats.read("kinetics", tmp_path)
    with pytest.raises(FormatError, match="do not exist"):
        formats.read("ava", tmp_path / f"{A}.csv")


# --- published layouts, written by hand ---------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def fields(records: list[RawRecord], *names: str) -> list[tuple]:
    return [tuple(getattr(r, n) for n in names) for r in records]


def test_activitynet_layout(tmp_path: Path) -> None:
    text = json.dumps({"version": "VERSION 1.3", "taxonomy": [], "database": {
        "v_secret": {"duration": 82.73, "subset": "training", "resolution": "640x360",
                     "url": "https://www.youtube.com/watch?v=secret",
                     "annotations": [{"segment": [1.5, 10], "label": "Long jump"},
                                     {"segment": [20.0, 30.25], "label": "Run"}]},
        "v_other": {"duration": 5, "subset": "testing", "annotations": []}}})
    got = formats.read("activitynet", write(tmp_path / "a.json", text))
    assert fields(got, "video", "where", "label", "t0", "t1", "width", "height") == [
        ("v_secret", "database/video[0]/annotations[0]", "Long jump", 1.5, 10.0, 640, 360),
        ("v_secret", "database/video[0]/annotations[1]", "Run", 20.0, 30.25, 640, 360)]
    assert {(r.task, r.source) for r in got} == {("segments", "activitynet")}


def test_ava_layout(tmp_path: Path) -> None:
    text = ("-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1\n"
            "-5KQ66BBWC4,0903,0.2,0.3,0.4,1.2,12\n")  # box past the frame: read as is
    got = formats.read("ava", write(tmp_path / "ava.csv", text))
    assert fields(got, "where", "t0", "x1", "y2", "label", "track_id", "normalized") == [
        ("line 1", 902.0, 0.077, 0.811, "80", 1, True),
        ("line 2", 903.0, 0.2, 1.2, "12", None, True)]


SEQINFO = ("[Sequence]\nname=MOT17-secret\nimDir=img1\nframeRate=30\nseqLength=600\n"
           "imWidth=1920\nimHeight=1080\nimExt=.jpg\n")


def test_mot_layout(tmp_path: Path) -> None:
    seq = tmp_path / "train" / "MOT17-secret-folder"
    write(seq / "seqinfo.ini", SEQINFO)
    write(seq / "gt" / "gt.txt", "1,1,912,484,97,109,0,7,1\n"   # conf 0: ignored
                                 "1,2,1338,418,167,379,1,1,0.2\n"
                                 "2,2,1336,418,167,379,1,1,0.9\n"
                                 "\n3,3,10,20,30,40,1,-1,-1,-1\n"  # MOT15: world x, y, z
                                 "4 4 10 20 30 40\n")              # 6 fields, spaces
    write(tmp_path / "train" / "MOT17-test" / "seqinfo.ini", SEQINFO)  # no gt: skipped
    for path in (seq, tmp_path / "train"):
        got = formats.read("mot", path)
        prefix = "" if path == seq else "video[0]/"
        assert fields(got, "video", "where", "frame", "track_id", "label", "occluded") == [
            ("MOT17-secret", f"{prefix}gt.txt line 2", 0, 2, "1", True),
            ("MOT17-secret", f"{prefix}gt.txt line 3", 1, 2, "1", False),
            ("MOT17-secret", f"{prefix}gt.txt line 5", 2, 3, "", False),
            ("MOT17-secret", f"{prefix}gt.txt line 6", 3, 4, "", False)]
    assert fields(got[:1], "x1", "y1", "x2", "y2", "fps", "width", "height", "score") == [
        (1338.0, 418.0, 1505.0, 797.0, 30.0, 1920, 1080, None)]
    alone = write(tmp_path / "bare" / "gt" / "gt.txt", "1,1,0,0,1,1,1,1,1\n")
    assert fields(formats.read("mot", alone), "video", "fps", "width") == [("bare", None, None)]


CVAT = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <{tag}>
      <id>7</id><name>secret task</name><size>3</size><mode>interpolation</mode>
      <owner><username>someone</username><email>someone@example.org</email></owner>
      <original_size><width>1280</width><height>720</height></original_size>
      <source>secret_clip.mp4</source>
    </{tag}>
    <dumped>2024-01-01 00:00:00</dumped>
  </meta>
  <track id="3" label="child" source="manual">
    <box frame="0" outside="0" occluded="0" keyframe="1" xtl="10.00" ytl="20.00" xbr="30.50"
         ybr="40.00" z_order="0"></box>
    <box frame="1" outside="0" occluded="1" keyframe="0" xtl="11.00" ytl="20.00" xbr="31.50"
         ybr="40.00" z_order="0"><attribute name="pose">sitting</attribute></box>
    <box frame="2" outside="1" occluded="0" keyframe="1" xtl="12.00" ytl="20.00" xbr="32.50"
         ybr="40.00" z_order="0"></box>
  </track>
  <track id="4" label="adult" source="manual">
    <polygon frame="0" outside="0" occluded="0" keyframe="1" points="1,2;3,4;5,6" z_order="0"/>
  </track>
</annotations>
"""


@pytest.mark.parametrize("tag", ["task", "job"])
def test_cvat_layout(tag: str, tmp_path: Path) -> None:
    got = formats.read("cvat", write(tmp_path / "annotations.xml", CVAT.format(tag=tag)))
    assert fields(got, "video", "where", "label", "frame", "track_id", "keyframe", "outside",
                  "occluded") == [
        ("secret_clip.mp4", "track[0]/box[0]", "child", 0, 3, True, False, False),
        ("secret_clip.mp4", "track[0]/box[1]", "child", 1, 3, False, False, True),
        ("secret_clip.mp4", "track[0]/box[2]", "child", 2, 3, True, True, False)]
    assert fields(got[:1], "x1", "y1", "x2", "y2", "width", "height") == [
        (10.0, 20.0, 30.5, 40.0, 1280, 720)]
    assert "someone" not in repr(got) and "2024" not in repr(got)
    assert [r.where for r in formats.read("cvat", tmp_path)][0] == "file[0]/track[0]/box[0]"


def test_youtube_vis_layout(tmp_path: Path) -> None:
    text = json.dumps({
        "info": {}, "licenses": [],
        "videos": [{"id": 1, "width": 3, "height": 3, "length": 3,
                    "file_names": ["secret_vid/00000.jpg", "secret_vid/00005.jpg",
                                   "secret_vid/00010.jpg"]}],
        "categories": [{"supercategory": "object", "id": 1, "name": "person"}],
        "annotations": [{"id": 9, "video_id": 1, "category_id": 1, "iscrowd": 0,
                         "height": 3, "width": 3, "length": 1,
                         "segmentations": [{"size": [3, 3], "counts": "414"},
                                           None,
                                           {"size": [3, 3], "counts": [4, 1, 4]}],
                         "bboxes": [[1, 1, 1, 1], None, [1, 1, 1, 1]], "areas": [1, None, 1]},
                        {"id": 10, "video_id": 1, "category_id": 1, "iscrowd": 0,
                         "segmentations": [[[0, 0, 2, 0, 2, 2, 0, 2]], None, None]}]})
    got = formats.read("youtube_vis", write(tmp_path / "train.json", text))
    assert fields(got, "video", "where", "frame", "track_id", "label", "mask") == [
        ("secret_vid", "annotations[0]/segmentations[0]", 0, 9, "person", "414"),
        ("secret_vid", "annotations[0]/segmentations[2]", 2, 9, "person", "414"),
        ("secret_vid", "annotations[1]/segmentations[0]", 0, 10, "person", "09")]
    assert {(r.mask_height, r.mask_width, r.width, r.height) for r in got} == {(3, 3, 3, 3)}


def _png(path: Path, ids: np.ndarray, mode: str = "P") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.frombytes("P", ids.shape[::-1], ids.astype(np.uint8).tobytes())
    image.putpalette(palette())  # without a palette, Pillow renumbers the indexes on save
    image.convert(mode).save(path)


def test_davis_layout(tmp_path: Path) -> None:
    ids = np.zeros((3, 5), dtype=np.uint8)
    ids[0, 0], ids[1, 1:3], ids[2, 4] = 2, 1, 255  # 255: void, read as background
    _png(tmp_path / "secret_b" / "00010.png", ids)
    _png(tmp_path / "secret_b" / "00002.png", np.zeros((3, 5)))
    _png(tmp_path / "secret_a" / "00000.png", ids)
    (tmp_path / "secret_a" / "notes.txt").write_text("ignored")
    got = formats.read("davis", tmp_path)
    assert fields(got, "video", "where", "frame", "track_id", "label") == [
        ("secret_a", "video[0]/00000.png", 0, 1, ""),
        ("secret_a", "video[0]/00000.png", 0, 2, ""),
        ("secret_b", "video[1]/00010.png", 10, 1, ""),
        ("secret_b", "video[1]/00010.png", 10, 2, "")]
    assert (rle.decode(got[0].mask, 3, 5) == (ids == 1)).all()
    assert (got[0].mask_height, got[0].mask_width, got[0].width) == (3, 5, 5)
    assert len(formats.read("davis", tmp_path / "secret_a")) == 2


def test_caption_layouts(tmp_path: Path) -> None:
    msrvtt = {"info": {}, "videos": [{"video_id": "video7", "id": 7, "split": "train"}],
              "sentences": [{"caption": "a man is singing", "video_id": "video7", "sen_id": 3},
                            {"caption": "", "video_id": "video9", "sen_id": 4}]}
    got = formats.read("msrvtt", write(tmp_path / "m.json", json.dumps(msrvtt)))
    assert fields(got, "video", "where", "text", "task") == [
        ("video7", "sentences[0]", "a man is singing", "captions"),
        ("video9", "sentences[1]", "", "captions")]
    bare = [{"video_id": "video7", "caption": "a man sings"}]
    got = formats.read("msrvtt", write(tmp_path / "t.json", json.dumps(bare)))
    assert fields(got, "video", "where", "text") == [("video7", "[0]", "a man sings")]
    anc = {"v_secret": {"duration": 55.15, "timestamps": [[0.28, 55.15], [13.79, 54.32]],
                        "sentences": ["A man plays.", " He stops."]}}
    got = formats.read("activitynet_captions", write(tmp_path / "c.json", json.dumps(anc)))
    assert fields(got, "video", "where", "t0", "t1", "text") == [
        ("v_secret", "video[0]/sentences[0]", 0.28, 55.15, "A man plays."),
        ("v_secret", "video[0]/sentences[1]", 13.79, 54.32, " He stops.")]


# --- refusals: FormatError naming the position, never the video -----------------------------

S = "secret_clip"


def _j(obj: object) -> Callable[[Path], Path]:
    return lambda d: write(d / "f.json", json.dumps(obj, indent=1))


def _t(name: str, text: str) -> Callable[[Path], Path]:
    """A file; the folder given instead of the file when it lies in a (private) sub-folder."""
    depth = name.count("/")
    return lambda d: write(d / name, text).parents[depth] if depth else write(d / name, text)


def _seqinfo(d: Path) -> Path:
    write(d / S / "gt" / "gt.txt", "1,1,0,0,1,1\n")
    write(d / S / "seqinfo.ini", f"name={S}\n")  # no [Sequence] header
    return d


def _rgb(d: Path) -> Path:
    _png(d / S / "00003.png", np.zeros((2, 2)), mode="RGB")
    return d


def _named(d: Path) -> Path:
    _png(d / S / f"{S}.png", np.zeros((2, 2)))
    return d


REFUSALS = [
    ("activitynet", _j({S: {"annotations": []}}), "top level: the required key 'database'"),
    ("activitynet", _t("a.json", '{"database": {\n"' + S + '": }}'), "line 2, column"),
    ("activitynet", _j({"database": {S: {"annotations": [{"segment": [1, 2]}]}}}),
     "database/video[0]/annotations[0]: the required key 'label'"),
    ("activitynet", _j({"database": {"x": {"annotations": []}, S: {"annotations": [
        {"segment": ["1", 2], "label": S}]}}}), "database/video[1]/annotations[0]"),
    ("activitynet", _j({"database": {S: {"resolution": S, "annotations": []}}}),
     "database/video[0]: resolution"),
    ("ava", _t("a.csv", f"{S},1,0,0,1,1,3\n{S},1,0,0,1\n"),
     "line 2: expected 7 or 8 fields, got 5"),
    ("ava", _t("a.csv", f"{S},1,{S},0,1,1,3\n"), "line 1: x1 must be a number"),
    ("ava", _t("a.csv", f"{S},1,0,0,1,1,walk\n"), "line 1: action_id must be an integer"),
    ("mot", _t(f"{S}/gt/gt.txt", "1,1,0,0,1,1,1,1,1\n1,1,0,0,1\n"),
     "video[0]/gt.txt line 2: expected 6 to 10 fields, got 5"),
    ("mot", _t(f"{S}/gt/gt.txt", f"{S},1,0,0,1,1\n"), "video[0]/gt.txt line 1: frame"),
    ("mot", _seqinfo, "video[0]/seqinfo.ini line 1: not a readable INI file"),
    ("cvat", _t(f"{S}.xml", f"<annotations><meta><source>{S}</source></meta><track>"),
     "line 1, column"),
    ("cvat", _t(f"{S}.xml", f'<annotations><image id="0" name="{S}.jpg"/></annotations>'),
     "CVAT for images XML"),
    ("cvat", _t(f"{S}.xml", '<annotations><meta><task><source>' + S + '</source></task></meta>'
                '<track id="0" label="a"><box frame="0" ytl="1" xbr="2" ybr="3"/></track>'
                '</annotations>'), "track[0]/box[0]: the required attribute 'xtl'"),
    ("youtube_vis", _j({"annotations": []}), "top level: the required key 'videos'"),
    ("youtube_vis", _j({"videos": [{"id": 1, "file_names": [f"{S}/0.jpg"]}], "annotations": [
        {"id": 1, "video_id": 1, "category_id": 1, "segmentations": [None, S]}]}),
     "annotations[0]/segmentations[1]"),
    ("youtube_vis", _j({"videos": [{"id": 1, "width": 2, "height": 2}], "annotations": [
        {"id": 1, "video_id": 1, "category_id": 1, "segmentations": [[[0, 0, 1]]]}]}),
     "annotations[0]/segmentations[0]: polygon 0 has an odd number"),
    ("davis", _rgb, "video[0]/00003.png: not a palette PNG"),
    ("davis", _named, "video[0]: a PNG whose name is not a frame number"),
    ("msrvtt", _j({"sentences": [{"video_id": S, "caption": "x"}, {"video_id": S}]}),
     "sentences[1]: the required key 'caption'"),
    ("msrvtt", _j({"videos": [{"video_id": S}]}), "the required key 'sentences'"),
    ("activitynet_captions", _j({"a": {"timestamps": [], "sentences": []},
                                 S: {"timestamps": [[0, 1]], "sentences": ["a", "b"]}}),
     "video[1]: 1 timestamps but 2 sentences"),
    ("activitynet_captions", _j({S: {"timestamps": [[0, S]], "sentences": ["a"]}}),
     "video[0]/timestamps[0]: end must be a number"),
]


@pytest.mark.parametrize(("fmt", "make", "position"), REFUSALS)
def test_refusals_name_the_position_not_the_video(fmt: str, make: Callable[[Path], Path],
                                                  position: str, tmp_path: Path) -> None:
    path = make(tmp_path)
    with pytest.raises(FormatError) as caught:
        formats.read(fmt, path)
    assert position in str(caught.value)
    assert S not in str(caught.value)
