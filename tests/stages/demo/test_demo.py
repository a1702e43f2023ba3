"""The synthetic demo dataset: contents, faults, metadata, determinism, motion-only labels."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import av
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidlab.config import replace
from vidlab.config.annotations import DEMO_FILES
from vidlab.media.encode import read_frames
from vidlab.stages.demo import stage as generate
from vidlab.synth.catalog import MILESTONE_AGES
from vidlab.synth.scene import Scene, render

FAULT_KINDS = {
    "zero_byte", "truncated", "non_video", "near_duplicate", "vfr", "missing_file", "orphan_file",
    "label_needs_normalising", "invalid_label", "out_of_range_age", "duplicated_row",
    "age_milestone_inconsistent",
}
LABELS = {"achieved", "not_achieved"}


def rows_of(root: Path) -> list[dict[str, str]]:
    with open(root / "metadata.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def faults_of(root: Path) -> dict[str, dict]:
    return {f["kind"]: f for f in json.loads((root / "faults.json").read_text())["faults"]}


def fault_files(root: Path) -> set[str]:
    return {f["filename"] for f in faults_of(root).values()}


def probe(path: Path) -> dict:
    """Decode a file fully with PyAV: codec, size, fps, declared and decoded frames, timestamps."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = []
        try:
            pts.extend(frame.pts for frame in container.decode(stream))
        except av.error.FFmpegError:  # a truncated file fails at its cut
            pass
        return {
            "codec": stream.codec_context.name, "width": stream.width, "height": stream.height,
            "fps": float(stream.average_rate), "declared": stream.frames, "decoded": len(pts),
            "deltas": set(np.diff(pts).tolist()), "tags": dict(container.metadata),
        }


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_columns(demo_dataset: Path) -> None:
    assert sorted(p.name for p in demo_dataset.iterdir()) == ["annotations", "faults.json",
                                                             "metadata.csv", "videos"]
    assert sorted(p.name for p in (demo_dataset / "annotations").iterdir()) == sorted(
        DEMO_FILES.values())
    header = (demo_dataset / "metadata.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "filename,child_age,milestone_id,label,child_id,recorded_on"


def test_clean_videos_meet_the_spec(demo_dataset: Path) -> None:
    rows = rows_of(demo_dataset)
    clean = [r for r in rows if r["filename"] not in fault_files(demo_dataset)]
    assert len(clean) >= 120
    for row in clean:
        info = probe(demo_dataset / "videos" / row["filename"])
        assert info["codec"] == "h264"
        assert info["width"] >= 96 and info["height"] >= 96
        assert info["fps"] == pytest.approx(15, abs=0.5)
        assert 2.0 <= info["decoded"] / info["fps"] <= 4.0
        assert info["decoded"] == info["declared"]
        assert row["label"] in LABELS
        assert 0 <= int(row["child_age"]) <= 36
    assert len({r["child_id"] for r in clean}) >= 30
    assert {r["milestone_id"][0] for r in clean} == {"M", "L", "S", "C"}
    assert {r["label"] for r in clean} == LABELS
    ages = [int(r["child_age"]) for r in clean]
    assert min(ages) <= 3 and max(ages) >= 33


def test_names_and_container_metadata_identify_the_child(demo_dataset: Path) -> None:
    """Raw files look like a real collection's, so de-identification has work to do."""
    rows = [r for r in rows_of(demo_dataset) if r["filename"] not in fault_files(demo_dataset)]
    for row in rows:
        name = row["filename"].split("_")[0]
        assert re.fullmatch(r"[^\W\d_]+_\d{4}-\d{2}-\d{2}_[MLSC]_\d+M_\d{3}(_\d+)?\.mp4",
                            row["filename"]), row["filename"]
        assert row["recorded_on"] in row["filename"]
        tags = probe(demo_dataset / "videos" / row["filename"])["tags"]
        assert tags["creation_time"].startswith(row["recorded_on"])
        assert re.fullmatch(r"[+-]\d+\.\d+[+-]\d+\.\d+/", tags["location"])
        assert tags["make"] and tags["model"]
        assert name in tags["title"]


def test_every_fault_is_planted_as_described(demo_dataset: Path) -> None:
    faults, rows = faults_of(demo_dataset), rows_of(demo_dataset)
    videos = demo_dataset / "videos"
    assert set(faults) == FAULT_KINDS
    for item in faults.values():  # line numbers point at rows naming the file
        for line in item["lines"]:
            assert rows[line - 2]["filename"] == item["filename"]
    assert (videos / faults["zero_byte"]["filename"]).stat().st_size == 0
    truncated = probe(videos / faults["truncated"]["filename"])
    assert truncated["decoded"] < 0.9 * truncated["declared"]
    with pytest.raises(av.error.FFmpegError):
        av.open(str(videos / faults["non_video"]["filename"]))
    assert len(probe(videos / faults["vfr"]["filename"])["deltas"]) >= 3
    assert not (videos / faults["missing_file"]["filename"]).exists()
    orphan = faults["orphan_file"]["filename"]
    assert (videos / orphan).exists() and orphan not in {r["filename"] for r in rows}
    by_name = {r["filename"]: r for r in rows}
    assert by_name[faults["label_needs_normalising"]["filename"]]["label"] == "Achieved "
    assert by_name[faults["invalid_label"]["filename"]]["label"] not in LABELS
    assert int(by_name[faults["out_of_range_age"]["filename"]]["child_age"]) > 36
    inconsistent = by_name[faults["age_milestone_inconsistent"]["filename"]]
    typical = int(inconsistent["milestone_id"].split("_")[1][:-1])
    assert typical - int(inconsistent["child_age"]) > 12
    duplicated = faults["duplicated_row"]
    assert len(duplicated["lines"]) == 2
    assert rows[duplicated["lines"][0] - 2] == rows[duplicated["lines"][1] - 2]


def test_near_duplicate_is_a_reencoded_resized_trimmed_copy(demo_dataset: Path) -> None:
    item = faults_of(demo_dataset)["near_duplicate"]
    videos = demo_dataset / "videos"
    copy = read_frames(videos / item["filename"])
    source = read_frames(videos / item["duplicate_of"])
    assert copy.shape[1] < source.shape[1] and copy.shape[2] < source.shape[2]
    assert 0.85 * len(source) <= len(copy) < len(source)
    assert item["filename"].split()[0] == "WhatsApp"
    # Same content: after shrinking both to 8x8 grey, the aligned frames nearly match.
    offset = round(0.06 * len(source))

    def thumb(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[0] // 8 * 8, frame.shape[1] // 8 * 8
        grey = frame[:h, :w].mean(-1)
        return grey.reshape(8, h // 8, 8, w // 8).mean((1, 3))

    error = np.mean([np.abs(thumb(c) - thumb(source[i + offset])).mean() for i, c in
                     enumerate(copy)])
    assert error < 4.0


def test_regeneration_is_byte_identical(demo_dataset: Path, tmp_path: Path, params) -> None:
    again = tmp_path / "again"
    generate.run(replace(params.demo, workers=2), seed=params.base.seed, out=again)
    assert digests(again) == digests(demo_dataset)


def test_small_profile_is_identical_for_any_worker_count(small_params, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    generate.run(small_params.demo, seed=3, out=one)
    generate.run(replace(small_params.demo, workers=2), seed=3, out=two)
    assert digests(one) == digests(two)
    other = tmp_path / "other"
    generate.run(small_params.demo, seed=4, out=other)
    assert digests(other) != digests(one)


def test_milestones_match_ages(demo_dataset: Path) -> None:
    skip = {faults_of(demo_dataset)[k]["filename"] for k in
            ("age_milestone_inconsistent", "out_of_range_age", "invalid_label")}
    for row in rows_of(demo_dataset):
        if row["filename"] in skip:
            continue
        typical = int(row["milestone_id"].split("_")[1][:-1])
        assert typical in MILESTONE_AGES
        assert abs(typical - int(row["child_age"])) <= 6, row


# --- the label lives in motion only ------------------------------------------------------------

def frame_features(frame: np.ndarray) -> np.ndarray:
    """Simple per-frame statistics: 16x12 pixels, colour moments, edge energy, histograms."""
    f = frame.astype(np.float32)
    grey = f.mean(-1)
    hist = np.concatenate([np.histogram(f[..., c], bins=8, range=(0, 256))[0] for c in range(3)])
    return np.concatenate([
        f[::8, ::8].ravel(), f.mean((0, 1)), f.std((0, 1)),
        [np.abs(np.diff(grey, axis=0)).mean(), np.abs(np.diff(grey, axis=1)).mean()],
        hist / grey.size,
    ])


def motion_features(frames: np.ndarray) -> np.ndarray:
    """Frame-difference statistics of a clip."""
    diff = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(-1)
    energy = diff.mean((1, 2))
    return np.concatenate([diff.mean(0)[::8, ::8].ravel(),
                           [energy.mean(), energy.std(), diff.std(), (diff > 20).mean()]])


def cv_accuracy(features: list[np.ndarray], labels: list[bool]) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(cross_val_score(model, np.array(features), np.array(labels), cv=folds).mean())


def clean_clips(root: Path) -> tuple[list[np.ndarray], list[bool]]:
    skip = fault_files(root)
    clips, labels = [], []
    for row in rows_of(root):
        if row["filename"] not in skip:
            clips.append(read_frames(root / "videos" / row["filename"]))
            labels.append(row["label"] == "achieved")
    return clips, labels


def test_single_frames_carry_no_label_but_motion_does(demo_dataset: Path) -> None:
    clips, labels = clean_clips(demo_dataset)
    rng = np.random.default_rng(0)
    center = [frame_features(c[len(c) // 2]) for c in clips]
    random_frame = [frame_features(c[rng.integers(len(c))]) for c in clips]
    motion = [motion_features(c) for c in clips]
    # With n >= 120, chance accuracy has a standard deviation of about 0.045.
    assert cv_accuracy(center, labels) < 0.65
    assert cv_accuracy(random_frame, labels) < 0.65
    assert cv_accuracy(motion, labels) > 0.9


def test_the_frame_probe_would_catch_a_leak() -> None:
    """The single-frame check can fail: a label-dependent figure colour scores far above the
    0.65 the check above allows (about 0.87 with the furniture's random colours as clutter)."""
    features, labels = [], []
    for k in range(200):
        achieved = k % 2 == 0
        rgb = (230, 150, 150) if achieved else (150, 150, 230)
        clip = render(Scene("motor", achieved, rgb, 5, seed=k), 128, 96, 15, 3.0)
        features.append(frame_features(clip[2]))
        labels.append(achieved)
    assert cv_accuracy(features, labels) > 0.8
