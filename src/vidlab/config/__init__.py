"""Typed, validated view of params.yaml.

Each section of params.yaml is loaded once into a frozen dataclass. A bad value stops with a
message naming the key, what is allowed and what was found, e.g.::

    The 'n_videos' parameter of demo must be an int in [4, 100000]. Got -3 instead.

Unknown keys are refused too, so a typo never silently falls back to a default. Later stages add
their section here: one dataclass per stage, named after it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidlab.core.errors import ParamsError

_MISSING = object()


def _spec(*, low: float | None = None, high: float | None = None, choices: tuple = (),
          empty: bool = False) -> dict:
    """Field metadata read by the validator: numeric bounds (inclusive), allowed values, and
    whether a list may be empty."""
    return {"low": low, "high": high, "choices": choices, "empty": empty}


def _describe(kind: Any, meta: Mapping) -> str:
    names = {int: "an int", float: "a number", bool: "a bool (true/false)", str: "a string"}
    origin = typing.get_origin(kind)
    if meta.get("choices"):
        listed = ", ".join(repr(c) for c in meta["choices"])
        return f"a list of values from {listed}" if origin is tuple else f"one of {listed}"
    if origin is tuple:
        return f"a list of {names[typing.get_args(kind)[0]].split(' ', 1)[1]}s"
    if origin is dict:
        return "a mapping of strings to strings"
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(kind) if a is not type(None)][0]
        return _describe(inner, meta) + " or null"
    text = names[kind]
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        text += f" in [{low}, {high}]"
    elif low is not None:
        text += f" >= {low}"
    return text


def _coerce(kind: Any, value: Any, meta: Mapping) -> Any:
    """Return ``value`` as ``kind`` or raise ValueError; bools are never numbers here."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(kind) if a is not type(None)][0]
        return _coerce(inner, value, meta)
    if origin is dict:
        if not isinstance(value, Mapping) or not value:
            raise ValueError
        return {_coerce(str, k, {}): _coerce(str, v, {}) for k, v in value.items()}
    if origin is tuple:
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list | tuple) or not (value or meta.get("empty")):
            raise ValueError
        return tuple(_coerce(item, v, meta) for v in value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError
        if not math.isfinite(value):
            raise ValueError
        value = float(value)
    elif kind is str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError
    if meta.get("choices") and value not in meta["choices"]:
        raise ValueError
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError
    return value


def _build(cls: type, section: str, raw: Any) -> Any:
    """Build dataclass ``cls`` from the mapping ``raw`` of section ``section``, validating it."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"The '{section}' section of params.yaml must be a mapping. Got {raw!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(
            f"Unknown key(s) {', '.join(map(repr, unknown))} in the '{section}' section of "
            f"params.yaml. Allowed keys: {', '.join(sorted(fields))}."
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, spec in fields.items():
        value = raw.get(name, _MISSING)
        if value is _MISSING:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ParamsError(f"The '{name}' parameter of {section} is missing in params.yaml.")
            continue
        try:
            values[name] = _coerce(hints[name], value, spec.metadata)
        except (ValueError, TypeError):
            raise ParamsError(
                f"The '{name}' parameter of {section} must be "
                f"{_describe(hints[name], spec.metadata)}. Got {value!r} instead."
            ) from None
    return cls(**values)


@dataclass(frozen=True)
class BaseParams:
    """Project-wide settings every stage may read."""

    seed: int = field(default=0, metadata=_spec(low=0, high=2**32 - 1))
    target: str = field(
        default="label", metadata=_spec(choices=("label", "domain", "milestone_id"))
    )
    classes: tuple[str, ...] = ("achieved", "not_achieved")


@dataclass(frozen=True)
class DataParams:
    """Where the raw dataset lives: the bundled demo, or a real one (``source: custom``)."""

    source: str = field(default="demo", metadata=_spec(choices=("demo", "custom")))
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

    n_videos: int = field(default=132, metadata=_spec(low=4, high=100_000))
    n_children: int = field(default=33, metadata=_spec(low=2, high=10_000))
    width: int = field(default=128, metadata=_spec(low=32, high=1920))
    height: int = field(default=96, metadata=_spec(low=32, high=1080))
    fps: int = field(default=15, metadata=_spec(low=5, high=60))
    min_seconds: float = field(default=2.0, metadata=_spec(low=0.5, high=60))
    max_seconds: float = field(default=4.0, metadata=_spec(low=0.5, high=60))
    achieved_fraction: float = field(default=0.5, metadata=_spec(low=0.05, high=0.95))
    audio_fraction: float = field(default=0.5, metadata=_spec(low=0.0, high=1.0))
    noise_std: float = field(default=3.0, metadata=_spec(low=0.0, high=50.0))
    crf: int = field(default=20, metadata=_spec(low=0, high=51))
    plant_faults: bool = True
    workers: int = field(default=0, metadata=_spec(low=0, high=256))

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
    dates: str = field(default="quarter", metadata=_spec(choices=("drop", "year", "quarter",
                                                                  "keep")))
    audio: str = field(default="keep", metadata=_spec(choices=("keep", "drop")))
    pseudonym_length: int = field(default=16, metadata=_spec(low=8, high=64))
    extensions: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm")
    workers: int = field(default=0, metadata=_spec(low=0, high=256))

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

    bar_width: int = field(default=50, metadata=_spec(low=10, high=200))
    top_milestones: int = field(default=10, metadata=_spec(low=1, high=1000))
    age_tolerance_months: int = field(default=6, metadata=_spec(low=0, high=36))


@dataclass(frozen=True)
class ProbeParams:
    """The manifest: per-file isolation, integrity tolerances, optional CFR normalisation."""

    workers: int = field(default=0, metadata=_spec(low=0, high=256))
    timeout_s: float = field(default=60.0, metadata=_spec(low=0.1, high=3600))
    frame_tolerance: float = field(default=0.02, metadata=_spec(low=0.0, high=0.5))
    truncation_tolerance: float = field(default=0.1, metadata=_spec(low=0.0, high=0.9))
    vfr_tolerance: float = field(default=0.1, metadata=_spec(low=0.0, high=10.0))
    fps_tolerance: float = field(default=0.05, metadata=_spec(low=0.0, high=1.0))
    max_keyframe_interval_s: float = field(default=5.0, metadata=_spec(low=0.1, high=600))
    normalize: str = field(default="none", metadata=_spec(choices=("none", "cfr")))
    cfr_keyframe_interval: int = field(default=15, metadata=_spec(low=1, high=600))


@dataclass(frozen=True)
class ValidateParams:
    """Thresholds of the Great Expectations suites in expectations/ and the stop rule."""

    max_quarantine_fraction: float = field(default=0.2, metadata=_spec(low=0.0, high=1.0))
    min_videos: int = field(default=10, metadata=_spec(low=1, high=10**9))
    min_class_fraction: float = field(default=0.1, metadata=_spec(low=0.0, high=1.0))
    max_class_fraction: float = field(default=0.9, metadata=_spec(low=0.0, high=1.0))
    age_tolerance_months: int = field(default=6, metadata=_spec(low=0, high=120))
    min_duration_s: float = field(default=0.0, metadata=_spec(low=0.0, high=86400))
    max_duration_s: float = field(default=600.0, metadata=_spec(low=0.0, high=86400))
    min_fps: float = field(default=5.0, metadata=_spec(low=0.0, high=1000))
    max_fps: float = field(default=120.0, metadata=_spec(low=0.0, high=1000))
    min_side: int = field(default=64, metadata=_spec(low=1, high=100_000))
    max_side: int = field(default=7680, metadata=_spec(low=1, high=100_000))
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

    frames: int = field(default=16, metadata=_spec(low=2, high=256))
    threshold: float = field(default=0.18, metadata=_spec(low=0.0, high=0.5))
    review_margin: float = field(default=0.03, metadata=_spec(low=0.0, high=0.5))
    window: float = field(default=0.2, metadata=_spec(low=0.0, high=1.0))
    candidate_radius: float = field(default=0.24, metadata=_spec(low=0.0, high=0.3))
    sheet_frames: int = field(default=6, metadata=_spec(low=1, high=32))
    sheet_videos: int = field(default=8, metadata=_spec(low=2, high=64))
    workers: int = field(default=0, metadata=_spec(low=0, high=256))
    timeout_s: float = field(default=60.0, metadata=_spec(low=0.1, high=3600))

    @property
    def window_frames(self) -> int:
        """How many sample positions a frame may be matched away from its own."""
        return math.ceil(self.window * self.frames - 1e-9)


SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SplitParams:
    """Leakage-free train/val/test splits and k-fold (see vidlab.stages.split.stage)."""

    strategy: tuple[str, ...] = field(default=("group", "stratified"),
                                      metadata=_spec(choices=("stratified", "group", "time")))
    stratify: tuple[str, ...] = field(
        default=("label",), metadata=_spec(choices=("label", "domain", "age_group",
                                                    "milestone_id")))
    train: float = field(default=0.7, metadata=_spec(low=0.0, high=1.0))
    val: float = field(default=0.15, metadata=_spec(low=0.0, high=1.0))
    test: float = field(default=0.15, metadata=_spec(low=0.0, high=1.0))
    folds: int = field(default=0, metadata=_spec(low=0, high=100))
    val_fold: int = field(default=0, metadata=_spec(low=0, high=99))
    seed: int | None = field(default=None, metadata=_spec(low=0, high=2**32 - 1))
    require_all_classes: bool = True
    allow_subject_overlap: bool = False
    balance_alpha: float = field(default=0.01, metadata=_spec(low=0.0, high=1.0))

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


CROPS = ("center", "letterbox")
AUGMENT_GROUPS = ("spatial", "temporal", "compression")


@dataclass(frozen=True)
class ClipsParams:
    """Which frames make a clip, decoded once at the model's size (see vidlab.data)."""

    # auto: decord where it is installed (Linux x86_64, Windows, macOS arm64 on Python 3.11),
    # else PyAV; both decode the same frames (tests/test_media_matrix.py)
    backend: str = field(default="auto", metadata=_spec(choices=("auto", "decord", "pyav")))
    clip_len: int = field(default=8, metadata=_spec(low=1, high=512))
    stride: int = field(default=1, metadata=_spec(low=1, high=64))
    target_fps: float | None = field(default=7.5, metadata=_spec(low=0.1, high=240))
    pad: str = field(default="loop", metadata=_spec(choices=("loop", "repeat")))
    train_clips: int = field(default=4, metadata=_spec(low=1, high=64))
    eval_clips: int = field(default=3, metadata=_spec(low=1, high=64))
    size: int = field(default=64, metadata=_spec(low=8, high=1024))
    crop: str = field(default="center", metadata=_spec(choices=CROPS))
    mean: tuple[float, ...] = field(default=(0.45, 0.45, 0.45), metadata=_spec(low=0, high=1))
    std: tuple[float, ...] = field(default=(0.225, 0.225, 0.225), metadata=_spec(low=1e-3, high=1))
    shard_size: int = field(default=128, metadata=_spec(low=1, high=100000))
    workers: int = field(default=0, metadata=_spec(low=0, high=256))
    timeout_s: float = field(default=120.0, metadata=_spec(low=0.1, high=3600))

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            if len(getattr(self, name)) != 3:
                raise ParamsError(f"clips.{name} must list 3 numbers (R, G, B). "
                                  f"Got {list(getattr(self, name))}.")


@dataclass(frozen=True)
class AugmentParams:
    """Train-time augmentation; each group switched by ``use``, each transform off at 0."""

    use: tuple[str, ...] = field(default=("spatial", "compression"),
                                 metadata=_spec(choices=AUGMENT_GROUPS, empty=True))
    hflip: float = field(default=0.5, metadata=_spec(low=0.0, high=1.0))
    crop_scale: float = field(default=0.7, metadata=_spec(low=0.05, high=1.0))
    rotate: float = field(default=5.0, metadata=_spec(low=0.0, high=45.0))
    translate: float = field(default=0.05, metadata=_spec(low=0.0, high=0.5))
    color: float = field(default=0.2, metadata=_spec(low=0.0, high=1.0))
    grayscale: float = field(default=0.1, metadata=_spec(low=0.0, high=1.0))
    noise: float = field(default=0.02, metadata=_spec(low=0.0, high=0.5))
    blur: float = field(default=0.1, metadata=_spec(low=0.0, high=1.0))
    frame_drop: float = field(default=0.1, metadata=_spec(low=0.0, high=0.9))
    jitter: int = field(default=1, metadata=_spec(low=0, high=16))
    time_warp: float = field(default=0.2, metadata=_spec(low=0.0, high=0.9))
    reverse: float = field(default=0.0, metadata=_spec(low=0.0, high=1.0))
    jpeg: tuple[int, ...] = field(default=(50, 95), metadata=_spec(low=1, high=100))

    def __post_init__(self) -> None:
        if len(set(self.use)) != len(self.use):
            raise ParamsError(f"augment.use lists a group twice: {list(self.use)}.")
        if len(self.jpeg) != 2 or self.jpeg[0] > self.jpeg[1]:
            raise ParamsError(f"augment.jpeg must be [low, high] qualities with low <= high. "
                              f"Got {list(self.jpeg)}.")


@dataclass(frozen=True)
class LoaderParams:
    """How the DataModule feeds batches (see vidlab.data.datamodule)."""

    source: str = field(default="memmap", metadata=_spec(choices=("memmap", "shards", "video")))
    batch_size: int = field(default=16, metadata=_spec(low=1, high=4096))
    workers: int = field(default=0, metadata=_spec(low=0, high=256))
    pin_memory: bool = True
    persistent_workers: bool = True
    prefetch_factor: int = field(default=2, metadata=_spec(low=1, high=64))
    decode_threads: int = field(default=0, metadata=_spec(low=0, high=256))
    shuffle_buffer: int = field(default=256, metadata=_spec(low=1, high=1_000_000))


@dataclass(frozen=True)
class TrainParams:
    """The baselines and how they train (see vidlab.stages.train.stage and vidlab.models)."""

    epochs: int = field(default=40, metadata=_spec(low=1, high=10000))
    lr: float = field(default=0.003, metadata=_spec(low=1e-7, high=10.0))
    weight_decay: float = field(default=0.0001, metadata=_spec(low=0.0, high=1.0))
    optimizer: str = field(default="adamw", metadata=_spec(choices=("adamw", "sgd")))
    schedule: str = field(default="onecycle", metadata=_spec(choices=("onecycle", "cosine",
                                                                      "none")))
    balance: str = field(default="weights", metadata=_spec(choices=("weights", "sampler",
                                                                  "none")))
    monitor: str = field(default="val/video_acc",
                         metadata=_spec(choices=("val/video_acc", "val/acc")))
    patience: int = field(default=15, metadata=_spec(low=1, high=10000))
    depth: int = field(default=1, metadata=_spec(low=1, high=8))
    width: int = field(default=32, metadata=_spec(low=4, high=512))
    r2plus1d_variant: str = field(default="small", metadata=_spec(choices=("small",
                                                                           "r2plus1d_18")))
    r2plus1d_width: int = field(default=16, metadata=_spec(low=4, high=512))
    pool: str = field(default="max", metadata=_spec(choices=("mean", "max", "attention")))
    weights: str | None = None
    precision: str = field(default="auto", metadata=_spec(choices=("auto", "32-true",
                                                                   "16-mixed", "bf16-mixed")))
    accelerator: str = field(default="auto", metadata=_spec(choices=("auto", "cpu", "gpu")))
    devices: int = field(default=1, metadata=_spec(low=1, high=1024))
    nodes: int = field(default=1, metadata=_spec(low=1, high=1024))
    strategy: str = field(default="auto", metadata=_spec(choices=("auto", "ddp", "ddp_spawn")))


@dataclass(frozen=True)
class EvaluateParams:
    """Metrics with bootstrap intervals, per subgroup and under perturbations (vidlab.stages.evaluate.stage)."""

    splits: tuple[str, ...] = field(default=("val", "test"), metadata=_spec(choices=("val",
                                                                                     "test")))
    n_boot: int = field(default=500, metadata=_spec(low=0, high=100000))
    ci: float = field(default=0.95, metadata=_spec(low=0.5, high=0.999))
    ece_bins: int = field(default=10, metadata=_spec(low=2, high=100))
    subgroups: tuple[str, ...] = field(default=("domain", "age_group"),
                                       metadata=_spec(choices=("domain", "age_group", "label",
                                                               "milestone_id"), empty=True))
    fps_factors: tuple[float, ...] = field(default=(0.75, 1.33), metadata=_spec(low=0.1,
                                                                                high=10))
    jpeg_quality: int = field(default=15, metadata=_spec(low=1, high=100))
    blur_sigma: float = field(default=1.5, metadata=_spec(low=0.1, high=20))
    occlusion: float = field(default=0.35, metadata=_spec(low=0.01, high=1.0))

    def __post_init__(self) -> None:
        if len(self.fps_factors) != 2:
            raise ParamsError("evaluate.fps_factors must list 2 numbers (slower, faster). "
                              f"Got {list(self.fps_factors)}.")


SANITY_MODELS = ("center_frame", "pool2d", "r2plus1d")


@dataclass(frozen=True)
class SanityParams:
    """Checks that training can fail and can succeed, and where the models look (vidlab.stages.sanity.stage)."""

    models: tuple[str, ...] = field(default=SANITY_MODELS, metadata=_spec(choices=SANITY_MODELS))
    shuffle_epochs: int = field(default=10, metadata=_spec(low=1, high=1000))
    alpha: float = field(default=0.01, metadata=_spec(low=1e-6, high=0.5))
    overfit_clips: int = field(default=16, metadata=_spec(low=2, high=256))
    overfit_epochs: int = field(default=100, metadata=_spec(low=1, high=10000))
    overfit_target: float = field(default=0.95, metadata=_spec(low=0.0, high=1.0))
    learning_accuracy: float = field(default=0.85, metadata=_spec(low=0.5, high=1.0))
    gradcam_clips: int = field(default=4, metadata=_spec(low=0, high=64))
    fail: bool = True


@dataclass(frozen=True)
class ClassicalParams:
    """The classical-feature baseline: colour histograms and frame-difference motion energy of
    each clip, then a logistic regression (see vidlab.stages.classical.stage)."""

    hist_bins: int = field(default=8, metadata=_spec(low=2, high=64))
    motion_grid: int = field(default=4, metadata=_spec(low=1, high=16))
    c: float = field(default=1.0, metadata=_spec(low=1e-6, high=1e6))
    max_iter: int = field(default=2000, metadata=_spec(low=10, high=1_000_000))


EDA_SOURCES = ("center_frame", "pool2d", "r2plus1d")


@dataclass(frozen=True)
class EdaParams:
    """The exploratory views in reports/eda (see vidlab.stages.eda.stage)."""

    sheet_videos: int = field(default=6, metadata=_spec(low=1, high=64))
    sheet_frames: int = field(default=6, metadata=_spec(low=1, high=32))
    gifs_per_class: int = field(default=3, metadata=_spec(low=0, high=32))
    gif_frames: int = field(default=16, metadata=_spec(low=2, high=256))
    outliers: int = field(default=4, metadata=_spec(low=1, high=64))
    redecode: int = field(default=8, metadata=_spec(low=0, high=100_000))
    odd_fps_tolerance: float = field(default=0.1, metadata=_spec(low=0.0, high=10.0))
    embedding_model: str = field(default="pool2d", metadata=_spec(choices=EDA_SOURCES))
    perplexity: float = field(default=30.0, metadata=_spec(low=2.0, high=100.0))


@dataclass(frozen=True)
class CardParams:
    """What only the researcher can say about the dataset (the card says plainly what is empty),
    and whether a No-Go verdict fails the card stage (see vidlab.stages.card.stage)."""

    title: str = "vidlab dataset"
    motivation: str | None = None
    sources: str | None = None
    licence: str | None = None
    consent: str | None = None
    authors: tuple[str, ...] = field(default=(), metadata=_spec(empty=True))
    contact: str | None = None
    changelog: tuple[str, ...] = field(default=(), metadata=_spec(empty=True))
    max_split_share_error: float = field(default=0.1, metadata=_spec(low=0.0, high=1.0))
    fail_on_nogo: bool = False


@dataclass(frozen=True)
class TrackingParams:
    """MLflow. ``uri: null`` means MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the root."""

    experiment: str = "vidlab"
    uri: str | None = None


@dataclass(frozen=True)
class Params:
    """All sections of params.yaml, validated."""

    base: BaseParams
    data: DataParams
    demo: DemoParams
    ingest: IngestParams
    report: ReportParams
    probe: ProbeParams
    validate: ValidateParams
    dedup: DedupParams
    split: SplitParams
    clips: ClipsParams
    augment: AugmentParams
    loader: LoaderParams
    train: TrainParams
    sanity: SanityParams
    evaluate: EvaluateParams
    classical: ClassicalParams
    eda: EdaParams
    card: CardParams
    tracking: TrackingParams


SECTIONS: dict[str, type] = {
    "base": BaseParams,
    "data": DataParams,
    "demo": DemoParams,
    "ingest": IngestParams,
    "report": ReportParams,
    "probe": ProbeParams,
    "validate": ValidateParams,
    "dedup": DedupParams,
    "split": SplitParams,
    "clips": ClipsParams,
    "augment": AugmentParams,
    "loader": LoaderParams,
    "train": TrainParams,
    "sanity": SanityParams,
    "evaluate": EvaluateParams,
    "classical": ClassicalParams,
    "eda": EdaParams,
    "card": CardParams,
    "tracking": TrackingParams,
}


def from_dict(raw: Mapping[str, Any]) -> Params:
    """Validate a params mapping (as read from YAML) into :class:`Params`.

    Raises:
        ParamsError: on an unknown section or key, a missing key or a bad value.
    """
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params.yaml must hold a mapping of sections. Got {type(raw).__name__}.")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ParamsError(
            f"Unknown section(s) {', '.join(map(repr, unknown))} in params.yaml. "
            f"Known sections: {', '.join(SECTIONS)}."
        )
    return Params(**{name: _build(cls, name, raw.get(name)) for name, cls in SECTIONS.items()})


def load(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml.

    Args:
        path: the YAML file.

    Raises:
        ParamsError: when the file is missing, is not YAML, or holds a bad value.
    """
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"No params file at {path}. Run vidlab from the project root.") from None
    except IsADirectoryError:
        raise ParamsError(f"{path} is a folder; --params needs the params.yaml file.") from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        found = ("UTF-16" if raw_bytes[:2] in (b"\xff\xfe", b"\xfe\xff") else "not UTF-8")
        raise ParamsError(f"{path} is {found} text; vidlab reads params.yaml as UTF-8. Save it "
                          "as UTF-8 (most editors: Save with Encoding > UTF-8).") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    return from_dict(raw)
