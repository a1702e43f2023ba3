"""VideoDatasetManager: the seed README's examples, with only the import line changed."""

from __future__ import annotations

import json
import shutil
import stat
import textwrap
from pathlib import Path

import pytest

from vidlab import VideoDatasetManager
from vidlab.core.errors import DataError

SEED_CSV = """filename,child_age,milestone_id,label
video_001.mp4,6,M_6M_001,achieved
video_002.mp4,12,L_12M_001,not_achieved
video_003.mp4,24,S_24M_001,achieved
"""

# From shared/seeds/video_dataset_manager_README.md; only the import line differs.
SEED_EXAMPLES = """
from vidlab import VideoDatasetManager

# Initialize manager
manager = VideoDatasetManager(
    csv_path="video_metadata.csv",
    video_directory="videos"  # Optional
)

# De-identify files (dry run)
mapping = manager.deidentify_files(
    output_directory="deidentified_videos",
    dry_run=True
)

# Generate summary report
summary = manager.generate_summary_report()

# Save de-identified CSV
manager.save_deidentified_csv()

manager = VideoDatasetManager("video_metadata.csv")
summary = manager.generate_summary_report()
# Check for data imbalances
print(summary['domain_distribution'])

manager = VideoDatasetManager("video_metadata.csv", "videos")
manager.deidentify_files("shared_dataset", dry_run=False)
manager.save_deidentified_csv("shared_metadata.csv")
"""


@pytest.fixture
def seed_folder(tmp_path: Path, tiny_video, monkeypatch) -> Path:
    monkeypatch.setenv("VIDLAB_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("VIDLAB_HMAC_KEY", "the-lab-private-key-2026")
    work = tmp_path / "work"
    (work / "videos").mkdir(parents=True)
    for k in (1, 2, 3):
        shutil.move(tiny_video(f"v{k}.mp4", n_frames=5 + k), work / "videos" / f"video_00{k}.mp4")
    (work / "video_metadata.csv").write_text(SEED_CSV)
    monkeypatch.chdir(work)
    return work


def test_seed_readme_examples_run_and_write_the_three_files(seed_folder: Path, capsys) -> None:
    exec(compile(textwrap.dedent(SEED_EXAMPLES), "seed_readme", "exec"), {})
    printed = capsys.readouterr().out
    assert "CHILD DEVELOPMENT VIDEO DATASET SUMMARY REPORT" in printed
    assert "{'motor': 1, 'language': 1, 'social': 1, 'cognitive': 0}" in printed
    assert (seed_folder / "dataset_summary_report.txt").is_file()
    assert (seed_folder / "dataset_summary_report.json").is_file()
    for name in ("deidentified_dataset.csv", "shared_metadata.csv"):
        text = (seed_folder / name).read_text()
        assert "video_00" not in text and text.startswith("video_id,filename,subject_id")
    # The dry run wrote nothing; the real run wrote videos but no mapping beside them.
    assert not (seed_folder / "deidentified_videos").exists()
    assert len(list((seed_folder / "shared_dataset" / "videos").glob("*.mp4"))) == 3
    assert not list(seed_folder.rglob("video_mapping.json"))
    mapping = seed_folder.parent / "keys" / "mappings"
    (path,) = mapping.rglob("video_mapping.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(json.loads(path.read_text())["videos"]) == [
        "video_001.mp4", "video_002.mp4", "video_003.mp4"]


def test_return_shapes(seed_folder: Path) -> None:
    manager = VideoDatasetManager("video_metadata.csv", "videos")
    mapping = manager.deidentify_files("out", dry_run=True)
    assert set(mapping) == {"video_001.mp4", "video_002.mp4", "video_003.mp4"}
    assert all(len(v) == len("0123456789abcdef.mp4") for v in mapping.values())
    summary = manager.generate_summary_report("report.txt")
    for key in ("total_videos", "age_group_distribution", "domain_distribution",
                "label_distribution", "age_domain_crosstab", "top_milestones", "quality_checks"):
        assert key in summary
    assert summary["total_videos"] == 3
    assert summary["label_distribution"] == {"achieved": 2, "not_achieved": 1}
    # The same pseudonyms whether the files were remuxed or not.
    real = manager.deidentify_files("out", dry_run=False)
    assert real == mapping


@pytest.mark.parametrize(
    ("months", "group"),
    [(0, "0-6m"), (6, "0-6m"), (7, "7-12m"), (24, "19-24m"), (36, "31-36m"), (37, "unknown"),
     (-1, "unknown"), ("x", "unknown")],
)
def test_categorize_age_group(months, group) -> None:
    assert VideoDatasetManager("any.csv").categorize_age_group(months) == group


@pytest.mark.parametrize(
    ("milestone", "domain"),
    [("M_12M_001", "motor"), ("L_6M_002", "language"), ("S_24M_001", "social"),
     ("C_18M_003", "cognitive"), ("m_12m_001", "motor"), ("X_12M_001", "unknown")],
)
def test_extract_domain(milestone, domain) -> None:
    assert VideoDatasetManager("any.csv").extract_domain(milestone) == domain


def test_refuses_a_foreign_output_folder(seed_folder: Path) -> None:
    (seed_folder / "shared").mkdir()
    (seed_folder / "shared" / "notes.txt").write_text("mine")
    manager = VideoDatasetManager("video_metadata.csv", "videos")
    with pytest.raises(DataError, match="Refusing to write"):
        manager.deidentify_files("shared", dry_run=False)
    assert (seed_folder / "shared" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("kwargs", "call", "message"),
    [
        ({"key": "abc"}, None, "at least 16 characters; it has 3"),
        ({"key": 12345678901234567}, None, "text or bytes, not int"),
        ({"params": {"ingest": {}}}, None, "params must be a vidlab Params"),
        ({}, {"dry_run": "False"}, "dry_run must be True or False, not 'False'"),
        ({"key": "vidlab-demo-key-published-not-secret-v1"}, {"dry_run": False},
         "published demo key de-identifies only"),
    ],
)
def test_the_api_checks_its_arguments_like_the_cli(seed_folder: Path, kwargs, call,
                                                   message) -> None:
    """A wrong argument is a clear error, not a silent dry run or a guessable key."""
    with pytest.raises(DataError, match=message):
        manager = VideoDatasetManager("video_metadata.csv", "videos", **kwargs)
        manager.deidentify_files("shared", **call)
    assert not (seed_folder / "shared").exists()
