"""The validator behind every params section: field bounds and choices, and the messages that
name the key, what is allowed and what was found."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from vidlab.core.errors import ParamsError

MISSING = object()  # a key absent from params.yaml


def spec(*, low: float | None = None, high: float | None = None, choices: tuple = (),
          empty: bool = False) -> dict:
    """Field metadata read by the validator: numeric bounds (inclusive), allowed values, and
    whether a list may be empty."""
    return {"low": low, "high": high, "choices": choices, "empty": empty}


def describe(kind: Any, meta: Mapping) -> str:
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
        return describe(inner, meta) + " or null"
    text = names[kind]
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        text += f" in [{low}, {high}]"
    elif low is not None:
        text += f" >= {low}"
    return text


def coerce(kind: Any, value: Any, meta: Mapping) -> Any:
    """Return ``value`` as ``kind`` or raise ValueError; bools are never numbers here."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(kind) if a is not type(None)][0]
        return coerce(inner, value, meta)
    if origin is dict:
        if not isinstance(value, Mapping) or not value:
            raise ValueError
        return {coerce(str, k, {}): coerce(str, v, {}) for k, v in value.items()}
    if origin is tuple:
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list | tuple) or not (value or meta.get("empty")):
            raise ValueError
        return tuple(coerce(item, v, meta) for v in value)
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


def build(cls: type, section: str, raw: Any) -> Any:
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
        value = raw.get(name, MISSING)
        if value is MISSING:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ParamsError(f"The '{name}' parameter of {section} is missing in params.yaml.")
            continue
        try:
            values[name] = coerce(hints[name], value, spec.metadata)
        except (ValueError, TypeError):
            raise ParamsError(
                f"The '{name}' parameter of {section} must be "
                f"{describe(hints[name], spec.metadata)}. Got {value!r} instead."
            ) from None
    return cls(**values)
