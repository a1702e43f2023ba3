"""The real-media conformance matrix (tests/mediamatrix.py) through every stage that reads pixels.

Each file's frames carry their own index and an orientation mark, so a test reads back exactly
which frame a reader returned and which way is up, and compares it with the sequential reference
decode. A cell either gives the right frames, rotation and manifest row, or is flagged with a
reason that names the problem; no cell yields a de-identified copy that decodes differently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import mediamatrix as mm
from vidlab.media.decode import BACKENDS, UnsupportedVideo, open_video
from vidlab.media.packets import packet_integrity, scan_packets
from vidlab.media.probe import Limits, probe_file
from vidlab.media.reference import integrity, reference_decode
from vidlab.stages.ingest import deid

LIMITS = Limits(frame_tolerance=0.02, truncation_tolerance=0.1, vfr_tolerance=0.1,
                fps_tolerance=0.05, max_keyframe_interval_s=5.0)
CELLS = mm.cells()
# Containers whose index sits at the end: a file cut at half its bytes cannot even be opened.
UNOPENABLE_WHEN_CUT = {"mp4", "mov", "avi"}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("matrix")
    mm.write_matrix(folder)
    return folder


@pytest.fixture(scope="module")
def probed(matrix: Path) -> dict[str, dict]:
    return {cell.name: probe_file(matrix / cell.name, LIMITS) for cell in CELLS}


def test_matrix_covers_every_container_codec_rotation_timing_audio_and_damage() -> None:
    pairs = {(c.container, c.codec) for c in CELLS}
    assert {codec for _, codec in pairs} == set(mm.CODECS)
    assert {container for container, _ in pairs} == set(mm.CONTAINERS)
    assert {c.rotation for c in CELLS} == {0, 90, 180, 270}
    assert {c.damage for c in CELLS} == set(mm.DAMAGES)
    assert any(c.vfr for c in CELLS) and any(c.audio for c in CELLS)
    for ext in mm.CONTAINERS:  # every container is damaged both ways and carries audio
        mine = [c for c in CELLS if c.container == ext]
        assert {c.damage for c in mine} == set(mm.DAMAGES) and any(c.audio for c in mine)


@pytest.mark.parametrize("cell", [c for c in CELLS if c.damage == "intact"], ids=lambda c: c.name)
def test_reference_decode_shows_every_frame_upright_in_order(matrix: Path, cell: mm.Cell) -> None:
    decoded, pictures = reference_decode(matrix / cell.name, keep_pictures=True)
    assert [mm.read_index(p) for p in pictures] == [(i, True) for i in range(mm.FRAMES)]
    assert decoded.rotation == cell.rotation
    assert np.allclose(decoded.times(), cell.times_s, atol=0.002)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_probe_gives_the_right_row_or_names_the_damage(probed: dict, cell: mm.Cell) -> None:
    row = probed[cell.name]
    if cell.damage == "intact":
        assert row["status"] == "ok", row["reason"]
        assert row["frames_decoded"] == mm.FRAMES
        assert (row["display_width"], row["display_height"]) == (mm.WIDTH, mm.HEIGHT)
        assert row["rotation"] == cell.rotation
        coded = (mm.HEIGHT, mm.WIDTH) if cell.rotation in (90, 270) else (mm.WIDTH, mm.HEIGHT)
        assert (row["width"], row["height"]) == coded
        span = cell.times_s[-1] + np.median(np.diff(cell.times_s))
        assert row["duration_s"] == pytest.approx(span, abs=0.002)
        assert row["codec"] == ("h264" if cell.codec.startswith("h264") else cell.codec)
        if cell.audio:  # the tone runs half a second past the last frame
            assert row["audio_codec"] == {"aac": "aac", "libopus": "opus",
                                          "libmp3lame": "mp3"}[mm.CONTAINERS[cell.container][2]]
            assert row["audio_duration_s"] == pytest.approx(span + 0.5, abs=0.06)
            assert row["container_duration_s"] > row["duration_s"] + 0.4
        else:
            assert row["audio_codec"] is None and row["audio_duration_s"] is None
        return
    if cell.damage == "cut" and cell.container in UNOPENABLE_WHEN_CUT:
        assert row["status"] == "unreadable" and row["reason"]
    elif cell.damage == "cut" or cell.container in ("mkv", "webm"):
        assert row["status"] == "truncated", row
        assert "container declares" in row["reason"] or "decoding stopped" in row["reason"]
    elif row["status"] == "ok":  # corruption the decoder never saw: every frame must be right
        _, pictures = reference_decode(Path(row["path"]), keep_pictures=True)
        assert [mm.read_index(p) for p in pictures] == [(i, True) for i in range(mm.FRAMES)]
    else:
        assert row["status"] in ("truncated", "corrupt") and row["reason"]


def _wanted(count: int) -> list[list[int]]:
    rng = np.random.default_rng(count)
    return [list(range(count)), list(range(count))[::-1], [count - 1, 0, count // 2],
            sorted(rng.choice(count, 5, replace=False).tolist()), [count // 2] * 3]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_readers_return_the_frame_a_player_shows(matrix: Path, probed: dict, cell: mm.Cell,
                                                 backend: str) -> None:
    """Where probe passes a file, each backend gives exactly the reference frame (PyAV to the
    byte, decord by the frame's own index and orientation mark) or refuses; it never guesses."""
    if probed[cell.name]["status"] != "ok":
        return  # flagged files never reach the readers (see the probe test)
    path = matrix / cell.name
    decoded, pictures = reference_decode(path, keep_pictures=True)
    truth = [mm.read_index(p) for p in pictures]
    try:
        reader = open_video(path, backend)
    except UnsupportedVideo:
        assert backend == "decord", "PyAV must read every file probe passes"
        assert cell.container == "avi" or cell.codec in ("hevc", "mpeg4")
        return
    try:
        assert len(reader.times) == decoded.frames
        assert np.allclose(reader.times, decoded.times(), atol=0.002)
        for wanted in _wanted(decoded.frames):
            frames = reader.get_frames(wanted)
            assert [mm.read_index(f) for f in frames] == [truth[i] for i in wanted]
            if backend == "pyav":
                pairs = zip(frames, wanted, strict=True)
                assert all(np.array_equal(f, pictures[i]) for f, i in pairs)
    finally:
        reader.close()


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_deidentified_copy_decodes_exactly_like_its_source(matrix: Path, tmp_path: Path,
                                                           cell: mm.Cell) -> None:
    src = matrix / cell.name
    before = src.read_bytes()
    result = deid.remux(src, tmp_path / f"copy.{cell.container}", keep_audio=True)
    assert src.read_bytes() == before  # the original is never touched
    if cell.damage == "cut" and cell.container in UNOPENABLE_WHEN_CUT:
        assert result["status"] == "unreadable"
        assert list(tmp_path.iterdir()) == []
        return
    source, _ = reference_decode(src)
    # cut files never pass ingest (a remux's fresh header would hide the cut); damage only a
    # decode shows (decoding that stops, rejected packets) is copied exactly and named by probe
    if packet_integrity(scan_packets(src))[0] == "truncated":
        assert cell.damage != "intact"
        assert result["status"] == "truncated" and "cut short" in result["detail"]
        assert list(tmp_path.iterdir()) == []
        return
    assert result["status"] == "ok", result
    assert result["method"] == "remux"  # every matrix cell remuxes; the fallback is tested below
    copy, _ = reference_decode(result["path"])
    assert copy.digests == source.digests and copy.rotation == source.rotation == cell.rotation
    assert integrity(copy)[0] == integrity(source)[0]  # the probe judges the copy as the source
    assert deid.tag_violations(result["path"]) == []
    assert [p.name for p in tmp_path.iterdir()] == [result["path"].name]


def _old_remux(src: Path, dst: Path, fmt: str, keep_audio: bool) -> dict:
    """The remux as it was, which skipped packets without dts (in MKV, the first keyframe),
    and which here also drops the last packet, so that it loses a frame in every container."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt,
                                           options={"fflags": "+bitexact"}) as out:
        stream = inp.streams.video[0]
        target = out.add_stream_from_template(stream)
        packets = [p for p in inp.demux(stream) if p.size]
        for packet in packets[:-1]:
            if packet.dts is None:
                continue
            packet.stream = target
            out.mux(packet)
    return {"status": "ok"}


@pytest.mark.parametrize("name", ["h264_bf-r90-cfr-silent-intact.mkv",
                                  "hevc-r0-cfr-silent-intact.mkv",
                                  "mjpeg-r0-cfr-silent-intact.mkv",
                                  "h264_bf-r0-cfr-audio-intact.avi",
                                  "h264_bf-r0-vfr-silent-intact.mkv"])
def test_a_remux_that_loses_frames_is_replaced_by_a_proven_lossless_copy(
        matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(deid, "_copy_packets", _old_remux)
    src = matrix / name
    result = deid.remux(src, tmp_path / f"copy{src.suffix}", keep_audio=True)
    assert result["status"] == "ok" and result["method"] == "lossless", result
    assert result["path"].suffix == ".mkv"
    source, pictures = reference_decode(src, keep_pictures=True)
    copy, copied = reference_decode(result["path"], keep_pictures=True)
    assert copy.digests == source.digests and copy.rotation == source.rotation
    assert [mm.read_index(p) for p in copied] == [(i, True) for i in range(mm.FRAMES)]
    assert np.allclose(copy.times(), source.times(), atol=0.002)
    assert deid.tag_violations(result["path"]) == []


def test_a_copy_that_differs_is_never_published(matrix: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deid, "_copy_packets", _old_remux)
    monkeypatch.setattr(deid, "_lossless", lambda src, dst, keep: _old_remux(src, dst,
                                                                             "matroska", keep))
    result = deid.remux(matrix / "h264_bf-r0-cfr-silent-intact.mkv", tmp_path / "copy.mkv",
                        keep_audio=False)
    assert result["status"] == "copy_mismatch"
    assert "decodes" in result["detail"]
    assert list(tmp_path.iterdir()) == []


def test_clips_refuse_a_frozen_clip_of_a_moving_video(matrix: Path) -> None:
    from vidlab.data.cache import FrozenClip, _check_not_frozen
    from vidlab.data.sampling import Clip

    path = matrix / "h264-r0-cfr-silent-intact.mp4"
    _, pictures = reference_decode(path, keep_pictures=True)
    clip = Clip(0, (0, 1, 2, 3), False)
    _check_not_frozen(path, [clip], np.stack(pictures[:4]))  # the real frames pass
    with pytest.raises(FrozenClip, match="repeats one frame"):
        _check_not_frozen(path, [clip], np.stack([pictures[0]] * 4))
    # a clip that repeats one frame by design (padding a one-frame video) is not frozen
    _check_not_frozen(path, [Clip(0, (5, 5, 5, 5), True)], np.stack([pictures[5]] * 4))


@pytest.mark.parametrize("name", ["h264_bf-r90-cfr-silent-intact.mov",
                                  "h264_bf-r0-vfr-silent-intact.mkv",
                                  "h264_bf-r0-cfr-silent-intact.avi"])
def test_cfr_normalisation_keeps_frames_upright_and_in_order(matrix: Path, tmp_path: Path,
                                                            name: str) -> None:
    from vidlab.stages.probe.stage import normalize_cfr

    cell = next(c for c in CELLS if c.name == name)
    out = tmp_path / "cfr.mp4"
    normalize_cfr(matrix / name, out, fps=mm.FPS, keyframe_interval=6)
    decoded, pictures = reference_decode(out, keep_pictures=True)
    shown = [mm.read_index(p) for p in pictures]
    assert all(upright for _, upright in shown) and decoded.rotation == 0
    # frame k of the CFR file shows the source frame on screen at k / FPS
    on_screen = np.searchsorted(cell.times_s, np.arange(len(shown)) / mm.FPS + 1e-6,
                                side="right") - 1
    assert [index for index, _ in shown] == on_screen.tolist()
