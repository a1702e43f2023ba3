"""Params sections of the data stages: base, data, demo, ingest, report, probe, validate, dedup,
split."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Self, get_args

from pydantic import Field, model_validator

from vidlab.config.fields import Bool, Float, Int, Section, Text
from vidlab.core.errors import ParamsError

Target = Literal["label", "domain", "milestone_id"]  # the metadata column the models predict
# annotation tasks the demo can write (the same names as vidlab.annotations.schema.TASKS)
DemoTask = Literal["segments", "boxes", "tracks", "masks", "captions"]


class BaseParams(Section):
    """Project-wide settings every stage may read."""

    seed: Int = Field(0, ge=0, le=2**32 - 1)
    target: Target = "label"
    classes: tuple[Text, ...] = Field(("achieved", "not_achieved"), min_length=1)


class DataParams(Section):
    """Where the raw dataset lives: the bundled demo, or a real one (``source: custom``)."""

    source: Literal["demo", "custom"] = "demo"
    csv: Text = "data/raw/demo/metadata.csv"
    videos: Text = "data/raw/demo/videos"

    @model_validator(mode="after")
    def _check(self) -> Self:
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
        return self


class EngineParams(Section):
    """Where the per-video work of ingest, probe and clips runs: worker processes on this
    machine, or Ray tasks (on this machine or a cluster). The outputs are the same bytes."""

    name: Literal["local", "ray"] = "local"
    # ray only: null starts a private Ray on this machine for the stage; "auto" joins the
    # cluster this machine belongs to (`ray start`); "host:port" or "ray://host:port" one there
    address: Text | None = None


class DemoParams(Section):
    """The synthetic demo dataset (see vidlab.demo)."""

    n_videos: Int = Field(132, ge=4, le=100_000)
    n_children: Int = Field(33, ge=2, le=10_000)
    width: Int = Field(128, ge=32, le=1920)
    height: Int = Field(96, ge=32, le=1080)
    fps: Int = Field(15, ge=5, le=60)
    min_seconds: Float = Field(2.0, ge=0.5, le=60)
    max_seconds: Float = Field(4.0, ge=0.5, le=60)
    achieved_fraction: Float = Field(0.5, ge=0.05, le=0.95)
    audio_fraction: Float = Field(0.5, ge=0.0, le=1.0)
    noise_std: Float = Field(3.0, ge=0.0, le=50.0)
    crf: Int = Field(20, ge=0, le=51)
    plant_faults: Bool = True
    workers: Int = Field(0, ge=0, le=256)
    # annotation tasks written under annotations/ (see vidlab.synth.annotate), for the first
    # ``annotated`` usable videos
    tasks: tuple[DemoTask, ...] = ("segments", "boxes", "tracks", "masks", "captions")
    annotated: Int = Field(40, ge=0, le=100_000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.tasks)) != len(self.tasks):
            repeated = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
            raise ParamsError(
                f"demo.tasks must name each task at most once. Got {list(self.tasks)} instead "
                f"({', '.join(repeated)} repeated)."
            )
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
        return self


def _default_domains() -> dict[str, str]:
    return {"M": "motor", "L": "language", "S": "social", "C": "cognitive"}


class IngestParams(Section):
    """Reading the CSV, de-identification and the derived columns (domain, age group)."""

    domains: dict[Text, Text] = Field(default_factory=_default_domains, min_length=1)
    age_bins: tuple[Int, ...] = Field((6, 12, 18, 24, 30, 36), min_length=1)
    dates: Literal["drop", "year", "quarter", "keep"] = "quarter"
    audio: Literal["keep", "drop"] = "keep"
    pseudonym_length: Int = Field(16, ge=8, le=64)
    extensions: tuple[Text, ...] = Field((".mp4", ".mov", ".avi", ".mkv", ".webm"),
                                         min_length=1)
    workers: Int = Field(0, ge=0, le=256)
    # per file: timeout_s + timeout_per_gigapixel_s x (duration x width x height x fps / 1e9)
    timeout_s: Float = Field(60.0, ge=0.1, le=3600)
    timeout_per_gigapixel_s: Float = Field(60.0, ge=0.0, le=3600)
    # keep: faces are not looked for | report: counted and located (privately), no pixel changes
    # | blur: a re-encoded release copy with faces blurred, verified frame by frame (faces stage)
    faces: Literal["keep", "report", "blur"] = "keep"

    @model_validator(mode="after")
    def _check(self) -> Self:
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
        return self

    @property
    def max_age(self) -> int:
        """The oldest age in months the bins cover."""
        return self.age_bins[-1]

    def age_groups(self) -> list[str]:
        """Labels of the bins in order: '0-6m', '7-12m', ..."""
        lows = [0, *(b + 1 for b in self.age_bins[:-1])]
        return [f"{lo}-{hi}m" for lo, hi in zip(lows, self.age_bins, strict=True)]


class ReportParams(Section):
    """The dataset summary report."""

    bar_width: Int = Field(50, ge=10, le=200)
    top_milestones: Int = Field(10, ge=1, le=1000)
    age_tolerance_months: Int = Field(6, ge=0, le=36)


class ProbeParams(Section):
    """The manifest: per-file isolation, integrity tolerances, optional CFR normalisation."""

    workers: Int = Field(0, ge=0, le=256)
    # per file: timeout_s + timeout_per_gigapixel_s x (duration x width x height x fps / 1e9)
    timeout_s: Float = Field(60.0, ge=0.1, le=3600)
    timeout_per_gigapixel_s: Float = Field(30.0, ge=0.0, le=3600)
    integrity: Literal["full", "fast"] = "full"
    frame_tolerance: Float = Field(0.02, ge=0.0, le=0.5)
    truncation_tolerance: Float = Field(0.1, ge=0.0, le=0.9)
    vfr_tolerance: Float = Field(0.1, ge=0.0, le=10.0)
    fps_tolerance: Float = Field(0.05, ge=0.0, le=1.0)
    max_keyframe_interval_s: Float = Field(5.0, ge=0.1, le=600)
    normalize: Literal["none", "cfr"] = "none"
    cfr_keyframe_interval: Int = Field(15, ge=1, le=600)
    # picture and timing quality in the same decode (vidlab.media.quality; docs/quality.md)
    quality: bool = True
    quality_fps: Float = Field(0.5, gt=0.0, le=240)
    max_combing: Float = Field(0.02, ge=0.0, le=1.0)  # from here a video counts as interlaced
    deinterlace: Literal["none", "yadif", "bwdif"] = "none"


class QualityThresholds(Section):
    """Quality warnings of the manifest suite (a warning names the videos; nothing is
    quarantined). Units: docs/quality.md. Calibrated on the demo and degraded copies of it."""

    min_sharpness: Float = Field(20.0, ge=0.0)
    max_noise: Float = Field(6.0, ge=0.0)
    max_blockiness: Float = Field(2.0, ge=0.0)
    max_dark_share: Float = Field(0.3, ge=0.0, le=1.0)
    max_bright_share: Float = Field(0.3, ge=0.0, le=1.0)
    max_flicker: Float = Field(0.05, ge=0.0)
    max_dropped_frames: Int = Field(2, ge=0)
    max_fps_changes: Int = Field(0, ge=0)
    max_av_start_offset_s: Float = Field(0.2, ge=0.0)
    max_av_duration_offset_s: Float = Field(0.5, ge=0.0)
    max_interlaced_share: Float = Field(0.5, ge=0.0, le=1.0)


class ValidateParams(Section):
    """Thresholds of the Great Expectations suites in expectations/ and the stop rule."""

    max_quarantine_fraction: Float = Field(0.2, ge=0.0, le=1.0)
    min_videos: Int = Field(10, ge=1, le=10**9)
    min_class_fraction: Float = Field(0.1, ge=0.0, le=1.0)
    max_class_fraction: Float = Field(0.9, ge=0.0, le=1.0)
    age_tolerance_months: Int = Field(6, ge=0, le=120)
    min_duration_s: Float = Field(0.0, ge=0.0, le=86400)
    max_duration_s: Float = Field(600.0, ge=0.0, le=86400)
    min_fps: Float = Field(5.0, ge=0.0, le=1000)
    max_fps: Float = Field(120.0, ge=0.0, le=1000)
    min_side: Int = Field(64, ge=1, le=100_000)
    max_side: Int = Field(7680, ge=1, le=100_000)
    # ffv1: the lossless copies ingest makes
    allowed_codecs: tuple[Text, ...] = Field(
        ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg", "ffv1"), min_length=1)
    quality: QualityThresholds = QualityThresholds()

    @model_validator(mode="after")
    def _check(self) -> Self:
        for low, high in (("min_class_fraction", "max_class_fraction"),
                          ("min_duration_s", "max_duration_s"), ("min_fps", "max_fps"),
                          ("min_side", "max_side")):
            if getattr(self, low) > getattr(self, high):
                raise ParamsError(f"validate.{low} ({getattr(self, low)}) must not exceed "
                                  f"validate.{high} ({getattr(self, high)}).")
        return self


class DedupParams(Section):
    """Exact and near-duplicate detection (see vidlab.media.signature and .dedup)."""

    frames: Int = Field(16, ge=2, le=256)
    threshold: Float = Field(0.18, ge=0.0, le=0.5)
    review_margin: Float = Field(0.03, ge=0.0, le=0.5)
    window: Float = Field(0.2, ge=0.0, le=1.0)
    candidate_radius: Float = Field(0.24, ge=0.0, le=0.3)
    sheet_frames: Int = Field(6, ge=1, le=32)
    sheet_videos: Int = Field(8, ge=2, le=64)
    workers: Int = Field(0, ge=0, le=256)

    @property
    def window_frames(self) -> int:
        """How many sample positions a frame may be matched away from its own."""
        return math.ceil(self.window * self.frames - 1e-9)


SplitName = Literal["train", "val", "test"]
SPLIT_NAMES = get_args(SplitName)
SplitStrategy = Literal["stratified", "group", "time"]
StratifyColumn = Literal["label", "domain", "age_group", "milestone_id"]


class SplitParams(Section):
    """Leakage-free train/val/test splits and k-fold (see vidlab.stages.split.stage)."""

    strategy: tuple[SplitStrategy, ...] = Field(("group", "stratified"), min_length=1)
    stratify: tuple[StratifyColumn, ...] = Field(
        ("label",), min_length=1)
    train: Float = Field(0.7, ge=0.0, le=1.0)
    val: Float = Field(0.15, ge=0.0, le=1.0)
    test: Float = Field(0.15, ge=0.0, le=1.0)
    folds: Int = Field(0, ge=0, le=100)
    val_fold: Int = Field(0, ge=0, le=99)
    seed: Int | None = Field(None, ge=0, le=2**32 - 1)
    require_all_classes: Bool = True
    allow_subject_overlap: Bool = False
    balance_alpha: Float = Field(0.01, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> Self:
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
        return self


class FacesParams(Section):
    """How the faces stage finds, blurs and verifies faces (its mode is ingest.faces)."""

    threshold: Float = Field(0.2, gt=0.0, lt=1.0)         # CenterFace score that is a face
    side: Int = Field(640, ge=64, le=4096)                # detect on frames shrunk to this side
    every: Int = Field(1, ge=1, le=300)                   # detect on every n-th frame
    dilate: Int = Field(2, ge=0, le=300)                  # frames a box also covers, each way
    margin: Float = Field(1.3, ge=1.0, le=4.0)            # blurred ellipse / face box
    recheck_threshold: Float = Field(0.15, gt=0.0, lt=1.0)   # after blurring, blur again what
    recheck_neighbors: Int = Field(6, ge=1, le=50)        # these still find (up to `rounds`)
    rounds: Int = Field(3, ge=0, le=10)
    verify_threshold: Float = Field(0.3, gt=0.0, lt=1.0)  # the independent check of the copy:
    verify_neighbors: Int = Field(8, ge=1, le=50)         # CenterFace and Haar cascades
    crf: Int = Field(18, ge=0, le=51)                     # H.264 quality of the blurred copy
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                    "slower", "veryslow"] = "medium"
