"""A researcher's own small dataset through the whole pipeline, card text left as shipped.

About 20 videos of 8 children with `data.source: custom` and the demo's card text still in
params.yaml: `dvc repro` must finish, and readiness must refuse Go on exactly what this data
cannot support, saying what to do: the card describes the demo (write your own), and the few
validation videos cannot tell a label-shuffled model from a learning one (add videos). The
reports must tell one story (counts and one dataset fingerprint) on this data too.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_project, run
from tests.story import assert_one_story
from vidlab import params as params_mod
from vidlab.demo import generate


@pytest.mark.slow
def test_small_custom_dataset_is_not_proven_where_its_evidence_is_thin(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "repo")
    raw = project / "data" / "raw" / "custom"
    shipped = params_mod.load(project / "params.yaml")
    small = dataclasses.replace(shipped.demo, n_videos=20, n_children=8, width=80, height=64,
                                plant_faults=False)
    generate.run(small, seed=7, out=raw)  # stands in for the researchers' own recordings
    (raw / "faults.json").unlink(missing_ok=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"].update(source="custom", csv="data/raw/custom/metadata.csv",
                          videos="data/raw/custom/videos")
    params["validate"]["min_side"] = 32
    params["split"].update(require_all_classes=False)
    params["train"].update(epochs=2, width=8, r2plus1d_width=8)  # the stages run; not for scores
    params["sanity"].update(shuffle_epochs=2, gradcam_clips=2)
    params["evaluate"].update(n_boot=50)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / "dvc.lock").unlink(missing_ok=True)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        run(cmd, project)

    printed = run(["dvc", "repro"], project)
    assert "Running stage 'card'" in printed

    readiness = json.loads((project / "reports" / "readiness.json").read_text())
    items = {item["id"]: item for item in readiness["items"]}
    assert readiness["verdict"] != "Go"
    card = items["card_complete"]
    assert card["state"] != "Go"
    assert "still describe the synthetic demo" in card["why"] and "params.yaml" in card["why"]
    assert {"licence", "consent"} <= set(card["evidence"]["demo_text_on_custom_data"])
    sanity = items["sanity_passed"]
    assert sanity["state"] != "Go"
    assert "validation videos" in sanity["why"] and "you have" in sanity["why"]
    shown = (project / "reports" / "readiness.md").read_text()
    assert "card_complete" in shown and "sanity_passed" in shown
    assert "Readiness: **Go**" not in (project / "reports" / "DATASET_CARD.md").read_text()
    story = assert_one_story(project)
    assert story["usable_videos"] == 20 and story["children"] == 8
