"""The classical-feature baseline: its features, its equivalence with scikit-learn, and its
evaluation through the same evaluate stage as the networks (real videos, real MLflow)."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
import torch

from vidlab import tracking
from vidlab.config import replace
from vidlab.core.fsutil import sha256_file
from vidlab.data.datamodule import VideoDataModule
from vidlab.models.classical import ABSENT, clip_features, feature_count
from vidlab.models.registry import CLASSICAL
from vidlab.stages.classical import stage as classical
from vidlab.stages.evaluate import stage as evaluate
from vidlab.tracking.pipeline import TAG_WEIGHTS

MEAN, STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)


def normalised(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> the presets' normalised (1, 3, T, H, W)."""
    video = torch.from_numpy(frames).float().div(255).permute(3, 0, 1, 2)
    mean, std = torch.tensor(MEAN).view(3, 1, 1, 1), torch.tensor(STD).view(3, 1, 1, 1)
    return ((video - mean) / std).unsqueeze(0)


def test_a_still_single_colour_clip_has_one_histogram_bin_per_channel_and_no_motion() -> None:
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 255, 100, 10  # bins 7, 3, 0 of 8
    features = clip_features(normalised(frames), mean=MEAN, std=STD, bins=8, grid=4)[0]
    assert features.shape == (feature_count(8, 4),)
    hist = features[:24].view(3, 8)
    assert hist[0, 7] == pytest.approx(1) and hist[1, 3] == pytest.approx(1)
    assert hist[2, 0] == pytest.approx(1) and hist.sum().item() == pytest.approx(3)
    assert torch.all(features[24:] == 0)  # nothing moves


def test_motion_energy_is_where_the_frame_changes() -> None:
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    frames[1::2, :4, :4] = 255  # the top-left 4x4 corner blinks: grid cell (0, 0) of 4x4
    features = clip_features(normalised(frames), mean=MEAN, std=STD, bins=8, grid=4)[0]
    mean, std, peak = features[24:27].tolist()
    assert mean == pytest.approx(16 / 256, abs=1e-6)  # every step changes 16 of 256 pixels by 1
    assert std == pytest.approx(0, abs=1e-6) and peak == pytest.approx(mean, abs=1e-6)
    cells = features[27:].view(4, 4)
    assert cells[0, 0] == pytest.approx(1, abs=1e-6) and cells.sum() == pytest.approx(1, abs=1e-6)


@pytest.fixture(scope="module")
def fitted(texture_project: dict) -> dict:
    params = texture_project["params"]
    data = VideoDataModule(params, splits=texture_project["splits"],
                           clips=texture_project["clips"], source="memmap")
    data.setup()
    train = classical.split_features(params, data, "train")
    net, _ = classical.fit(params, train["features"], train["labels"])
    return {"params": params, "data": data, "train": train, "net": net}


def test_the_module_reproduces_scikit_learns_probabilities(fitted: dict) -> None:
    """softmax(ClassicalNet(clip)) equals StandardScaler + LogisticRegression.predict_proba."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params, data, train = fitted["params"], fitted["data"], fitted["train"]
    k = params.classical
    reference = make_pipeline(StandardScaler(), LogisticRegression(
        C=k.c, max_iter=k.max_iter, class_weight="balanced")).fit(train["features"],
                                                                  train["labels"])
    batch = next(iter(data.val_dataloader()))
    with torch.no_grad():
        ours = fitted["net"](batch["video"]).softmax(1).double().numpy()
        features = fitted["net"].features(batch["video"]).double().numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(features), atol=1e-5)


def test_a_class_missing_from_training_is_never_predicted(fitted: dict) -> None:
    params = fitted["params"]
    three = replace(params, base=replace(
        params.base, classes=("achieved", "not_achieved", "unseen")))
    train = fitted["train"]
    net, _ = classical.fit(three, train["features"], train["labels"])
    assert net.intercept[2].item() == ABSENT
    batch = next(iter(fitted["data"].val_dataloader()))
    with torch.no_grad():
        probs = net(batch["video"]).softmax(1)
    assert probs[:, 2].max().item() < 1e-6
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)))


def test_one_class_only_predicts_that_class(fitted: dict, caplog) -> None:
    """Reachable only with split.require_all_classes: false; like the networks, it still runs."""
    train = fitted["train"]
    net, _ = classical.fit(fitted["params"], train["features"], np.ones_like(train["labels"]))
    assert "one class only" in caplog.text
    batch = next(iter(fitted["data"].val_dataloader()))
    with torch.no_grad():
        assert (net(batch["video"]).argmax(1) == 1).all()


def test_classical_stage_then_evaluate_like_the_networks(texture_project: dict) -> None:
    """`classical` writes a state dict and a run; `evaluate --model classical` scores it with
    intervals and robustness and logs onto that run; the predictions agree with the JSON."""
    import pandas as pd
    from sklearn.metrics import accuracy_score

    params, root = texture_project["params"], texture_project["root"]
    out = root / "models" / CLASSICAL
    result = classical.run(params, splits=texture_project["splits"],
                           clips=texture_project["clips"], out=out, root=root)
    assert result["features"] == feature_count(params.classical.hist_bins,
                                               params.classical.motion_grid)
    state = torch.load(out / "model.pt", weights_only=True)
    assert set(state) == {"feature_mean", "feature_scale", "coef", "intercept"}
    assert json.loads((out / "metrics.json").read_text())["train_clips"] == 24
    reports = root / "reports-classical"
    scores = evaluate.run(params, model=CLASSICAL, splits=texture_project["splits"],
                          clips=texture_project["clips"], weights=out / "model.pt",
                          reports=reports, root=root)
    assert set(scores["robustness"]) >= set(evaluate.PERTURBATIONS)
    # the textures carry no label: whatever the score, it is what the predictions say
    rows = pd.read_csv(reports / "predictions" / "classical.csv")
    test = rows[(rows["level"] == "video") & (rows["split"] == "test")]
    assert scores["test"]["video"]["acc"]["value"] == pytest.approx(
        accuracy_score(test["label"], test["predicted"]), abs=1e-4)
    client = mlflow.MlflowClient(tracking.tracking_uri(params.tracking, root))
    run = client.get_run(result["run_id"])
    assert run.data.tags["vidlab.model"] == CLASSICAL
    assert run.data.tags[TAG_WEIGHTS] == sha256_file(out / "model.pt")
    assert "test_video_acc" in run.data.metrics  # evaluate logged onto the classical run
    assert run.data.metrics["val_video_acc"] == result["val_video_acc"]  # the name all models use
    assert run.data.tags["mlflow.note.content"].startswith("Classical baseline")
