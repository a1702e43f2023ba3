"""Params sections of the data stages: base, data, demo, ingest, report, probe, validate, dedup,
split."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from vidlab.config.fields import spec
from vidlab.core.errors import ParamsError


@dataclass(frozen=True)
class BaseParams:
    """Project-wide settings every stage may read."""

    seed: int = field(default=0, metadata=spec(low=0, high=2**32 - 1))
    target: str = field(
        default="label", metadata=spec(choices=("label", "domain", "milestone_id"))
    )
    classes: tuple[str, ...] = ("achieved", "not_achieved")


@dataclass(frozen=True)
class DataParams:
    """Where the raw dataset lives: the bundled demo, or a real one (``source: custom``)."""

    source: str = field(default="demo", metadata=spec(choices=("demo", "custom")))
    csv: str = "data/raw/demo/metadata.csv"
    videos: str = "data/raw/demo/videos"

    def __post_init__(self) -> None:
        demo_root = Path("data/raw/demo")
        inside = [Path(p).is_relative_to(demo_root) for p in (self.csv, self.videos)]
        if self.source == "demo" and not all(inside):
            raise ParamsError(
                "data.source is 'demo' but data.csv/data.videos point elsewhere "
                f"({self.csv!r}, {self.videos!r}). Set data.source: custom to use your own data."
            )
        if self.source == "custom" and any(inside):
            raise ParamsError(
                "data.source is 'custom' but data.csv/data.videos still point at the demo "
                f"({self.csv!r}, {self.videos!r}). Point them at your CSV and video folder."
            )


@dataclass(frozen=True)
class DemoParams:
    """The synthetic demo dataset (see vidlab.demo)."""

    n_videos: int = field(default=132, metadata=spec(low=4, high=100_000))
    n_children: int = field(default=33, metadata=spec(low=2, high=10_000))
    width: int = field(default=128, metadata=spec(low=32, high=1920))
    height: int = field(default=96, metadata=spec(low=32, high=1080))
    fps: int = field(default=15, metadata=spec(low=5, high=60))
    min_seconds: float = field(default=2.0, metadata=spec(low=0.5, high=60))
    max_seconds: float = field(default=4.0, metadata=spec(low=0.5, high=60))
    achieved_fraction: float = field(default=0.5, metadata=spec(low=0.05, high=0.95))
    audio_fraction: float = field(default=0.5, metadata=spec(low=0.0, high=1.0))
    noise_std: float = field(default=3.0, metadata=spec(low=0.0, high=50.0))
    crf: int = field(default=20, metadata=spec(low=0, high=51))
    plant_faults: bool = True
    workers: int = field(default=0, metadata=spec(low=0, high=256))

    def __post_init__(self) -> None:
        if self.min_seconds > self.max_seconds:
            raise ParamsError(
                f"demo.min_seconds ({self.min_seconds}) must not exceed demo.max_seconds "
                f"({self.max_seconds})."
            )
        if self.n_children > self.n_videos:
            raise ParamsError(
                f"demo.n_children ({self.n_children}) must not exceed demo.n_videos "
                f"({self.n_videos}): every child needs at least one video."
            )
        if self.width % 2 or self.height % 2:
            raise ParamsError(
                f"demo.width and demo.height must be even for H.264 yuv420p. "
                f"Got {self.width}x{self.height} instead."
            )


def _default_domains() -> dict[str, str]:
    return {"M": "motor", "L": "language", "S": "social", "C": "cognitive"}


@dataclass(frozen=True)
class IngestParams:
    """Reading the CSV, de-identification and the derived columns (domain, age group)."""

    domains: dict[str, str] = field(default_factory=_default_domains)
    age_bins: tuple[int, ...] = (6, 12, 18, 24, 30, 36)
    dates: str = field(default="quarter", metadata=spec(choices=("drop", "year", "quarter",
                                                                  "keep")))
    audio: str = field(default="keep", metadata=spec(choices=("keep", "drop")))
    pseudonym_length: int = field(default=16, metadata=spec(low=8, high=64))
    extensions: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm")
    workers: int = field(default=0, metadata=spec(low=0, high=256))

    def __post_init__(self) -> None:
        bins = self.age_bins
        if any(b <= a for a, b in zip(bins, bins[1:], strict=False)) or bins[0] < 0:
            raise ParamsError(
                f"ingest.age_bins must be increasing upper bounds in months, e.g. "
                f"[6, 12, 18, 24, 30, 36]. Got {list(bins)} instead."
            )
        for prefix in self.domains:
            if not prefix.isalnum():
                raise ParamsError(
                    f"ingest.domains keys are milestone prefixes such as 'M'. Got {prefix!r}."
                )
        for ext in self.extensions:
            if not ext.startswith("."):
                raise ParamsError(f"ingest.extensions must start with a dot. Got {ext!r}.")

    @property
    def max_age(self) -> int:
        """The oldest age in months the bins cover."""
        return self.age_bins[-1]

    def age_groups(self) -> list[str]:
        """Labels of the bins in order: '0-6m', '7-12m', ..."""
        lows = [0, *(b + 1 for b in self.age_bins[:-1])]
        return [f"{lo}-{hi}m" for lo, hi in zip(lows, self.age_bins, strict=True)]


@dataclass(frozen=True)
class ReportParams:
    """The dataset summary report."""

    bar_width: int = field(default=50, metadata=spec(low=10, high=200))
    top_milestones: int = field(default=10, metadata=spec(low=1, high=1000))
    age_tolerance_months: int = field(default=6, metadata=spec(low=0, high=36))


@dataclass(frozen=True)
class ProbeParams:
    """The manifest: per-file isolation, integrity tolerances, optional CFR normalisation."""

    workers: int = field(default=0, metadata=spec(low=0, high=256))
    timeout_s: float = field(default=60.0, metadata=spec(low=0.1, high=3600))
    frame_tolerance: float = field(default=0.02, metadata=spec(low=0.0, high=0.5))
    truncation_tolerance: float = field(default=0.1, metadata=spec(low=0.0, high=0.9))
    vfr_tolerance: float = field(default=0.1, metadata=spec(low=0.0, high=10.0))
    fps_tolerance: float = field(default=0.05, metadata=spec(low=0.0, high=1.0))
    max_keyframe_interval_s: float = field(default=5.0, metadata=spec(low=0.1, high=600))
    normalize: str = field(default="none", metadata=spec(choices=("none", "cfr")))
    cfr_keyframe_interval: int = field(default=15, metadata=spec(low=1, high=600))


@dataclass(frozen=True)
class ValidateParams:
    """Thresholds of the Great Expectations suites in expectations/ and the stop rule."""

    max_quarantine_fraction: float = field(default=0.2, metadata=spec(low=0.0, high=1.0))
    min_videos: int = field(default=10, metadata=spec(low=1, high=10**9))
    min_class_fraction: float = field(default=0.1, metadata=spec(low=0.0, high=1.0))
    max_class_fraction: float = field(default=0.9, metadata=spec(low=0.0, high=1.0))
    age_tolerance_months: int = field(default=6, metadata=spec(low=0, high=120))
    min_duration_s: float = field(default=0.0, metadata=spec(low=0.0, high=86400))
    max_duration_s: float = field(default=600.0, metadata=spec(low=0.0, high=86400))
    min_fps: float = field(default=5.0, metadata=spec(low=0.0, high=1000))
    max_fps: float = field(default=120.0, metadata=spec(low=0.0, high=1000))
    min_side: int = field(default=64, metadata=spec(low=1, high=100_000))
    max_side: int = field(default=7680, metadata=spec(low=1, high=100_000))
    allowed_codecs: tuple[str, ...] = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg",
                                       "ffv1")  # ffv1: the lossless copies ingest makes

    def __post_init__(self) -> None:
        for low, high in (("min_class_fraction", "max_class_fraction"),
                          ("min_duration_s", "max_duration_s"), ("min_fps", "max_fps"),
                          ("min_side", "max_side")):
            if getattr(self, low) > getattr(self, high):
                raise ParamsError(f"validate.{low} ({getattr(self, low)}) must not exceed "
                                  f"validate.{high} ({getattr(self, high)}).")


@dataclass(frozen=True)
class DedupParams:
    """Exact and near-duplicate detection (see vidlab.media.signature and .dedup)."""

    frames: int = field(default=16, metadata=spec(low=2, high=256))
    threshold: float = field(default=0.18, metadata=spec(low=0.0, high=0.5))
    review_margin: float = field(default=0.03, metadata=spec(low=0.0, high=0.5))
    window: float = field(default=0.2, metadata=spec(low=0.0, high=1.0))
    candidate_radius: float = field(default=0.24, metadata=spec(low=0.0, high=0.3))
    sheet_frames: int = field(default=6, metadata=spec(low=1, high=32))
    sheet_videos: int = field(default=8, metadata=spec(low=2, high=64))
    workers: int = field(default=0, metadata=spec(low=0, high=256))
    timeout_s: float = field(default=60.0, metadata=spec(low=0.1, high=3600))

    @property
    def window_frames(self) -> int:
        """How many sample positions a frame may be matched away from its own."""
        return math.ceil(self.window * self.frames - 1e-9)


SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SplitParams:
    """Leakage-free train/val/test splits and k-fold (see vidlab.stages.split.stage)."""

    strategy: tuple[str, ...] = field(default=("group", "stratified"),
                                      metadata=spec(choices=("stratified", "group", "time")))
    stratify: tuple[str, ...] = field(
        default=("label",), metadata=spec(choices=("label", "domain", "age_group",
                                                    "milestone_id")))
    train: float = field(default=0.7, metadata=spec(low=0.0, high=1.0))
    val: float = field(default=0.15, metadata=spec(low=0.0, high=1.0))
    test: float = field(default=0.15, metadata=spec(low=0.0, high=1.0))
    folds: int = field(default=0, metadata=spec(low=0, high=100))
    val_fold: int = field(default=0, metadata=spec(low=0, high=99))
    seed: int | None = field(default=None, metadata=spec(low=0, high=2**32 - 1))
    require_all_classes: bool = True
    allow_subject_overlap: bool = False
    balance_alpha: float = field(default=0.01, metadata=spec(low=0.0, high=1.0))

    def __post_init__(self) -> None:
        if len(set(self.strategy)) != len(self.strategy):
            raise ParamsError(f"split.strategy lists a strategy twice: {list(self.strategy)}.")
        if "time" in self.strategy and "stratified" in self.strategy:
            raise ParamsError(
                "split.strategy cannot combine 'time' and 'stratified': time order decides which "
                "videos go where. Use [time, group] or [group, stratified]."
            )
        ratios = {name: getattr(self, name) for name in SPLIT_NAMES}
        if abs(sum(ratios.values()) - 1.0) > 1e-6 or min(ratios.values()) <= 0:
            raise ParamsError(
                f"split.train, split.val and split.test must each be above 0 and sum to 1. "
                f"Got {ratios} (sum {sum(ratios.values()):g})."
            )
        if self.folds and "time" in self.strategy:
            raise ParamsError(
                "split.folds cannot be used with the 'time' strategy: folds cut in time order "
                "would train on videos recorded after the validation fold. Set split.folds: 0."
            )
        if self.folds == 1:
            raise ParamsError("split.folds must be 0 (no k-fold) or at least 2. Got 1.")
        if self.folds and self.val_fold >= self.folds:
            raise ParamsError(
                f"split.val_fold must be below split.folds ({self.folds}). Got {self.val_fold}."
            )
