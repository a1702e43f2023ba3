"""What each stage reads from params.yaml, declared once, and a view that holds it to that.

A stage's ``PARAMS`` (a :class:`Declaration` in its ``stage.py``) names the sections and keys that
shape its outputs, which are exactly the ``params:`` DVC tracks for it in dvc.yaml (a test checks
the two agree), and those it reads only to run (workers, timeouts, the MLflow store). The stage
runs on ``PARAMS.view(params)``: reading anything else is a bug that would let `dvc repro` call a
stage up to date after a change that alters its outputs, so it stops the stage instead.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vidlab.config.fields import Section

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vidlab.config import Params


# how batches are fed (processes, pinned memory, prefetching): never what a batch holds
LOADING = ("loader.workers", "loader.pin_memory", "loader.persistent_workers",
           "loader.prefetch_factor")


class UndeclaredParamError(RuntimeError):
    """A stage read a parameter its declaration does not name (a bug in vidlab, not in params)."""


@dataclass(frozen=True)
class Declaration:
    """The params one stage reads.

    Attributes:
        stage: the stage's name in dvc.yaml.
        outputs: sections (``"dedup"``) or keys (``"base.seed"``) that shape the outputs; dvc.yaml
            lists exactly these under the stage's ``params:``.
        runtime: sections or keys read only to run the stage (parallelism, time limits,
            tracking), which must not change what it writes.
    """

    stage: str
    outputs: tuple[str, ...]
    runtime: tuple[str, ...] = ()

    def allowed(self) -> dict[str, set[str] | None]:
        """Section -> the keys it may read (None: the whole section)."""
        result: dict[str, set[str] | None] = {}
        for entry in (*self.outputs, *self.runtime):
            section, _, key = entry.partition(".")
            if not key:
                result[section] = None
            elif result.get(section, set()) is not None:
                result.setdefault(section, set()).add(key)
        return result

    def view(self, params: Params | ParamsView) -> ParamsView:
        """``params`` as this stage may see them."""
        full = params.full if isinstance(params, ParamsView) else params
        return ParamsView(full, self)


def _refuse(declaration: Declaration, name: str) -> UndeclaredParamError:
    return UndeclaredParamError(
        f"Internal error: the {declaration.stage} stage read params '{name}', which its "
        f"declaration (PARAMS in vidlab.stages.{declaration.stage}.stage) and dvc.yaml do not "
        f"list. Please report this; dvc repro could miss changes to it."
    )


class ParamsView:
    """Params limited to one stage's declaration: whole sections, or sections with some keys."""

    def __init__(self, full: Params, declaration: Declaration) -> None:
        object.__setattr__(self, "full", full)
        object.__setattr__(self, "declaration", declaration)
        object.__setattr__(self, "_allowed", declaration.allowed())

    def __getattr__(self, section: str) -> Any:
        if section.startswith("_") or section in ("full", "declaration"):
            raise AttributeError(section)  # dunders, and the state while unpickling
        if section not in type(self.full).model_fields:
            raise AttributeError(section)
        if section not in self._allowed:
            raise _refuse(self.declaration, section)
        keys = self._allowed[section]
        value = getattr(self.full, section)
        return value if keys is None else SectionView(value, section, keys, self.declaration)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("params are read-only")


class SectionView:
    """One section limited to some of its keys; its properties and methods read through it, and
    ``model_dump`` gives only the declared keys."""

    def __init__(self, model: BaseModel, section: str, keys: set[str],
                 declaration: Declaration) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_section", section)
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_declaration", declaration)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # dunders, and the state while unpickling
        model = self._model
        if name in type(model).model_fields:
            if name not in self._keys:
                raise _refuse(self._declaration, f"{self._section}.{name}")
            return getattr(model, name)
        # the section's own properties and methods read its keys through this view (e.g.
        # ingest.age_groups() reads age_bins); pydantic's (model_dump, ...) would read them all
        owner = next((c for c in type(model).__mro__ if name in vars(c)), None)
        if owner is None or not issubclass(owner, Section) or owner is Section:
            raise _refuse(self._declaration, f"{self._section} (all of it, through {name})")
        attr = vars(owner)[name]
        if isinstance(attr, property):
            return attr.fget(self)
        if inspect.isfunction(attr):
            return types.MethodType(attr, self)
        return attr

    def model_dump(self) -> dict[str, Any]:
        """The declared keys and their values, in the section's order."""
        return {name: getattr(self._model, name) for name in type(self._model).model_fields
                if name in self._keys}

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("params are read-only")
