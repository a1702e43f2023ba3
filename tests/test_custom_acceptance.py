"""A researcher's own small dataset through the whole pipeline, card text left as shipped.

About 20 videos of 8 children with `data.source: custom` and the demo's card text still in
params.yaml: `dvc repro` must finish, and readiness must refuse Go on exactly what this data
cannot support, saying what to do: the card describes the demo (write your own), and the few
validation videos cannot tell a label-shuffled model from a learning one (add videos). The
reports must tell one story (counts and one dataset fingerprint) on this data too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_project, run
from tests.story import assert_one_story
from vidlab import config as params_mod
from vidlab.config import replace
from vidlab.stages.demo import stage as generate


@pytest.mark.slow
def test_small_custom_dataset_is_not_proven_where_its_evidence_is_thin(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "repo")
    raw = project / "data" / "raw" / "custom"
    shipped = params_mod.load(project / "params.yaml")
    small = replace(shipped.demo, n_videos=20, n_children=8, width=80, height=64,
                                plant_faults=False)
    generate.run(small, seed=7, out=raw)  # stands in for the researchers' own recordings
    (raw / "faults.json").unlink(missing_ok=True)
    secrets = _identifying_strings(raw)
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

    # a home and a temp folder of its own, to see what the run leaves outside the project
    outside = {"HOME": tmp_path / "home", "TMPDIR": tmp_path / "tmp"}
    for folder in outside.values():
        folder.mkdir()
    started = time.time()
    env = {k: str(v) for k, v in outside.items()}
    printed = run(["dvc", "repro"], project, env)
    assert "Running stage 'card'" in printed
    # dvc push to a remote: the objects must not name (or contain) a raw file
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--local", "study", str(remote)], project, env)
    run(["dvc", "push", "-r", "study"], project, env)
    assert any(remote.rglob("*.dir")), "the push sent no folder listing: the check proves nothing"
    for folder in (*outside.values(), remote, project / "data" / "interim",
                   project / "data" / "processed", project / "reports", project / "models",
                   project / ".vidlab"):
        _assert_nothing_names(folder, secrets)
    # anything else the run wrote in the project (dvc.lock, MLflow's store, logs, ...); DVC's own
    # state databases are the one place inside the project that holds raw paths, by design
    _assert_nothing_names(project, secrets, since=started,
                          skip=(raw, project / ".dvc" / "site-cache", project / ".dvc" / "tmp",
                                project / ".git"))
    site = Path("/var/tmp/dvc")  # DVC's machine-wide default, now pointed into the project
    if site.exists():
        assert not [p for p in site.rglob("*") if p.stat().st_mtime >= started]

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


def _identifying_strings(raw: Path) -> set[str]:
    """What identifies a child in the raw data: each file's name (a child's name and a date),
    the child ids and the exact recording dates."""
    import pandas as pd

    meta = pd.read_csv(raw / "metadata.csv", dtype=str)
    found = {Path(name).stem for name in meta["filename"]}
    found |= set(meta["child_id"]) | set(meta["recorded_on"])
    assert all(len(s) >= 8 for s in found), found
    return found


def _assert_nothing_names(folder: Path, secrets: set[str], *, since: float = 0.0,
                          skip: tuple[Path, ...] = ()) -> None:
    """No file under ``folder`` (written at ``since`` or later) has a secret in its name or its
    bytes (UTF-8)."""
    encoded = [s.encode() for s in secrets]
    for path in folder.rglob("*"):
        if any(path.is_relative_to(s) for s in skip) or not path.is_file() or path.is_symlink():
            continue
        assert not any(s in path.as_posix() for s in secrets), path
        if path.stat().st_mtime < since:
            continue
        data = path.read_bytes()
        leaked = [s for s in encoded if s in data]
        assert not leaked, (path, leaked[:3])
