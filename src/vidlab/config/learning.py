"""Params sections of the clips, model and reporting stages: clips, augment, loader, train,
evaluate, sanity, classical, eda, card, tracking."""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

from pydantic import Field, model_validator

from vidlab.config.fields import Bool, Float, Int, Section, Text
from vidlab.core.errors import ParamsError

Crop = Literal["center", "letterbox"]
AugmentGroup = Literal["spatial", "temporal", "compression"]
# the networks vidlab trains: the one list (models.registry builds them, sanity and eda choose)
Network = Literal["center_frame", "pool2d", "r2plus1d"]
CROPS, AUGMENT_GROUPS, NETWORKS = get_args(Crop), get_args(AugmentGroup), get_args(Network)


class ClipsParams(Section):
    """Which frames make a clip, decoded once at the model's size (see vidlab.data)."""

    # auto: decord where it is installed (Linux x86_64, Windows, macOS arm64 on Python 3.11),
    # else PyAV; both decode the same frames (tests/test_media_matrix.py)
    backend: Literal["auto", "decord", "pyav"] = "auto"
    clip_len: Int = Field(8, ge=1, le=512)
    stride: Int = Field(1, ge=1, le=64)
    target_fps: Float | None = Field(7.5, ge=0.1, le=240)
    pad: Literal["loop", "repeat"] = "loop"
    train_clips: Int = Field(4, ge=1, le=64)
    eval_clips: Int = Field(3, ge=1, le=64)
    size: Int = Field(64, ge=8, le=1024)
    crop: Crop = "center"
    mean: tuple[Annotated[Float, Field(ge=0, le=1)], ...] = Field((0.45, 0.45, 0.45),
                                                                  min_length=1)
    std: tuple[Annotated[Float, Field(ge=1e-3, le=1)], ...] = Field((0.225, 0.225, 0.225),
                                                                    min_length=1)
    shard_size: Int = Field(128, ge=1, le=100000)
    workers: Int = Field(0, ge=0, le=256)
    # per video: timeout_s + timeout_per_gigapixel_s x (duration x width x height x fps / 1e9)
    timeout_s: Float = Field(120.0, ge=0.1, le=3600)
    timeout_per_gigapixel_s: Float = Field(10.0, ge=0.0, le=3600)

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in ("mean", "std"):
            if len(getattr(self, name)) != 3:
                raise ParamsError(f"clips.{name} must list 3 numbers (R, G, B). "
                                  f"Got {list(getattr(self, name))}.")
        return self


class AugmentParams(Section):
    """Train-time augmentation; each group switched by ``use``, each transform off at 0."""

    use: tuple[AugmentGroup, ...] = ("spatial", "compression")
    hflip: Float = Field(0.5, ge=0.0, le=1.0)
    crop_scale: Float = Field(0.7, ge=0.05, le=1.0)
    rotate: Float = Field(5.0, ge=0.0, le=45.0)
    translate: Float = Field(0.05, ge=0.0, le=0.5)
    color: Float = Field(0.2, ge=0.0, le=1.0)
    grayscale: Float = Field(0.1, ge=0.0, le=1.0)
    noise: Float = Field(0.02, ge=0.0, le=0.5)
    blur: Float = Field(0.1, ge=0.0, le=1.0)
    frame_drop: Float = Field(0.1, ge=0.0, le=0.9)
    jitter: Int = Field(1, ge=0, le=16)
    time_warp: Float = Field(0.2, ge=0.0, le=0.9)
    reverse: Float = Field(0.0, ge=0.0, le=1.0)
    jpeg: tuple[Annotated[Int, Field(ge=1, le=100)], ...] = Field((50, 95), min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.use)) != len(self.use):
            raise ParamsError(f"augment.use lists a group twice: {list(self.use)}.")
        if len(self.jpeg) != 2 or self.jpeg[0] > self.jpeg[1]:
            raise ParamsError(f"augment.jpeg must be [low, high] qualities with low <= high. "
                              f"Got {list(self.jpeg)}.")
        return self


class LoaderParams(Section):
    """How the DataModule feeds batches (see vidlab.data.datamodule)."""

    source: Literal["memmap", "shards", "video"] = "memmap"
    batch_size: Int = Field(16, ge=1, le=4096)
    workers: Int = Field(0, ge=0, le=256)
    pin_memory: Bool = True
    persistent_workers: Bool = True
    prefetch_factor: Int = Field(2, ge=1, le=64)
    decode_threads: Int = Field(0, ge=0, le=256)
    shuffle_buffer: Int = Field(256, ge=1, le=1_000_000)


class TrainParams(Section):
    """The baselines and how they train (see vidlab.stages.train.stage and vidlab.models)."""

    epochs: Int = Field(40, ge=1, le=10000)
    lr: Float = Field(0.003, ge=1e-7, le=10.0)
    weight_decay: Float = Field(0.0001, ge=0.0, le=1.0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    schedule: Literal["onecycle", "cosine", "none"] = "onecycle"
    balance: Literal["weights", "sampler", "none"] = "weights"
    monitor: Literal["epoch/val_video_acc", "epoch/val_clip_acc"] = "epoch/val_video_acc"
    patience: Int = Field(15, ge=1, le=10000)
    depth: Int = Field(1, ge=1, le=8)
    width: Int = Field(32, ge=4, le=512)
    r2plus1d_variant: Literal["small", "r2plus1d_18"] = "small"
    r2plus1d_width: Int = Field(16, ge=4, le=512)
    pool: Literal["mean", "max", "attention"] = "max"
    weights: Text | None = None
    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"] = "auto"
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    devices: Int = Field(1, ge=1, le=1024)
    nodes: Int = Field(1, ge=1, le=1024)
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"


class EvaluateParams(Section):
    """Metrics with bootstrap intervals, per subgroup, under perturbations (stages.evaluate)."""

    splits: tuple[Literal["val", "test"], ...] = Field(("val", "test"), min_length=1)
    n_boot: Int = Field(500, ge=0, le=100000)
    ci: Float = Field(0.95, ge=0.5, le=0.999)
    ece_bins: Int = Field(10, ge=2, le=100)
    subgroups: tuple[Literal["domain", "age_group", "label", "milestone_id"], ...] = (
        "domain", "age_group")
    fps_factors: tuple[Annotated[Float, Field(ge=0.1, le=10)], ...] = Field((0.75, 1.33),
                                                                            min_length=1)
    jpeg_quality: Int = Field(15, ge=1, le=100)
    blur_sigma: Float = Field(1.5, ge=0.1, le=20)
    occlusion: Float = Field(0.35, ge=0.01, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(self.fps_factors) != 2:
            raise ParamsError("evaluate.fps_factors must list 2 numbers (slower, faster). "
                              f"Got {list(self.fps_factors)}.")
        return self



class SanityParams(Section):
    """Checks that training can fail and can succeed, and where models look (stages.sanity)."""

    models: tuple[Network, ...] = Field(NETWORKS, min_length=1)
    shuffle_epochs: Int = Field(10, ge=1, le=1000)
    alpha: Float = Field(0.01, ge=1e-6, le=0.5)
    overfit_clips: Int = Field(16, ge=2, le=256)
    overfit_epochs: Int = Field(100, ge=1, le=10000)
    overfit_target: Float = Field(0.95, ge=0.0, le=1.0)
    learning_accuracy: Float = Field(0.85, ge=0.5, le=1.0)
    gradcam_clips: Int = Field(4, ge=0, le=64)
    fail: Bool = True


class ClassicalParams(Section):
    """The classical-feature baseline: colour histograms and frame-difference motion energy of
    each clip, then a logistic regression (see vidlab.stages.classical.stage)."""

    hist_bins: Int = Field(8, ge=2, le=64)
    motion_grid: Int = Field(4, ge=1, le=16)
    c: Float = Field(1.0, ge=1e-6, le=1e6)
    max_iter: Int = Field(2000, ge=10, le=1_000_000)



class EdaParams(Section):
    """The exploratory views in reports/eda (see vidlab.stages.eda.stage)."""

    sheet_videos: Int = Field(6, ge=1, le=64)
    sheet_frames: Int = Field(6, ge=1, le=32)
    gifs_per_class: Int = Field(3, ge=0, le=32)
    gif_frames: Int = Field(16, ge=2, le=256)
    outliers: Int = Field(4, ge=1, le=64)
    # |robust z| above this marks an outlier; 3.5 is Iglewicz and Hoaglin's usual cut-off
    outlier_z: Float = Field(3.5, ge=1.0, le=100.0)
    redecode: Int = Field(8, ge=0, le=100_000)
    odd_fps_tolerance: Float = Field(0.1, ge=0.0, le=10.0)
    embedding_model: Network = "pool2d"
    perplexity: Float = Field(30.0, ge=2.0, le=100.0)


class CardParams(Section):
    """What only the researcher can say about the dataset (the card says plainly what is empty),
    and whether a No-Go verdict fails the card stage (see vidlab.stages.card.stage)."""

    title: Text = "vidlab dataset"
    motivation: Text | None = None
    sources: Text | None = None
    licence: Text | None = None
    consent: Text | None = None
    authors: tuple[Text, ...] = ()
    contact: Text | None = None
    changelog: tuple[Text, ...] = ()
    max_split_share_error: Float = Field(0.1, ge=0.0, le=1.0)
    fail_on_nogo: Bool = False


class TrackingParams(Section):
    """MLflow. ``uri: null`` means MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the root."""

    experiment: Text = "vidlab"
    uri: Text | None = None
