"""The annotations stage against the demo's answer key: each planted annotation fault is
quarantined with its reason, and nothing else is."""

from __future__ import annotations

import json
from pathlib import Path, PurePath

import pandas as pd


def planted(demo: Path, mapping: dict[str, str]) -> set[tuple[str, str, str]]:
    """(format, video id, reason) of every planted annotation fault ("" for a video that is not
    in the dataset)."""
    key = json.loads((demo / "faults.json").read_text())["annotation_faults"]
    return {(f["format"], PurePath(mapping[f["video"]]).stem if f["video"] in mapping else "",
             f["reason"]) for f in key}


def found(project: Path) -> set[tuple[str, str, str]]:
    """(format, video id, reason) of every quarantined annotation."""
    rows = pd.read_csv(project / "data" / "interim" / "quarantine_annotations.csv", dtype=str,
                       keep_default_na=False)
    return {(line.split(" ", 1)[0], video_id, reason)
            for line, video_id, reason in zip(rows["line"], rows["video_id"], rows["reason"],
                                              strict=True)}


def assert_annotation_faults_found(project: Path, demo: Path, mapping: dict[str, str]) -> None:
    """Every format was read, each planted fault is quarantined with its reason and nothing else
    is, and what was kept covers every annotated video."""
    expected = planted(demo, mapping)
    assert len(expected) >= 14  # an overlap needs a segment of 0.5 s after it (not on tiny demos)
    assert found(project) == expected
    summary = json.loads((project / "reports" / "annotations" / "summary.json").read_text())
    assert set(summary["by_format"]) == {"activitynet", "ava", "mot", "cvat", "youtube_vis",
                                         "davis", "msrvtt", "activitynet_captions"}
    assert all(count > 0 for count in summary["by_format"].values())
    assert summary["kept"] + summary["quarantined"] <= summary["read"]
    table = pd.read_parquet(project / "data" / "interim" / "annotations.parquet")
    annotated = json.loads((demo / "faults.json").read_text())["annotated"]
    assert set(table["video_id"]) == {PurePath(mapping[name]).stem for name in annotated}


def assert_loaders_give_the_generator_truth(project: Path, demo: Path,
                                            mapping: dict[str, str]) -> None:
    """The round trip: the demo's annotations, read, aligned and sampled through each loader,
    are the boxes, masks and segments the generator drew, at the very frames shown; also after
    a flip, a crop and a frame drop."""
    import numpy as np
    import torch
    from torchvision.transforms import v2

    from vidlab import config
    from vidlab.data.annotated import BoxClips, MaskClips, SegmentClips, TrackClips
    from vidlab.data.sampling import make_clip_sampler
    from vidlab.stages.demo.stage import build_plan
    from vidlab.synth import annotate
    from vidlab.synth.scene import Scene, render_with_truth

    params = config.load(project / "params.yaml")
    key = json.loads((demo / "faults.json").read_text())
    used = {"mot", "cvat", "youtube_vis", "davis", "ava", "activitynet"}
    faults = [f["video"] for f in key["annotation_faults"] if f["format"] in used]
    # a clean video where there is one (the small demo has more faults than videos): a planted
    # fault's rows are quarantined, so what is left of a video must still be the truth
    name = min(key["annotated"], key=faults.count)
    video_id = PurePath(mapping[name]).stem
    job = next(j for j in build_plan(params.demo, params.base.seed).jobs if j.filename == name)
    d = params.demo
    rec = job.recording
    scene = Scene(rec.domain, rec.label == "achieved", rec.child.rgb, rec.n_frames, rec.seed)
    _, truth = render_with_truth(scene, d.width, d.height, d.fps, d.noise_std)
    table = pd.read_parquet(project / "data" / "interim" / "annotations.parquet")
    table = table[table["video_id"] == video_id]
    manifest = pd.read_parquet(project / "data" / "interim" / "manifest.parquet")
    paths = {v: project / p for v, p in zip(manifest["video_id"], manifest["path"], strict=True)}
    sampler = make_clip_sampler("uniform", clip_len=8)
    w, h, crop = d.width, d.height, 8
    flip = v2.RandomHorizontalFlip(p=1.0)
    cut = v2.CenterCrop((h - 2 * crop, w - 2 * crop))

    def expected_box(frame: int, how: str) -> list[float]:
        x1, y1, x2, y2 = (float(v) for v in truth.boxes[frame])
        if how == "flip":
            return [w - x2, y1, w - x1, y2]
        if how == "crop":
            return [max(x1 - crop, 0), max(y1 - crop, 0), min(x2 - crop, w - 2 * crop),
                    min(y2 - crop, h - 2 * crop)]
        return [x1, y1, x2, y2]

    def expected_mask(frame: int, how: str) -> np.ndarray:
        mask = truth.masks[frame]
        if how == "flip":
            return mask[:, ::-1]
        return mask[crop:h - crop, crop:w - crop] if how == "crop" else mask

    for how, transform, drop in (("none", None, 0.0), ("flip", flip, 0.0), ("crop", cut, 0.0),
                                 ("none", None, 0.5)):
        torch.manual_seed(0)
        tracks = TrackClips(table, paths, ["child", "adult"], sampler, transform=transform,
                            frame_drop=drop)
        (frames, per_frame), info = tracks.load(0)
        assert info.video_id == video_id and len(per_frame) == len(info.indices)
        assert len(info.indices) <= 8 if drop else len(info.indices) == 8
        for frame, entry in zip(info.indices, per_frame, strict=True):
            boxes = entry["boxes"].tolist()
            assert 1 <= len(boxes) <= 2  # MOT's and CVAT's box of the one figure
            assert all(b == expected_box(frame, how) for b in boxes), (how, frame, boxes)
        torch.manual_seed(0)
        masks = MaskClips(table, paths, ["child"], sampler, transform=transform,
                          frame_drop=drop)
        (frames, per_frame), info = masks.load(0)
        for frame, entry in zip(info.indices, per_frame, strict=True):
            assert 1 <= len(entry["masks"]) <= 2  # YouTube-VIS's and DAVIS's
            for mask in entry["masks"]:
                assert np.array_equal(mask.numpy().astype(bool), expected_mask(frame, how))
    boxes = BoxClips(table, paths, ["crawl", "sit"], sampler)
    (_, per_frame, labels), info = boxes.load(0)
    for frame, entry in zip(info.indices, per_frame, strict=True):
        for box in entry.tolist():  # AVA: normalised to 3 significant places of the frame
            assert np.allclose(box, expected_box(frame, "none"), atol=0.05 * w)
    segments = SegmentClips(table, paths, ["left", "right"], sampler)
    (_, covered, labels), info = segments.load(0)
    runs = annotate.segments(truth)
    covered_positions = 0
    for position, frame in enumerate(info.indices):
        (label,) = [lab for a, b, lab in runs if a <= frame < b]
        inside = [int(labels[k]) for k in range(len(labels)) if covered[k, position]]
        if inside:  # (a planted segment fault leaves its frames uncovered)
            covered_positions += 1
            assert inside == [["left", "right"].index("left" if label == "Left half" else
                                                      "right")]
    assert covered_positions >= len(info.indices) // 2
