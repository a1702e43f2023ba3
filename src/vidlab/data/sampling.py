"""Clip sampling: which frames of a video make a clip, decided from frame timestamps.

A sampler turns a video's presentation timestamps (seconds, sorted) into clips: tuples of frame
indices. Times, not indices, are sampled, so variable-frame-rate sources and resampling to
``target_fps`` pick the frame that is on screen at each sampled instant (the last frame whose
timestamp is at or before it, allowing for timestamps rounded by the container). Without
``target_fps`` the clip steps through the video's own frames, ``stride`` at a time.

Policies (:func:`make_clip_sampler` rejects other names):

* ``center``: one clip centred in the video (evaluation of single-clip models);
* ``random``: one clip at a uniformly random start (training);
* ``uniform``: one clip whose ``clip_len`` frames are spread evenly over the whole video;
* ``multi``: ``clips_per_video`` clips at evenly spaced starts covering the video (multi-clip
  evaluation, softmax averaged per video).

A video shorter than a clip is padded by ``pad``: ``loop`` (start again from the first frame) or
``repeat`` (hold the last frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

POLICIES = ("center", "random", "uniform", "multi")
PADS = ("loop", "repeat")


class Clip(NamedTuple):
    """One sampled clip: its number within the video and the frame indices, in order."""

    clip_index: int
    indices: tuple[int, ...]
    padded: bool


@dataclass(frozen=True)
class ClipSampler:
    """Samples clips from frame timestamps; build one with :func:`make_clip_sampler`."""

    policy: str
    clip_len: int
    stride: int = 1
    target_fps: float | None = None
    clips_per_video: int = 1
    pad: str = "loop"

    def __call__(self, times: np.ndarray, rng: np.random.Generator | None = None) -> list[Clip]:
        """Clips of a video whose frame ``i`` is shown from ``times[i]`` (seconds, sorted).

        Args:
            times: presentation timestamps of every frame.
            rng: required by ``random``; ignored otherwise.
        """
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1 or not len(times):
            raise ValueError("A video needs at least one frame timestamp to sample from.")
        if np.any(np.diff(times) < 0):
            raise ValueError("Frame timestamps must be sorted (decode order is not display order).")
        if self.policy == "uniform":
            return [self._uniform(times)]
        starts = self._starts(times, rng)
        return [self._clip(times, start, k) for k, start in enumerate(starts)]

    # --- helpers -----------------------------------------------------------------------------

    def _step(self, times: np.ndarray) -> float:
        """Seconds between the clip's frames."""
        if self.target_fps:
            return self.stride / self.target_fps
        return self.stride * _frame_interval(times)

    def _extent(self, times: np.ndarray) -> float:
        """Seconds a clip covers: its frames' steps plus the display time of its last frame."""
        step = self._step(times)
        return (self.clip_len - 1) * step + min(step, _frame_interval(times))

    def _starts(self, times: np.ndarray, rng: np.random.Generator | None) -> list[float]:
        first, end = times[0], times[-1] + _frame_interval(times)
        room = max(0.0, (end - first) - self._extent(times))
        if self.policy == "center":
            return [first + room / 2]
        if self.policy == "random":
            if rng is None:
                raise ValueError("The 'random' clip sampler needs a numpy Generator (rng).")
            return [first + rng.uniform(0.0, room) if room else first]
        count = self.clips_per_video  # multi: the first at the start, the last at the end
        if count == 1:
            return [first + room / 2]
        return [first + room * k / (count - 1) for k in range(count)]

    def _clip(self, times: np.ndarray, start: float, clip_index: int) -> Clip:
        if not self.target_fps:  # native rate: step through frames by index from the start
            first = int(np.searchsorted(times, start + _slack(times), side="right") - 1)
            wanted = first + self.stride * np.arange(self.clip_len)
            return self._pad_indices(wanted, len(times), clip_index)
        instants = start + self._step(times) * np.arange(self.clip_len)
        return self._at(times, instants, clip_index)

    def _uniform(self, times: np.ndarray) -> Clip:
        end = times[-1] + _frame_interval(times)
        instants = times[0] + (np.arange(self.clip_len) + 0.5) * (end - times[0]) / self.clip_len
        return self._at(times, instants, 0)

    def _at(self, times: np.ndarray, instants: np.ndarray, clip_index: int) -> Clip:
        """The frame on screen at each instant; past the end, padded."""
        end = times[-1] + _frame_interval(times)
        slack = _slack(times)
        padded = bool(np.any(instants >= end - slack))
        if padded and self.pad == "loop":
            # Lay the video end to end as often as the clip needs and wrap the frame index by
            # integer modulo: a float modulo of the instants drifts at the seams (a 3-frame
            # video looped as 0 1 2 2 1 2 2 1).
            period = end - times[0]
            laps = int(np.ceil((instants[-1] - times[0]) / period)) + 1
            looped = (times[None, :] + period * np.arange(laps)[:, None]).ravel()
            index = (np.searchsorted(looped, instants + slack, side="right") - 1) % len(times)
        else:
            index = np.searchsorted(times, instants + slack, side="right") - 1
        return Clip(clip_index, tuple(int(i) for i in np.clip(index, 0, len(times) - 1)), padded)

    def _pad_indices(self, wanted: np.ndarray, n: int, clip_index: int) -> Clip:
        padded = bool(wanted[-1] >= n)
        wanted = np.mod(wanted, n) if self.pad == "loop" else np.minimum(wanted, n - 1)
        return Clip(clip_index, tuple(int(i) for i in wanted), padded)


def _frame_interval(times: np.ndarray) -> float:
    """The typical (median) time between frames; 1/30 s for a one-frame video."""
    return float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30


def _slack(times: np.ndarray) -> float:
    """How far past an instant a frame may start and still count as on screen at it.

    Containers store timestamps rounded to their time base (often 1 ms) and decoders report
    them as floats, so a frame meant to start exactly at an instant can appear a hair later.
    1 ms (at most a quarter of a frame interval) absorbs that without skipping a frame.
    """
    return min(0.001, 0.25 * _frame_interval(times))


def make_clip_sampler(policy: str, *, clip_len: int, stride: int = 1,
                      target_fps: float | None = None, clips_per_video: int = 1,
                      pad: str = "loop") -> ClipSampler:
    """Build a sampler by name, checking every argument.

    Raises:
        ValueError: for an unknown policy or pad, or a non-positive length, stride or rate.
    """
    if policy not in POLICIES:
        raise ValueError(f"Unknown clip sampler {policy!r}; expected one of {', '.join(POLICIES)}.")
    if pad not in PADS:
        raise ValueError(f"Unknown pad {pad!r}; expected one of {', '.join(PADS)}.")
    for name, value in (("clip_len", clip_len), ("stride", stride),
                        ("clips_per_video", clips_per_video)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1. Got {value!r} instead.")
    if target_fps is not None and not target_fps > 0:
        raise ValueError(f"target_fps must be above 0 or None. Got {target_fps!r} instead.")
    return ClipSampler(policy, clip_len, stride, target_fps, clips_per_video, pad)
