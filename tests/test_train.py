"""The train stage: Lightning fit of each baseline on real cached clips, logged to real MLflow."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from vidlab import train
from vidlab.data import cache
from vidlab.params import Params


@pytest.fixture
def setup(clip_params: Params, index_splits: Path, tmp_path: Path) -> dict:
    """A tiny project: params.yaml, the cached clips, a sqlite MLflow store, fast settings."""
    cache.run(clip_params, splits=index_splits, out=tmp_path / "clips",
              reports=tmp_path / "reports")
    (tmp_path / "params.yaml").write_text("# the test's params\n")
    params = dataclasses.replace(
        clip_params,
        train=dataclasses.replace(clip_params.train, epochs=2, width=8, r2plus1d_width=8,
                                  accelerator="cpu"),
        tracking=dataclasses.replace(clip_params.tracking, experiment="test-train",
                                     uri=f"sqlite:///{tmp_path / 'mlflow.db'}"))
    return {"params": params, "splits": index_splits, "clips": tmp_path / "clips",
            "root": tmp_path}


def fit(setup: dict, model: str, out: Path, **changes) -> dict:
    params = setup["params"]
    if changes:
        params = dataclasses.replace(params, train=dataclasses.replace(params.train, **changes))
    return train.run(params, model=model, splits=setup["splits"], clips=setup["clips"], out=out,
                     root=setup["root"])


def test_every_baseline_trains_and_nests_under_one_pipeline_run(setup: dict,
                                                                tmp_path: Path) -> None:
    import mlflow

    runs = {}
    for model in train.MODELS:
        result = fit(setup, model, tmp_path / "models" / model)
        runs[model] = result["run_id"]
        metrics = json.loads((tmp_path / "models" / model / "metrics.json").read_text())
        assert 0.0 <= metrics["best_val_video_acc"] <= 1.0 and metrics["epochs"] >= 1
        state = torch.load(tmp_path / "models" / model / "model.pt", weights_only=True)
        train.build_network(model, setup["params"]).load_state_dict(state)  # a plain state dict
    client = mlflow.MlflowClient(tracking_uri=setup["params"].tracking.uri)
    children = [client.get_run(run_id) for run_id in runs.values()]
    parents = {run.data.tags["mlflow.parentRunId"] for run in children}
    assert len(parents) == 1  # one parent for the pipeline run
    parent = client.get_run(parents.pop())
    assert parent.data.tags["vidlab.pipeline_key"]
    for run in children:
        assert run.data.tags["vidlab.dataset_fingerprint"].startswith("fp-")
        assert run.data.params["train.lr"] == str(setup["params"].train.lr)
        history = client.get_metric_history(run.info.run_id, "val/video_acc")
        assert len(history) == 2  # one value per epoch
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
        assert artifacts == {"model/model.pt"}
        assert {a.path for a in client.list_artifacts(run.info.run_id, "pipeline")} == {
            "pipeline/params.yaml"}


def test_training_is_deterministic_on_cpu(setup: dict, tmp_path: Path) -> None:
    fit(setup, "r2plus1d", tmp_path / "a")
    fit(setup, "r2plus1d", tmp_path / "b")
    first, second = (torch.load(tmp_path / n / "model.pt", weights_only=True) for n in "ab")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_missing_local_weights_are_a_clear_error(setup: dict, tmp_path: Path) -> None:
    from vidlab.errors import DataError

    with pytest.raises(DataError, match="center_frame.pt does not exist"):
        fit(setup, "center_frame", tmp_path / "m", weights=str(tmp_path / "nowhere"))


def test_trains_from_streamed_shards(setup: dict, tmp_path: Path) -> None:
    """Class weights come from the manifest, so every loader source trains."""
    params = setup["params"]
    setup = {**setup, "params": dataclasses.replace(
        params, loader=dataclasses.replace(params.loader, source="shards"))}
    result = fit(setup, "center_frame", tmp_path / "m")
    assert result["epochs"] >= 1
