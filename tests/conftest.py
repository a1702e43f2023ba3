"""Shared fixtures: tiny synthetic videos, a shrunken params profile, the demo dataset."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vidlab import config as params_mod
from vidlab.config import replace
from vidlab.media.encode import write_video

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

def pytest_collection_modifyitems(config, items) -> None:
    """Where decord is not installed (a platform without its wheels, or the PyAV-only run with
    tests/no_decord first on PYTHONPATH), tests of decord itself are skipped; every other test,
    the pipeline's included, runs on PyAV and must give the same frames."""
    from vidlab.media.decode import decord_available

    if decord_available():
        return
    skip = pytest.mark.skip(reason="decord is not installed here (PyAV-only run)")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("decord") or any(
                isinstance(v, str) and v == "decord" for v in params.values()):
            item.add_marker(skip)


# A demo small enough for a test to generate in a second or two, still with every planted fault.
SMALL_DEMO = {
    "n_videos": 12,
    "n_children": 4,
    "width": 80,
    "height": 64,
    "min_seconds": 1.0,
    "max_seconds": 1.5,
    "workers": 1,
}


BINARY = (".mp4", ".npy", ".tar", ".png", ".gif")  # compressed bytes: only 6+ character terms


def assert_no_identifiers(demo_csv: Path, roots: list[Path], base: Path) -> None:
    """An independent privacy check: no child name, raw file name, child id or exact date from
    ``demo_csv`` in any file name (relative to ``base``) or content under ``roots``. Video bytes,
    pixel arrays and images (.mp4, .npy, .tar shards, .png, .gif) are searched only for terms of
    6+ characters, which compressed data does not hit by chance."""
    import csv

    from vidlab.synth.catalog import FIRST_NAMES

    with open(demo_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    needles = {n for n in FIRST_NAMES if len(n) >= 4}
    for row in rows:
        needles |= {row["filename"], Path(row["filename"]).stem, row["child_id"],
                    row["recorded_on"]}
    for root in roots:
        for path in [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file()):
            data, name = path.read_bytes(), str(path.relative_to(base))
            for needle in needles:
                assert needle not in name, path
                if path.suffix not in BINARY or len(needle) >= 6:
                    assert needle.encode() not in data, (path, needle)


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command in a project copy as a user would (venv on PATH, key folder beside it)."""
    import subprocess
    import sys

    env = os.environ | {
        "VIDLAB_KEY_DIR": str(cwd.parent / "keys"),  # the mapping goes beside the key
        # the venv's bin holds `vidlab`, which dvc.yaml's commands call
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
    } | (env or {})
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def copy_project(repo: Path) -> Path:
    """Copy what a fresh clone (plus uncommitted work) holds into ``repo``."""
    import shutil
    import subprocess

    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    return repo


@pytest.fixture
def params() -> params_mod.Params:
    """The repository's params.yaml, validated."""
    return params_mod.load(ROOT / "params.yaml")


@pytest.fixture
def small_params(params: params_mod.Params) -> params_mod.Params:
    """params.yaml with the demo shrunk to :data:`SMALL_DEMO`."""
    return replace(params, demo=replace(params.demo, **SMALL_DEMO))


@pytest.fixture
def tiny_video(tmp_path: Path) -> Callable[..., Path]:
    """Factory for small real H.264 mp4 files whose frame ``i`` has grey level ``8 * i``.

    The grey level encodes the frame index, so a test can tell which frames a reader returned.
    """

    def make(name: str = "tiny.mp4", *, n_frames: int = 16, size: tuple[int, int] = (64, 48),
             fps: int = 15, pts_ms: list[int] | None = None) -> Path:
        width, height = size
        frames = [np.full((height, width, 3), (8 * i) % 256, np.uint8) for i in range(n_frames)]
        path = tmp_path / name
        write_video(path, frames, fps=fps, crf=0, pts_ms=pts_ms)
        return path

    return make


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full default demo dataset, generated once per test session."""
    from vidlab.stages.demo import stage as generate

    loaded = params_mod.load(ROOT / "params.yaml")
    out = tmp_path_factory.mktemp("demo") / "demo"
    generate.run(loaded.demo, seed=loaded.base.seed, out=out)
    return out


# Videos of the clip tests: (video id, split, frames, VFR frame times in ms or None)
INDEX_VIDEOS = [
    ("a000000000000001", "train", 30, None),
    ("a000000000000002", "train", 30, [0, 33, 66, 100, 133, 166, 200, 233, 266, 300]
     + [300 + 200 * k for k in range(1, 21)]),
    ("a000000000000003", "train", 3, None),  # shorter than a clip: padded
    ("a000000000000004", "val", 20, None),
    ("a000000000000005", "val", 24, None),
    ("a000000000000006", "test", 16, None),
]


@pytest.fixture
def index_splits(tmp_path: Path, tiny_video: Callable[..., Path]) -> Path:
    """A splits.csv over frame-index videos (frame i is grey 8*i), with VFR and a short video."""
    from vidlab.data.cache import LABEL_COLUMNS

    rows = []
    for k, (video_id, split, frames, pts_ms) in enumerate(INDEX_VIDEOS):
        path = tiny_video(f"{video_id}.mp4", n_frames=frames, pts_ms=pts_ms)
        label = ("achieved", "not_achieved")[k % 2]
        rows.append({"video_id": video_id, "path": str(path), "split": split, "label": label,
                     "domain": "motor", "age_group": "7-12m", "milestone_id": "M_12M_001"})
    out = tmp_path / "splits.csv"
    columns = ["video_id", "path", *LABEL_COLUMNS, "split"]
    out.write_text("\n".join([",".join(columns)]
                             + [",".join(r[c] for c in columns) for r in rows]) + "\n")
    return out


@pytest.fixture
def clip_params(params: params_mod.Params) -> params_mod.Params:
    """Small clips at native rate: 4 frames of 16 x 16, two clips per video, 3 per shard."""
    clips = replace(params.clips, clip_len=4, target_fps=None, size=16,
                                train_clips=2, eval_clips=2, shard_size=3, workers=2)
    loader = replace(params.loader, batch_size=2, workers=0)
    return replace(params, clips=clips, loader=loader)


TEXTURE_SPLITS = {"train": 24, "val": 16, "test": 8}
TEXTURE_DOMAINS = ("motor", "language", "social", "cognitive")
TEXTURE_MILESTONES = ("M_12M_001", "L_12M_002", "S_6M_001", "C_18M_003", "M_24M_002")


@pytest.fixture(scope="session")
def texture_videos(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """48 short real H.264 videos: each a random texture drifting, labels alternating, so no
    pixel says the label; two videos per subject group; domains cycle through 4 values and
    milestones through 5 (for multi-class targets). Their splits and clips cache, built once per
    session; each test module gets its own copy through :func:`texture_project`."""
    from vidlab.data.cache import LABEL_COLUMNS
    from vidlab.stages.clips import stage as clips_stage

    root = tmp_path_factory.mktemp("texture-base")
    rng = np.random.default_rng(7)
    rows, k = [], 0
    for split, count in TEXTURE_SPLITS.items():
        for _ in range(count):
            texture = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            frames = [np.roll(texture, 2 * i, axis=1) for i in range(8)]
            path = root / "videos" / f"{k:03d}.mp4"
            path.parent.mkdir(exist_ok=True)
            write_video(path, frames, fps=15, crf=18)
            rows.append({"video_id": f"b{k:015d}", "path": str(path), "split": split,
                         "label": ("achieved", "not_achieved")[k % 2],
                         "domain": TEXTURE_DOMAINS[k % 4],
                         "age_group": ("0-6m", "7-12m")[k % 3 % 2],
                         "milestone_id": TEXTURE_MILESTONES[k % 5],
                         "subject_id": f"s{k // 2:015d}", "group": str(k // 2)})
            k += 1
    splits = root / "splits.csv"
    columns = ["video_id", "path", "subject_id", *LABEL_COLUMNS, "group", "split"]
    splits.write_text("\n".join([",".join(columns)]
                                + [",".join(r[c] for c in columns) for r in rows]) + "\n")
    base = params_mod.load(ROOT / "params.yaml")
    params = replace(
        base,
        clips=replace(base.clips, clip_len=4, target_fps=None, size=16,
                                  train_clips=1, eval_clips=1, workers=0),
        loader=replace(base.loader, batch_size=8, workers=0),
        train=replace(base.train, width=8, r2plus1d_width=8, accelerator="cpu"),
        evaluate=replace(base.evaluate, n_boot=50),
        tracking=replace(base.tracking, experiment="test-texture",
                                     uri=f"sqlite:///{root / 'mlflow.db'}"))
    clips_stage.run(params, splits=splits, out=root / "clips", reports=root / "reports")
    return {"params": params, "splits": splits, "clips": root / "clips",
            "reports": root / "reports"}


@pytest.fixture(scope="module")
def texture_project(texture_videos: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The texture videos' splits and clips cache in a project of this test module's own (its
    own MLflow store, models and reports), so modules cannot see each other's runs."""
    root = tmp_path_factory.mktemp("texture")
    shutil.copytree(texture_videos["clips"], root / "clips")
    shutil.copytree(texture_videos["reports"], root / "reports")
    shutil.copyfile(texture_videos["splits"], root / "splits.csv")
    base = texture_videos["params"]
    params = replace(base, tracking=replace(base.tracking,
                                            uri=f"sqlite:///{root / 'mlflow.db'}"))
    (root / "params.yaml").write_text("# the test's params\n")
    return {"params": params, "splits": root / "splits.csv", "clips": root / "clips",
            "root": root}


@pytest.fixture(scope="session")
def quality_set(demo_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two clean demo videos and one degraded copy of each per quality fault
    (tests/media/degrade.py), each probed with the default params: name -> manifest row."""
    from tests.media.degrade import degraded_set
    from vidlab.media.probe import probe_file
    from vidlab.stages.probe.stage import limits_of

    limits = limits_of(params_mod.load(ROOT / "params.yaml"))
    files = degraded_set(demo_dataset, tmp_path_factory.mktemp("degraded"))
    return {name: probe_file(path, limits) | {"video_id": name} for name, path in files.items()}
