"""dedup calibration: labelled copies of real encoded videos, the committed figures behind the
default threshold, review pairs, display rotation and the 6 fps copy with boxes and text."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab import contracts
from vidlab.core.errors import DataError
from vidlab.media import signature as sig
from vidlab.media.probe import probe_all, write_frames
from vidlab.stages.card import stage as card
from vidlab.stages.dedup import calibration as calib
from vidlab.stages.dedup import stage as dedup
from vidlab.stages.probe.stage import limits_of

SMALL = calib.CalibrationSet(recordings=8)


@pytest.fixture(scope="module")
def dedup_params() -> params_mod.DedupParams:
    return params_mod.load(ROOT / "params.yaml").dedup


@pytest.fixture(scope="module")
def small_set(dedup_params) -> tuple[np.ndarray, dict]:
    """8 recordings and 12 edited copies of each, encoded, decoded and signed (~3 s)."""
    signs = calib.sign_set(SMALL, dedup_params.frames, workers=2)
    return signs, calib.evaluate(signs, dedup_params, SMALL)


def _recording(index: int = 0) -> tuple[np.ndarray, int]:
    from vidlab.synth.scene import render

    scene = calib.scenes(SMALL)[index]
    return render(scene, SMALL.width, SMALL.height, SMALL.fps, SMALL.noise_std), scene.seed


def test_small_set_separates_copies_from_distinct_recordings(small_set, dedup_params) -> None:
    _, doc = small_set
    f = calib.figures(doc, dedup_params.threshold, radius=dedup_params.candidate_radius,
                      margin=dedup_params.review_margin)
    assert (f["positives"], f["negatives"]) == (8 * 12, 8 * 7 * 13 * 13 // 2)
    assert f["recall"] >= 0.98
    assert f["false_pairs"] == 0 and f["precision"] == 1.0
    assert f["positive_max"] <= dedup_params.threshold < f["negative_min"]
    # Room to spare on this small set. The previous signature (6x6 pHash, no overlay filter, no
    # rotation) had no gap here: boxes and text at 0.176 and 0.181 (at 6 fps), sideways phone
    # copies at 0.586, the nearest distinct pair at 0.300.
    assert f["gap"] >= 0.1
    assert max(f["by_edit"][e]["max"] for e in ("overlay", "fps6_overlay")) < 0.15
    assert f["by_edit"]["fps6_overlay"]["found"] == f["by_edit"]["fps6_overlay"]["of"] == 8
    assert f["by_edit"]["rotated"]["found"] == 8


def test_figures_match_what_the_stage_search_finds(small_set, dedup_params) -> None:
    """The figures' found/false counts are exactly the pairs find_duplicates reports."""
    signs, doc = small_set
    flat = signs.reshape(-1, *signs.shape[2:])
    videos = signs.shape[1]
    found = dedup.find_duplicates(flat, [str(i) for i in range(len(flat))], dedup_params)
    recording = np.arange(len(flat)) // videos
    pairs = {(r["a"], r["b"]) for r in found.pairs}
    assert pairs and all(recording[a] == recording[b] for a, b in pairs)  # no false pair
    assert all(len(set(recording[g])) == 1 for g in found.groups)  # no false merge
    originals = {(a, b) for a, b in pairs if a % videos == 0}
    f = calib.figures(doc, dedup_params.threshold, radius=dedup_params.candidate_radius,
                      margin=dedup_params.review_margin)
    assert len(originals) == round(f["recall"] * f["positives"])


def test_committed_calibration_backs_the_default_threshold(dedup_params) -> None:
    doc = json.loads(calib.COMMITTED.read_text())
    report = calib.report(dedup_params)
    assert report["current"], "regenerate: uv run python -m vidlab.stages.dedup.calibration"
    assert doc["set"]["recordings"] >= 100 and set(doc["set"]["edits"]) == set(calib.EDITS)
    assert dedup_params.threshold == doc["threshold"]["chosen"] == report["recommended_threshold"]
    assert report["recall"] >= 0.98 and report["false_pairs"] == 0
    assert report["positive_max"] < dedup_params.threshold < report["negative_min"]
    assert report["positive_code_max"] <= dedup_params.candidate_radius
    assert report["by_edit"]["fps6_overlay"]["found"] == report["by_edit"]["fps6_overlay"]["of"]


def test_committed_calibration_is_what_the_code_computes(dedup_params) -> None:
    """Its first two recordings, made and signed again, give the committed rows: a change to the
    signature, the edits or the encoder without a regenerated calibration fails here."""
    doc = json.loads(calib.COMMITTED.read_text())
    committed = calib.CalibrationSet.from_dict(doc["set"])
    jobs = [(scene, committed, dedup_params.frames) for scene in calib.scenes(committed)[:2]]
    signs = np.stack([calib._sign_recording(job) for job in jobs])
    again = calib.evaluate(signs, dedup_params, committed)
    assert again["positives"] == [r for r in doc["positives"] if r[0] < 2]


@pytest.mark.parametrize(("positive", "negative", "expected"),
                         [(0.1997, 0.2587, 0.225), (0.10, 0.20, 0.15), (0.12, 0.13, 0.125)])
def test_threshold_rule_is_the_gap_midpoint_on_a_grid(positive, negative, expected) -> None:
    assert calib.choose_threshold(positive, negative) == expected


def test_calibration_bytes_do_not_depend_on_workers(dedup_params) -> None:
    tiny = dataclasses.replace(SMALL, recordings=3, edits=("fps6_overlay", "rotated", "crop"))
    one, two = (calib.dumps(calib.calibrate(tiny, dedup_params, workers=w)) for w in (1, 2))
    assert one == two
    assert json.loads(one)["set"]["edits"] == ["fps6_overlay", "rotated", "crop"]


def test_report_leaves_out_a_stale_or_missing_calibration(dedup_params, tmp_path: Path) -> None:
    doc = json.loads(calib.COMMITTED.read_text())
    doc["signature"]["frames"] += 1
    stale = tmp_path / "calibration.json"
    stale.write_text(json.dumps(doc))
    report = calib.report(dedup_params, stale)
    assert report["current"] is False and "precision" not in report
    with pytest.raises(DataError, match="python -m vidlab.stages.dedup.calibration"):
        calib.report(dedup_params, tmp_path / "absent.json")


@pytest.mark.parametrize("rotation", [90, 270])
def test_sideways_phone_video_is_signed_as_displayed(rotation: int, tmp_path: Path,
                                                     dedup_params, monkeypatch) -> None:
    frames, _ = _recording(1)
    upright = calib.write(tmp_path / "upright.mp4", frames, fps=SMALL.fps, crf=23, size=None,
                          rotation=0)
    sideways = np.ascontiguousarray(np.rot90(frames, k=-rotation // 90, axes=(1, 2)))
    phone = calib.write(tmp_path / "phone.mp4", sideways, fps=SMALL.fps, crf=23, size=None,
                        rotation=rotation)
    frame = sig.sampled_frames(phone, 1)[0]
    assert (frame.width, frame.height, frame.rotation % 360) == (96, 128, rotation)
    assert sig.rgb(frame).shape == (96, 128, 3)  # contact sheets show it upright too

    def distance() -> float:
        a, b = (sig.signature(path, dedup_params.frames)[None] for path in (upright, phone))
        return float(sig.distances(a, b, dedup_params.window_frames)[0])

    assert distance() < 0.1
    monkeypatch.setattr(sig, "turns", lambda frame: 0)  # what ignoring the matrix gives
    assert distance() > dedup_params.threshold


def _manifest(tmp_path: Path, paths: list[Path], params) -> tuple[Path, Path]:
    rows = [{"video_id": f"v{n:02d}", "path": str(path), "status": "ok", "sha256": f"h{n}",
             "duration_s": 3.0, "width": 128, "height": 96} for n, path in enumerate(paths)]
    manifest = tmp_path / "manifest.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    # the signatures and thumbnails the probe's decode keeps (dedup itself decodes nothing)
    probed = probe_all(paths, limits_of(params), workers=2, timeout_s=60)
    write_frames(tmp_path / "frames.parquet",
                 [row | {"video_id": r["video_id"]} for row, r in zip(probed, rows, strict=True)])
    quarantine = tmp_path / "quarantine.csv"
    quarantine.write_text("stage,line,video_id,column,value,reason,detail\n")
    return manifest, quarantine


def test_stage_finds_a_6fps_copy_with_boxes_and_text(tmp_path: Path, params) -> None:
    """The issue's case: re-encoded at 6 fps with boxes and text drawn on it, beside distinct
    recordings, through the stage itself."""
    paths = []
    for index in range(5):
        frames, seed = _recording(index)
        paths.append(calib.write(tmp_path / f"r{index}.mp4", frames, fps=SMALL.fps,
                                 crf=SMALL.crf, size=None, rotation=0))
    frames, seed = _recording(0)
    copy, settings = calib.edit(frames, SMALL.fps, "fps6_overlay", seed)
    assert np.abs(copy[3].astype(int) - frames[round(3 * SMALL.fps / 6)]).mean() > 4  # drawn on
    paths.append(calib.write(tmp_path / "copy.mp4", copy, **settings))
    with av.open(str(paths[-1])) as container:
        assert container.streams.video[0].average_rate == 6
    manifest, quarantine = _manifest(tmp_path, paths, params)
    summary = dedup.run(params, manifest=manifest, quarantine=quarantine,
                        out=tmp_path / "duplicates.json", reports=tmp_path / "dedup")
    doc = json.loads((tmp_path / "duplicates.json").read_text())
    assert [c["video_ids"] for c in doc["clusters"]] == [["v00", "v05"]]
    assert doc["pairs"][0]["distance"] <= params.dedup.threshold
    assert summary["calibration"]["recall"] >= 0.98 and summary["review_pairs"] == 0


def _flip(code: np.ndarray, bits: list[int]) -> np.ndarray:
    mask = np.uint64(sum(1 << b for b in bits))
    return code ^ mask


def test_pairs_just_above_the_threshold_are_listed_for_review_not_clustered(params) -> None:
    """The same bits flipped in every frame and plane set a distance of exactly bits / 48: the
    most bits at or below the threshold make a duplicate, the most within the review band a
    review pair."""
    p = params.dedup
    near, band = (math.floor(t * sig.BITS + 1e-9) for t in (p.threshold,
                                                             p.threshold + p.review_margin))
    assert near / sig.BITS <= p.threshold < band / sig.BITS  # the band holds a distance
    assert band * sig.PLANES <= p.candidate_radius * sig.BITS * sig.PLANES  # and is searched
    rng = np.random.default_rng(5)
    base, other = rng.integers(0, 2**sig.BITS, (2, p.frames, sig.PLANES), dtype=np.uint64)
    close, far = list(range(near)), list(range(20, 20 + band))
    extra = list(range(40, 40 + band - near))
    signs = np.stack([base, _flip(base, close), _flip(base, far), _flip(base, close + extra),
                      other])
    found = dedup.find_duplicates(signs, [str(i) for i in range(len(signs))], p)
    assert [(r["a"], r["b"]) for r in found.pairs] == [(0, 1), (1, 3)]
    assert found.pairs[0]["distance"] == round(near / sig.BITS, 4)
    assert found.groups == [[0, 1, 3]]
    # (0, 3) is in the band too, but already in one cluster: only (0, 2) needs a person
    assert found.review == [{"a": 0, "b": 2, "distance": round(band / sig.BITS, 4)}]


def test_card_lists_review_pairs_and_the_calibration(params, tmp_path: Path) -> None:
    review = [{"a": f"{k:016x}", "b": f"{k + 1:016x}", "distance": 0.23} for k in range(12)]
    inputs = card.Inputs(params=params, root=tmp_path, reports=tmp_path)
    inputs.duplicates = contracts.Duplicates.model_validate(
        {"params": {"threshold": 0.225, "review_margin": 0.03}, "pairs": [], "clusters": [],
         "review": review})
    inputs.dedup = contracts.DedupSummary.model_validate(
        {"exact_pairs": 0, "near_pairs": 1, "clusters": 1, "videos_in_clusters": 2,
         "review": review, "calibration": calib.report(params.dedup)})
    text = "\n".join(card._duplicates(inputs))
    assert "frames): 1, 2 videos" in text
    assert "12 pair(s) just above the threshold (distance 0.225–0.255)" in text  # as given
    assert "`0000000000000000`–`0000000000000001` (0.230)" in text and "and 2 more" in text
    assert f"**Duplicate threshold** {params.dedup.threshold}" in text and "recall 1.0" in text
