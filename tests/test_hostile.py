"""Hostile input: broken files, hostile names, messy CSVs and wrong files given to each command.

Every case runs the real `vidlab` command in a subprocess, as a user would, and asserts: no
traceback, exit code 0 or 2 (130 after Ctrl-C), the originals byte-identical, nothing created
outside the output folders and the key folder, and no original name in any output or message.
Cases with unreadable files run once more without root's read override (``setpriv`` drops
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), as a normal user would meet them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT
from vidlab.media.encode import write_video

VIDLAB = str(Path(sys.executable).parent / "vidlab")
UNPRIVILEGED = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search", "--"]
# Names a researcher's files really have: a child's name, a date, spaces, accents, shell-hostile
# characters. None of them may reach a message or an output.
GOOD_NAMES = ["Zoë Ångström 2024-03-05.mp4", "ben_okafor_walks.MOV", "-rf --no-preserve.mp4",
              "it's \"Mila\" (take 2).mp4", "Léa;rm -rf ~.mp4", "child 12 | Noah.mp4"]
SECRETS = ["Zoë", "Ångström", "okafor", "Mila", "Léa", "Noah", "2024-03-05"]


def _video(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = [np.clip(rng.normal(120, 40, (48, 64, 3)) + 4 * i, 0, 255).astype(np.uint8)
              for i in range(20)]
    write_video(path, frames, fps=10, crf=18)


def _tree(root: Path) -> dict[str, str]:
    """sha256 (or kind) of everything under ``root``, links not followed."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            try:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            except PermissionError:
                out[rel] = "unreadable"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = "special"
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with params for custom data in raw/, and good videos with real names."""
    root = tmp_path / "project"
    (root / "raw" / "videos").mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(source="custom", csv="raw/metadata.csv", videos="raw/videos")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for k, name in enumerate(GOOD_NAMES):
        _video(root / "raw" / "videos" / name, k)
    return root


def _csv(root: Path, names: list[str], extra: str = "") -> Path:
    lines = ["filename,child_age,milestone_id,label,child_id"]
    for k, name in enumerate(names):
        quoted = '"' + name.replace('"', '""') + '"'
        lines.append(f"{quoted},{12 + k},M_12M_001,{('achieved', 'not_achieved')[k % 2]},"
                     f"Zoë-{k % 3}")
    path = root / "raw" / "metadata.csv"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def vidlab(root: Path, *args: str, unprivileged: bool = False,
           expect: tuple[int, ...] = (0, 2)) -> tuple[int, str]:
    """Run `vidlab` in ``root``; assert its exit code and that it printed no traceback."""
    env = os.environ | {"VIDLAB_KEY_DIR": str(root.parent / "keys"), "COLUMNS": "200"}
    cmd = [*(UNPRIVILEGED if unprivileged else []), VIDLAB, *args]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    text = done.stdout + done.stderr
    assert done.returncode in expect, (done.returncode, text)
    assert "Traceback" not in text and 'File "' not in text, text
    return done.returncode, text


def assert_private(root: Path, text: str) -> None:
    """No original name in ``text`` nor in anything vidlab wrote (the key folder aside)."""
    for secret in SECRETS:
        assert secret not in text, (secret, text)
    for folder in (root / "out", root / "reports", root / ".vidlab"):
        for path in folder.rglob("*") if folder.exists() else []:
            assert not any(s in path.name for s in SECRETS), path
            if path.is_file() and path.suffix not in (".mp4", ".mkv", ".mov"):
                data = path.read_text(encoding="utf-8", errors="replace")
                for secret in SECRETS:
                    assert secret not in data, (path, secret)


def ingest(root: Path, **kw) -> tuple[int, str]:
    return vidlab(root, "ingest", "--out", "out", "--reports", "reports", **kw)


# --- broken files in the video folder and in the CSV ---------------------------------------------


def _plant_broken_files(root: Path) -> list[str]:
    """Every kind of bad file a folder of real recordings holds; returns the names the CSV gets."""
    videos = root / "raw" / "videos"
    (videos / "Zoë dangling.mp4").symlink_to(root / "nowhere.mp4")
    (videos / "Mila screenshot.mp4").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4000))
    (videos / "Noah empty.mp4").write_bytes(b"")
    (videos / "Léa folder.mp4").mkdir()
    (videos / "Zoë device.mp4").symlink_to("/dev/null")
    (videos / "ben_okafor half.mp4").write_bytes((videos / GOOD_NAMES[0]).read_bytes()[:3000])
    unreadable = videos / "Noah locked.mp4"
    shutil.copy(videos / GOOD_NAMES[1], unreadable)
    unreadable.chmod(0)
    orphan_locked = videos / "Mila no row, locked.mp4"  # named by no row, and unreadable
    shutil.copy(videos / GOOD_NAMES[2], orphan_locked)
    orphan_locked.chmod(0)
    return ["Zoë dangling.mp4", "Mila screenshot.mp4", "Noah empty.mp4", "Léa folder.mp4",
            "Zoë device.mp4", "ben_okafor half.mp4", "Noah locked.mp4"]


@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "user"])
def test_broken_files_are_quarantined_with_reasons(project: Path, unprivileged: bool) -> None:
    if unprivileged and shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    bad = _plant_broken_files(project)
    _csv(project, GOOD_NAMES + bad)
    raw_before, around_before = _tree(project / "raw"), sorted(p.name for p in project.iterdir())
    rc, text = ingest(project, unprivileged=unprivileged)
    assert rc == 0, text
    assert _tree(project / "raw") == raw_before  # originals untouched, modes included
    assert sorted(p.name for p in project.iterdir()) == sorted({*around_before, "out",
                                                                "reports"})
    quarantine = (project / "out" / "quarantine_ingest.csv").read_text()
    counts = json.loads((project / "reports" / "ingest.json").read_text())
    locked_readable = not unprivileged  # root reads a mode-000 file; a normal user cannot
    assert counts["usable_videos"] == len(GOOD_NAMES) + locked_readable
    lines = quarantine.strip().splitlines()[1:]
    reasons = [line.split(",")[5] for line in lines]
    # every bad file, and the file without a row
    assert len(reasons) == len(bad) + 1 - locked_readable, quarantine
    for reason in reasons:
        assert reason and reason != "error", quarantine
    assert_private(project, text)


# --- messy CSVs ---------------------------------------------------------------------------------


def test_a_stray_quote_in_a_large_csv_is_a_clear_error(project: Path) -> None:
    path = _csv(project, GOOD_NAMES)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('"unterminated,12,M_12M_001,achieved,x\n')
        for k in range(5000):
            handle.write(f"row{k}.mp4,12,M_12M_001,achieved,c{k}\n")
    rc, text = ingest(project)
    assert rc == 2 and "quote" in text.lower() and "line" in text, text
    assert not (project / "out").exists()
    assert_private(project, text)


def test_a_tab_delimited_csv_names_the_delimiter(project: Path) -> None:
    path = project / "raw" / "metadata.csv"
    rows = ["filename\tchild_age\tmilestone_id\tlabel"] + [
        f"{name}\t12\tM_12M_001\tachieved" for name in GOOD_NAMES]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rc, text = ingest(project)
    assert rc == 2 and "tab" in text.lower(), text
    assert_private(project, text)


def test_every_row_bad_still_writes_the_reasons(project: Path) -> None:
    _csv(project, ["absent one.mp4", "absent two.mp4"])
    for path in (project / "raw" / "videos").iterdir():
        path.unlink()
    (project / "raw" / "videos" / "Zoë not a video.mp4").write_bytes(b"hello" * 100)
    rc, text = ingest(project)
    assert rc == 2 and "No usable video" in text
    assert "missing_file 2" in text, text  # the reasons, counted, on the terminal
    reasons = (project / "out" / "quarantine_ingest.csv").read_text()
    assert reasons.count("missing_file") == 2 and "no_metadata_row" in reasons
    assert not (project / "out" / "metadata.csv").exists()
    assert_private(project, text)


def test_an_empty_video_folder_is_named_as_such(project: Path) -> None:
    _csv(project, GOOD_NAMES)
    for path in (project / "raw" / "videos").iterdir():
        path.unlink()
    rc, text = ingest(project)
    assert rc == 2 and "is empty" in text, text


# --- wrong files and paths given to each command ------------------------------------------------


def test_params_saved_as_utf16_is_a_clear_error(project: Path) -> None:
    text = (project / "params.yaml").read_text(encoding="utf-8")
    (project / "params.yaml").write_bytes(text.encode("utf-16"))
    rc, said = vidlab(project, "params")
    assert rc == 2 and "UTF-8" in said, said


@pytest.mark.parametrize("option", ["--out", "--reports"])
def test_an_output_path_that_is_a_file_is_refused(project: Path, option: str) -> None:
    _csv(project, GOOD_NAMES)
    (project / "taken").write_text("my notes")
    args = {"--out": "out", "--reports": "reports"} | {option: "taken"}
    rc, text = vidlab(project, "ingest", *[x for kv in args.items() for x in kv])
    assert rc == 2 and "taken" in text, text
    assert (project / "taken").read_text() == "my notes"


@pytest.mark.parametrize("command", [
    ["probe", "--metadata", "raw/metadata.csv", "--videos", "raw/videos", "--manifest",
     "m.parquet", "--normalized", "norm", "--reports", "rp"],
    ["probe", "--metadata", "empty.csv", "--videos", "raw/videos", "--manifest", "m.parquet",
     "--normalized", "norm", "--reports", "rp"],
    ["validate", "--metadata", "raw/metadata.csv", "--manifest", "raw/metadata.csv"],
    ["validate", "--suites", "no-such-suites"],
    ["dedup", "--manifest", "raw/metadata.csv", "--out", "d.json", "--reports", "rd"],
    ["split", "--metadata", "raw/metadata.csv", "--manifest", "raw/metadata.csv"],
    ["report", "--metadata", "raw/metadata.csv", "--out", "rs"],
])
def test_wrong_inputs_are_named_not_tracebacks(project: Path, command: list[str]) -> None:
    _csv(project, GOOD_NAMES)
    (project / "empty.csv").write_text("")
    before = _tree(project / "raw")
    rc, text = vidlab(project, *command)
    assert rc == 2, text
    assert "bug in vidlab" not in text, text  # a wrong input is the user's to fix: say how
    assert _tree(project / "raw") == before
    assert_private(project, text)


# --- the key follows the data -------------------------------------------------------------------


def test_the_demo_key_is_refused_on_files_that_are_not_the_demo(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"].update(source="demo", csv="data/raw/demo/metadata.csv",
                          videos="data/raw/demo/videos")
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _csv(project, GOOD_NAMES)
    rc, text = vidlab(project, "ingest", "--csv", "raw/metadata.csv", "--videos", "raw/videos",
                      "--out", "out", "--reports", "reports")
    assert rc == 2 and "demo key" in text and "data.source: custom" in text, text
    assert not (project / "out").exists()
    assert not (project.parent / "keys" / "mappings").exists()


# --- unexpected errors: a log file, no traceback, no name ---------------------------------------


def test_an_unexpected_error_leaves_a_scrubbed_log(project: Path) -> None:
    from vidlab.core import boundary

    boundary.register_names(["Zoë Ångström 2024-03-05.mp4", "Zoë"])
    try:
        raise ValueError("cannot parse Zoë Ångström 2024-03-05.mp4")
    except ValueError as exc:
        said = []
        with pytest.raises(SystemExit) as stopped:
            with boundary.guard("probe", said.append):
                raise RuntimeError("bad state near Zoë") from exc
    assert stopped.value.code == 2
    assert "bug in vidlab" in said[0] and "Zoë" not in said[0]
    log = Path(said[0].split("The traceback is in ")[1].split(" (")[0])
    text = log.read_text()
    assert "RuntimeError" in text and "ValueError" in text and "Zoë" not in text
    assert "<file 1>" in text
    log.unlink()


def test_validate_prints_its_own_summary_in_few_lines(project: Path) -> None:
    """Great Expectations' own INFO chatter (200+ lines) stays out; validate says its piece."""
    _csv(project, GOOD_NAMES)
    ingest(project)
    vidlab(project, "probe", "--metadata", "out/metadata.csv", "--videos", "out/videos",
           "--manifest", "out/manifest.parquet", "--normalized", "out/normalized",
           "--reports", "reports/probe")
    shutil.copytree(ROOT / "expectations", project / "expectations")
    rc, text = vidlab(project, "validate", "--metadata", "out/metadata.csv", "--manifest",
                      "out/manifest.parquet", "--ingest-quarantine", "out/quarantine_ingest.csv",
                      "--ingest-report", "reports/ingest.json", "--suites", "expectations",
                      "--quarantine", "out/quarantine.csv", "--reports", "reports/validation")
    # six videos are fewer than the suites' minimum row count: its own message either way
    assert text.startswith(("validate:", "Error: Validation stopped")), text
    assert len(text.strip().splitlines()) <= 20, text
    assert_private(project, text)


# --- interrupted runs ---------------------------------------------------------------------------


def _one_run(root: Path) -> int:
    """Assert ingest's outputs all describe one run (its counts, rows and copies agree) and that
    no temporary is left; returns that run's usable videos (0: no outputs)."""
    counts_file = root / "reports" / "ingest.json"
    assert not _leftovers(root), _leftovers(root)
    if not counts_file.exists():
        assert not (root / "out" / "metadata.csv").exists()
        return 0
    usable = json.loads(counts_file.read_text())["usable_videos"]
    rows = (root / "out" / "metadata.csv").read_text().strip().splitlines()[1:]
    copies = [p for p in (root / "out" / "videos").iterdir() if not p.name.startswith(".")
              and p.name != "README.txt" and p.suffix in (".mp4", ".mov", ".mkv")]
    assert usable == len(rows) == len(copies), (usable, len(rows), len(copies))
    return usable


@pytest.mark.parametrize("after_s", [0.3, 1.0, 2.0, 3.5])
def test_ingest_killed_at_any_point_leaves_one_run(project: Path, after_s: float) -> None:
    _csv(project, GOOD_NAMES[:3])
    ingest(project)
    assert _one_run(project) == 3
    _csv(project, GOOD_NAMES)  # the next run has six
    _kill_after(project, ["ingest", "--out", "out", "--reports", "reports"], after_s)
    vidlab(project, "params")  # any command first completes a publication a kill cut short
    assert _one_run(project) in (3, 6)
    ingest(project)
    assert _one_run(project) == 6


def contextlib_suppress():
    import contextlib

    return contextlib.suppress(ProcessLookupError)


def test_ctrl_c_stops_quietly_and_keeps_the_previous_outputs(project: Path) -> None:
    import signal
    import time

    _csv(project, GOOD_NAMES[:3])
    ingest(project)
    _csv(project, GOOD_NAMES)
    env = os.environ | {"VIDLAB_KEY_DIR": str(project.parent / "keys")}
    started = subprocess.Popen([VIDLAB, "ingest", "--out", "out", "--reports", "reports"],
                               cwd=project, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(1.5)
    os.killpg(started.pid, signal.SIGINT)  # what a terminal sends the whole process group
    out, err = started.communicate(timeout=120)
    text = out + err
    if started.returncode == 0:  # it had finished: nothing to interrupt on a fast machine
        assert _one_run(project) == 6
        return
    assert started.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "Interrupted" in text
    assert _one_run(project) == 3


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or ".old-" in p.name
            or p.name.startswith(".vidlab-publish-")]


PROBE = ["probe", "--metadata", "out/metadata.csv", "--videos", "out/videos", "--manifest",
         "out/manifest.parquet", "--normalized", "out/normalized", "--reports", "reports/probe"]
CLIPS = ["clips", "--splits", "out/splits.csv", "--out", "out/clips", "--reports", "reports/clips"]


def _probe_run(root: Path) -> int:
    """Assert probe's manifest and summary describe one run; returns its video count."""
    import pandas as pd

    assert not _leftovers(root), _leftovers(root)
    frame = pd.read_parquet(root / "out" / "manifest.parquet")
    summary = json.loads((root / "reports" / "probe" / "summary.json").read_text())
    assert summary["videos"] == len(frame)
    assert summary["decoded_frames"] == int(frame["frames_decoded"].fillna(0).sum())
    assert (root / "out" / "normalized" / ".vidlab-probe").is_file()
    return len(frame)


def _splits(root: Path, rows: int) -> None:
    """A splits.csv over the first ``rows`` de-identified videos (what `vidlab split` writes)."""
    import pandas as pd

    meta = pd.read_csv(root / "out" / "metadata.csv", dtype=str, keep_default_na=False)
    meta = meta.head(rows).assign(path=lambda m: "out/videos/" + m["filename"],
                                  split=["train", "val", "test"] * (rows // 3) + ["train"] *
                                  (rows % 3))
    meta.to_csv(root / "out" / "splits.csv", index=False)


def _clips_run(root: Path) -> int:
    """Assert the clips cache, its own summary and the report describe one run; its videos."""
    import pandas as pd

    assert not _leftovers(root), _leftovers(root)
    index = pd.read_csv(root / "out" / "clips" / "index.csv", dtype=str)
    inner = json.loads((root / "out" / "clips" / "clips.json").read_text())
    report = json.loads((root / "reports" / "clips" / "summary.json").read_text())
    assert inner["clips"] == report["clips"] == len(index)
    assert inner["backend_of"] == report["backend_of"]
    assert sorted(inner["backend_of"]) == sorted(set(index["video_id"]))
    return len(inner["backend_of"])


def _kill_after(root: Path, args: list[str], after_s: float) -> None:
    import signal
    import time

    env = os.environ | {"VIDLAB_KEY_DIR": str(root.parent / "keys")}
    started = subprocess.Popen([VIDLAB, *args], cwd=root, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(after_s)
    with contextlib_suppress():
        os.killpg(started.pid, signal.SIGKILL)
    started.wait(timeout=60)


# seconds after the start: here probe of six videos takes ~1.6 s and clips ~8 s, so the kills
# land in start-up, decoding and publishing
@pytest.mark.slow  # ~25 s each
@pytest.mark.parametrize(("probe_s", "clips_s"), [(0.4, 1.0), (0.9, 4.0), (1.3, 7.0)])
def test_probe_and_clips_killed_at_any_point_leave_one_run(project: Path, probe_s: float,
                                                           clips_s: float) -> None:
    """kill -9 at several points of probe, then of clips: what is there is one whole run (the
    previous or the new), and the next command clears every staged temporary."""
    _csv(project, GOOD_NAMES)
    ingest(project)
    small = project / "out" / "metadata.csv"
    full = small.read_text()
    small.write_text("\n".join(full.splitlines()[:4]) + "\n")  # probe three videos first
    vidlab(project, *PROBE)
    assert _probe_run(project) == 3
    small.write_text(full)
    _kill_after(project, PROBE, probe_s)
    vidlab(project, "params")  # any command first completes a publication a kill cut short
    assert _probe_run(project) in (3, 6)
    vidlab(project, *PROBE)
    assert _probe_run(project) == 6

    _splits(project, 3)
    vidlab(project, *CLIPS)
    assert _clips_run(project) == 3
    _splits(project, 6)
    _kill_after(project, CLIPS, clips_s)
    vidlab(project, "params")
    assert _clips_run(project) in (3, 6)
    vidlab(project, *CLIPS)
    assert _clips_run(project) == 6
    assert_private(project, "")
