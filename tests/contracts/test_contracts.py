"""The typed contracts between stages: each file has one writer stage and the readers the
registry names, and dvc.yaml agrees; `write` refuses a payload that breaks its contract and
otherwise writes the writer's own bytes; `read` gives the model back, or a DataError naming the
file and the field."""

from __future__ import annotations

import ast
import fnmatch
import json
from functools import cache
from pathlib import Path
from typing import get_args

import pytest
import yaml

from tests.conftest import ROOT
from vidlab import contracts
from vidlab.core.errors import DataError

SRC = ROOT / "src" / "vidlab"
NAMES = {model.__name__: model for model in contracts.CONTRACTS}


def _owner(path: Path) -> str:
    """The stage package a module belongs to (``card``), else its module path."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[1] if parts[0] == "stages" and len(parts) > 2 else ".".join(parts)


def _named(node: ast.AST | None) -> str | None:
    """The contract a node names: ``contracts.Metrics`` or ``Metrics``."""
    name = (node.attr if isinstance(node, ast.Attribute)
            else node.id if isinstance(node, ast.Name) else None)
    return name if name in NAMES else None


def _calls(tree: ast.Module) -> list[tuple[str, ast.Call]]:
    """``contracts.write(...)``/``contracts.read(...)`` calls, or the same functions imported
    by name from vidlab.contracts."""
    imported = {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "vidlab.contracts") for alias in node.names}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.value.id == "contracts" and func.attr in ("write", "read"):
            found.append((func.attr, node))
        elif isinstance(func, ast.Name) and func.id in ("write", "read") and func.id in imported:
            found.append((func.id, node))
    return found


def _contract_arg(call: ast.Call) -> ast.AST | None:
    if len(call.args) > 1:
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == "model_cls"), None)


@cache
def _uses() -> dict[str, dict[str, set[str]]]:
    """``{"write"|"read": {contract name: owners}}`` over every module of vidlab but the
    contracts package itself."""
    uses: dict[str, dict[str, set[str]]] = {"write": {}, "read": {}}
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(SRC / "contracts"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        referenced = {_named(node) for node in ast.walk(tree)} - {None}
        for kind, call in _calls(tree):
            named = _named(_contract_arg(call))
            if kind == "write":  # the contract is named where it is written
                assert named, f"{path}:{call.lineno}: write() must name its contract"
                got = {named}
            else:  # a table of contracts (the card's REPORTS): each one the module names
                got = {named} if named else referenced
            for name in got:
                uses[kind].setdefault(name, set()).add(_owner(path))
    return uses


@pytest.mark.parametrize("model", list(contracts.CONTRACTS), ids=lambda m: m.__name__)
def test_each_contract_has_its_one_writer_and_its_registered_readers(model) -> None:
    route = contracts.CONTRACTS[model]
    assert _uses()["write"].get(model.__name__) == {route.writer}
    assert _uses()["read"].get(model.__name__) == set(route.readers)


def _paths(entries) -> list[str]:
    return [(next(iter(e)) if isinstance(e, dict) else e).replace("${item}", "{model}")
            for e in entries or []]


def _covers(entries: list[str], path: str) -> bool:
    """Whether dvc.yaml ``entries`` hold ``path`` (a file, or a folder above it)."""
    pattern = path.replace("{model}", "*")
    return any(fnmatch.fnmatch(entry, pattern) or path.startswith(entry.rstrip("/") + "/")
               for entry in entries)


@pytest.mark.parametrize("model", list(contracts.CONTRACTS), ids=lambda m: m.__name__)
def test_dvc_yaml_has_the_writer_output_and_every_reader_depend_on_the_file(model) -> None:
    route = contracts.CONTRACTS[model]
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]

    def spec(name: str) -> dict:
        return stages[name].get("do", stages[name])

    writer = spec(route.writer)
    assert _covers(_paths(writer.get("outs")) + _paths(writer.get("metrics")), route.path)
    for reader in route.readers:
        if reader in stages:  # release is a command, not a pipeline stage
            assert _covers(_paths(spec(reader).get("deps")), route.path), (reader, route.path)


def _duplicates() -> dict:
    return {"about": "for people", "params": {"threshold": 0.18, "review_margin": 0.03},
            "videos": 3,
            "pairs": [{"a": "v1", "b": "v2", "kind": "near", "distance": 0.1}],
            "clusters": [{"id": "dup-001", "kind": "near", "video_ids": ["v1", "v2"],
                          "max_distance": 0.1, "sheet": "dup-001.png"}],
            "review": [{"a": "v1", "b": "v3", "distance": 0.2}], "failed": []}


def test_write_refuses_a_payload_missing_a_required_field(tmp_path: Path) -> None:
    payload = _duplicates()
    del payload["clusters"]
    path = tmp_path / "duplicates.json"
    with pytest.raises(contracts.ContractError,
                       match=r"dedup stage's duplicates\.json breaks its contract Duplicates: "
                             r"clusters: Field required"):
        contracts.write(path, contracts.Duplicates, payload, indent=2)
    assert not path.exists()
    payload = _duplicates()
    payload["clusters"][0]["kind"] = "similar"  # not one of the kinds
    with pytest.raises(RuntimeError, match=r"clusters\[0\]\.kind"):
        contracts.write(path, contracts.Duplicates, payload)


@pytest.mark.parametrize("atomic", [True, False])
def test_write_then_read_round_trips_with_the_writers_bytes(tmp_path: Path,
                                                            atomic: bool) -> None:
    payload = _duplicates()
    path = tmp_path / "duplicates.json"
    contracts.write(path, contracts.Duplicates, payload, atomic=atomic, indent=2)
    assert path.read_bytes() == (json.dumps(payload, indent=2) + "\n").encode()
    read = contracts.read(path, contracts.Duplicates)
    assert read == contracts.Duplicates.model_validate(payload)
    assert read.clusters[0].video_ids == ["v1", "v2"] and read.review[0].distance == 0.2
    assert read.about == "for people" and read.clusters[0].sheet == "dup-001.png"  # extras kept
    with pytest.raises(ValueError):  # frozen
        read.videos = 4


def test_read_names_the_file_the_field_and_the_stage_to_rerun(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"videos": 3, "ok": "three", "warnings": {}}))
    with pytest.raises(DataError, match=r"summary\.json is not what the probe stage writes "
                                        r"\(ProbeSummary\): ok: .*Rerun the probe stage"):
        contracts.read(path, contracts.ProbeSummary)
    path.write_text("{not json")
    with pytest.raises(DataError, match="is not valid JSON"):
        contracts.read(path, contracts.ProbeSummary)
    with pytest.raises(FileNotFoundError):  # the reader decides what a missing file means
        contracts.read(tmp_path / "absent.json", contracts.ProbeSummary)


def test_every_contract_is_frozen_and_open_to_extra_keys() -> None:
    def parts(model) -> set:
        found = {model}
        for field in model.model_fields.values():
            for inner in _models_in(field.annotation):
                found |= parts(inner)
        return found

    for model in contracts.CONTRACTS:
        for part in parts(model):
            assert part.model_config.get("frozen") is True, part
            assert part.model_config.get("extra") == "allow", part


def _models_in(annotation) -> list:
    """The pydantic models inside a type annotation (``list[Cluster] | None`` -> Cluster)."""
    if isinstance(annotation, type) and issubclass(annotation, contracts.Model):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
