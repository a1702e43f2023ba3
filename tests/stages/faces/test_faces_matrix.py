"""The faces blur path on the real-media matrix (tests/mediamatrix.py): every container, codec,
rotation, VFR, audio and damage. A blurred copy holds exactly the frames the reference decode
gives, in order and upright as a player shows them; a file the decoder cannot read through is
quarantined by the stage with a reason, never a traceback."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests import mediamatrix as mm
from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab.config import replace
from vidlab.media import faces
from vidlab.media.reference import reference_decode
from vidlab.stages.faces import stage

CELLS = mm.cells()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faces_matrix")
    mm.write_matrix(folder)
    return folder


def a_face_in_the_corner(rgb: np.ndarray) -> np.ndarray:
    """A detector that always finds one "face": the lower right quarter, clear of the frame
    index (top row) and the orientation mark (top left)."""
    h, w = rgb.shape[:2]
    return np.array([[w * 0.6, h * 0.6, w * 0.95, h * 0.95, 0.9]])


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_the_blurred_copy_has_every_frame_upright_and_in_order(matrix: Path, tmp_path: Path,
                                                               cell: mm.Cell) -> None:
    src = matrix / cell.name
    try:
        source, pictures = reference_decode(src, keep_pictures=True)
    except av.error.FFmpegError:
        source = None  # cannot be opened: the stage must refuse it (next test)
    if source is None or not source.frames:
        with pytest.raises((av.error.FFmpegError, ValueError, IndexError)):
            faces.process(src, tmp_path / "copy.mp4", detector=a_face_in_the_corner)
        return
    result = faces.process(src, tmp_path / "copy.mp4", detector=a_face_in_the_corner)
    copy, blurred = reference_decode(tmp_path / "copy.mp4", keep_pictures=True)
    expected = [mm.read_index(p) for p in pictures]
    got = [mm.read_index(p) for p in blurred]
    assert got == expected, cell.name  # the same frames, in order, upright where they were
    assert result.frames == copy.frames == source.frames
    assert result.frames_blurred == copy.frames  # the "face" was on every frame
    assert copy.rotation == source.rotation
    if cell.vfr and source.timestamps_usable:
        assert np.allclose(copy.times(), source.times(), atol=0.002)
    h, w = blurred[0].shape[:2]
    corner = (slice(int(h * 0.7), int(h * 0.9)), slice(int(w * 0.7), int(w * 0.9)))
    changed = np.abs(blurred[-1][corner].astype(int) - pictures[-1][corner].astype(int))
    assert changed.mean() > 0 or pictures[-1][corner].std() < 1  # blurred where it had detail


def test_the_stage_quarantines_a_file_it_cannot_decode(matrix: Path, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    good = next(c for c in CELLS if c.container == "mp4" and c.damage == "intact")
    cut = next(c for c in CELLS if c.container == "mp4" and c.damage == "cut")
    (videos / "aaaa000000000001.mp4").write_bytes((matrix / good.name).read_bytes())
    (videos / "bbbb000000000002.mp4").write_bytes((matrix / cut.name).read_bytes())
    meta = tmp_path / "metadata.csv"
    meta.write_text("video_id\naaaa000000000001\nbbbb000000000002\n")
    params = params_mod.load(ROOT / "params.yaml")
    blur = replace(params, ingest=replace(params.ingest, faces="blur"))
    summary = stage.run(blur, metadata=meta, videos=videos, out=tmp_path / "release",
                        reports=tmp_path / "reports")
    by_id = {v["video_id"]: v for v in summary["per_video"]}
    assert by_id["bbbb000000000002"]["verification"] == "undecodable"
    assert by_id["aaaa000000000001"]["verification"] == "passed"
    assert summary["undecodable"] == 1 and summary["verified"] == 1
    quarantine = (tmp_path / "release" / "quarantine.csv").read_text()
    assert "bbbb000000000002,undecodable" in quarantine
    assert sorted(p.name for p in (tmp_path / "release" / "videos").iterdir()) == [
        "aaaa000000000001.mp4"]
    assert good.name not in quarantine and cut.name not in quarantine
