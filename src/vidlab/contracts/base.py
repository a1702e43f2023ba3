"""The base of every contract model: frozen, and open to the writer's other keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A JSON object one stage writes and another reads (or a part of one).

    It declares, typed, every field a reader reads. The writer's other keys, written for people
    (or for DVC's metrics), are allowed and kept as extras: a contract constrains what is read,
    never what may be said besides.
    """

    model_config = ConfigDict(frozen=True, extra="allow")
