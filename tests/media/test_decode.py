"""Decoding backends and samplers through real decoding of videos whose frames encode their index.

Frame ``i`` of the test videos is a flat grey of level ``8 * i`` (see ``tiny_video``), so the
decoded pixels say which frame a reader returned.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vidlab.data.sampling import make_clip_sampler
from vidlab.media.decode import BACKENDS, decoder_threads, open_video

# 10 frames at ~30 fps, then 20 frames 0.2 s apart: a variable-frame-rate recording
VFR_MS = [0, 33, 66, 100, 133, 166, 200, 233, 266, 300] + [300 + 200 * k for k in range(1, 21)]


def frame_ids(frames: np.ndarray) -> tuple[int, ...]:
    """The index each decoded frame encodes."""
    return tuple(int(v) for v in np.rint(frames.reshape(len(frames), -1).mean(1) / 8))


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def cfr(tiny_video):
    return tiny_video("cfr.mp4", n_frames=30, fps=15)


@pytest.fixture
def vfr(tiny_video):
    return tiny_video("vfr.mp4", n_frames=30, fps=15, pts_ms=VFR_MS)


def test_timestamps_are_presentation_times(backend: str, cfr, vfr) -> None:
    assert np.allclose(open_video(cfr, backend).times, np.arange(30) / 15, atol=1e-3)
    assert np.allclose(open_video(vfr, backend).times, np.array(VFR_MS) / 1000, atol=1e-3)


@pytest.mark.parametrize("wanted", [[0], [29, 3, 3, 17, 0], list(range(29, -1, -1)),
                                    [5, 5, 5, 6], [28, 1]])
def test_frames_come_back_in_the_order_asked(backend: str, vfr, wanted: list[int]) -> None:
    reader = open_video(vfr, backend, threads=2)
    assert frame_ids(reader.get_frames(wanted)) == tuple(wanted)
    reader.close()


@pytest.mark.decord
def test_backends_decode_identical_pixels(cfr) -> None:
    wanted = [3, 11, 12, 25]
    first, second = (open_video(cfr, b).get_frames(wanted) for b in BACKENDS)
    assert first.shape == (4, 48, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)


def test_auto_is_decord_where_installed_else_pyav(monkeypatch, cfr) -> None:
    """What a platform without decord's wheels gets: `auto` decodes with PyAV; asking for decord
    there is a clear error, not an ImportError."""
    from vidlab.media.decode import PyAVReader, decord_available, resolve_backend

    monkeypatch.setitem(sys.modules, "decord", None)  # `import decord` now fails
    assert not decord_available()
    assert resolve_backend("auto") == "pyav"
    assert isinstance(open_video(cfr, "auto"), PyAVReader)
    with pytest.raises(ValueError, match="decord is not installed here"):
        open_video(cfr, "decord")


def test_bad_requests_are_refused(cfr) -> None:
    with pytest.raises(ValueError, match="Unknown decoding backend 'opencv'"):
        open_video(cfr, "opencv")
    with pytest.raises(IndexError, match="the video has 30 frames, asked for 0..30"):
        open_video(cfr, "pyav").get_frames([0, 30])


def test_decoder_threads_share_the_cores(monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert decoder_threads(0, 0) == 8
    assert decoder_threads(0, 2) == 4
    assert decoder_threads(0, 16) == 1
    assert decoder_threads(3, 2) == 3


# (policy, sampler kwargs, expected indices) on the constant-rate video: 30 frames at 15 fps
CFR_CASES = [
    ("center", {"clip_len": 4}, [(13, 14, 15, 16)]),
    ("center", {"clip_len": 4, "stride": 2}, [(11, 13, 15, 17)]),
    ("multi", {"clip_len": 4, "clips_per_video": 3}, [(0, 1, 2, 3), (13, 14, 15, 16),
                                                      (26, 27, 28, 29)]),
    ("uniform", {"clip_len": 5}, [(3, 9, 15, 21, 27)]),
    ("center", {"clip_len": 4, "target_fps": 7.5}, [(11, 13, 15, 17)]),  # every other frame
    ("center", {"clip_len": 4, "target_fps": 30.0}, [(14, 14, 15, 15)]),  # each frame twice
    ("multi", {"clip_len": 3, "clips_per_video": 2, "target_fps": 5.0},
     [(0, 3, 6), (23, 26, 29)]),
]

# the VFR video (frame times VFR_MS): its median interval is 0.2 s, so it ends at 4.5 s
VFR_CASES = [
    # 5 fps: one frame per 0.2 s, clip centred at 1.85 s .. 2.45 s
    ("center", {"clip_len": 4, "target_fps": 5.0}, [(16, 17, 18, 19)]),
    # spread over the duration by time, not by index (by index it would be 3, 11, 18, 26)
    ("uniform", {"clip_len": 4}, [(10, 15, 21, 27)]),
    # 25 fps: dense at the start, held frames where the source is sparse
    ("multi", {"clip_len": 4, "clips_per_video": 3, "target_fps": 25.0},
     [(0, 1, 2, 3), (18, 18, 18, 18), (29, 29, 29, 29)]),
    # native rate steps through the video's own frames
    ("center", {"clip_len": 4}, [(16, 17, 18, 19)]),
]


@pytest.mark.parametrize(("video", "policy", "kwargs", "expected"),
                         [("cfr", *case) for case in CFR_CASES]
                         + [("vfr", *case) for case in VFR_CASES])
def test_samplers_through_real_decoding(request, backend: str, video: str, policy: str,
                                        kwargs: dict, expected: list) -> None:
    reader = open_video(request.getfixturevalue(video), backend)
    clips = make_clip_sampler(policy, **kwargs)(reader.times)
    assert [c.indices for c in clips] == expected
    for clip in clips:
        assert frame_ids(reader.get_frames(clip.indices)) == clip.indices


def test_random_clips_through_real_decoding(backend: str, vfr) -> None:
    reader = open_video(vfr, backend)
    sampler = make_clip_sampler("random", clip_len=6, stride=2)
    draws = [sampler(reader.times, np.random.default_rng(seed))[0] for seed in range(12)]
    assert len({clip.indices for clip in draws}) > 3
    for clip in draws:
        assert clip.indices == tuple(range(clip.indices[0], clip.indices[0] + 12, 2))
        assert frame_ids(reader.get_frames(clip.indices)) == clip.indices


@pytest.mark.parametrize(("pad", "expected"), [("loop", (0, 1, 2, 0, 1, 2)),
                                               ("repeat", (0, 1, 2, 2, 2, 2))])
def test_short_video_padding_through_real_decoding(backend: str, tiny_video, pad: str,
                                                   expected: tuple) -> None:
    reader = open_video(tiny_video("short.mp4", n_frames=3), backend)
    clip = make_clip_sampler("center", clip_len=6, pad=pad)(reader.times)[0]
    assert clip.padded and clip.indices == expected
    assert frame_ids(reader.get_frames(clip.indices)) == expected


@pytest.mark.parametrize("wanted", [[29, 3, 3, 17, 0], list(range(29, -1, -1))])
def test_per_frame_sees_each_frame_once_and_its_results_come_back_in_order(
        backend: str, vfr, wanted: list[int]) -> None:
    """With ``per_frame`` a reader keeps only what the function returns for each frame (here
    one pixel), called with the frame's index, in the order of the indices asked for."""
    seen: list[int] = []

    def corner(index: int, rgb: np.ndarray) -> np.ndarray:
        assert rgb.shape == (48, 64, 3) and rgb.flags.c_contiguous
        seen.append(index)
        return rgb[:1, :1].copy()

    reader = open_video(vfr, backend)
    kept = reader.get_frames(wanted, per_frame=corner)
    assert kept.shape == (len(wanted), 1, 1, 3)
    assert frame_ids(kept) == tuple(wanted)
    assert sorted(seen) == sorted(set(wanted))
    reader.close()
