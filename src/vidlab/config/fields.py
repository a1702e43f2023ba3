"""The types every params section is built from (pydantic v2), and the messages that name the key,
what is allowed and what was found when a value is refused."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Strict,
    StringConstraints,
    ValidationError,
)
from pydantic.fields import FieldInfo

from vidlab.core.errors import ParamsError

# YAML scalars as they are written: a bool is never a number, a number never a string, a string
# never blank; ints are accepted where a number is asked for
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), AllowInfNan(False)]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict(), StringConstraints(pattern=r"\S")]


class Section(BaseModel):
    """One section of params.yaml: frozen, and a key it does not know is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_NAMES = {int: "an int", float: "a number", bool: "a bool (true/false)", str: "a string"}


def _strip(kind: Any) -> Any:
    while typing.get_origin(kind) is Annotated:
        kind = typing.get_args(kind)[0]
    return kind


def describe(kind: Any, metadata: list | tuple = ()) -> str:
    """What a field of type ``kind`` with pydantic ``metadata`` (bounds) accepts, in words."""
    kind = _strip(kind)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(kind) if a is not type(None)][0]
        return describe(inner, metadata) + " or null"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(kind))
    if origin is tuple:
        item = _strip(typing.get_args(kind)[0])
        if typing.get_origin(item) is typing.Literal:
            return "a list of values from " + ", ".join(repr(c) for c in typing.get_args(item))
        return f"a list of {_NAMES[item].split(' ', 1)[1]}s"
    if origin is dict:
        return "a mapping of strings to strings"
    text = _NAMES[kind]
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)  # Field(ge=..., le=...)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    if low is not None and high is not None:
        text += f" in [{low}, {high}]"
    elif low is not None:
        text += f" >= {low}"
    return text


def _field_description(field: FieldInfo) -> str:
    return describe(field.annotation, field.metadata)


def build(cls: type[Section], section: str, raw: Any) -> Section:
    """Validate the mapping ``raw`` of section ``section`` into ``cls``.

    Raises:
        ParamsError: naming the key, what is allowed and what was found.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"The '{section}' section of params.yaml must be a mapping. Got {raw!r}.")
    try:
        return cls.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors()
    fields = cls.model_fields
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        raise ParamsError(
            f"Unknown key(s) {', '.join(map(repr, unknown))} in the '{section}' section of "
            f"params.yaml. Allowed keys: {', '.join(sorted(fields))}."
        ) from None
    name = str(errors[0]["loc"][0])
    if errors[0]["type"] == "missing":
        raise ParamsError(
            f"The '{name}' parameter of {section} is missing in params.yaml.") from None
    raise ParamsError(
        f"The '{name}' parameter of {section} must be {_field_description(fields[name])}. "
        f"Got {raw[name]!r} instead."
    ) from None
