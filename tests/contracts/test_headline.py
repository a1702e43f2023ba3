"""The headline files DVC shows: shared short names, numbers only, and a `dvc metrics show` that
fits an ordinary terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.depgraph import ROOT
from vidlab.contracts.headline import MODEL_KEYS, STAGE_KEYS, model_headline, write_headline

WIDTH = 200  # characters: the bound for `dvc metrics show` on the demo


def _score(value: float | None, low: float | None, high: float | None) -> dict:
    return {"value": value, "low": low, "high": high}


def test_a_model_headline_takes_video_level_scores_and_their_bounds() -> None:
    result = {"val": {"video": {"acc": _score(0.8, 0.6, 0.9)}},
              "test": {"video": {"acc": _score(0.7, 0.5, 0.85),
                                 "macro_f1": _score(0.65, 0.4, 0.8),
                                 "auroc": _score(None, None, None)},  # one class: undefined
                       "clip": {"acc": _score(0.1, 0.0, 0.2)}}}
    assert model_headline(result) == {"val_acc": 0.8, "val_lo": 0.6, "val_hi": 0.9, "acc": 0.7,
                                      "acc_lo": 0.5, "acc_hi": 0.85, "f1": 0.65, "f1_lo": 0.4,
                                      "f1_hi": 0.8}
    assert model_headline({"val": {"video": {"acc": _score(0.5, 0.4, 0.6)}}}) == {
        "val_acc": 0.5, "val_lo": 0.4, "val_hi": 0.6}  # only the val split evaluated


def test_write_headline_keeps_the_shared_order_and_refuses_other_names(tmp_path: Path) -> None:
    path = tmp_path / "headline.json"
    write_headline(path, {"flagged": 2, "videos": 10})
    assert list(json.loads(path.read_text())) == ["videos", "flagged"]
    with pytest.raises(ValueError, match="not a headline"):
        write_headline(tmp_path / "bad.json", {"videos": 3, "test_video_acc": 0.5})
    with pytest.raises(ValueError, match="not a headline"):
        write_headline(tmp_path / "bad.json", {"videos": "ten"})
    assert not (tmp_path / "bad.json").exists()
    assert len(STAGE_KEYS + MODEL_KEYS) == len(set(STAGE_KEYS + MODEL_KEYS))


def test_dvc_metrics_show_fits_a_terminal_on_the_committed_results() -> None:
    """The real `dvc metrics show` on the repository's own (committed) headline files."""
    dvc = Path(sys.executable).parent / "dvc"
    shown = subprocess.run([str(dvc), "metrics", "show"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env=os.environ | {"DVC_NO_ANALYTICS": "1"})
    assert shown.returncode == 0, shown.stderr
    assert "failed to load" not in shown.stdout + shown.stderr, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert {"videos", "flagged", "val_acc", "acc", "acc_lo", "acc_hi", "f1",
            "auc"} <= set(lines[0].split())
    assert max(len(line) for line in lines) <= WIDTH, shown.stdout
    rows = {line.split()[0] for line in lines[1:] if line.strip()}
    models = {f"reports/metrics/{m}.headline.json" for m in
              ("center_frame", "pool2d", "r2plus1d", "classical")}
    stages = {f"reports/{s}/headline.json" for s in
              ("probe", "validation", "annotations", "dedup", "split", "clips")}
    tasks = {f"reports/tasks/{t}.headline.json" for t in
             ("segments", "boxes", "tracks", "masks", "captions")}
    assert models | stages | tasks | {"reports/sanity.headline.json"} == rows
    assert "score" in lines[0].split()
