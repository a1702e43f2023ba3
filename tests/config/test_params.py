"""params.yaml loading: defaults, and a clear message for every kind of bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.depgraph import ROOT as REPO
from vidlab import config as params_mod
from vidlab.core.errors import ParamsError

ROOT = REPO


def repo_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_repository_params_load() -> None:
    loaded = params_mod.load(ROOT / "params.yaml")
    assert loaded.data.source == "demo"
    assert loaded.base.target == "label"
    assert loaded.demo.n_videos >= 120
    assert loaded.tracking.experiment


def test_every_key_in_params_yaml_is_a_field() -> None:
    """params.yaml spells out every parameter, so nothing hides behind a code default."""
    raw = repo_params()
    for name, cls in params_mod.SECTIONS.items():
        fields = set(cls.model_fields)
        assert set(raw[name]) == fields, name


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("demo", "n_videos", -3,
         "The 'n_videos' parameter of demo must be an int in [4, 100000]. Got -3 instead."),
        ("demo", "n_videos", True, "must be an int in [4, 100000]. Got True instead."),
        ("demo", "n_videos", "12", "must be an int in [4, 100000]. Got '12' instead."),
        ("demo", "fps", 2.5, "The 'fps' parameter of demo must be an int in [5, 60]."),
        ("demo", "noise_std", float("nan"), "'noise_std' parameter of demo must be a number"),
        ("demo", "plant_faults", "yes", "must be a bool (true/false). Got 'yes' instead."),
        ("data", "source", "s3", "must be one of 'demo', 'custom'. Got 's3' instead."),
        ("base", "target", "age", "must be one of 'label', 'domain', 'milestone_id'."),
        ("base", "classes", [], "The 'classes' parameter of base must be a list of strings."),
        ("base", "seed", -1, "The 'seed' parameter of base must be an int in [0, 4294967295]."),
        ("tracking", "experiment", "", "The 'experiment' parameter of tracking must be a string."),
        ("split", "strategy", ["group", "random"],
         "The 'strategy' parameter of split must be a list of values from 'stratified', 'group', "
         "'time'. Got ['group', 'random'] instead."),
        ("split", "seed", -2, "The 'seed' parameter of split must be an int in [0, 4294967295] or "
         "null."),
        ("dedup", "threshold", 0.7, "The 'threshold' parameter of dedup must be a number in "
         "[0.0, 0.5]."),
        ("clips", "clip_len", -3, "The 'clip_len' parameter of clips must be an int in [1, 512]. "
         "Got -3 instead."),
        ("clips", "backend", "opencv",
         "must be one of 'auto', 'decord', 'pyav'. Got 'opencv' instead."),
        ("clips", "target_fps", 0, "The 'target_fps' parameter of clips must be a number in "
         "[0.1, 240] or null."),
        ("clips", "mean", [0.5, 2.0, 0.5], "The 'mean' parameter of clips must be a list of"),
        ("augment", "use", ["spatial", "colour"], "The 'use' parameter of augment must be a list "
         "of values from 'spatial', 'temporal', 'compression'. Got ['spatial', 'colour']"),
        ("augment", "hflip", 1.5, "The 'hflip' parameter of augment must be a number in "
         "[0.0, 1.0]."),
        ("loader", "source", "hdf5", "must be one of 'memmap', 'shards', 'video'."),
    ],
)
def test_bad_value_names_key_allowed_and_found(section, key, value, message) -> None:
    raw = repo_params()
    raw[section][key] = value
    with pytest.raises(ParamsError) as info:
        params_mod.from_dict(raw)
    assert message in str(info.value)


def test_unknown_key_lists_allowed_keys() -> None:
    raw = repo_params()
    raw["demo"]["n_video"] = 10
    with pytest.raises(ParamsError, match=r"Unknown key\(s\) 'n_video' in the 'demo' section"):
        params_mod.from_dict(raw)


def test_unknown_section() -> None:
    raw = repo_params() | {"trian": {}}
    with pytest.raises(ParamsError, match="Unknown section"):
        params_mod.from_dict(raw)


def test_missing_required_key_falls_back_to_default() -> None:
    raw = repo_params()
    del raw["demo"]["crf"]
    assert params_mod.from_dict(raw).demo.crf == params_mod.DemoParams().crf


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"demo": {"min_seconds": 5.0, "max_seconds": 2.0}}, "must not exceed demo.max_seconds"),
        ({"demo": {"n_videos": 5, "n_children": 9}}, "every child needs at least one video"),
        ({"demo": {"width": 97}}, "must be even"),
        ({"data": {"csv": "/data/study/meta.csv"}}, "Set data.source: custom"),
        ({"data": {"source": "custom"}}, "Point them at your CSV"),
        ({"split": {"train": 0.8}}, r"must each be above 0 and sum to 1\. Got .*\(sum 1\.1\)"),
        ({"split": {"val": 0.0, "train": 0.85}}, "must each be above 0 and sum to 1"),
        ({"split": {"strategy": ["time", "stratified"]}}, "cannot combine 'time' and 'strat"),
        ({"split": {"strategy": ["time", "group"], "folds": 5}}, "folds cannot be used with"),
        ({"split": {"strategy": ["group", "group"]}}, "lists a strategy twice"),
        ({"split": {"folds": 1}}, "must be 0 \\(no k-fold\\) or at least 2"),
        ({"split": {"folds": 3, "val_fold": 3}}, "split.val_fold must be below split.folds"),
        ({"clips": {"std": [0.2, 0.2]}}, r"clips.std must list 3 numbers \(R, G, B\)"),
        ({"augment": {"jpeg": [90, 40]}}, r"augment.jpeg must be \[low, high\]"),
        ({"augment": {"use": ["spatial", "spatial"]}}, "augment.use lists a group twice"),
    ],
)
def test_cross_field_checks(change: dict, message: str) -> None:
    raw = repo_params()
    for section, values in change.items():
        raw[section].update(values)
    with pytest.raises(ParamsError, match=message):
        params_mod.from_dict(raw)


def test_augmentation_can_be_switched_off_entirely() -> None:
    raw = repo_params()
    raw["augment"]["use"] = []
    assert params_mod.from_dict(raw).augment.use == ()
    raw["split"]["strategy"] = []  # other lists still need at least one value
    with pytest.raises(ParamsError, match="'strategy' parameter of split"):
        params_mod.from_dict(raw)


def test_custom_source_accepts_real_paths() -> None:
    raw = repo_params()
    raw["data"] = {"source": "custom", "csv": "/study/meta.csv", "videos": "/study/videos"}
    assert params_mod.from_dict(raw).data.videos == "/study/videos"


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="No params file"):
        params_mod.load(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("demo: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        params_mod.load(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ParamsError, match="mapping of sections"):
        params_mod.load(bad)
