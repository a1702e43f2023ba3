"""The real `dvc repro`, in a temporary git repository holding a copy of this project."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.annotation_faults import (
    assert_annotation_faults_found,
    assert_loaders_give_the_generator_truth,
)
from tests.browser import look, need_chromium
from tests.conftest import SMALL_DEMO, assert_no_identifiers, copy_project, run
from tests.mutations import assert_each_fault_moves_only_its_item
from tests.scoring import (
    assert_malformed_predictions_refused,
    assert_perfect_predictions_score_perfectly,
    assert_task_baselines_scored,
)
from tests.story import assert_one_story
from vidlab.models.registry import EVALUATED


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The project (below) after one `dvc repro`, and what that printed: shared by the tests
    of this module that look at a finished pipeline."""
    repo = make_project(tmp_path_factory.mktemp("pipeline"))
    return repo, run(["dvc", "repro"], repo)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the project (see `make_project`), for a test of its own."""
    return make_project(tmp_path)


def make_project(tmp_path: Path) -> Path:
    """A copy of the project in a fresh git repository, with the demo shrunk."""
    repo = copy_project(tmp_path / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["demo"].update(SMALL_DEMO)
    # 12 clean videos beside 10 planted-fault rows: a third of the rows is quarantined on purpose.
    params["validate"]["max_quarantine_fraction"] = 0.5
    params["validate"]["min_side"] = 32  # the small profile's near-duplicate is 70x56
    # 4 children cannot fill three splits with both labels each: check leakage, not balance.
    params["split"].update(train=0.5, val=0.25, test=0.25, require_all_classes=False)
    params["train"].update(epochs=2, width=8, r2plus1d_width=8)  # the stages run; not for scores
    params["sanity"].update(shuffle_epochs=2, gradcam_clips=2)
    params["evaluate"].update(n_boot=50)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "copy"], repo)
    return repo


@pytest.mark.slow
def test_ray_engine_writes_the_same_bytes_as_local_workers(built: tuple[Path, str],
                                                           tmp_path: Path) -> None:
    """ingest, probe and clips with engine.name: ray on a real two-node Ray cluster on
    127.0.0.1 write exactly the files the local worker processes wrote in the repro.

    Defined before the test that releases and then changes the data of the built project, so
    that it runs first (pytest keeps the module's order) and compares with the repro's files."""
    from tests.raycluster import ray_cluster

    project, _ = built
    params = yaml.safe_load((project / "params.yaml").read_text())
    out = tmp_path / "ray"
    with ray_cluster() as address:
        params["engine"] = {"name": "ray", "address": address}
        params_file = tmp_path / "params.yaml"
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        common = ["--params", str(params_file)]
        run(["vidlab", "ingest", "--out", str(out / "interim"), "--reports",
             str(out / "deidentify"), *common], project)
        run(["vidlab", "probe", "--manifest", str(out / "manifest.parquet"), "--frames",
             str(out / "frames.parquet"), "--normalized", str(out / "normalized"),
             "--reports", str(out / "probe"), *common], project)
        run(["vidlab", "clips", "--out", str(out / "clips"), "--reports", str(out / "clips-r"),
             *common], project)
    interim = project / "data" / "interim"
    local = _tree(interim / "videos")
    assert local and _tree(out / "interim" / "videos") == local
    for name in ("metadata.csv", "quarantine_ingest.csv"):
        assert (out / "interim" / name).read_bytes() == (interim / name).read_bytes(), name
    for name in ("manifest.parquet", "frames.parquet"):
        assert (out / name).read_bytes() == (interim / name).read_bytes(), name
    clips = _tree(project / "data" / "processed" / "clips")
    assert clips and _tree(out / "clips") == clips
    assert ((out / "clips-r" / "summary.json").read_bytes()
            == (project / "reports" / "clips" / "summary.json").read_bytes())


@pytest.mark.slow
def test_dvc_repro_builds_everything_then_has_nothing_to_do(built: tuple[Path, str]) -> None:
    project, first = built
    stages = {"demo", "ingest", "faces", "report", "probe", "validate", "annotations", "dedup",
              "split",
              "clips",
              "train@center_frame", "train@pool2d", "train@r2plus1d", "sanity",
              "classical", "evaluate@center_frame", "evaluate@pool2d", "evaluate@r2plus1d",
              "evaluate@classical", "task_baselines", *(f"score_task@{t}" for t in
                                                        ("segments", "boxes", "tracks", "masks",
                                                         "captions")),
              "compare", "eda", "card"}
    for stage in stages:
        assert f"Running stage '{stage}'" in first
    demo = project / "data" / "raw" / "demo"
    faults = json.loads((demo / "faults.json").read_text())["faults"]
    assert len(faults) == 12
    planted_files = 9
    assert len(list((demo / "videos").iterdir())) == SMALL_DEMO["n_videos"] + planted_files
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert set(lock["stages"]) == stages
    summary = json.loads((project / "reports" / "summary" / "summary.json").read_text())
    assert summary["total_videos"] >= SMALL_DEMO["n_videos"]

    assert_file_faults_found(project, faults)
    (mapping_file,) = (project.parent / "keys").rglob("video_mapping.json")
    mapping = json.loads(mapping_file.read_text())["videos"]
    assert_annotation_faults_found(project, demo, mapping)
    assert_loaders_give_the_generator_truth(project, demo, mapping)
    scoring = project.parent / "scoring"
    scoring.mkdir()
    assert_perfect_predictions_score_perfectly(project, run, scoring)
    assert_malformed_predictions_refused(project, run_failing, scoring, list(mapping))
    assert_task_baselines_scored(project, run)
    assert_duplicates_found_and_split_together(project, faults)
    assert_clips_cached_reproducibly(project)
    assert_sanity_checked(project)
    assert_card_counts_and_no_go_items(project)
    assert_one_story(project)
    assert_each_fault_moves_only_its_item(project, project.parent / "mutations")
    assert_runs_served_by_mlflow_ui(project)
    assert_metrics_and_plots_tracked(project)

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second
    assert "Data and pipelines are up to date." in run(["dvc", "status"], project)
    roots = [project / "data" / "interim", project / "data" / "processed", project / "reports",
             project / "models", project / "mlruns", project / "mlflow.db"]
    assert_no_identifiers(demo / "metadata.csv", roots, project)

    # The outputs are in the DVC cache and can be pushed to the default local remote.
    run(["dvc", "push"], project)
    assert any((project / ".dvc-remote").rglob("*"))
    assert_release_pins_the_version(project)


def assert_file_faults_found(project: Path, faults: list[dict]) -> None:
    """Each planted file fault is in the quarantine or the manifest, with the right reason."""
    import csv

    import pandas as pd

    (mapping_file,) = (project.parent / "keys").rglob("video_mapping.json")
    mapping = json.loads(mapping_file.read_text())["videos"]
    manifest = pd.read_parquet(project / "data" / "interim" / "manifest.parquet")
    with open(project / "data" / "interim" / "quarantine_ingest.csv", encoding="utf-8") as f:
        quarantined = {(r["line"], r["reason"]) for r in csv.DictReader(f)}
    by_kind = {f["kind"]: f for f in faults}
    for kind, reason in (("zero_byte", "zero_byte"), ("truncated", "truncated"),
                         ("non_video", "unreadable"), ("missing_file", "missing_file")):
        assert (str(by_kind[kind]["lines"][0]), reason) in quarantined, kind
    assert ("", "no_metadata_row") in quarantined
    vfr_id = mapping[by_kind["vfr"]["filename"]].split(".")[0]
    flagged = manifest.set_index("video_id").loc[vfr_id]
    assert flagged["vfr"] and "vfr" in flagged["warnings"] and flagged["status"] == "ok"
    others = manifest[manifest["video_id"] != vfr_id]
    assert (others["status"] == "ok").all() and (others["warnings"] == "").all()
    validation = json.loads((project / "reports" / "validation" / "summary.json").read_text())
    assert validation["passed"] and validation["quarantined_by_validate"] == 0
    assert [w["expectation"] for w in validation["warnings"]] == [
        "labels.expect_column_values_to_be_between(age_gap)"]  # the planted age mismatch


def assert_duplicates_found_and_split_together(project: Path, faults: list[dict]) -> None:
    """The planted near-duplicate and its source form the only cluster, in one split; no child
    is in two splits; the split reproduces with its seed and changes with another."""
    import pandas as pd

    (mapping_file,) = (project.parent / "keys").rglob("video_mapping.json")
    mapping = json.loads(mapping_file.read_text())["videos"]
    planted = next(f for f in faults if f["kind"] == "near_duplicate")
    pair = sorted(mapping[planted[k]].split(".")[0] for k in ("filename", "duplicate_of"))
    duplicates = json.loads((project / "data" / "interim" / "duplicates.json").read_text())
    assert [c["video_ids"] for c in duplicates["clusters"]] == [pair]
    assert (project / "reports" / "dedup" / "sheets" / "dup-001.png").is_file()
    splits_csv = project / "data" / "processed" / "splits.csv"
    splits = pd.read_csv(splits_csv, dtype=str, keep_default_na=False).set_index("video_id")
    assert splits.loc[pair[0], "split"] == splits.loc[pair[1], "split"]
    assert (splits.groupby("subject_id")["split"].nunique() == 1).all()
    assert set(splits["split"]) == {"train", "val", "test"}
    before = splits_csv.read_bytes()
    run(["dvc", "repro", "-f", "split"], project)
    assert splits_csv.read_bytes() == before
    params_file = project / "params.yaml"
    original = params_file.read_text()
    changed = yaml.safe_load(original)
    outcomes = []
    for seed in (1, 2, 3):  # 4 children give few distinct splits; one of three seeds differs
        changed["split"]["seed"] = seed
        params_file.write_text(yaml.safe_dump(changed, sort_keys=False))
        run(["dvc", "repro", "split"], project)
        outcomes.append(splits_csv.read_bytes())
    assert any(o != before for o in outcomes)
    params_file.write_text(original)
    run(["dvc", "repro", "split"], project)
    assert splits_csv.read_bytes() == before


def assert_clips_cached_reproducibly(project: Path) -> None:
    """Every split video has its clips in the cache; a forced rerun writes the same bytes."""
    import pandas as pd

    clips = project / "data" / "processed" / "clips"
    splits = pd.read_csv(project / "data" / "processed" / "splits.csv", dtype=str)
    index = pd.read_csv(clips / "index.csv", dtype=str)
    pairs = [set(zip(t["video_id"], t["split"], strict=True)) for t in (index, splits)]
    assert pairs[0] == pairs[1]
    summary = json.loads((project / "reports" / "clips" / "summary.json").read_text())
    assert summary["failed"] == [] and summary["clips"] == len(index)

    def cache_hash() -> str:
        lock = yaml.safe_load((project / "dvc.lock").read_text())
        return lock["stages"]["clips"]["outs"][0]["md5"]

    before = cache_hash()
    run(["dvc", "repro", "-f", "clips"], project)
    assert cache_hash() == before


def assert_sanity_checked(project: Path) -> None:
    """The sanity report passed for every model, with Grad-CAM figures; DVC reads it as metrics."""
    from PIL import Image

    report = json.loads((project / "reports" / "sanity.json").read_text())
    assert not report["failures"] and set(report["models"]) == {"center_frame", "pool2d",
                                                                "r2plus1d"}
    for model, entry in report["models"].items():
        shuffle, overfit = entry["label_shuffle"], entry["overfit"]
        # the shrunk demo's few validation videos cannot tell chance from learning: said so
        assert shuffle["status"] == "passed" or (
            shuffle["status"] == "not_proven" and "validation videos" in shuffle["reason"])
        assert (overfit["status"] == "passed" and overfit["train_acc"] >= 0.95) or (
            overfit["status"] == "not_proven" and overfit["reason"])
        assert Image.open(project / "reports" / "sanity" / f"gradcam_{model}.gif").n_frames > 1
    files = next(iter(_json(run(["dvc", "metrics", "show", "--json"], project)).values()))["data"]
    assert set(files["reports/sanity.headline.json"]["data"]) == {"flagged"}  # its headline
    assert "models/pool2d/metrics.json" not in files  # the detail is an output, not a metric


@contextlib.contextmanager
def mlflow_ui(project: Path) -> Iterator[tuple[str, Callable[..., dict]]]:
    """`vidlab ui` on a free loopback port: yields its address and a REST GET helper."""
    import signal
    import socket
    import time
    import urllib.parse
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = project.parent / "ui.log"
    with open(log, "w") as out:
        server = subprocess.Popen([str(Path(sys.executable).parent / "vidlab"), "ui", "--port",
                                   str(port)], cwd=project, env=env, stdout=out, stderr=out,
                                  start_new_session=True)

    def get(endpoint: str, **query: str) -> dict:
        url = f"{base}{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    try:
        for _ in range(240):  # start-up: imports and database migrations
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.5)
        else:
            pytest.fail(f"mlflow server did not come up:\n{log.read_text()}")
        yield base, get
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _runs(base: str, experiment_id: str) -> list[dict]:
    import urllib.request

    request = urllib.request.Request(
        f"{base}/api/2.0/mlflow/runs/search", method="POST",
        data=json.dumps({"experiment_ids": [experiment_id], "max_results": 100}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["runs"]


def assert_runs_served_by_mlflow_ui(project: Path) -> None:
    """`vidlab ui` starts a real MLflow server on loopback; its REST API shows every model's run
    side by side under one parent, under one naming scheme, with the same plot artifact."""
    import urllib.request

    with mlflow_ui(project) as (base, get):
        experiment = get("/api/2.0/mlflow/experiments/get-by-name", experiment_name="vidlab")
        experiment_id = experiment["experiment"]["experiment_id"]
        runs = _runs(base, experiment_id)
        tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
        models = {t.get("vidlab.model"): r for t, r in zip(tags, runs, strict=True)}
        assert set(EVALUATED) <= set(models)
        exp_tags = {t["key"]: t["value"] for t in experiment["experiment"].get("tags", [])}
        assert exp_tags["mlflow.experimentKind"] == "custom_model_development"  # opens on runs
        parents = {t.get("mlflow.parentRunId") for t in tags if t.get("vidlab.model")}
        assert len(parents) == 1 and None not in parents  # side by side under one pipeline run
        for model in EVALUATED:
            run_id = models[model]["info"]["run_id"]
            assert models[model]["info"]["status"] == "FINISHED"
            metrics = {m["key"] for m in models[model]["data"]["metrics"]}
            summary = {key for key in metrics if not key.startswith("epoch/")}
            # one validation video accuracy, named alike in every model (classical included);
            # the per-epoch history is under epoch/ and looks like nothing else
            assert [k for k in summary if "val" in k and "acc" in k] == ["val_video_acc"], metrics
            assert {"test_video_acc", "test_video_acc_lo", "test_video_acc_hi", "test_video_f1",
                    "test_video_auroc"} <= summary
            assert len(summary) <= 15  # the compare view is a short list
            run_tags = {t["key"]: t["value"] for t in models[model]["data"]["tags"]}
            assert "Test video accuracy" in run_tags["mlflow.note.content"]
            top = get("/api/2.0/mlflow/artifacts/list", run_id=run_id)["files"]
            assert "evaluation.png" in {f["path"] for f in top if not f["is_dir"]}
            if model == "classical":
                continue
            assert {"epoch/val_video_acc", "epoch/train_loss"} <= metrics
            history = get("/api/2.0/mlflow/metrics/get-history", run_id=run_id,
                          metric_key="epoch/val_video_acc")["metrics"]
            assert len(history) == 2  # one per epoch (train.epochs: 2)
            files = get("/api/2.0/mlflow/artifacts/list", run_id=run_id, path="model")["files"]
            assert [f["path"] for f in files] == ["model/model.pt"]
        parent = get("/api/2.0/mlflow/runs/get", run_id=parents.pop())["run"]
        parent_metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
        assert {"videos", "quarantined", "train_videos", "best_test_video_acc",
                "go"} <= set(parent_metrics)
        # its duration spans the model stages up to the card, not the instant it was created
        assert int(parent["info"]["end_time"]) - int(parent["info"]["start_time"]) > 1000
        assert "readiness" in {t["key"]: t["value"] for t in parent["data"]["tags"]}[
            "mlflow.note.content"]
        with urllib.request.urlopen(base + "/", timeout=30) as response:
            assert response.status == 200 and b"<html" in response.read().lower()


@pytest.mark.slow
def test_pages_render_offline_in_chromium(built: tuple[Path, str]) -> None:
    """What a researcher opens after `dvc repro`, in headless Chromium with every host name but
    127.0.0.1 unresolvable: the DVC plots, the Data Docs, the EDA page, and the MLflow runs and
    compare pages. The screenshots stay beside the project (``screens/``) to be looked at."""
    import re

    need_chromium()
    project, _ = built
    shots, profile = project.parent / "screens", project.parent / "chromium-profile"
    shots.mkdir(exist_ok=True)

    run(["dvc", "plots", "show", "-o", str(project.parent / "plots_page")], project)
    page = project.parent / "plots_page" / "index.html"
    assert_offline_page(page.read_text())
    dom = look(page.as_uri(), profile, screenshot=shots / "dvc-plots.png")
    assert dom.count('class="marks"') >= 3  # confusion, ROC and PR, drawn by the inlined vega
    assert dom.count("<img") >= 4  # each evaluated model's rendered plots beside them

    docs = project / "reports" / "validation" / "docs" / "index.html"
    dom = look(docs.as_uri(), profile, screenshot=shots / "data-docs.png")
    assert dom.count('href="validations/') == 3 and "Validated at" in dom

    eda = project / "reports" / "eda" / "index.html"
    dom = look(eda.as_uri(), profile, screenshot=shots / "eda.png")
    assert "<figcaption" in dom

    with mlflow_ui(project) as (base, get):
        said = (project.parent / "ui.log").read_text()
        url = re.search(r"open (http://\S+) for the training runs", said).group(1)
        port = base.rsplit(":", 1)[1]
        assert url.startswith(base) and f":{port}/#/experiments/" in url
        dom = look(url, profile, screenshot=shots / "mlflow-runs.png", wait_ms=30_000)
        assert "pipeline-" in dom  # the training runs, not the GenAI overview
        assert "Detect Issues" not in dom and "Traces 0" not in dom
        experiment = get("/api/2.0/mlflow/experiments/get-by-name", experiment_name="vidlab")
        experiment_id = experiment["experiment"]["experiment_id"]
        ids = [r["info"]["run_id"] for r in _runs(base, experiment_id)
               if any(t["key"] == "vidlab.model" and t["value"] in EVALUATED
                      for t in r["data"]["tags"])]
        compare = (f"{base}/#/compare-runs?runs={json.dumps(ids)}"
                   f"&experiments={json.dumps([experiment_id])}").replace(" ", "")
        dom = look(compare, profile, screenshot=shots / "mlflow-compare.png", wait_ms=30_000)
        assert "test_video_acc" in dom and "val_video_acc" in dom
    for shot in shots.iterdir():
        assert shot.stat().st_size > 10_000, shot  # a page, not a blank


def _json(printed: str):
    value, _ = json.JSONDecoder().raw_decode(printed[printed.index("{"):])
    return value


def assert_metrics_and_plots_tracked(project: Path) -> None:
    """`dvc metrics show` lists the three baselines; `dvc plots show` draws their confusion
    matrices and ROC curves; a training param changed with `dvc exp run` shows in
    `dvc metrics diff`."""
    models = ("center_frame", "pool2d", "r2plus1d")
    printed = run(["dvc", "metrics", "show"], project)
    assert max(len(line) for line in printed.splitlines()) <= 200, printed  # fits a terminal
    shown = next(iter(_json(run(["dvc", "metrics", "show", "--json"], project)).values()))
    for model in models:
        headline = shown["data"][f"reports/metrics/{model}.headline.json"]["data"]
        assert {"val_acc", "acc", "acc_lo", "acc_hi", "f1", "auc"} <= set(headline)
    for stage in ("probe", "dedup", "split", "clips", "validation"):
        assert "videos" in shown["data"][f"reports/{stage}/headline.json"]["data"]
    table = (project / "reports" / "models.md").read_text()
    assert all(f"| `{model}` |" in table for model in models)
    run(["dvc", "plots", "show", "-o", str(project.parent / "plots_html")], project)
    page = (project.parent / "plots_html" / "index.html").read_text()
    for name in ("confusion", "roc", "precision_recall"):
        assert name in page
    # DVC names each line by the file, shortened to what tells the files apart
    assert all(f"{model}/roc.csv" in page and f"{model}/confusion.csv" in page
               for model in models)
    assert_offline_page(page)
    assert all(f"{model}_summary.png" in page for model in models)  # the images, beside

    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline results"], project)
    before = shown["data"]["reports/metrics/pool2d.headline.json"]["data"]["val_acc"]
    out = run(["dvc", "exp", "run", "-S", "train.lr=0.0003", "-S", "train.epochs=1"], project)
    assert "Running stage 'train@pool2d'" in out and "Running stage 'evaluate@pool2d'" in out
    printed = run(["dvc", "metrics", "diff"], project)
    assert max(len(line) for line in printed.splitlines()) <= 200, printed
    diff = _json(run(["dvc", "metrics", "diff", "--json"], project))
    changed = diff["reports/metrics/pool2d.headline.json"]  # {"val_acc": {old, new, diff}}
    assert any(v.get("old") != v.get("new") for v in changed.values())
    if "val_acc" in changed:
        assert changed["val_acc"]["old"] == before


def assert_offline_page(page: str) -> None:
    """No script or stylesheet from the network: the page renders on an offline machine."""
    import re

    remote = re.findall(r"<(?:script|link|img)[^>]*(?:src|href)=[\"']?(?:https?:)?//[^>]*>",
                        page, flags=re.IGNORECASE)
    assert not remote, remote[:3]
    assert "vega-embed" in page  # inlined by .dvc/plots/offline.html


def assert_card_counts_and_no_go_items(project: Path) -> None:
    """The card's counts are the manifest's and the summary's; a duplicate moved across splits,
    or a failing sanity check, turns the verdict to No-Go naming the item."""
    import re

    import pandas as pd

    reports = project / "reports"
    text = (reports / "DATASET_CARD.md").read_text()
    summary = json.loads((reports / "summary" / "summary.json").read_text())
    manifest = pd.read_parquet(project / "data" / "interim" / "manifest.parquet")
    splits_csv = project / "data" / "processed" / "splits.csv"
    splits = pd.read_csv(splits_csv, dtype=str, keep_default_na=False)
    found = re.search(r"\*\*Videos\*\*: (\d+) de-identified videos with metadata \(summary "
                      r"report\); (\d+) probed in the manifest, (\d+) pass the integrity "
                      r"check; (\d+) in the splits", text)
    assert found, text
    assert [int(n) for n in found.groups()] == [
        summary["total_videos"], len(manifest), int((manifest["status"] == "ok").sum()),
        len(splits)]
    for label, count in summary["label_distribution"].items():
        assert f"| {label} | {count} (" in text
    for domain, count in summary["domain_distribution"].items():
        assert f"| {domain} | {count} (" in text
    for split, count in splits["split"].value_counts().items():
        assert re.search(rf"^\| {split} \| {count} \|", text, re.M), split
    assert f"`{summary['dataset_fingerprint']}`" in text
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    manifest_md5 = next(o["md5"] for o in lock["stages"]["probe"]["outs"]
                        if o["path"] == "data/interim/manifest.parquet")
    assert f"| `data/interim/manifest.parquet` | `{manifest_md5}` |" in text
    readiness = json.loads((reports / "readiness.json").read_text())
    assert len(readiness["items"]) == 8
    assert readiness["verdict"] in ("Go", "No-Go", "Not proven")
    assert "no_leakage" not in readiness["failed"] and "sanity_passed" not in readiness["failed"]
    eda = reports / "eda"
    assert (eda / "index.html").is_file() and (eda / "tsne_model.png").is_file()
    assert (project / "reports" / "metrics" / "classical.json").is_file()

    # a near-duplicate moved to another split (in a copy: the pipeline's files stay as they are)
    duplicates = json.loads((project / "data" / "interim" / "duplicates.json").read_text())
    moved = duplicates["clusters"][0]["video_ids"][1]
    where = splits.set_index("video_id").loc[moved, "split"]
    leaky = splits.copy()
    leaky.loc[leaky["video_id"] == moved, "split"] = "test" if where != "test" else "train"
    leaky_csv = project.parent / "leaky_splits.csv"
    leaky.to_csv(leaky_csv, index=False)
    out = project.parent / "carded"
    printed = run(["vidlab", "card", "--splits", str(leaky_csv), "--out", str(out / "card.md"),
                   "--readiness", str(out / "readiness.json")], project)
    result = json.loads((out / "readiness.json").read_text())
    assert result["verdict"] == "No-Go" and "no_leakage" in result["failed"]
    assert re.search(r"No-Go +no_leakage", printed) and duplicates["clusters"][0]["id"] in printed
    # a failing sanity check, in a copy of the reports
    copied = project.parent / "reports_copy"
    shutil.copytree(reports, copied)
    sanity = json.loads((copied / "sanity.json").read_text())
    sanity |= {"passed": False, "failures": ["pool2d label_shuffle: val 1.00 above the range"]}
    (copied / "sanity.json").write_text(json.dumps(sanity))
    run(["vidlab", "card", "--reports", str(copied), "--out", str(out / "card2.md"),
         "--readiness", str(out / "readiness2.json")], project)
    result = json.loads((out / "readiness2.json").read_text())
    assert result["verdict"] == "No-Go" and "sanity_passed" in result["failed"]
    assert "pool2d label_shuffle" in (out / "readiness2.md").read_text()


def assert_release_pins_the_version(project: Path) -> None:
    """`vidlab release v1` tags and pushes; after the data changes and the pipeline reruns, a
    second repository's `dvc import --rev v1` (from this repository and its local remote, with
    the local cache gone) yields the v1 manifest byte for byte."""
    manifest = project / "data" / "interim" / "manifest.parquet"
    (project / "stray.txt").write_text("x")
    assert "not clean" in run_failing(["vidlab", "release", "v1"], project)
    (project / "stray.txt").unlink()
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "reproduced"], project)
    verdict = json.loads((project / "reports" / "readiness.json").read_text())["verdict"]
    if verdict != "Go":  # the shrunk demo may miss an item (e.g. balance with 4 children)
        assert f"Readiness is {verdict}" in run_failing(["vidlab", "release", "v1"], project)
    printed = run(["vidlab", "release", "v1", *(["--allow-nogo"] if verdict != "Go" else [])],
                  project)
    assert "dvc import" in printed and "--rev v1" in printed and "git checkout v1" in printed
    citation = yaml.safe_load((project / "CITATION.cff").read_text())
    summary = json.loads((project / "reports" / "summary" / "summary.json").read_text())
    assert citation["version"] == "v1" and citation["cff-version"] == "1.2.0"
    assert any(summary["dataset_fingerprint"] in i["value"] for i in citation["identifiers"])
    tag = run(["git", "tag", "-n9", "v1"], project)
    assert summary["dataset_fingerprint"] in tag
    assert run(["git", "status", "--porcelain"], project).strip() == ""
    assert "already exists" in run_failing(["vidlab", "release", "v1"], project)
    v1 = manifest.read_bytes()

    params_file = project / "params.yaml"  # change the data, rebuild it
    params = yaml.safe_load(params_file.read_text())
    params["demo"]["noise_std"] = params["demo"]["noise_std"] + 2.0
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "probe"], project)
    assert manifest.read_bytes() != v1
    shutil.rmtree(project / ".dvc" / "cache")  # v1 now exists only in the remote

    consumer = project.parent / "consumer"
    consumer.mkdir()
    run(["git", "init", "-q"], consumer)
    run(["dvc", "init", "-q"], consumer)
    run(["dvc", "import", str(project), "data/interim/manifest.parquet", "--rev", "v1",
         "-o", "manifest.parquet"], consumer)
    assert (consumer / "manifest.parquet").read_bytes() == v1
    imported = yaml.safe_load((consumer / "manifest.parquet.dvc").read_text())
    assert imported["deps"][0]["repo"]["rev"] == "v1"


def run_failing(cmd: list[str], cwd: Path) -> str:
    """Run a command that must fail; return what it printed."""
    env = os.environ | {"VIDLAB_KEY_DIR": str(cwd.parent / "keys"), "DVC_NO_ANALYTICS": "1",
                        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode != 0, f"{cmd} should have failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.slow
def test_a_broken_csv_stops_the_pipeline_and_a_fixed_one_passes(project: Path) -> None:
    import csv
    import io

    run(["dvc", "repro", "demo"], project)
    study = project / "study"
    shutil.copytree(project / "data" / "raw" / "demo", study)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] = {"source": "custom", "csv": "study/metadata.csv", "videos": "study/videos"}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    original = (study / "metadata.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(original)))

    def write(rows: list[dict], columns: list[str]) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (study / "metadata.csv").write_text(out.getvalue(), encoding="utf-8")

    columns = list(rows[0])
    write(rows, [c for c in columns if c != "label"])
    assert "lacks the required column(s) label" in run_failing(["dvc", "repro"], project)
    write([r | {"child_age": "99"} for r in rows], columns)
    assert "No usable video: all" in run_failing(["dvc", "repro"], project)
    write([r | {"label": "unsure"} if k % 2 else r for k, r in enumerate(rows)], columns)
    message = run_failing(["dvc", "repro"], project)
    assert "Validation stopped the pipeline" in message and "rows are quarantined" in message
    (study / "metadata.csv").write_text(original, encoding="utf-8")
    assert "failed" not in run(["dvc", "repro"], project).lower()


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


