"""Clip samplers: exact frame indices at native and resampled rates, VFR, padding, names."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.sampling import make_clip_sampler

CFR = np.arange(30) / 15.0  # 30 frames at 15 fps: 2 s


def indices(policy: str, times=CFR, rng=None, **kwargs) -> list[tuple[int, ...]]:
    return [c.indices for c in make_clip_sampler(policy, **kwargs)(times, rng)]


@pytest.mark.parametrize(("policy", "kwargs", "expected"), [
    ("center", {"clip_len": 4}, [(13, 14, 15, 16)]),
    ("center", {"clip_len": 4, "stride": 2}, [(11, 13, 15, 17)]),
    ("multi", {"clip_len": 4, "clips_per_video": 3}, [(0, 1, 2, 3), (13, 14, 15, 16),
                                                      (26, 27, 28, 29)]),
    ("uniform", {"clip_len": 5}, [(3, 9, 15, 21, 27)]),
    # 7.5 fps from 15 fps: every other frame, by time
    ("center", {"clip_len": 4, "target_fps": 7.5}, [(11, 13, 15, 17)]),
    # 30 fps from 15 fps: each frame shown twice
    ("center", {"clip_len": 4, "target_fps": 30.0}, [(14, 14, 15, 15)]),
])
def test_constant_rate(policy: str, kwargs: dict, expected: list) -> None:
    assert indices(policy, **kwargs) == expected


def test_variable_frame_rate_is_sampled_by_time() -> None:
    # dense (every 1/30 s) for 10 frames, then sparse (every 0.2 s)
    times = np.concatenate([np.arange(10) / 30, 9 / 30 + 0.2 * np.arange(1, 6)])
    clips = make_clip_sampler("uniform", clip_len=4)(times)
    # the video runs 0 .. 1.3 + 0.033 (median interval); instants at the centres of 4 quarters
    end = times[-1] + 1 / 30
    instants = (np.arange(4) + 0.5) * end / 4
    expected = tuple(int(np.searchsorted(times, t, side="right") - 1) for t in instants)
    assert clips[0].indices == expected
    assert expected != (1, 5, 9, 13)  # what spreading by index would give
    resampled = make_clip_sampler("center", clip_len=3, target_fps=5.0)(times)[0].indices
    room = (end - times[0]) - (2 * 0.2 + 1 / 30)  # video length - clip extent
    starts = times[0] + room / 2 + 0.2 * np.arange(3)
    assert resampled == tuple(int(np.searchsorted(times, t + 1e-9, side="right") - 1)
                              for t in starts)


@pytest.mark.parametrize(("pad", "expected"), [("loop", (0, 1, 2, 0, 1, 2)),
                                               ("repeat", (0, 1, 2, 2, 2, 2))])
def test_short_videos_are_padded(pad: str, expected: tuple) -> None:
    clip = make_clip_sampler("center", clip_len=6, pad=pad)(np.arange(3) / 15)[0]
    assert clip.indices == expected and clip.padded


def test_random_is_seeded_and_stays_inside() -> None:
    sampler = make_clip_sampler("random", clip_len=8, stride=2)
    draws = [sampler(CFR, np.random.default_rng(s))[0].indices for s in range(20)]
    assert draws[0] == sampler(CFR, np.random.default_rng(0))[0].indices
    assert len(set(draws)) > 5
    for clip in draws:
        assert list(clip) == list(range(clip[0], clip[0] + 16, 2)) and clip[-1] <= 29
    with pytest.raises(ValueError, match="needs a numpy Generator"):
        sampler(CFR)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"policy": "dense", "clip_len": 4}, "Unknown clip sampler 'dense'; expected one of center"),
    ({"policy": "center", "clip_len": 0}, "clip_len must be an int >= 1. Got 0"),
    ({"policy": "center", "clip_len": 4, "pad": "zeros"}, "Unknown pad 'zeros'"),
    ({"policy": "center", "clip_len": 4, "target_fps": 0}, "target_fps must be above 0"),
])
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_clip_sampler(**kwargs)


def test_unsorted_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="must be sorted"):
        make_clip_sampler("center", clip_len=2)(np.array([0.0, 0.2, 0.1]))


@pytest.mark.parametrize("fps", [7.0, 12.0, 15.0, 25.0, 29.97, 30.0, 59.94])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 11])
def test_loop_padding_is_exact_at_every_seam(n: int, fps: float) -> None:
    """Resampled at the video's own rate, a looped clip is 0 1 .. n-1 0 1 ..: the seam is
    wrapped by integer modulo (a float modulo once gave 0 1 2 2 1 2 2 1 for three frames)."""
    times = np.arange(n) / fps
    for clip_len in (n + 1, 8 if n < 8 else n + 2, 3 * n + 1):  # all longer than the video
        clip = make_clip_sampler("center", clip_len=clip_len, target_fps=fps, pad="loop")(times)[0]
        assert clip.indices == tuple(k % n for k in range(clip_len)), clip
