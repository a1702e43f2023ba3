"""The one writer and the one reader of every contract file.

`write` validates the writer's own dict against its contract, then writes that dict exactly as
the stage always has (``json.dumps(payload, **json_kw)`` and a final newline), so the bytes do
not depend on the model. `read` parses the file into the model; a file that is not what the
writer writes is a `DataError` naming the file, the field and the stage to rerun.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from vidlab.contracts.base import Model
from vidlab.contracts.registry import CONTRACTS, Route
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text

M = TypeVar("M", bound=Model)
SHOWN = 3  # validation errors named in a message


class ContractError(RuntimeError):
    """A stage's own payload breaks the contract it writes: a bug in vidlab, not in the data."""


def route(model_cls: type[Model]) -> Route:
    """The registered route of a contract (a model that is not one is a programming error)."""
    try:
        return CONTRACTS[model_cls]
    except KeyError:
        raise TypeError(f"{model_cls.__name__} is not a registered contract "
                        "(vidlab.contracts.registry.CONTRACTS)") from None


def problems(exc: ValidationError, shown: int = SHOWN) -> str:
    """The first ``shown`` errors as ``where: what`` (``clusters[0].video_ids: ...``)."""
    errors = exc.errors()
    lines = []
    for error in errors[:shown]:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                        for part in error["loc"]).lstrip(".")
        lines.append(f"{where or 'the top level'}: {error['msg']}")
    more = len(errors) - shown
    return "; ".join(lines) + (f" (and {more} more)" if more > 0 else "")


def write(path: Path, model_cls: type[Model], payload: dict[str, Any], *, atomic: bool = True,
          **json_kw: Any) -> None:
    """Check ``payload`` against ``model_cls``, then write ``json.dumps(payload, **json_kw)``
    and a newline to ``path``.

    Args:
        path: the file (or a staging path an output set hands out).
        model_cls: the registered contract the file holds.
        payload: the writer's own dict; written as it is (key order, extra keys and all).
        atomic: through a temporary sibling and a rename (`atomic_write_text`); False writes
            in place, for a path inside a staging folder or a staging file.
        json_kw: passed to `json.dumps` (``indent``, ``ensure_ascii``, ``default``...).

    Raises:
        ContractError: when ``payload`` breaks the contract (nothing is written).
    """
    try:
        model_cls.model_validate(payload)
    except ValidationError as exc:
        raise ContractError(f"The {route(model_cls).writer} stage's {Path(path).name} breaks "
                            f"its contract {model_cls.__name__}: {problems(exc)}") from exc
    text = json.dumps(payload, **json_kw) + "\n"
    if atomic:
        atomic_write_text(Path(path), text)
    else:
        Path(path).write_text(text, encoding="utf-8", newline="\n")


def read(path: Path, model_cls: type[M]) -> M:
    """The contract ``model_cls`` in the JSON file ``path``.

    Raises:
        FileNotFoundError, OSError: when the file cannot be read (the reader decides what a
            missing file means).
        DataError: when it is not JSON, or not what the writer stage writes.
    """
    path, writer = Path(path), route(model_cls).writer
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8
        raise DataError(f"{path} is not valid JSON ({exc}). Rerun the {writer} stage "
                        "(`dvc repro`).") from None
    try:
        return model_cls.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{path} is not what the {writer} stage writes ({model_cls.__name__}): "
                        f"{problems(exc)}. Rerun the {writer} stage (`dvc repro`).") from None
