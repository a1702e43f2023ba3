"""The conformance matrix as a user's own data (`data.source: custom`) through `dvc repro clips`.

Every intact file must reach the clip cache through both decoding backends, each cached clip
must show exactly the frames index.csv lists, in order and upright; the cut MKV and WebM must be
flagged truncated, the files cut before their index quarantined at ingest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests import mediamatrix as mm
from tests.conftest import copy_project, run
from vidlab.media.decode import decord_available

SIZE = 128  # letterboxed, a 128 x 96 picture keeps its pixels: rows 16..111 of the clip


def _write_dataset(raw: Path) -> dict[str, mm.Cell]:
    """The matrix under neutral file names, 8 children, labels alternating; {file name: cell}."""
    videos = raw / "videos"
    videos.mkdir(parents=True)
    files, rows = {}, ["filename,child_age,milestone_id,label,child_id"]
    for k, cell in enumerate(mm.cells()):
        name = f"take{k:03d}.{cell.container}"
        mm.write_cell(cell, videos, texture=k + 1, name=name)
        files[name] = cell
        label = ("achieved", "not_achieved")[k % 2]
        rows.append(f"{name},{12 + k % 6},M_12M_001,{label},child{k % 8}")
    (raw / "metadata.csv").write_text("\n".join(rows) + "\n")
    return files


def _check_cache(project: Path, ids: dict[str, str], backend: str,
                 exact: set[str]) -> dict:
    clips = project / "data" / "processed" / "clips"
    summary = json.loads((clips / "clips.json").read_text())
    assert summary["failed"] == []
    index = pd.read_csv(clips / "index.csv", dtype={"frames": str})
    assert set(index["video_id"]) == set(ids.values())  # every intact file is cached
    for split, part in index.groupby("split"):
        data = np.load(clips / f"{split}.npy", mmap_mode="r")
        for row in part.itertuples():
            if row.video_id not in exact:
                continue
            wanted = [int(i) for i in row.frames.split()]
            shown = [mm.read_index(np.asarray(f)[16:112]) for f in data[row.row]]
            assert shown == [(i, True) for i in wanted], (row.video_id, backend)
            assert len(set(wanted)) > 1  # the clip moves
    served = summary["backend_of"]
    assert set(served) == set(ids.values())
    return served


@pytest.mark.slow
def test_real_media_reaches_the_clip_cache_through_both_backends(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "repo")
    files = _write_dataset(project / "data" / "raw" / "custom")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"].update(source="custom", csv="data/raw/custom/metadata.csv",
                          videos="data/raw/custom/videos")
    params["validate"].update(max_quarantine_fraction=0.5)
    params["split"].update(require_all_classes=False)
    params["clips"].update(size=SIZE, crop="letterbox", target_fps=None, clip_len=6,
                           train_clips=1, eval_clips=2)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / "dvc.lock").unlink(missing_ok=True)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        run(cmd, project)

    run(["dvc", "repro", "clips"], project)

    mapping_file = next((tmp_path / "keys" / "mappings").rglob("video_mapping.json"))
    mapping = json.loads(mapping_file.read_text())["videos"]
    manifest = pd.read_parquet(project / "data" / "interim" / "manifest.parquet")
    status = dict(zip(manifest["path"].map(lambda p: Path(p).name), manifest["status"],
                      strict=True))
    quarantine = pd.read_csv(project / "data" / "interim" / "quarantine_ingest.csv", dtype=str)
    reasons = dict(zip(quarantine["line"].astype(int), quarantine["reason"], strict=True))
    for line, (name, cell) in enumerate(files.items(), start=2):
        if cell.damage == "cut":  # mkv/webm end early; mp4/mov/avi may lose their index too
            expected = {"truncated"} | ({"unreadable"} if cell.container in ("mp4", "mov", "avi")
                                        else set())
            assert reasons[line] in expected and name not in mapping, name
        elif cell.damage == "intact":
            assert status[mapping[name]] == "ok", name
        elif name in mapping:  # damaged mid-file: flagged by probe, or every frame intact
            assert status[mapping[name]] in ("ok", "truncated", "corrupt"), name

    ok = {Path(mapping[name]).stem for name in files if name in mapping
          and status[mapping[name]] == "ok"}
    ids = {name: Path(mapping[name]).stem for name, cell in files.items()
           if name in mapping and Path(mapping[name]).stem in ok}  # any damage probe let pass
    assert {n for n, c in files.items() if c.damage == "intact"} <= set(ids)
    # Frame by frame for every intact file. A file damaged mid-file whose decoder conceals the
    # damage without a word (no error, no corrupt flag, every frame there) cannot be told from
    # an intact one; such files reach the cache with the pictures the decoder makes of them.
    exact = {ids[n] for n, c in files.items() if c.damage == "intact"}
    # clips.backend auto: decord here, or PyAV alone where decord is not installed
    first = "decord" if decord_available() else "pyav"
    assert json.loads((project / "data" / "processed" / "clips" / "clips.json").read_text())[
        "backend"] == first
    served = _check_cache(project, ids, first, exact)
    refused = {ids[n] for n, c in files.items() if n in ids
               and (c.container == "avi" or c.codec in ("hevc", "mpeg4"))}
    # recorded per video; decord may also refuse a file whose rotation it cannot confirm
    assert refused <= {v for v, b in served.items() if b == "pyav"}

    params["clips"]["backend"] = "pyav"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "clips"], project)
    assert set(_check_cache(project, ids, "pyav", exact).values()) == {"pyav"}
