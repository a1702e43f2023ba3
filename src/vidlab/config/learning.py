"""Params sections of the clips, model and reporting stages: clips, augment, loader, train,
evaluate, sanity, classical, eda, card, tracking."""

from __future__ import annotations

from dataclasses import dataclass, field

from vidlab.config.fields import spec
from vidlab.core.errors import ParamsError

CROPS = ("center", "letterbox")
AUGMENT_GROUPS = ("spatial", "temporal", "compression")


@dataclass(frozen=True)
class ClipsParams:
    """Which frames make a clip, decoded once at the model's size (see vidlab.data)."""

    # auto: decord where it is installed (Linux x86_64, Windows, macOS arm64 on Python 3.11),
    # else PyAV; both decode the same frames (tests/test_media_matrix.py)
    backend: str = field(default="auto", metadata=spec(choices=("auto", "decord", "pyav")))
    clip_len: int = field(default=8, metadata=spec(low=1, high=512))
    stride: int = field(default=1, metadata=spec(low=1, high=64))
    target_fps: float | None = field(default=7.5, metadata=spec(low=0.1, high=240))
    pad: str = field(default="loop", metadata=spec(choices=("loop", "repeat")))
    train_clips: int = field(default=4, metadata=spec(low=1, high=64))
    eval_clips: int = field(default=3, metadata=spec(low=1, high=64))
    size: int = field(default=64, metadata=spec(low=8, high=1024))
    crop: str = field(default="center", metadata=spec(choices=CROPS))
    mean: tuple[float, ...] = field(default=(0.45, 0.45, 0.45), metadata=spec(low=0, high=1))
    std: tuple[float, ...] = field(default=(0.225, 0.225, 0.225), metadata=spec(low=1e-3, high=1))
    shard_size: int = field(default=128, metadata=spec(low=1, high=100000))
    workers: int = field(default=0, metadata=spec(low=0, high=256))
    timeout_s: float = field(default=120.0, metadata=spec(low=0.1, high=3600))

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            if len(getattr(self, name)) != 3:
                raise ParamsError(f"clips.{name} must list 3 numbers (R, G, B). "
                                  f"Got {list(getattr(self, name))}.")


@dataclass(frozen=True)
class AugmentParams:
    """Train-time augmentation; each group switched by ``use``, each transform off at 0."""

    use: tuple[str, ...] = field(default=("spatial", "compression"),
                                 metadata=spec(choices=AUGMENT_GROUPS, empty=True))
    hflip: float = field(default=0.5, metadata=spec(low=0.0, high=1.0))
    crop_scale: float = field(default=0.7, metadata=spec(low=0.05, high=1.0))
    rotate: float = field(default=5.0, metadata=spec(low=0.0, high=45.0))
    translate: float = field(default=0.05, metadata=spec(low=0.0, high=0.5))
    color: float = field(default=0.2, metadata=spec(low=0.0, high=1.0))
    grayscale: float = field(default=0.1, metadata=spec(low=0.0, high=1.0))
    noise: float = field(default=0.02, metadata=spec(low=0.0, high=0.5))
    blur: float = field(default=0.1, metadata=spec(low=0.0, high=1.0))
    frame_drop: float = field(default=0.1, metadata=spec(low=0.0, high=0.9))
    jitter: int = field(default=1, metadata=spec(low=0, high=16))
    time_warp: float = field(default=0.2, metadata=spec(low=0.0, high=0.9))
    reverse: float = field(default=0.0, metadata=spec(low=0.0, high=1.0))
    jpeg: tuple[int, ...] = field(default=(50, 95), metadata=spec(low=1, high=100))

    def __post_init__(self) -> None:
        if len(set(self.use)) != len(self.use):
            raise ParamsError(f"augment.use lists a group twice: {list(self.use)}.")
        if len(self.jpeg) != 2 or self.jpeg[0] > self.jpeg[1]:
            raise ParamsError(f"augment.jpeg must be [low, high] qualities with low <= high. "
                              f"Got {list(self.jpeg)}.")


@dataclass(frozen=True)
class LoaderParams:
    """How the DataModule feeds batches (see vidlab.data.datamodule)."""

    source: str = field(default="memmap", metadata=spec(choices=("memmap", "shards", "video")))
    batch_size: int = field(default=16, metadata=spec(low=1, high=4096))
    workers: int = field(default=0, metadata=spec(low=0, high=256))
    pin_memory: bool = True
    persistent_workers: bool = True
    prefetch_factor: int = field(default=2, metadata=spec(low=1, high=64))
    decode_threads: int = field(default=0, metadata=spec(low=0, high=256))
    shuffle_buffer: int = field(default=256, metadata=spec(low=1, high=1_000_000))


@dataclass(frozen=True)
class TrainParams:
    """The baselines and how they train (see vidlab.stages.train.stage and vidlab.models)."""

    epochs: int = field(default=40, metadata=spec(low=1, high=10000))
    lr: float = field(default=0.003, metadata=spec(low=1e-7, high=10.0))
    weight_decay: float = field(default=0.0001, metadata=spec(low=0.0, high=1.0))
    optimizer: str = field(default="adamw", metadata=spec(choices=("adamw", "sgd")))
    schedule: str = field(default="onecycle", metadata=spec(choices=("onecycle", "cosine",
                                                                      "none")))
    balance: str = field(default="weights", metadata=spec(choices=("weights", "sampler",
                                                                  "none")))
    monitor: str = field(default="val/video_acc",
                         metadata=spec(choices=("val/video_acc", "val/acc")))
    patience: int = field(default=15, metadata=spec(low=1, high=10000))
    depth: int = field(default=1, metadata=spec(low=1, high=8))
    width: int = field(default=32, metadata=spec(low=4, high=512))
    r2plus1d_variant: str = field(default="small", metadata=spec(choices=("small",
                                                                           "r2plus1d_18")))
    r2plus1d_width: int = field(default=16, metadata=spec(low=4, high=512))
    pool: str = field(default="max", metadata=spec(choices=("mean", "max", "attention")))
    weights: str | None = None
    precision: str = field(default="auto", metadata=spec(choices=("auto", "32-true",
                                                                   "16-mixed", "bf16-mixed")))
    accelerator: str = field(default="auto", metadata=spec(choices=("auto", "cpu", "gpu")))
    devices: int = field(default=1, metadata=spec(low=1, high=1024))
    nodes: int = field(default=1, metadata=spec(low=1, high=1024))
    strategy: str = field(default="auto", metadata=spec(choices=("auto", "ddp", "ddp_spawn")))


@dataclass(frozen=True)
class EvaluateParams:
    """Metrics with bootstrap intervals, per subgroup, under perturbations (stages.evaluate)."""

    splits: tuple[str, ...] = field(default=("val", "test"), metadata=spec(choices=("val",
                                                                                     "test")))
    n_boot: int = field(default=500, metadata=spec(low=0, high=100000))
    ci: float = field(default=0.95, metadata=spec(low=0.5, high=0.999))
    ece_bins: int = field(default=10, metadata=spec(low=2, high=100))
    subgroups: tuple[str, ...] = field(default=("domain", "age_group"),
                                       metadata=spec(choices=("domain", "age_group", "label",
                                                               "milestone_id"), empty=True))
    fps_factors: tuple[float, ...] = field(default=(0.75, 1.33), metadata=spec(low=0.1,
                                                                                high=10))
    jpeg_quality: int = field(default=15, metadata=spec(low=1, high=100))
    blur_sigma: float = field(default=1.5, metadata=spec(low=0.1, high=20))
    occlusion: float = field(default=0.35, metadata=spec(low=0.01, high=1.0))

    def __post_init__(self) -> None:
        if len(self.fps_factors) != 2:
            raise ParamsError("evaluate.fps_factors must list 2 numbers (slower, faster). "
                              f"Got {list(self.fps_factors)}.")


SANITY_MODELS = ("center_frame", "pool2d", "r2plus1d")


@dataclass(frozen=True)
class SanityParams:
    """Checks that training can fail and can succeed, and where models look (stages.sanity)."""

    models: tuple[str, ...] = field(default=SANITY_MODELS, metadata=spec(choices=SANITY_MODELS))
    shuffle_epochs: int = field(default=10, metadata=spec(low=1, high=1000))
    alpha: float = field(default=0.01, metadata=spec(low=1e-6, high=0.5))
    overfit_clips: int = field(default=16, metadata=spec(low=2, high=256))
    overfit_epochs: int = field(default=100, metadata=spec(low=1, high=10000))
    overfit_target: float = field(default=0.95, metadata=spec(low=0.0, high=1.0))
    learning_accuracy: float = field(default=0.85, metadata=spec(low=0.5, high=1.0))
    gradcam_clips: int = field(default=4, metadata=spec(low=0, high=64))
    fail: bool = True


@dataclass(frozen=True)
class ClassicalParams:
    """The classical-feature baseline: colour histograms and frame-difference motion energy of
    each clip, then a logistic regression (see vidlab.stages.classical.stage)."""

    hist_bins: int = field(default=8, metadata=spec(low=2, high=64))
    motion_grid: int = field(default=4, metadata=spec(low=1, high=16))
    c: float = field(default=1.0, metadata=spec(low=1e-6, high=1e6))
    max_iter: int = field(default=2000, metadata=spec(low=10, high=1_000_000))


EDA_SOURCES = ("center_frame", "pool2d", "r2plus1d")


@dataclass(frozen=True)
class EdaParams:
    """The exploratory views in reports/eda (see vidlab.stages.eda.stage)."""

    sheet_videos: int = field(default=6, metadata=spec(low=1, high=64))
    sheet_frames: int = field(default=6, metadata=spec(low=1, high=32))
    gifs_per_class: int = field(default=3, metadata=spec(low=0, high=32))
    gif_frames: int = field(default=16, metadata=spec(low=2, high=256))
    outliers: int = field(default=4, metadata=spec(low=1, high=64))
    redecode: int = field(default=8, metadata=spec(low=0, high=100_000))
    odd_fps_tolerance: float = field(default=0.1, metadata=spec(low=0.0, high=10.0))
    embedding_model: str = field(default="pool2d", metadata=spec(choices=EDA_SOURCES))
    perplexity: float = field(default=30.0, metadata=spec(low=2.0, high=100.0))


@dataclass(frozen=True)
class CardParams:
    """What only the researcher can say about the dataset (the card says plainly what is empty),
    and whether a No-Go verdict fails the card stage (see vidlab.stages.card.stage)."""

    title: str = "vidlab dataset"
    motivation: str | None = None
    sources: str | None = None
    licence: str | None = None
    consent: str | None = None
    authors: tuple[str, ...] = field(default=(), metadata=spec(empty=True))
    contact: str | None = None
    changelog: tuple[str, ...] = field(default=(), metadata=spec(empty=True))
    max_split_share_error: float = field(default=0.1, metadata=spec(low=0.0, high=1.0))
    fail_on_nogo: bool = False


@dataclass(frozen=True)
class TrackingParams:
    """MLflow. ``uri: null`` means MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the root."""

    experiment: str = "vidlab"
    uri: str | None = None
