"""Typed, validated view of params.yaml.

Each section of params.yaml is loaded once into a frozen pydantic model (`fields.Section`). A bad
value stops with a message naming the key, what is allowed and what was found, e.g.::

    The 'n_videos' parameter of demo must be an int in [4, 100000]. Got -3 instead.

Unknown keys are refused too, so a typo never silently falls back to a default. Later stages add
their section here: one model per stage, named after it. A stage reads only the keys it declares
(`declared`, in `vidlab.config.declare`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict

from vidlab.config.annotations import AnnotationsParams, TasksParams
from vidlab.config.data import (
    SPLIT_NAMES,
    BaseParams,
    DataParams,
    DedupParams,
    DemoParams,
    EngineParams,
    FacesParams,
    IngestParams,
    ProbeParams,
    ReportParams,
    SplitParams,
    ValidateParams,
)
from vidlab.config.fields import Section, build
from vidlab.config.learning import (
    AUGMENT_GROUPS,
    CROPS,
    NETWORKS,
    AugmentParams,
    CardParams,
    ClassicalParams,
    ClipsParams,
    EdaParams,
    EvaluateParams,
    LoaderParams,
    SanityParams,
    TrackingParams,
    TrainParams,
)
from vidlab.core.errors import ParamsError

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "quality_thresholds",
    "AUGMENT_GROUPS", "CROPS", "NETWORKS", "SECTIONS", "SPLIT_NAMES",
    "AnnotationsParams", "AugmentParams", "BaseParams", "CardParams", "ClassicalParams",
    "ClipsParams", "DataParams",
    "DedupParams", "DemoParams", "EdaParams", "EngineParams", "EvaluateParams", "FacesParams",
    "IngestParams",
    "LoaderParams",
    "Params", "ProbeParams", "ReportParams", "SanityParams", "SplitParams", "TrackingParams",
    "Section", "TasksParams", "TrainParams", "ValidateParams", "from_dict", "load", "replace",
]


with warnings.catch_warnings():  # the 'validate' section shadows BaseModel.validate (deprecated)
    warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)

    class Params(BaseModel):
        """All sections of params.yaml, validated."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        base: BaseParams
        data: DataParams
        engine: EngineParams
        demo: DemoParams
        ingest: IngestParams
        report: ReportParams
        probe: ProbeParams
        validate: ValidateParams
        annotations: AnnotationsParams
        tasks: TasksParams
        faces: FacesParams
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


# section name -> its model, in params.yaml's order
SECTIONS: dict[str, type[Section]] = {name: field.annotation
                                      for name, field in Params.model_fields.items()}


def quality_thresholds(params: Params) -> dict[str, float]:
    """The quality warnings' thresholds (``validate.quality`` and ``probe.max_combing``), by the
    names :data:`vidlab.media.thresholds.WARNED` and the manifest suite use."""
    return {**params.validate.quality.model_dump(), "max_combing": params.probe.max_combing}


def replace(model: M, **changes: Any) -> M:
    """A copy of a section (or of Params) with ``changes``, validated again like params.yaml."""
    return type(model).model_validate({**dict(model), **changes})


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
    return Params(**{name: build(cls, name, raw.get(name)) for name, cls in SECTIONS.items()})


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
