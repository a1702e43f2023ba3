"""Mutation tests of the readiness checklist on a real pipeline output.

Each of the eight items gets exactly its own fault planted into a copy of what `dvc repro` wrote
(the pipeline's own files stay as they are); the card is recomputed on the copy. That item, and
no other, must change: it leaves Go (or, where the small test data already kept it from Go, it
changes state or its reason names the planted evidence), and its reason names that evidence.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import config as params_mod
from vidlab.config import replace
from vidlab.models.registry import EVALUATED
from vidlab.stages.card import readiness
from vidlab.stages.card import stage as card_mod
from vidlab.tracking.pipeline import inputs_hash


def states(project: Path, out: Path, params: params_mod.Params | None = None,
           **inputs: Path) -> dict[str, dict]:
    """The readiness items the card computes from ``inputs`` (the project's own by default)."""
    where = {"reports": project / "reports",
             "manifest": project / "data" / "interim" / "manifest.parquet",
             "splits": project / "data" / "processed" / "splits.csv",
             "metadata": project / "data" / "interim" / "metadata.csv",
             "duplicates": project / "data" / "interim" / "duplicates.json",
             "lock": project / "dvc.lock", "clips": project / "data" / "processed" / "clips"}
    where |= inputs
    out.mkdir(parents=True, exist_ok=True)
    result = card_mod.run(params or params_mod.load(project / "params.yaml"), root=project,
                          models=list(EVALUATED), card=out / "card.md",
                          readiness_json=out / "readiness.json", **where)
    return {item["id"]: item for item in result["items"]}


def _reports_copy(project: Path, work: Path) -> Path:
    copied = work / "reports"
    if not copied.exists():
        shutil.copytree(project / "reports", copied)
    return copied


def _split_videos(project: Path) -> pd.DataFrame:
    splits = pd.read_csv(project / "data" / "processed" / "splits.csv", dtype=str,
                         keep_default_na=False)
    return splits[splits["split"].isin(("train", "val", "test"))]


# --- the eight faults: each returns (card inputs, params or None, words its reason must hold) --


def corrupt_video(project: Path, work: Path):
    """A video in the splits that the probe found corrupt."""
    video = _split_videos(project)["video_id"].iloc[0]
    manifest = pd.read_parquet(project / "data" / "interim" / "manifest.parquet")
    manifest.loc[manifest["video_id"] == video, "status"] = "corrupt"
    path = work / "manifest.parquet"
    manifest.to_parquet(path, index=False)
    # the pipeline that probed it would have drawn its EDA from it: only decoding is at fault
    reports = _reports_copy(project, work)
    eda = reports / "eda" / "summary.json"
    summary = json.loads(eda.read_text())
    summary["inputs_hash"] = inputs_hash(path, project / "data" / "processed" / "splits.csv")
    eda.write_text(json.dumps(summary))
    return {"manifest": path, "reports": reports}, None, ["did not decode"]


def review_pair_across_splits(project: Path, work: Path):
    """Two videos in different splits at a distance just above the duplicate threshold."""
    used = _split_videos(project)
    a = used[used["split"] == "train"]["video_id"].iloc[0]
    b = used[used["split"] != "train"]["video_id"].iloc[0]
    duplicates = json.loads((project / "data" / "interim" / "duplicates.json").read_text())
    threshold = duplicates["params"]["threshold"]
    duplicates["review"] = [{"a": a, "b": b, "distance": threshold + 0.005},
                            *duplicates.get("review", [])]
    path = work / "duplicates.json"
    path.write_text(json.dumps(duplicates))
    return {"duplicates": path}, None, [a, b, "review pair"]


def video_without_row(project: Path, work: Path):
    """The metadata lost the row of a video the probe and the splits hold."""
    metadata = pd.read_csv(project / "data" / "interim" / "metadata.csv", dtype=str,
                           keep_default_na=False)
    path = work / "metadata.csv"
    metadata.iloc[1:].to_csv(path, index=False)
    return {"metadata": path}, None, ["video(s) without a row"]


def split_without_a_class(project: Path, work: Path):
    """The split report shows a split without a class it holds."""
    reports = _reports_copy(project, work)
    path = reports / "split" / "summary.json"
    summary = json.loads(path.read_text())
    split, first = next((s, c) for s in ("test", "val", "train")
                        for c, n in summary["splits"][s]["classes"].items() if n)
    summary["splits"][split]["classes"][first] = 0
    path.write_text(json.dumps(summary))
    return {"reports": reports}, None, ["without every class", split, first]


def frozen_clip(project: Path, work: Path):
    """A cached clip whose frames are all its first frame, although sampled from several."""
    clips = work / "clips"
    shutil.copytree(project / "data" / "processed" / "clips", clips)
    index = pd.read_csv(clips / "index.csv", dtype={"frames": str, "key": str, "split": str})
    moving = index[[len(set(f.split())) > 1 for f in index["frames"]]].iloc[0]
    path = clips / f"{moving['split']}.npy"
    array = np.load(path, mmap_mode="r+")
    array[int(moving["row"])][:] = np.asarray(array[int(moving["row"])][0])
    array.flush()
    del array
    return {"clips": clips}, None, ["repeat one picture", str(moving["key"])]


def stale_eda(project: Path, work: Path):
    """The EDA page was made from other splits than the current ones."""
    reports = _reports_copy(project, work)
    path = reports / "eda" / "summary.json"
    summary = json.loads(path.read_text())
    summary["inputs_hash"] = "h-0000000000000000"
    path.write_text(json.dumps(summary))
    return {"reports": reports}, None, ["other data"]


def shuffle_learns(project: Path, work: Path):
    """A label leak: the label-shuffled model learns the validation set."""
    reports = _reports_copy(project, work)
    path = reports / "sanity.json"
    sanity = json.loads(path.read_text())
    failure = "pool2d label_shuffle: val 1.00 above the chance range"
    sanity |= {"passed": False, "failures": [failure], "not_proven": []}
    path.write_text(json.dumps(sanity))
    return {"reports": reports}, None, [failure]


def demo_text_on_custom_data(project: Path, work: Path):
    """data.source is custom but the card still holds the demo's licence and consent."""
    params = params_mod.load(project / "params.yaml")
    data = replace(params.data, source="custom", csv="data/raw/mine/metadata.csv",
                               videos="data/raw/mine/videos")
    params = replace(params, data=data)
    return {}, params, ["still describe the synthetic demo", "card.licence", "card.consent"]


FAULTS: dict[str, Callable] = {
    "decode_and_metadata": corrupt_video,
    "no_leakage": review_pair_across_splits,
    "labels_valid": video_without_row,
    "splits_balanced": split_without_a_class,
    "preprocessing_reproducible": frozen_clip,
    "eda_done": stale_eda,
    "sanity_passed": shuffle_learns,
    "card_complete": demo_text_on_custom_data,
}


def assert_each_fault_moves_only_its_item(project: Path, work: Path) -> dict[str, str]:
    """Plant each fault in turn; return {item: its state with the fault}."""
    assert set(FAULTS) == {key for key, _ in readiness.ITEMS}
    baseline = states(project, work / "baseline")
    moved = {}
    for key, plant in FAULTS.items():
        folder = work / key
        folder.mkdir(parents=True)
        inputs, params, words = plant(project, folder)
        got = states(project, folder / "card", params, **inputs)
        for other, item in got.items():
            if other != key:
                assert item["state"] == baseline[other]["state"], (key, other, item["why"])
        item, before = got[key], baseline[key]
        assert item["state"] != readiness.GO, (key, item["why"])
        for word in words:
            assert word in item["why"], (key, word, item["why"])
        assert item["state"] != before["state"] or item["why"] != before["why"], key
        moved[key] = item["state"]
    return moved
