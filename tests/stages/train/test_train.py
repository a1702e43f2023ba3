"""The train stage: Lightning fit of each baseline on real cached clips, logged to real MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.depgraph import ROOT as REPO
from vidlab import tracking
from vidlab.config import Params, replace
from vidlab.core.errors import DataError
from vidlab.models import registry
from vidlab.stages.clips import stage as clips_stage
from vidlab.stages.train import stage as train


@pytest.fixture
def setup(clip_params: Params, index_splits: Path, tmp_path: Path) -> dict:
    """A tiny project: params.yaml, the cached clips, a sqlite MLflow store, fast settings."""
    clips_stage.run(clip_params, splits=index_splits, out=tmp_path / "clips",
              reports=tmp_path / "reports")
    (tmp_path / "params.yaml").write_text("# the test's params\n")
    (tmp_path / "metadata.csv").write_text("video_id,sha256\nv,00\n")  # names the data version
    params = replace(
        clip_params,
        train=replace(clip_params.train, epochs=2, width=8, r2plus1d_width=8,
                                  accelerator="cpu"),
        tracking=replace(clip_params.tracking, experiment="test-train",
                                     uri=f"sqlite:///{tmp_path / 'mlflow.db'}"))
    return {"params": params, "splits": index_splits, "clips": tmp_path / "clips",
            "root": tmp_path}


def fit(setup: dict, model: str, out: Path, **changes) -> dict:
    params = setup["params"]
    if changes:
        params = replace(params, train=replace(params.train, **changes))
    return train.run(params, model=model, splits=setup["splits"], clips=setup["clips"], out=out,
                     root=setup["root"], metadata=setup["root"] / "metadata.csv")


def test_every_baseline_trains_and_nests_under_one_pipeline_run(setup: dict,
                                                                tmp_path: Path) -> None:
    import mlflow

    runs = {}
    for model in registry.MODELS:
        result = fit(setup, model, tmp_path / "models" / model)
        runs[model] = result["run_id"]
        metrics = json.loads((tmp_path / "models" / model / "metrics.json").read_text())
        assert 0.0 <= metrics["val_video_acc"] <= 1.0 and metrics["epochs"] >= 1
        best = metrics["history"][metrics["best_epoch"]]  # the best epoch's own score
        assert best["epoch/val_video_acc"] == metrics["val_video_acc"] == metrics["monitor_best"]
        state = torch.load(tmp_path / "models" / model / "model.pt", weights_only=True)
        registry.build_network(model, setup["params"]).load_state_dict(state)  # a plain state dict
    client = mlflow.MlflowClient(tracking_uri=setup["params"].tracking.uri)
    children = [client.get_run(run_id) for run_id in runs.values()]
    parents = {run.data.tags["mlflow.parentRunId"] for run in children}
    assert len(parents) == 1  # one parent for the pipeline run
    parent = client.get_run(parents.pop())
    assert parent.data.tags["vidlab.pipeline_key"]
    for run in children:
        assert run.data.tags["vidlab.dataset_fingerprint"] == tracking.data_version_of(
            setup["root"] / "metadata.csv")
        assert run.data.tags["vidlab.processed_fingerprint"].startswith("pd-")
        assert run.data.params["train.lr"] == str(setup["params"].train.lr)
        history = client.get_metric_history(run.info.run_id, "epoch/val_video_acc")
        assert len(history) == 2  # one value per epoch
        # the best checkpoint's score once, under the name every model's run uses
        assert len(client.get_metric_history(run.info.run_id, "val_video_acc")) == 1
        summary = {k for k in run.data.metrics if not k.startswith("epoch/")}
        assert summary == {"val_video_acc", "best_epoch", "epochs"}
        assert run.data.tags["mlflow.note.content"].startswith(
            registry.SUMMARY[run.data.tags["vidlab.model"]])
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
    with pytest.raises(DataError, match="center_frame.pt does not exist"):
        fit(setup, "center_frame", tmp_path / "m", weights=str(tmp_path / "nowhere"))


def test_trains_from_streamed_shards(setup: dict, tmp_path: Path) -> None:
    """Class weights come from the manifest, so every loader source trains."""
    params = setup["params"]
    setup = {**setup, "params": replace(
        params, loader=replace(params.loader, source="shards"))}
    result = fit(setup, "center_frame", tmp_path / "m")
    assert result["epochs"] >= 1


def test_balanced_sampler_draws_each_class_equally(setup: dict) -> None:
    """train.balance: sampler draws videos with replacement, classes equally likely."""
    from collections import Counter

    from vidlab.data.datamodule import VideoDataModule

    params = setup["params"]
    params = replace(params, train=replace(params.train,
                                                                   balance="sampler"))
    data = VideoDataModule(params, splits=setup["splits"], clips=setup["clips"], batch_size=1)
    sampler = data.train_dataloader().sampler
    videos = data.datasets["train"].video_ids
    labels = data.labels["train"]
    assert Counter(labels.values()) == {0: 2, 1: 1}  # imbalanced: 2 achieved, 1 not
    drawn = Counter(labels[videos[i]] for _ in range(400) for i in sampler)
    assert abs(drawn[0] / drawn.total() - 0.5) < 0.05
    with pytest.raises(DataError, match="shards"):
        VideoDataModule(replace(params, loader=replace(
            params.loader, source="shards")), splits=setup["splits"],
            clips=setup["clips"]).train_dataloader()


@pytest.mark.slow  # ~30 s: two processes start Lightning
def test_two_process_ddp_on_cpu_trains_both_ranks_and_logs_one_run(setup: dict,
                                                                    tmp_path: Path) -> None:
    """Real DDP: `vidlab train` with two CPU processes (gloo); Lightning re-launches the command
    for rank 1. Both ranks train; only rank zero writes outputs and the MLflow run."""
    import os
    import subprocess
    import sys

    import mlflow
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    p = setup["params"]
    for section in ("clips", "loader"):
        raw[section] = json.loads(json.dumps(getattr(p, section).model_dump(mode="json")))
    raw["train"].update(epochs=1, width=8, r2plus1d_width=8, accelerator="cpu", devices=2,
                        strategy="ddp")
    raw["tracking"].update(experiment="test-ddp", uri=f"sqlite:///{tmp_path / 'ddp.db'}")
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    vidlab = Path(sys.executable).parent / "vidlab"
    env = os.environ | {"GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [str(vidlab), "train", "--model", "center_frame", "--splits", str(setup["splits"]),
         "--clips", str(setup["clips"]), "--out", str(project / "out")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # Lightning's own "Starting with 2 processes" is INFO from a library: the CLI keeps those
    # quiet unless --verbose; world_size and both ranks' sample counts prove the launch
    metrics = json.loads((project / "out" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    per_rank = metrics["train_samples_per_rank"]
    assert len(per_rank) == 2 and all(n > 0 for n in per_rank)  # both ranks trained
    client = mlflow.MlflowClient(tracking_uri=raw["tracking"]["uri"])
    experiment = client.get_experiment_by_name("test-ddp")
    runs = client.search_runs([experiment.experiment_id], "tags.`vidlab.model` = 'center_frame'")
    assert len(runs) == 1  # rank 1 logged nothing
    (run,) = runs
    assert run.info.status == "FINISHED" and run.data.params["world_size"] == "2"
    assert client.get_metric_history(run.info.run_id, "epoch/val_video_acc")
    assert done.stdout.count("train center_frame:") == 1  # rank 1 does not report either


def test_the_training_bar_shows_metrics_without_v_num(clip_params: Params, tmp_path: Path,
                                                       monkeypatch) -> None:
    """Lightning's bar adds the logger's version number (``v_num``), which means nothing to a
    researcher; vidlab's bar drops it and keeps the logged metrics (epoch/val_video_acc is
    prog_bar)."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import TQDMProgressBar
    from pytorch_lightning.loggers import CSVLogger

    from vidlab.models import trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "progress_enabled", lambda: True)
    fit = trainer_mod.trainer(clip_params.train, epochs=1, logger=CSVLogger(tmp_path))
    bar = fit.progress_bar_callback
    assert "v_num" in TQDMProgressBar.get_metrics(bar, fit, pl.LightningModule())
    assert "v_num" not in bar.get_metrics(fit, pl.LightningModule())


def test_library_chatter_is_filtered_unless_verbose(tmp_path: Path) -> None:
    """MLflow's table creation, Lightning's tips and the known LeafSpec deprecation stay out of
    a training run's output; the run's own lines remain."""
    import subprocess
    import sys

    script = tmp_path / "chatter.py"
    script.write_text(
        "import logging, warnings\n"
        "from vidlab.core.quiet import quiet_libraries\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "quiet_libraries()\n"
        "import mlflow\n"
        f"mlflow.set_tracking_uri('sqlite:///' + {str(tmp_path / 'm.db')!r})\n"
        "mlflow.search_experiments()\n"
        "logging.getLogger('pytorch_lightning.x').info('Tip: try litlogger')\n"
        "warnings.warn('`isinstance(treespec, LeafSpec)` is deprecated, use ...', "
        "FutureWarning)\n"
        "warnings.warn('You defined a `validation_step` but have no `val_dataloader`. Skipping "
        "val loop.', UserWarning)\n"
        "logging.getLogger('vidlab').warning('own line')\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True, env={k: v for k, v in __import__("os").environ.items()
                                          if k not in ("MLFLOW_LOGGING_LEVEL", "PYTHONWARNINGS")})
    text = out.stdout + out.stderr
    assert "own line" in text
    # what quiet_libraries leaves in PYTHONWARNINGS must not make child interpreters complain
    child = subprocess.run([sys.executable, "-c", "import os; from vidlab.core.quiet import "
                            "quiet_libraries; quiet_libraries(); import subprocess, sys; "
                            "subprocess.run([sys.executable, '-c', 'pass'], check=True)"],
                           capture_output=True, text=True, check=True)
    assert "Invalid -W option" not in child.stderr, child.stderr
    for chatter in ("Creating initial MLflow database tables", "litlogger", "LeafSpec",
                    "val_dataloader"):
        assert chatter not in text, chatter
