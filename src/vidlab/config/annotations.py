"""The ``annotations`` section (which annotation exports to read, and how to judge them) and the
``tasks`` section (the annotation tasks' classical baselines and their scores)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from vidlab.config.fields import Bool, Float, Int, Section, Text
from vidlab.core.errors import ParamsError

# format -> the task it annotates (kept in step with vidlab.annotations.schema.FORMATS, which
# the config layer cannot import; a test checks they agree)
FORMAT_TASKS = {
    "activitynet": "segments", "ava": "boxes", "mot": "tracks", "cvat": "tracks",
    "youtube_vis": "masks", "davis": "masks", "msrvtt": "captions",
    "activitynet_captions": "captions",
}
DEMO_FOLDER = "data/raw/demo/annotations"
DEMO_FILES = {
    "activitynet": "segments_activitynet.json", "ava": "boxes_ava.csv", "mot": "tracks_mot",
    "cvat": "tracks_cvat", "youtube_vis": "masks_youtube_vis.json", "davis": "masks_davis",
    "msrvtt": "captions_msrvtt.json", "activitynet_captions": "captions_activitynet.json",
}


class AnnotationsParams(Section):
    """Annotation exports (segments, boxes, tracks, masks, captions) and their label QA."""

    # with data.source: custom, left at the demo's folder, no annotations are read
    folder: Text = DEMO_FOLDER
    # format -> file or folder inside `folder`; a format left out is not read
    files: dict[str, str] = Field(default_factory=lambda: dict(DEMO_FILES))
    # class name as exported -> the class it means; "<format>:<name>" for one format only (AVA's
    # and MOT's numeric ids); names not listed stay as they are
    ontology: dict[str, str] = Field(default_factory=lambda: {
        "Left half": "left", "Right half": "right", "ava:1": "crawl", "ava:2": "sit",
        "mot:1": "child", "mot:2": "adult"})
    segment_classes: tuple[Text, ...] = ("left", "right")
    box_classes: tuple[Text, ...] = ("crawl", "sit")
    track_classes: tuple[Text, ...] = ("child", "adult")
    mask_classes: tuple[Text, ...] = ("child",)
    # formats without class names -> the class their objects are
    unlabelled: dict[str, str] = Field(default_factory=lambda: {"davis": "child"})
    segments_may_overlap: Bool = False
    time_tolerance_s: Float = Field(0.04, ge=0.0, le=10.0)
    box_tolerance_px: Float = Field(0.5, ge=0.0, le=100.0)
    max_jump: Float = Field(0.25, ge=0.0, le=10.0)
    fps_tolerance: Float = Field(0.01, ge=0.0, le=1.0)
    language: Text = "en"

    @model_validator(mode="after")
    def _check(self) -> Self:
        unknown = sorted(set(self.files) - set(FORMAT_TASKS))
        if unknown:
            raise ParamsError(f"annotations.files names unknown format(s) {unknown}. Known: "
                              f"{', '.join(FORMAT_TASKS)}.")
        unknown = sorted(set(self.unlabelled) - set(FORMAT_TASKS))
        if unknown:
            raise ParamsError(f"annotations.unlabelled names unknown format(s) {unknown}.")
        return self

    def classes(self) -> dict[str, set[str]]:
        """Task -> the class names its rows may carry."""
        return {"segments": set(self.segment_classes), "boxes": set(self.box_classes),
                "tracks": set(self.track_classes), "masks": set(self.mask_classes)}


class TasksParams(Section):
    """The annotation tasks' classical baselines and their scores (stages task_baselines
    and score_task@<task>)."""

    max_side: Int = Field(320, ge=32, le=4096)   # frames shrunk to at most this side first
    threshold: Float = Field(25.0, ge=1.0, le=255.0)  # grey levels from the median background
    min_area: Float = Field(0.002, ge=0.0, le=0.5)    # smaller foreground parts are dropped
    max_objects: Int = Field(5, ge=1, le=100)    # detections kept per frame
    iou: Float = Field(0.3, gt=0.0, le=1.0)      # least IoU linking a box to the last frame's
    grid: Int = Field(4, ge=1, le=16)            # motion energy per cell of grid x grid
    c: Float = Field(1.0, ge=1e-6, le=1e6)       # the per-frame classifier's inverse L2 strength
    # task -> the export that is the ground truth where a task was read from several formats
    # (default: the first of that task in annotations.files)
    truth: dict[str, str] = Field(default_factory=dict)
    n_boot: Int = Field(200, ge=0, le=100000)    # bootstrap resamples of subjects (intervals)

    @model_validator(mode="after")
    def _check_truth(self) -> Self:
        for task, fmt in self.truth.items():
            if FORMAT_TASKS.get(fmt) != task:
                raise ParamsError(f"tasks.truth maps {task!r} to {fmt!r}, which is not a format "
                                  f"of that task. Formats: {dict(FORMAT_TASKS)}.")
        return self
