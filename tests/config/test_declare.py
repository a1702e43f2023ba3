"""Each stage reads only the params it declares, and dvc.yaml tracks exactly those."""

from __future__ import annotations

import importlib
import pickle

import pytest
import yaml

from tests.depgraph import ROOT
from vidlab import config
from vidlab.config.declare import Declaration, UndeclaredParamError

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def declaration(stage: str) -> Declaration | None:
    return getattr(importlib.import_module(f"vidlab.stages.{stage}.stage"), "PARAMS", None)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_dvc_yaml_params_are_the_stages_declared_outputs(stage: str) -> None:
    entry = STAGES[stage]
    listed = entry.get("params") or entry.get("do", {}).get("params") or []
    declared = declaration(stage)
    assert list(declared.outputs if declared else ()) == listed, (
        f"dvc.yaml's params of {stage} differ from PARAMS in vidlab.stages.{stage}.stage")
    if declared:
        assert declared.stage == stage


@pytest.mark.parametrize("stage", sorted(s for s in STAGES if declaration(s)))
def test_every_declared_entry_names_a_real_section_or_key(stage: str) -> None:
    declared = declaration(stage)
    for entry in (*declared.outputs, *declared.runtime):
        section, _, key = entry.partition(".")
        assert section in config.SECTIONS, entry
        assert not key or key in config.SECTIONS[section].model_fields, entry
    assert not set(declared.outputs) & set(declared.runtime)


def test_the_view_refuses_what_is_not_declared() -> None:
    params = config.load(ROOT / "params.yaml")
    view = Declaration("x", outputs=("base.seed", "ingest.age_bins", "dedup"),
                       runtime=("tracking",)).view(params)
    assert view.base.seed == params.base.seed
    assert view.dedup == params.dedup and view.tracking == params.tracking
    assert view.ingest.max_age == 36  # a property reads its keys through the view
    assert view.ingest.age_groups()[0] == "0-6m"
    assert view.ingest.model_dump() == {"age_bins": params.ingest.age_bins}  # declared keys only
    for read in (lambda: view.base.classes, lambda: view.train, lambda: view.ingest.domains,
                 lambda: view.ingest.model_copy()):
        with pytest.raises(UndeclaredParamError, match="the x stage read params"):
            read()
    narrower = Declaration("y", outputs=("train",)).view(view)  # a view of the full params
    assert narrower.train == params.train
    with pytest.raises(UndeclaredParamError):
        narrower.dedup  # noqa: B018
    again = pickle.loads(pickle.dumps(view))  # worker processes get a view
    assert again.base.seed == params.base.seed
    with pytest.raises(AttributeError):
        view.base = None

