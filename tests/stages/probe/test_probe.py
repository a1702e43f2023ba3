"""The probe stage: manifest columns, integrity statuses, warnings, CFR normalisation."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from vidlab.config import replace
from vidlab.media.encode import write_video
from vidlab.media.probe import MANIFEST_COLUMNS, Limits, probe_all, probe_file
from vidlab.stages.probe import stage as manifest

LIMITS = Limits(frame_tolerance=0.02, truncation_tolerance=0.1,
                vfr_tolerance=0.1, fps_tolerance=0.05,
                max_keyframe_interval_s=5.0)


def frames(n: int, size=(64, 48)) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


def test_ok_video_row(tiny_video) -> None:
    row = probe_file(tiny_video(n_frames=30), LIMITS)
    assert row["status"] == "ok" and row["warnings"] == ""
    assert (row["frames_declared"], row["frames_decoded"]) == (30, 30)
    assert (row["width"], row["height"], row["codec"], row["pix_fmt"]) == (64, 48, "h264",
                                                                          "yuv420p")
    assert row["fps_avg"] == pytest.approx(15) and row["fps_nominal"] == pytest.approx(15)
    assert row["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert row["gop_mean"] == pytest.approx(15, abs=1) and row["audio"] is False


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda p: p.write_bytes(b""), "zero_byte"),
        (lambda p: p.write_text("not a video\n" * 50), "unreadable"),
    ],
)
def test_broken_files(tmp_path: Path, make, status: str) -> None:
    path = tmp_path / "broken.mp4"
    make(path)
    assert probe_file(path, LIMITS)["status"] == status


def test_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    write_video(path, frames(45), fps=15, faststart=True)
    with open(path, "r+b") as handle:
        handle.truncate(int(path.stat().st_size * 0.6))
    row = probe_file(path, LIMITS)
    assert row["status"] == "truncated" and row["frames_decoded"] < row["frames_declared"]


def test_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000, layout="mono")
        for k in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 16000, k * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    assert probe_file(path, LIMITS)["status"] == "no_video_stream"


def test_vfr_and_sparse_keyframes(tmp_path: Path) -> None:
    vfr = tmp_path / "vfr.mp4"
    write_video(vfr, frames(8), fps=15, pts_ms=[0, 33, 133, 166, 266, 300, 400, 433])
    row = probe_file(vfr, LIMITS)
    assert row["vfr"] and "vfr" in row["warnings"] and row["status"] == "ok"
    sparse = tmp_path / "sparse.mp4"
    write_video(sparse, frames(45), fps=15, gop=300)
    row = probe_file(sparse, dataclasses.replace(LIMITS, max_keyframe_interval_s=1.0))
    assert "sparse_keyframes" in row["warnings"] and not row["vfr"]


def test_audio_columns(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp4"
    write_video(path, frames(15), fps=15, audio=np.zeros(16000, np.float32))
    row = probe_file(path, LIMITS)
    assert row["audio"] and row["audio_codec"] == "aac" and row["audio_sample_rate"] == 16000
    assert row["audio_duration_s"] == pytest.approx(1.0, abs=0.1)


def test_probe_all_keeps_order_and_isolates(tiny_video, tmp_path: Path) -> None:
    paths = [tiny_video(f"v{k}.mp4", n_frames=5 + k) for k in range(4)]
    (tmp_path / "empty.mp4").write_bytes(b"")
    rows = probe_all([*paths, tmp_path / "empty.mp4"], LIMITS, workers=2, timeout_s=60)
    assert [r["frames_decoded"] for r in rows[:4]] == [5, 6, 7, 8]
    assert rows[4]["status"] == "zero_byte"


def write_meta(tmp_path: Path, videos: Path) -> Path:
    names = sorted(p.name for p in videos.glob("*.mp4"))
    meta = tmp_path / "metadata.csv"
    pd.DataFrame({"video_id": [n[:-4] for n in names], "filename": names}).to_csv(meta,
                                                                                  index=False)
    return meta


def test_stage_writes_a_stable_manifest(tmp_path: Path, params) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "a1.mp4", frames(20), fps=15)
    write_video(videos / "b2.mp4", frames(8), fps=15, pts_ms=[0, 33, 133, 166, 266, 300, 400, 433])
    meta = write_meta(tmp_path, videos)
    digests = []
    for _ in range(2):
        summary = manifest.run(params, metadata_csv=meta, videos=videos,
                               manifest=tmp_path / "m.parquet", normalized=tmp_path / "norm",
                               reports=tmp_path / "rep")
        digests.append(hashlib.sha256((tmp_path / "m.parquet").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    frame = pd.read_parquet(tmp_path / "m.parquet")
    assert tuple(frame.columns) == MANIFEST_COLUMNS
    assert list(frame["video_id"]) == ["a1", "b2"]
    assert summary == {"videos": 2, "ok": 2, "by_status": {"ok": 2},
                       "warnings": {"fps_mismatch": 1, "vfr": 1}, "normalized": 0,
                       "deinterlaced": 0, "decoded_frames": 28}


def test_cfr_normalisation(tmp_path: Path, params) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    steps = np.random.default_rng(0).choice([33, 67, 100], size=30)
    pts = np.concatenate([[0], np.cumsum(steps[:-1])])
    write_video(videos / "vfr.mp4", frames(30), fps=15, pts_ms=pts)
    original = (videos / "vfr.mp4").read_bytes()
    cfr = replace(params, probe=replace(params.probe, normalize="cfr"))
    manifest.run(cfr, metadata_csv=write_meta(tmp_path, videos), videos=videos,
                 manifest=tmp_path / "m.parquet", normalized=tmp_path / "norm",
                 reports=tmp_path / "rep")
    row = pd.read_parquet(tmp_path / "m.parquet").iloc[0]
    assert row["normalized_from"].endswith("vfr.mp4 (vfr: cfr)")
    assert not row["vfr"] and row["status"] == "ok"
    assert row["path"] == str(tmp_path / "norm" / "vfr.mp4")
    assert row["fps_avg"] == pytest.approx(1000 / steps[:-1].mean(), rel=0.1)
    assert (videos / "vfr.mp4").read_bytes() == original  # the input is never changed


def test_one_decode_gives_the_dedup_signature_and_sheet_frames(tmp_path: Path) -> None:
    """The probe's decode picks the same frames the standalone signature decodes (so dedup
    never decodes again) and keeps the contact-sheet frames as thumbnails."""
    from vidlab.media import signature as sig
    from vidlab.media.sheets import STORED_HEIGHT, unthumbnail

    path = tmp_path / "moving.mp4"
    write_video(path, frames(60, size=(160, 120)), fps=15, gop=15)
    row = probe_file(path, LIMITS)
    assert row["status"] == "ok" and row["integrity"] == "full"
    assert np.array_equal(row["_signature"], sig.signature(path, LIMITS.signature_frames))
    thumbs = [unthumbnail(t) for t in row["_thumbs"]]
    assert len(thumbs) == LIMITS.sheet_frames
    assert all(t.shape == (STORED_HEIGHT, 128, 3) for t in thumbs)
    expected = [sig.thumbnail_rgb(f, STORED_HEIGHT)
                for f in sig.sampled_frames(path, LIMITS.sheet_frames)]
    assert all(np.array_equal(a, b) for a, b in zip(thumbs, expected, strict=True))
    # shrinking the planes, then converting: within rounding of converting, then shrinking
    from PIL import Image
    ramp = np.linspace(0, 255, 320, dtype=np.float32)
    picture = np.stack([np.tile(ramp, (240, 1)), np.tile(ramp[:240, None], (1, 320)),
                        np.full((240, 320), 90.0)], axis=-1).astype(np.uint8)
    write_video(tmp_path / "smooth.mp4", [picture] * 4, fps=15, crf=10)
    frame = sig.sampled_frames(tmp_path / "smooth.mp4", 1)[0]
    small = np.asarray(Image.fromarray(sig.rgb(frame)).resize((128, STORED_HEIGHT),
                                                                Image.Resampling.BOX))
    assert np.abs(sig.thumbnail_rgb(frame, STORED_HEIGHT).astype(int) - small).mean() < 2


@pytest.mark.parametrize(("fps", "count"), [(6, 18), (15, 30), (30, 9), (25, 40)])
def test_picker_takes_the_frames_the_standalone_sampler_takes(tmp_path: Path, fps: int,
                                                              count: int) -> None:
    """Fed every frame in order, the probe's picker takes, for each target, the very frame
    :func:`sampled_frames` decodes, with targets denser than frames (a 6 fps copy has ~1 frame
    per target) and fewer frames than targets; with and without its conversion window."""
    from vidlab.media import signature as sig

    path = tmp_path / "v.mp4"
    write_video(path, frames(count), fps=fps, gop=fps)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration, tick = sig.duration_of(container, stream), float(stream.time_base)
    for k in (4, 16, 24):
        expected = [int(f.pts) for f in sig.sampled_frames(path, k)]
        expected += [expected[-1]] * (k - len(expected))
        for window in (None, 2.5 / fps):
            picker = sig.FramePicker(sig.sample_times(duration, k), lambda f: int(f.pts),
                                     window, tick)
            with av.open(str(path)) as container:
                for frame in container.decode(video=0):
                    picker(frame)
            assert picker.result() == expected, (k, window)


def test_fast_integrity_counts_packets_and_decodes_keyframes(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, frames(45), fps=15, gop=15)
    fast = dataclasses.replace(LIMITS, integrity="fast")
    row, full = probe_file(path, fast), probe_file(path, LIMITS)
    assert row["status"] == full["status"] == "ok" and row["integrity"] == "fast"
    assert row["frames_decoded"] is None and full["frames_decoded"] == 45
    for column in ("duration_s", "fps_avg", "gop_mean", "rotation", "width", "height"):
        assert row[column] == pytest.approx(full[column]), column
    # its signature comes from the keyframes nearest the sample times: still a signature
    assert row["_signature"].shape == (LIMITS.signature_frames, 3)
    cut = tmp_path / "cut.mp4"
    write_video(cut, frames(45), fps=15, faststart=True, gop=15)
    with open(cut, "r+b") as handle:
        handle.truncate(int(cut.stat().st_size * 0.6))
    assert probe_file(cut, fast)["status"] == "truncated"


def test_fast_integrity_finds_a_last_group_that_stops_decoding(tmp_path: Path) -> None:
    """Garbage written over the packets after the last keyframe: the container is intact,
    only decoding the last group of pictures shows the damage."""
    path = tmp_path / "v.mp4"
    write_video(path, frames(45), fps=15, gop=15, faststart=True)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size, p.is_keyframe) for p in container.demux(video=0) if p.size]
    last_key = max(i for i, (_, _, key) in enumerate(packets) if key)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for pos, size, _ in packets[last_key:]:
        data[pos:pos + size] = rng.integers(0, 255, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    fast = probe_file(path, dataclasses.replace(LIMITS, integrity="fast"))
    assert fast["status"] in ("truncated", "corrupt"), fast
    assert probe_file(path, LIMITS)["status"] in ("truncated", "corrupt")


def test_deinterlace_treats_the_interlaced_video_and_records_it(tmp_path: Path, params) -> None:
    from tests.media.degrade import interlaced

    videos = tmp_path / "videos"
    videos.mkdir()
    cells = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    texture = np.kron(cells, np.ones((8, 8, 1), np.uint8))  # flat 8 x 8 cells, sharp edges
    moving = [np.roll(texture, 2 * i, axis=1)[:, :128] for i in range(40)]
    write_video(tmp_path / "source.mp4", moving, fps=30)
    interlaced(tmp_path / "source.mp4", videos / "i1.mp4")
    write_video(videos / "p2.mp4", moving, fps=30)
    original = (videos / "i1.mp4").read_bytes()
    treat = replace(params, probe=replace(params.probe, deinterlace="yadif"))
    summary = manifest.run(treat, metadata_csv=write_meta(tmp_path, videos), videos=videos,
                           manifest=tmp_path / "m.parquet", normalized=tmp_path / "norm",
                           reports=tmp_path / "rep")
    rows = pd.read_parquet(tmp_path / "m.parquet").set_index("video_id")
    assert rows.loc["i1", "normalized_from"].endswith("i1.mp4 (interlaced: cfr+yadif)")
    assert rows.loc["i1", "path"] == str(tmp_path / "norm" / "i1.mp4")
    assert rows.loc["i1", "interlaced_share"] == 0 and rows.loc["i1", "combing"] < 0.005
    assert "interlaced" not in rows.loc["i1", "warnings"]
    assert rows.loc["i1", "frames_decoded"] == 20  # one frame out per frame in
    assert rows.loc["p2", "normalized_from"] == ""  # progressive: left alone
    assert summary["deinterlaced"] == 1 and summary["normalized"] == 1
    assert (videos / "i1.mp4").read_bytes() == original
    before = probe_file(videos / "i1.mp4", manifest.limits_of(params))
    assert before["interlaced_share"] == 1 and before["combing"] > 0.05


def test_quality_side_table_has_every_frame(tmp_path: Path, params) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "a1.mp4", frames(20), fps=15)
    write_video(videos / "b2.mp4", frames(8), fps=15, pts_ms=[0, 67, 133, 200, 400, 467, 533,
                                                               600])
    manifest.run(params, metadata_csv=write_meta(tmp_path, videos), videos=videos,
                 manifest=tmp_path / "m.parquet", normalized=tmp_path / "norm",
                 reports=tmp_path / "rep", series=tmp_path / "q.parquet")
    table = pd.read_parquet(tmp_path / "q.parquet")
    rows = pd.read_parquet(tmp_path / "m.parquet").set_index("video_id")
    counts = table.groupby("video_id").size()
    assert counts["a1"] == rows.loc["a1", "frames_decoded"] == 20
    b2 = table[table["video_id"] == "b2"]
    assert list(b2["missing_before"]) == [0, 0, 0, 0, 2, 0, 0, 0]
    assert rows.loc["b2", "dropped_frames"] == 2
    assert b2["t"].tolist() == pytest.approx([0, 0.067, 0.133, 0.2, 0.4, 0.467, 0.533, 0.6],
                                             abs=1e-3)
    assert b2["brightness"].notna().all() and b2["sharpness"].notna().sum() >= 1
