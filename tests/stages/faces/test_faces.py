"""Faces on real photographs (scikit-image's astronaut, Eileen Collins): found per frame, blurred
in a re-encoded copy that keeps every frame, timestamp and the display rotation, and verified
frame by frame; ``report`` changes no pixel. Videos are built here from the photograph, moving,
scaled, partly occluded and rotated by a display matrix, with the face's box known per frame."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab.config import replace
from vidlab.media import faces
from vidlab.stages.faces import stage

FACE = (181, 58, 270, 178)  # the astronaut's face in skimage.data.astronaut() (512 x 512)
W, H, N = 320, 240, 24


def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def make(path: Path, *, rotation: int = 0, scale: float = 1.0, occlude: bool = False,
         vfr: bool = False) -> list[tuple[float, float, float, float]]:
    """A moving crop of the photograph (H.264 with B-frames); the face's box per frame, in the
    upright picture."""
    from PIL import Image

    image = photo()
    if scale != 1.0:
        side = round(512 * scale)
        image = np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR))
    boxes = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=15)
        k = rotation // 90
        stream.width, stream.height = (H, W) if k % 2 else (W, H)
        stream.pix_fmt, stream.options = "yuv420p", {"bf": "2", "g": "12"}
        if vfr:
            stream.codec_context.time_base = Fraction(1, 15000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(N):
            x0, y0 = round((100 + 3 * i) * scale), round((20 + i) * scale)
            crop = image[y0:y0 + H, x0:x0 + W].copy()
            if occlude:  # a grey bar over the lower part of the face
                crop[round(140 * scale) - y0:round(160 * scale) - y0] = 128
            boxes.append((FACE[0] * scale - x0, FACE[1] * scale - y0,
                          FACE[2] * scale - x0, FACE[3] * scale - y0))
            stored = np.ascontiguousarray(np.rot90(crop, -k)) if k else crop
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            if vfr:  # uneven frame intervals
                frame.pts, frame.time_base = i * 1000 + (400 if i % 3 == 1 else 0), Fraction(
                    1, 15000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return boxes


def decoded(path: Path) -> tuple[list[np.ndarray], list[float], int]:
    with av.open(str(path)) as source:
        frames = list(source.decode(video=0))
    rotation = int(frames[0].rotation or 0)
    k = faces.turns(rotation)
    return ([faces.upright(f, k) for f in frames],
            [float(f.pts * f.time_base) for f in frames], rotation)


def _params(mode: str):
    params = params_mod.load(ROOT / "params.yaml")
    return replace(params, ingest=replace(params.ingest, faces=mode))


def _overlap(box, truth) -> float:
    ix = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0]))
    iy = max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
    return ix * iy / ((truth[2] - truth[0]) * (truth[3] - truth[1]))


@pytest.mark.parametrize(("rotation", "scale", "occlude", "vfr"), [
    (0, 1.0, False, False), (90, 1.0, False, True), (270, 0.7, True, False),
    (180, 1.3, False, True)])
def test_blur_covers_every_face_keeps_frames_times_rotation_and_the_rest(
        tmp_path: Path, rotation: int, scale: float, occlude: bool, vfr: bool) -> None:
    src, dst = tmp_path / "src.mp4", tmp_path / "dst.mp4"
    truth = make(src, rotation=rotation, scale=scale, occlude=occlude, vfr=vfr)
    detect, recheck, verifiers = stage.detectors(_params("blur"))
    result = faces.process(src, dst, detector=detect, recheck=recheck)
    before, times, turned = decoded(src)
    after, times_after, turned_after = decoded(dst)
    assert (len(after), times_after, turned_after % 360) == (len(before), times,
                                                             turned % 360) == (N, times, rotation)
    found = [max((_overlap(b, truth[i]) for b in boxes), default=0.0)
             for i, boxes in sorted(result.faces_at.items())]
    assert len(result.faces_at) == N and min(found) > 0.5  # recall: every frame, on the face
    # no face outside what was blurred, in any frame
    assert faces.verify(dst, verifiers, result.blurred_at, result.margin) == []
    # the same encoder without any blur: what re-encoding alone changes
    plain = tmp_path / "plain.mp4"
    faces.process(src, plain, detector=faces.CenterFace(threshold=0.999))
    reencoded = decoded(plain)[0]
    for i in range(N):
        blurred = faces.ellipse_mask(after[i].shape[:2], result.blurred_at[i], result.margin)
        x1, y1, x2, y2 = (round(v) for v in truth[i])
        face_before = before[i][y1:y2, x1:x2].astype(float)
        face_after = after[i][y1:y2, x1:x2].astype(float)
        assert np.abs(face_before - face_after).mean() > 8  # the face itself changed
        # elsewhere (16 px from any blurred ellipse: H.264's blocks), re-encoding error only
        near = faces.ellipse_mask(blurred.shape, result.blurred_at[i] + [-16, -16, 16, 16],
                                  result.margin)
        diff = np.abs(before[i].astype(float) - after[i].astype(float))[~near].mean()
        floor = np.abs(before[i].astype(float) - reencoded[i].astype(float))[~near].mean()
        assert diff < floor + 0.5, (i, diff, floor)


def test_the_verification_fails_a_copy_that_still_shows_a_face(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    make(src)
    verifiers = stage.detectors(_params("blur"))[2]
    assert len(faces.verify(src, verifiers)) == N  # unblurred: a face on every frame
    # a detector that misses the face: the copy is not blurred there, and verification says so
    dst = tmp_path / "missed.mp4"
    result = faces.process(src, dst, detector=faces.CenterFace(threshold=0.999))
    assert result.frames_blurred == 0
    assert faces.verify(dst, verifiers, result.blurred_at, result.margin) == list(range(N))
    assert faces.model_path().name == "centerface.onnx" and faces.model_path().is_file()


def test_report_counts_without_writing_pixels_and_blur_releases(tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("VIDLAB_KEY_DIR", str(tmp_path / "keys"))
    videos = tmp_path / "videos"
    videos.mkdir()
    make(videos / "aaaa000000000001.mp4")
    (tmp_path / "metadata.csv").write_text("video_id\naaaa000000000001\n")
    keyed = _params("report")
    keyed = replace(keyed, data=replace(keyed.data, source="demo"))
    summary = stage.run(keyed, metadata=tmp_path / "metadata.csv", videos=videos,
                        out=tmp_path / "release", reports=tmp_path / "reports")
    assert summary["mode"] == "report" and summary["frames_with_faces"] == N
    assert not list((tmp_path / "release" / "videos").iterdir())  # no pixels written
    private = json.loads(Path(summary["private_report"]).read_text())
    assert len(private["aaaa000000000001"]["faces"]) == N
    shared = (tmp_path / "reports" / "summary.json").read_text()
    assert '"faces": {' not in shared and "181" not in shared  # no boxes or frames shared
    blurred = replace(keyed, ingest=replace(keyed.ingest, faces="blur"))
    summary = stage.run(blurred, metadata=tmp_path / "metadata.csv", videos=videos,
                        out=tmp_path / "release", reports=tmp_path / "reports")
    assert summary["verified"] == 1 and summary["failed"] == 0
    assert (tmp_path / "release" / "videos" / "aaaa000000000001.mp4").is_file()
    table = (tmp_path / "release" / "faces.csv").read_text()
    assert "passed" in table and "libx264" in table
