"""Annotated datasets through real decoding of videos whose frames carry their index and a drawn
object: annotations must land on the clip positions that show their frame, and move with the
pixels under flips and crops.

Frame ``i`` is a flat grey of level ``20 + 4 i`` with a white L-shaped object at a place that
varies with ``i`` (:func:`truth`); the aligned table is written by hand from that truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from vidlab.annotations import rle
from vidlab.annotations.schema import ALIGNED_COLUMNS
from vidlab.data.annotated import (
    BoxClips,
    CaptionClips,
    MaskClips,
    SegmentClips,
    TrackClips,
    collate,
)
from vidlab.data.annotated_transforms import BoxesSample, SegmentsSample, drop_frames
from vidlab.data.sampling import make_clip_sampler
from vidlab.media.decode import BACKENDS
from vidlab.media.encode import write_video

WIDTH, HEIGHT, FRAMES = 80, 48, 30
# 10 frames at ~30 fps, then 20 frames 0.2 s apart: a variable-frame-rate recording
VFR_MS = [0, 33, 66, 100, 133, 166, 200, 233, 266, 300] + [300 + 200 * k for k in range(1, 21)]
STATIC = (50.0, 30.0, 70.0, 44.0)  # track 7's box, frames 10..19 (not drawn)


def truth(i: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Frame ``i``'s object: an L (a 20 x 16 bar, a 8 x 6 foot below it) and its box."""
    x, y = 1 + 2 * i, 2 + 2 * (i % 6)
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y:y + 16, x:x + 20] = True
    mask[y + 16:y + 22, x:x + 8] = True
    return mask, (float(x), float(y), float(x + 20), float(y + 22))


def picture(i: int) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), 20 + 4 * i, dtype=np.uint8)
    frame[truth(i)[0]] = 255
    return frame


def shown(frame: torch.Tensor) -> tuple[int, np.ndarray]:
    """The index a decoded (3, H, W) frame carries and where its object is (bool H x W)."""
    grey = frame.float().mean(0).numpy()
    background = float(np.median(grey))
    return round((background - 20) / 4), grey > (background + 255) / 2


def bbox(mask: np.ndarray) -> tuple[float, ...] | None:
    found = rle.bbox(mask)
    return None if found is None else tuple(float(v) for v in found)


def row(video_id: str, task: str, **values) -> dict:
    out = {c: None for c in ALIGNED_COLUMNS}
    out.update(video_id=video_id, task=task, source="test", where=f"row {values.pop('n', 0)}",
               label="", mask="", text="", occluded=False)
    out.update(values)
    return out


def table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(ALIGNED_COLUMNS))
    for name in ("frame", "frame_end", "track_id"):
        frame[name] = frame[name].astype("Int64")
    for name in ("t0", "t1", "x1", "y1", "x2", "y2", "score"):
        frame[name] = frame[name].astype("Float64")
    return frame


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("annotated")
    paths = {"cfr": folder / "cfr.mp4", "vfr": folder / "vfr.mp4", "other": folder / "o.mp4"}
    write_video(paths["cfr"], [picture(i) for i in range(FRAMES)], fps=15, crf=0)
    write_video(paths["vfr"], [picture(i) for i in range(FRAMES)], fps=15, crf=0, pts_ms=VFR_MS)
    write_video(paths["other"], [picture(i) for i in range(20)], fps=15, crf=0)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def annotations(videos) -> pd.DataFrame:
    """Boxes on even frames (AVA-like), two tracks, masks, three segments, captions."""
    rows = []
    for video_id in ("cfr", "vfr"):
        for i in range(FRAMES):
            mask, (x1, y1, x2, y2) = truth(i)
            box = {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "frame": i, "frame_end": i}
            if i % 2 == 0:
                rows.append(row(video_id, "boxes", label="runs", n=i, **box))
            rows.append(row(video_id, "tracks", track_id=1, label="person", **box))
            if 10 <= i < 20:
                rows.append(row(video_id, "tracks", track_id=7, label="car", frame=i,
                                frame_end=i, **dict(zip(("x1", "y1", "x2", "y2"), STATIC,
                                                        strict=True))))
            rows.append(row(video_id, "masks", track_id=3, label="person", mask=rle.encode(mask),
                            **box))
    for first, last, label in ((0, 9, "walk"), (10, 19, "jump"), (25, 29, "walk")):
        rows.append(row("cfr", "segments", label=label, frame=first, frame_end=last))
    rows.append(row("cfr", "captions", text="the first part", frame=0, frame_end=9))
    rows.append(row("cfr", "captions", text="the last part", frame=20, frame_end=29))
    rows += [row("other", "captions", text=t) for t in ("an L moves", "a white shape slides")]
    return table(rows)


def clips(kind, annotations, videos, classes, policy="multi", **kwargs):
    sampler_args = {k: kwargs.pop(k) for k in ("clip_len", "stride", "target_fps",
                                                "clips_per_video") if k in kwargs}
    sampler = make_clip_sampler(policy, **{"clip_len": 6, **sampler_args})
    return kind(annotations, videos, classes, sampler, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_position_gets_its_frames_boxes(annotations, videos, backend) -> None:
    data = clips(BoxClips, annotations, videos, ["jumps", "runs"], clip_len=6, stride=2,
                 clips_per_video=3, backend=backend)
    assert len(data) == 6 and data.videos == ["cfr", "vfr"]
    for item in range(len(data)):
        sample, info = data.load(item)
        assert isinstance(sample, BoxesSample) and sample.clip.shape == (6, 3, HEIGHT, WIDTH)
        for t, frame in enumerate(info.indices):
            index, pixels = shown(sample.clip[t])
            assert index == frame
            boxes = sample.boxes[t]
            assert boxes.canvas_size == (HEIGHT, WIDTH) and boxes.format.name == "XYXY"
            if frame % 2:  # no box annotated on odd frames
                assert boxes.shape == (0, 4) and sample.labels[t].tolist() == []
            else:
                assert boxes.tolist() == [list(truth(frame)[1])] == [list(bbox(pixels))]
                assert sample.labels[t].tolist() == [1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_vfr_annotations_follow_the_decoded_frame_index(annotations, videos, backend) -> None:
    data = clips(TrackClips, annotations, videos, {"tracks": ["person", "car"]},
                 policy="uniform", clip_len=8, backend=backend)
    sample, info = data.load(1)  # 8 instants evenly over 4.5 s: the time, not the index, is even
    assert info.video_id == "vfr" and len(set(info.indices)) == 8
    assert np.allclose(info.times, np.array(VFR_MS)[list(info.indices)] / 1000, atol=1e-3)
    assert list(np.diff(info.indices)) != [1] * 7  # the rate changes inside this clip
    for t, frame in enumerate(info.indices):
        index, pixels = shown(sample.frames[t])
        assert index == frame
        track = sample.tracks[t]
        expected = {1: truth(frame)[1]} | ({7: STATIC} if 10 <= frame < 20 else {})
        got = {int(i): tuple(b) for i, b in zip(track["ids"], track["boxes"].tolist(),
                                                 strict=True)}
        assert got == expected and tuple(got[1]) == bbox(pixels)
        assert track["labels"].tolist() == [0] + ([1] if 7 in got else [])


def test_random_clips_get_their_tracks(annotations, videos) -> None:
    torch.manual_seed(0)
    data = clips(TrackClips, annotations, videos, None, policy="random", clip_len=5)
    starts = set()
    for _ in range(6):
        sample, info = data.load(0)
        starts.add(info.indices[0])
        for t, frame in enumerate(info.indices):
            assert shown(sample.frames[t])[0] == frame
            ids = sample.tracks[t]["ids"].tolist()
            assert ids == ([1, 7] if 10 <= frame < 20 else [1])
            assert sample.tracks[t]["labels"].tolist() == [-1] * len(ids)  # no class list
    assert len(starts) > 1


SPATIAL = {
    "flip": v2.RandomHorizontalFlip(p=1.0),
    "crop": v2.RandomCrop((32, 40)),
    "resized crop": v2.RandomResizedCrop((48, 64), scale=(0.3, 0.7), antialias=True),
    "flip, resized crop": v2.Compose([v2.RandomHorizontalFlip(p=1.0),
                                      v2.RandomResizedCrop((40, 40), scale=(0.4, 0.9))]),
}


def thinnest(box) -> float:
    return min(box[2] - box[0], box[3] - box[1])


@pytest.mark.parametrize("name", SPATIAL)
def test_boxes_move_with_the_pixels(annotations, videos, name) -> None:
    torch.manual_seed(1)
    data = clips(TrackClips, annotations, videos, None, policy="random", clip_len=4,
                 transform=SPATIAL[name])
    seen = 0
    for _ in range(8):
        sample, info = data.load(0)
        for t, frame in enumerate(info.indices):
            assert shown(sample.frames[t])[0] == frame  # the crop kept background
            pixels = shown(sample.frames[t])[1]
            track = sample.tracks[t]
            assert track["boxes"].canvas_size == tuple(pixels.shape)
            boxes = dict(zip(track["ids"].tolist(), track["boxes"].tolist(), strict=True))
            box, found = boxes.get(1), bbox(pixels)
            if box is None or found is None:  # the crop missed the object, or all but a sliver
                assert (box or found) is None or thinnest(box or found) < 2, (box, found)
                continue
            seen += 1
            box, found = np.array(box), np.array(found)
            assert np.all(box[:2] <= found[:2] + 1) and np.all(box[2:] >= found[2:] - 1)
            border = np.array([0, 0, pixels.shape[1], pixels.shape[0]])
            if np.all(np.abs(found - border) > 1):  # not cut by the crop: the same box
                assert np.abs(box - found).max() <= 1, (box, found)
    assert seen > 8


@pytest.mark.parametrize("name", [None, *SPATIAL])
def test_masks_move_with_the_pixels(annotations, videos, name) -> None:
    torch.manual_seed(2)
    data = clips(MaskClips, annotations, videos, {"masks": ["person"]}, policy="random",
                 clip_len=4, transform=SPATIAL.get(name))
    for _ in range(4):
        sample, info = data.load(1)
        assert info.video_id == "vfr"
        for t, frame in enumerate(info.indices):
            index, pixels = shown(sample.frames[t])
            objects = sample.masks[t]
            assert index == frame and isinstance(objects["masks"], tv_tensors.Mask)
            assert objects["masks"].dtype == torch.uint8
            assert objects["masks"].shape[1:] == pixels.shape
            if not pixels.any():
                assert objects["masks"].shape[0] == 0
                continue
            assert objects["ids"].tolist() == [3] and objects["labels"].tolist() == [0]
            mask = objects["masks"][0].numpy().astype(bool)
            if name is None:
                assert np.array_equal(mask, truth(frame)[0])
            iou = (mask & pixels).sum() / (mask | pixels).sum()
            assert iou >= 0.95, (name, frame, iou)


def test_segments_in_clip_positions_and_after_drop_frames(annotations, videos) -> None:
    data = clips(SegmentClips, annotations, videos, ["jump", "walk"], clip_len=8,
                 clips_per_video=4)
    assert len(data) == 4  # only cfr has segments
    sample, info = data.load(1)
    assert info.indices == tuple(range(7, 15))  # straddles the boundary between frames 9 and 10
    assert [shown(f)[0] for f in sample.clip] == list(info.indices)
    assert isinstance(sample, SegmentsSample)
    assert sample.labels.tolist() == [1, 0]  # walk 0..9, jump 10..19; walk 25..29 left out
    assert sample.segments.tolist() == [[True] * 3 + [False] * 5, [False] * 3 + [True] * 5]

    dropped = drop_frames(sample, [0, 2, 3, 6])  # frames 7, 9, 10, 13
    assert [shown(f)[0] for f in dropped.clip] == [7, 9, 10, 13]
    assert isinstance(dropped.clip, tv_tensors.Video)
    assert dropped.segments.tolist() == [[True, True, False, False], [False, False, True, True]]
    late = drop_frames(sample, torch.arange(8) >= 4)  # frames 11..14: walk no longer in the clip
    assert late.labels.tolist() == [0] and late.segments.tolist() == [[True] * 4]
    with pytest.raises(ValueError, match="at least one"):
        drop_frames(sample, [False] * 8)
    with pytest.raises(ValueError, match="one entry per clip position"):
        drop_frames(sample, [True] * 3)


def test_frame_drop_in_the_dataset_keeps_segments_and_boxes_right(annotations, videos) -> None:
    torch.manual_seed(3)
    classes = {"segments": ["jump", "walk"], "boxes": ["runs"]}
    segments = clips(SegmentClips, annotations, videos, classes, clip_len=10, clips_per_video=3,
                     frame_drop=0.4)
    boxes = clips(BoxClips, annotations, videos, classes, clip_len=10, clips_per_video=3,
                  frame_drop=0.4)
    lengths = set()
    for item in range(3):
        sample, info = segments.load(item)
        frames = np.array([shown(f)[0] for f in sample.clip])
        assert frames.tolist() == list(info.indices)
        lengths.add(len(frames))
        spans = [(0, 9, 1), (10, 19, 0), (25, 29, 1)]
        expected = [((frames >= a) & (frames <= b)).tolist() for a, b, _ in spans]
        expected_labels = [c for (a, b, c) in spans if ((frames >= a) & (frames <= b)).any()]
        assert sample.segments.tolist() == [e for e in expected if any(e)]
        assert sample.labels.tolist() == expected_labels
        sample, info = boxes.load(item)
        assert [len(b) for b in sample.boxes] == [1 - f % 2 for f in info.indices]
    assert len(lengths) > 1 and max(lengths) < 10


def test_captions_come_from_the_clips_video(annotations, videos) -> None:
    torch.manual_seed(4)
    data = clips(CaptionClips, annotations, videos, None, clip_len=6, clips_per_video=2)
    assert data.videos == ["cfr", "other"] and len(data) == 4
    got = {}
    for item in range(len(data)):
        (clip, caption), info = data.load(item)
        assert shown(clip[0])[0] == info.indices[0]
        got[(info.video_id, info.clip_index)] = caption
    assert got == {("cfr", 0): "the first part", ("cfr", 1): "the last part",
                   ("other", 0): "an L moves", ("other", 1): "an L moves"}
    random = clips(CaptionClips, annotations, videos, None, policy="random")
    assert {random[1].caption for _ in range(12)} == {"an L moves", "a white shape slides"}
    batch = collate([random[0], random[1]])
    assert batch.clip.shape == (2, 6, 3, HEIGHT, WIDTH) and len(batch.caption) == 2


def test_bad_tables_and_arguments_are_refused(annotations, videos) -> None:
    with pytest.raises(ValueError, match=r"labels \['runs'\] of video cfr are not in"):
        clips(BoxClips, annotations, videos, ["walks"])
    with pytest.raises(ValueError, match="have no path in the manifest, e.g. \\['vfr'\\]"):
        clips(BoxClips, annotations, {"cfr": videos["cfr"]}, ["runs"])
    with pytest.raises(ValueError, match="needs the class list of segments"):
        clips(SegmentClips, annotations, videos, None)
    backwards = table([row("cfr", "segments", label="walk", frame=9, frame_end=3, n=4)])
    with pytest.raises(ValueError, match=r"row 4 \(video cfr\) ends \(frame 3\) before"):
        clips(SegmentClips, backwards, videos, ["walk"])
    with pytest.raises(ValueError, match="lacks the columns \\['mask'\\]"):
        clips(MaskClips, annotations.drop(columns="mask"), videos, None)
    with pytest.raises(ValueError, match="frame drop probability"):
        clips(TrackClips, annotations, videos, None, frame_drop=1.0)
    with pytest.raises(IndexError):
        clips(TrackClips, annotations, videos, None, policy="center").load(2)
