"""`vidlab score` on a built project: predictions written from the project's own aligned
annotations in each task's format score perfectly, and each kind of malformed prediction is
refused with its reason and without a video name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import yaml

from vidlab.annotations.formats import predictions
from vidlab.annotations.schema import RawRecord, VideoInfo
from vidlab.stages.task_baselines.stage import exported_labels

# the task -> the format its predictions are written in here, and the perfect scores expected
PERFECT = {
    "segments": ("activitynet", {"map": 1.0, "map_50": 1.0}),
    "boxes": ("ava", {"map_50": 1.0}),
    "tracks": ("mot", {"mota": 1.0, "idf1": 1.0, "hota": 1.0}),
    "masks": ("davis", {"j_mean": 1.0, "f_mean": 1.0, "j_and_f": 1.0}),
    "captions": ("msrvtt", {"bleu_4": 1.0, "rouge_l": 1.0}),
}


def truth_of(project: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set[str]]]:
    """The aligned annotations, the manifest, and each split's video ids."""
    table = pd.read_parquet(project / "data" / "interim" / "annotations.parquet")
    manifest = pd.read_parquet(project / "data" / "interim" / "manifest.parquet")
    splits = pd.read_csv(project / "data" / "processed" / "splits.csv", dtype=str,
                         keep_default_na=False)
    return table, manifest, {name: set(part["video_id"])
                             for name, part in splits.groupby("split")}


def records(rows: pd.DataFrame, fmt: str, labels: dict[tuple[str, str], str]) -> list:
    """Raw records that say what the aligned rows say, named by pseudonym, with a score."""
    out = []
    for row in rows.itertuples(index=False):
        label = labels.get((fmt, row.label), labels.get(("", row.label), row.label))
        boxed = not pd.isna(row.x1)
        out.append(RawRecord(
            video=row.video_id, task=row.task, source=fmt, where="", label=label,
            t0=None if pd.isna(row.t0) else float(row.t0),
            t1=None if pd.isna(row.t1) else float(row.t1),
            frame=None if pd.isna(row.frame) or fmt == "activitynet" else int(row.frame),
            track_id=None if pd.isna(row.track_id) else int(row.track_id),
            x1=float(row.x1) if boxed else None, y1=float(row.y1) if boxed else None,
            x2=float(row.x2) if boxed else None, y2=float(row.y2) if boxed else None,
            mask=row.mask or None, text=row.text, score=0.9))
    return out


def videos_of(manifest: pd.DataFrame) -> dict[str, VideoInfo]:
    return {r.video_id: VideoInfo(int(r.display_width), int(r.display_height), float(r.fps_avg),
                                  int(r.frames_decoded), float(r.duration_s))
            for r in manifest.itertuples(index=False) if r.status == "ok"}


def write_predictions(task: str, rows: pd.DataFrame, out: Path, project: Path,
                      manifest: pd.DataFrame) -> tuple[str, Path]:
    """Perfect predictions of ``rows`` in the task's format (results layouts with scores), by
    the writer the task baselines use."""
    fmt = PERFECT[task][0]
    params = yaml.safe_load((project / "params.yaml").read_text())
    recs = records(rows, fmt, exported_labels(params["annotations"]["ontology"]))
    if fmt == "msrvtt":
        recs = list({rec.video: rec for rec in reversed(recs)}.values())  # one per video
    return predictions.write_predictions(task, recs, out, videos_of(manifest),
                                         "davis" if fmt == "davis" else None)


def assert_perfect_predictions_score_perfectly(project: Path, run, tmp: Path) -> None:
    table, manifest, members = truth_of(project)
    scored = []
    for task, (fmt, expected) in PERFECT.items():
        sources = sorted(set(table.loc[table["task"] == task, "source"]))
        kept = table[(table["task"] == task)
                     & (table["source"] == (fmt if fmt in sources else sources[0]))]
        # the first split holding this task's annotations (the small demo has few videos)
        split = next(name for name in ("test", "val", "train")
                     if kept["video_id"].isin(members.get(name, set())).any())
        rows = kept[kept["video_id"].isin(members[split])]
        folder = tmp / f"perfect-{task}"
        folder.mkdir()
        fmt, path = write_predictions(task, rows, folder, project, manifest)
        out = folder / "score.json"
        printed = run(["vidlab", "score", str(path), "--format", fmt, "--split", split,
                       "--truth-format", str(rows["source"].iloc[0]), "--out", str(out)],
                      project)
        assert f"score {task}" in printed, printed
        result = json.loads(out.read_text())
        for name, value in expected.items():
            assert math.isclose(result["metrics"][name], value, abs_tol=1e-9), (task, name,
                                                                               result)
        if task == "captions":
            assert result["metrics"]["meteor"] is None and "Java" in \
                result["metrics"]["undefined"]["meteor"]
        scored.append(task)
    assert scored == list(PERFECT)


def assert_malformed_predictions_refused(project: Path, run_failing, tmp: Path,
                                         names: list[str]) -> None:
    """The four kinds the issue names, each refused with its reason, nothing written."""
    table = truth_of(project)[0]
    boxes = table[table["task"] == "boxes"]  # refused before any split is looked at
    video = boxes["video_id"].iloc[0]
    good = f"{video},{float(boxes['t0'].iloc[0])!r},0.1,0.1,0.5,0.5,1,0.8"
    cases = {
        "unknown_video": f"nobody,{float(boxes['t0'].iloc[0])!r},0.1,0.1,0.5,0.5,1,0.8",
        "box_outside_frame": f"{video},{float(boxes['t0'].iloc[0])!r},0.1,0.1,1.5,0.5,1,0.8",
        "missing_score": f"{video},{float(boxes['t0'].iloc[0])!r},0.1,0.1,0.5,0.5,1,",
    }
    for reason, line in cases.items():
        path = tmp / f"{reason}.csv"
        path.write_text(good + "\n" + line + "\n")
        out = tmp / f"{reason}.json"
        printed = run_failing(["vidlab", "score", str(path), "--format", "ava", "--out",
                               str(out)], project)
        assert "1 of 2 predictions cannot be scored" in printed, printed
        assert f"{reason} (1)" in printed and "line 2" in printed, printed
        assert "Traceback" not in printed and not out.exists()
        assert not any(name in printed for name in names), printed
    tracks = tmp / "out_of_range"
    tracks.mkdir()
    (tracks / f"{video}.txt").write_text("100000,1,10,10,20,20,1,-1,-1,-1\n")
    printed = run_failing(["vidlab", "score", str(tracks), "--format", "mot"], project)
    assert "frame_out_of_range (1)" in printed and "file[0]/results line 1" in printed, printed


def assert_task_baselines_scored(project: Path, run) -> None:
    """Each task the demo annotates has its classical baseline scored on the test split with
    every metric the task lists (a number, or null with the reason), an interval where the
    split has subjects to resample, a table in reports/models.md, and its headline in `dvc
    metrics show`."""
    from vidlab.taskmetrics import HEADLINE, MAIN

    params = yaml.safe_load((project / "params.yaml").read_text())
    shown = _first_json(run(["dvc", "metrics", "show", "--json"], project))
    data = next(iter(shown.values()))["data"]
    table = (project / "reports" / "models.md").read_text()
    assert "# Annotation tasks: classical baselines" in table
    for task in params["demo"]["tasks"]:
        result = json.loads((project / "reports" / "tasks" / f"{task}.json").read_text())
        assert result["scored"], result
        test = result["splits"]["test"]
        assert test["scored"], (task, test)  # a baseline may find nothing: every truth missed
        for name in HEADLINE[task]:
            value = test["metrics"][name]
            assert value is not None or test["metrics"]["undefined"][name], (task, name)
            if value is not None:
                assert math.isfinite(value), (task, name)
        assert set(result["robustness"]) == {"fps_slow", "fps_fast", "jpeg", "blur",
                                             "occlusion"}
        headline = data[f"reports/tasks/{task}.headline.json"]["data"]
        main = test["metrics"][MAIN[task]]
        assert headline == {"videos": test["videos"]} | (
            {} if main is None else {"score": round(main, 4)}), (task, headline)
        assert f"## {task}" in table
    captions = json.loads((project / "reports" / "tasks" / "captions.json").read_text())
    assert "Java" in captions["splits"]["test"]["metrics"]["undefined"]["meteor"]
    assert "`meteor` unavailable" in table


def _first_json(printed: str):
    value, _ = json.JSONDecoder().raw_decode(printed[printed.index("{"):])
    return value
