"""The evaluate stage: torchmetrics numbers equal scikit-learn's recomputed from the predictions
CSV, in the metrics JSON and on the model's MLflow run; intervals, subgroups, robustness, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm

from tests.conftest import TEXTURE_MILESTONES, TEXTURE_SPLITS
from tests.depgraph import ROOT as REPO
from vidlab import contracts
from vidlab.config import Params, replace
from vidlab.contracts.headline import MODEL_KEYS as HEADLINE_KEYS
from vidlab.models import metrics, registry
from vidlab.stages.compare import stage as compare_stage
from vidlab.stages.evaluate import stage as evaluate
from vidlab.stages.train import stage as train


def sk_ece(probs: np.ndarray, labels: np.ndarray, bins: int) -> float:
    """Top-label expected calibration error, written out."""
    confidence, predicted = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = abs((predicted[inside] == labels[inside]).mean() - confidence[inside].mean())
            total += inside.mean() * gap
    return total


@pytest.mark.parametrize("classes", [2, 6])
def test_scalars_equal_scikit_learn(classes: int) -> None:
    rng = np.random.default_rng(classes)
    labels = np.arange(60) % classes
    probs = rng.dirichlet(np.ones(classes), 60)
    probs[np.arange(60), labels] += rng.uniform(0, 0.6, 60)  # better than chance
    probs /= probs.sum(1, keepdims=True)
    got = metrics.scalars(probs, labels, classes, bins=10)
    predicted = probs.argmax(1)
    assert got["acc"] == pytest.approx(skm.accuracy_score(labels, predicted), abs=1e-6)
    assert got["macro_f1"] == pytest.approx(skm.f1_score(labels, predicted, average="macro"),
                                            abs=1e-6)
    assert got["balanced_acc"] == pytest.approx(skm.balanced_accuracy_score(labels, predicted),
                                                abs=1e-6)
    assert got["ece"] == pytest.approx(sk_ece(probs, labels, 10), abs=1e-5)
    if classes == 2:
        assert "top5" not in got
        assert got["auroc"] == pytest.approx(skm.roc_auc_score(labels, probs[:, 1]), abs=1e-6)
        assert got["ap"] == pytest.approx(skm.average_precision_score(labels, probs[:, 1]),
                                          abs=1e-6)
    else:
        top5 = skm.top_k_accuracy_score(labels, probs, k=5)
        assert got["top5"] == pytest.approx(top5, abs=1e-6)
        assert got["auroc"] == pytest.approx(
            skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro"), abs=1e-6)
        onehot = np.eye(classes)[labels]
        assert got["ap"] == pytest.approx(
            skm.average_precision_score(onehot, probs, average="macro"), abs=1e-6)


def test_bootstrap_resamples_whole_units_and_is_seeded() -> None:
    # unit "a": 6 rows all right; unit "b": 2 rows all wrong. Resampling rows would give many
    # accuracies; resampling units gives only 0, 0.75 or 1 (aa, ab/ba, bb... weighted by rows).
    probs = np.array([[0.9, 0.1]] * 6 + [[0.9, 0.1]] * 2)
    labels = np.array([0] * 6 + [1] * 2)
    units = ["a"] * 6 + ["b"] * 2
    first = metrics.bootstrap(probs, labels, units, 2, n_boot=200, seed=1)
    assert first == metrics.bootstrap(probs, labels, units, 2, n_boot=200, seed=1)
    assert first["acc"]["value"] == 0.75 and first["units"] == 2
    assert {first["acc"]["low"], first["acc"]["high"]} <= {0.0, 0.75, 1.0}
    single = metrics.bootstrap(probs, labels, ["a"] * 8, 2, n_boot=50, seed=1)
    assert single["acc"]["low"] is None  # one unit: no interval


def test_perturbations_change_what_they_should() -> None:
    from vidlab import config as params_mod

    params = params_mod.load(REPO / "params.yaml")
    rng = np.random.default_rng(0)
    clip = torch.from_numpy(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    occluded = evaluate.perturb("occlusion", clip, params)
    side = round(32 * params.evaluate.occlusion)
    start = (32 - side) // 2
    assert (occluded[:, start:start + side, start:start + side] == 127).all()
    assert torch.equal(occluded[:, :start], clip[:, :start])
    blurred = evaluate.perturb("blur", clip, params)
    assert blurred.float().std() < clip.float().std() * 0.6  # noise smoothed away
    jpeg = evaluate.perturb("jpeg", clip, params)
    assert jpeg.shape == clip.shape and jpeg.dtype == torch.uint8 and not torch.equal(jpeg, clip)


@pytest.fixture(scope="module")
def evaluated(texture_project: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """pool2d trained (2 epochs) through the train stage, then evaluated."""
    out = tmp_path_factory.mktemp("evaluated")
    params = replace(texture_project["params"], train=replace(
        texture_project["params"].train, epochs=2))
    trained = train.run(params, model="pool2d", splits=texture_project["splits"],
                        clips=texture_project["clips"], out=out / "models" / "pool2d",
                        root=texture_project["root"])
    result = evaluate.run(params, model="pool2d", splits=texture_project["splits"],
                          clips=texture_project["clips"],
                          weights=out / "models" / "pool2d" / "model.pt",
                          reports=out / "reports", root=texture_project["root"])
    return {"params": params, "result": result, "reports": out / "reports",
            "run_id": trained["run_id"]}


def test_recomputing_from_the_predictions_csv_gives_the_reported_numbers(evaluated: dict) -> None:
    import mlflow

    reports, params = evaluated["reports"], evaluated["params"]
    classes = list(params.base.classes)
    table = pd.read_csv(reports / "predictions" / "pool2d.csv", dtype={"video_id": str})
    saved = json.loads((reports / "metrics" / "pool2d.json").read_text())
    assert saved == json.loads(json.dumps(evaluated["result"]))
    run = mlflow.MlflowClient(tracking_uri=params.tracking.uri).get_run(evaluated["run_id"])
    for split in ("val", "test"):
        for level in ("clip", "video"):
            rows = table[(table["split"] == split) & (table["level"] == level)]
            expected_rows = TEXTURE_SPLITS[split]  # one clip per video in this project
            assert len(rows) == expected_rows
            truth = rows["label"].map(classes.index).to_numpy()
            probs = rows[[f"p_{c}" for c in classes]].to_numpy()
            predicted = probs.argmax(1)
            assert (rows["predicted"].map(classes.index).to_numpy() == predicted).all()
            numbers = {"acc": skm.accuracy_score(truth, predicted),
                       "macro_f1": skm.f1_score(truth, predicted, average="macro"),
                       "auroc": skm.roc_auc_score(truth, probs[:, 1])}
            for name, value in numbers.items():
                assert saved[split][level][name]["value"] == pytest.approx(value, abs=1e-4)
                if (split, level) == ("test", "video"):  # on the training run: test, per video
                    short = {"macro_f1": "f1"}.get(name, name)
                    logged = run.data.metrics[f"test_video_{short}"]
                    assert logged == pytest.approx(value, abs=1e-4)
            score = saved[split][level]["acc"]
            assert score["low"] <= score["value"] <= score["high"]
            assert saved[split][level]["units"] == TEXTURE_SPLITS[split] // 2  # subject groups
    # the subject ids never reach the predictions
    assert not table["video_id"].str.startswith("s").any()
    # the headline DVC shows: the same numbers under the shared short names
    headline = json.loads((reports / "metrics" / "pool2d.headline.json").read_text())
    test = saved["test"]["video"]
    assert headline["acc"] == test["acc"]["value"] and headline["acc_lo"] == test["acc"]["low"]
    assert headline["f1"] == test["macro_f1"]["value"]
    assert headline["val_acc"] == saved["val"]["video"]["acc"]["value"]
    assert set(headline) <= set(HEADLINE_KEYS)
    # MLflow: a short list, the same names for every model
    assert {k for k in run.data.metrics if not k.startswith("epoch/")} <= {
        "val_video_acc", "best_epoch", "epochs", *(f"test_video_{m}{s}" for m in (
            "acc", "f1", "auroc") for s in ("", "_lo", "_hi"))}


def test_subgroups_robustness_plots_and_mlflow_artifacts(evaluated: dict) -> None:
    import mlflow

    reports, params = evaluated["reports"], evaluated["params"]
    subgroups = json.loads((reports / "metrics" / "pool2d.subgroups.json").read_text())
    assert set(subgroups["test"]["domain"]) == {"motor", "language", "social", "cognitive"}
    assert sum(v["n"] for v in subgroups["test"]["domain"].values()) == TEXTURE_SPLITS["test"]
    robust = evaluated["result"]["robustness"]
    clean = evaluated["result"]["test"]["video"]["acc"]["value"]
    for name in evaluate.PERTURBATIONS:
        assert robust[name]["acc_change"] == pytest.approx(robust[name]["acc"] - clean, abs=2e-4)
    plots = reports / "plots" / "pool2d"
    confusion = pd.read_csv(plots / "confusion.csv")
    assert len(confusion) == TEXTURE_SPLITS["test"]
    assert set(pd.read_csv(plots / "roc.csv").columns) == {"fpr", "tpr"}
    client = mlflow.MlflowClient(tracking_uri=params.tracking.uri)
    logged = {a.path for a in client.list_artifacts(evaluated["run_id"], "evaluation")}
    assert {"evaluation/pool2d.csv", "evaluation/pool2d.json", "evaluation/plots"} <= logged
    top = {a.path for a in client.list_artifacts(evaluated["run_id"]) if not a.is_dir}
    assert "evaluation.png" in top  # the same top-level path in every model's run


def test_compare_table_lists_every_model(evaluated: dict, tmp_path: Path) -> None:
    result = contracts.Metrics.model_validate(evaluated["result"])
    text = compare_stage.compare({"pool2d": result, "again": result}, tmp_path / "models.md")
    assert "| `pool2d` |" in text and "| `again` |" in text and "occlusion" in text
    assert (tmp_path / "models.md").read_text() == text


def test_a_multiclass_target_gets_top5(texture_project: dict, tmp_path: Path) -> None:
    """base.target: milestone_id makes a 5-class task: top-5 and one-vs-rest AUROC appear."""
    params: Params = texture_project["params"]
    params = replace(
        params, base=replace(params.base, target="milestone_id",
                                         classes=TEXTURE_MILESTONES),
        evaluate=replace(params.evaluate, n_boot=10, splits=("val",)))
    (tmp_path / "models").mkdir()
    torch.save(registry.build_network("center_frame", params).state_dict(),
               tmp_path / "models" / "center_frame.pt")
    result = evaluate.run(params, model="center_frame", splits=texture_project["splits"],
                          clips=texture_project["clips"],
                          weights=tmp_path / "models" / "center_frame.pt",
                          reports=tmp_path / "reports", root=texture_project["root"])
    video = result["val"]["video"]
    assert video["top5"]["value"] == 1.0  # 5 classes: the top 5 always hold the truth
    assert video["auroc"]["value"] is not None and len(video["confusion"]) == 5
    header = (tmp_path / "reports" / "predictions" / "center_frame.csv").read_text().split("\n")[0]
    assert header.endswith(",".join(f"p_{m}" for m in TEXTURE_MILESTONES))
