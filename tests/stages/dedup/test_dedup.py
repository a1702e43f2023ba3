"""dedup: frame sampling by time, the Hamming search, planted near-duplicates, the stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidlab.config import replace
from vidlab.media import signature as sig
from vidlab.media.probe import probe_all, write_frames
from vidlab.stages.dedup import stage as dedup
from vidlab.stages.dedup.neighbors import brute_force_pairs, components, near_pairs, plan_tables
from vidlab.stages.probe.stage import limits_of
from vidlab.synth.variants import KINDS, write_variant


def _index(frame) -> int:
    """tiny_video's frame i is grey 8 * i."""
    return int(round(float(sig.rgb(frame).mean()) / 8))


def test_frames_are_sampled_by_time(tiny_video) -> None:
    """16 frames at 15 fps: the centres of 4 equal slices fall on frames 2, 6, 10 and 14."""
    frames = sig.sampled_frames(tiny_video(n_frames=16), 4)
    assert [_index(f) for f in frames] == [2, 6, 10, 14]


def test_variable_frame_rate_sampling_uses_timestamps(tiny_video) -> None:
    import av

    pts = [0, 33, 67, 100, 133, 167, 200, 300, 400, 500, 600, 700]  # dense, then sparse
    path = tiny_video("vfr.mp4", n_frames=12, pts_ms=pts)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base)
    times = np.array(pts) / 1000
    expected = [int(np.argmin(np.abs(times - t) - 1e-9 * (times >= t)))
                for t in sig.sample_times(duration, 3)]
    picked = [_index(f) for f in sig.sampled_frames(path, 3)]
    assert picked == expected
    assert picked != [2, 6, 10]  # what sampling by frame index would give


def test_rgb_conversion_matches_ffmpeg(demo_dataset: Path) -> None:
    import av

    path = next(p for p in sorted((demo_dataset / "videos").glob("*.mp4"))
                if p.stat().st_size > 10_000)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        ours, theirs = sig.rgb(frame), frame.to_ndarray(format="rgb24")
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs).mean() < 3


@pytest.mark.parametrize(("n", "radius", "flip"), [(400, 0, 0.0), (600, 6, 0.03),
                                                  (800, 18, 0.1), (300, 40, 0.2)])
def test_multi_index_search_equals_brute_force(n: int, radius: int, flip: float) -> None:
    rng = np.random.default_rng(n)
    base = rng.random((n // 2, 105)) < 0.5
    codes = np.concatenate([base, base ^ (rng.random(base.shape) < flip)])
    pairs, dist = near_pairs(codes, radius)
    assert np.array_equal(pairs, brute_force_pairs(codes, radius))
    assert (dist <= radius).all()
    assert len(pairs) >= (n // 4 if radius else 0)


def test_table_plan_grows_with_radius() -> None:
    assert plan_tables(100_000, 105, 0) == 5  # 21-bit exact keys
    assert plan_tables(100_000, 105, 18) > plan_tables(100_000, 105, 3)


def test_components_groups_and_labels() -> None:
    labels, groups = components(7, [(5, 1), (1, 3), (6, 4)])
    assert groups == [[1, 3, 5], [4, 6]]  # sorted members, by smallest member; singletons out
    assert labels[1] == labels[3] == labels[5] != labels[4] == labels[6]
    assert len({labels[0], labels[2], labels[1], labels[4]}) == 4
    assert components(3, np.empty((0, 2), np.int64))[1] == []


def _demo_videos(demo_dataset: Path) -> tuple[list[Path], dict]:
    faults = json.loads((demo_dataset / "faults.json").read_text())["faults"]
    return sorted((demo_dataset / "videos").glob("*.mp4")), faults


def _pictures(paths: list[Path], params, ids: list[str]) -> list[dict]:
    """Probe rows with the signature and thumbnails the probe's decode keeps, as the pipeline
    makes them (dedup itself decodes nothing)."""
    rows = probe_all(paths, limits_of(params), workers=2, timeout_s=60)
    return [row | {"video_id": video_id} for row, video_id in zip(rows, ids, strict=True)]


def _find(paths: list[Path], params) -> tuple[list[list[int]], list[dict], dict[int, str]]:
    ids = [str(i) for i in range(len(paths))]
    pictures = {r["video_id"]: (r.get("_signature"), []) for r in _pictures(paths, params, ids)}
    signs, failed = dedup.signatures(ids, pictures, params.dedup)
    usable = np.array([i not in failed for i in range(len(paths))])
    digests = [str(i) for i in range(len(paths))]  # no exact duplicates here
    found = dedup.find_duplicates(signs, digests, params.dedup, usable)
    return found.groups, found.pairs, failed


def test_demo_planted_near_duplicate_is_the_only_cluster(demo_dataset: Path, params) -> None:
    paths, faults = _demo_videos(demo_dataset)
    planted = next(f for f in faults if f["kind"] == "near_duplicate")
    groups, _, failed = _find(paths, params)
    names = [[paths[i].name for i in g] for g in groups]
    assert names == [sorted([planted["filename"], planted["duplicate_of"]])]
    broken = {f["filename"] for f in faults if f["kind"] in ("zero_byte", "non_video")}
    assert {paths[i].name for i in failed} == broken


def test_every_kind_of_planted_copy_is_found(demo_dataset: Path, params, tmp_path: Path) -> None:
    """Copies of 4 videos, one per edit kind, cluster with their source and nothing else."""
    paths, faults = _demo_videos(demo_dataset)
    skip = {f["filename"] for f in faults} | {f.get("duplicate_of") for f in faults}
    distinct = [p for p in paths if p.name not in skip]
    sources = distinct[::len(distinct) // 4][:4]
    copies = [write_variant(src, tmp_path / f"{n}-{kind}.mp4", kind, fps=params.demo.fps)
              for n, src in enumerate(sources) for kind in KINDS]
    everything = distinct + copies
    groups, pairs, failed = _find(everything, params)
    assert not failed
    found = sorted(sorted(everything[i].name for i in g) for g in groups)
    expected = sorted(sorted([src.name] + [f"{n}-{kind}.mp4" for kind in KINDS])
                      for n, src in enumerate(sources))
    assert found == expected
    assert max(p["distance"] for p in pairs) <= params.dedup.threshold


def test_exact_copies_pair_without_a_perceptual_match(params) -> None:
    signs = np.random.default_rng(0).integers(0, 2**sig.BITS, (3, 16, 3), dtype=np.uint64)
    found = dedup.find_duplicates(signs, ["x", "y", "x"], params.dedup)
    assert found.pairs == [{"a": 0, "b": 2, "kind": "exact", "distance": 0.0}]
    assert found.groups == [[0, 2]]
    assert found.review == []


def _stage_inputs(demo_dataset: Path, tmp_path: Path, params) -> tuple[Path, Path]:
    paths, faults = _demo_videos(demo_dataset)
    planted = next(f for f in faults if f["kind"] == "near_duplicate")
    chosen = [p for p in paths if p.name in (planted["filename"], planted["duplicate_of"])]
    chosen += [p for p in paths if p not in chosen][20:26]
    folder = tmp_path / "videos"
    folder.mkdir()
    rows = []
    for n, src in enumerate(chosen):
        dst = folder / f"v{n:02d}.mp4"
        shutil.copy(src, dst)
        rows.append({"video_id": f"v{n:02d}", "path": str(dst), "status": "ok",
                     "sha256": f"h{n}", "duration_s": 2.0, "width": 128, "height": 96})
    shutil.copy(chosen[2], folder / "v90.mp4")  # an exact copy, held back by validate
    (folder / "v91.mp4").write_bytes(b"not a video")  # passed the probe, cannot be hashed
    rows += [dict(rows[2], video_id="v90", path=str(folder / "v90.mp4")),
             dict(rows[3], video_id="v91", path=str(folder / "v91.mp4"), sha256="h91")]
    manifest = tmp_path / "manifest.parquet"
    pd.DataFrame(rows).to_parquet(manifest)
    write_frames(tmp_path / "frames.parquet", _pictures(
        [Path(r["path"]) for r in rows], params, [r["video_id"] for r in rows]))
    quarantine = tmp_path / "quarantine.csv"
    quarantine.write_text("stage,line,video_id,column,value,reason,detail\n"
                          "ingest,9,v03,filename,<redacted>,duplicate_row,kept copy\n"
                          "validate,5,v90,fps,1,fps_out_of_range,x\n")
    return manifest, quarantine


def test_stage_writes_pairs_clusters_and_sheets_reproducibly(demo_dataset: Path, params,
                                                             tmp_path: Path) -> None:
    manifest, quarantine = _stage_inputs(demo_dataset, tmp_path, params)
    p = replace(params, dedup=replace(params.dedup, workers=1))
    outputs = []
    for run in ("a", "b"):
        out, reports = tmp_path / run / "duplicates.json", tmp_path / run / "dedup"
        summary = dedup.run(p, manifest=manifest, quarantine=quarantine, out=out,
                            reports=reports)
        outputs.append([out.read_bytes(), (reports / "summary.json").read_bytes(),
                        *(f.read_bytes() for f in sorted((reports / "sheets").glob("*.png")))])
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[0][0])
    counts = {k: v for k, v in summary.items() if k not in ("review", "calibration")}
    assert counts == {"videos": 9, "exact_pairs": 0, "near_pairs": 1, "clusters": 1,
                      "videos_in_clusters": 2, "review_pairs": 0, "failed": 1}
    assert summary["review"] == doc["review"] == []
    assert summary["calibration"]["current"]
    assert summary["calibration"]["threshold"] == p.dedup.threshold
    assert doc["clusters"][0]["video_ids"] == ["v00", "v01"]  # v90 (quarantined) left out
    assert [f["video_id"] for f in doc["failed"]] == ["v91"]
    assert (tmp_path / "a" / "dedup" / "sheets" / "dup-001.png").stat().st_size > 1000
