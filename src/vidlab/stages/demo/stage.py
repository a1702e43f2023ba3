"""The `demo` stage: a synthetic, deterministic child-development video dataset with planted faults.

Output layout (``out``)::

    metadata.csv   seed CSV columns + child_id, recorded_on
    videos/        H.264 mp4 files named like a real collection's
    faults.json    answer key of every planted fault (for tests only: no stage reads it)

Two runs with the same params give byte-identical files: every random draw comes from the seed,
x264 runs single-threaded, and container timestamps are set explicitly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlab.config import DemoParams
from vidlab.config.declare import Declaration
from vidlab.core.fsutil import atomic_dir, atomic_write_text, content_digests, csv_text
from vidlab.core.paths import DEMO_FAULTS
from vidlab.core.progress import track, worker_count
from vidlab.media.encode import AUDIO_RATE, write_video
from vidlab.synth import catalog
from vidlab.synth.catalog import Recording
from vidlab.synth.scene import DOMAIN_STYLE, Scene, render

log = logging.getLogger(__name__)

CSV_COLUMNS = ("filename", "child_age", "milestone_id", "label", "child_id", "recorded_on")
MARKER = DEMO_FAULTS.name  # the answer key; ingest recognises the demo by its digests
TRUNCATE_TO = 0.55  # fraction of bytes kept in the truncated file


@dataclass(frozen=True)
class FileJob:
    """One file to write under videos/. ``kind`` says how (see ``_write_file``)."""

    filename: str
    kind: str
    recording: Recording


@dataclass
class Plan:
    """Everything to write: CSV rows, files and the answer key."""

    rows: list[dict[str, str]]
    jobs: list[FileJob]
    faults: list[dict]


def _row(rec: Recording, filename: str | None = None, **override: str) -> dict[str, str]:
    row = {
        "filename": filename or rec.filename,
        "child_age": str(rec.age_months),
        "milestone_id": rec.milestone_id,
        "label": rec.label,
        "child_id": rec.child.child_id,
        "recorded_on": rec.recorded_at.date().isoformat(),
    }
    row.update(override)
    return row


def build_plan(params: DemoParams, seed: int) -> Plan:
    """Draw the whole dataset's metadata from ``seed`` (no files are written)."""
    rng = np.random.default_rng([seed, 0xDE30])
    children = catalog.make_children(rng, params.n_children)
    owners = list(range(params.n_children))
    owners += [int(i) for i in rng.integers(0, params.n_children, params.n_videos - len(owners))]
    domains = rng.permutation(np.resize(list(DOMAIN_STYLE), params.n_videos))
    kwargs = dict(fps=params.fps, seconds=(params.min_seconds, params.max_seconds),
                  achieved_fraction=params.achieved_fraction, audio_fraction=params.audio_fraction)
    recs = [catalog.make_recording(rng, children[o], domain=str(d), **kwargs)
            for o, d in zip(owners, domains, strict=True)]
    recs = _unique_names(_both_labels(recs))
    plan = Plan(rows=[_row(r) for r in recs], jobs=[FileJob(r.filename, "video", r) for r in recs],
                faults=[])
    if params.plant_faults:
        _plant_faults(plan, rng, recs, children, kwargs)
    order = rng.permutation(len(plan.rows))
    plan.rows = [plan.rows[i] for i in order]
    _number_fault_lines(plan)
    return plan


def _both_labels(recs: list[Recording]) -> list[Recording]:
    """Guarantee both labels occur, even in a tiny profile."""
    if len({r.label for r in recs}) == 1 and len(recs) > 1:
        flipped = "not_achieved" if recs[-1].label == "achieved" else "achieved"
        recs[-1] = dataclasses.replace(recs[-1], label=flipped)
    return recs


def _unique_names(recs: list[Recording]) -> list[Recording]:
    seen: set[str] = set()
    out = []
    for rec in recs:
        name, k = rec.filename, 2
        while name in seen:
            name = rec.filename.replace(".mp4", f"_{k}.mp4")
            k += 1
        seen.add(name)
        out.append(dataclasses.replace(rec, filename=name))
    return out


def _plant_faults(plan: Plan, rng, recs: list[Recording], children, kwargs: dict) -> None:
    """Add one instance of every fault kind the later stages must catch."""

    taken = {r.filename for r in recs}

    def extra(**override) -> Recording:
        # Names stay neutral: nothing in a file name may give a planted fault away.
        child = children[int(rng.integers(0, len(children)))]
        rec = catalog.make_recording(rng, child, **kwargs)
        name, k = rec.filename, 2
        while name in taken:
            name, k = rec.filename.replace(".mp4", f"_{k}.mp4"), k + 1
        taken.add(name)
        return dataclasses.replace(rec, filename=name, **override)

    def fault(kind: str, filename: str, expected: str, row: dict | None, note: str) -> None:
        plan.faults.append({"kind": kind, "filename": filename, "expected": expected,
                            "row": row, "note": note})

    for kind, expected, note in (
        ("zero_byte", "zero_byte", "the file has 0 bytes"),
        ("truncated", "truncated", f"only the first {TRUNCATE_TO:.0%} of the bytes were kept"),
        ("non_video", "unreadable", "a text file with an .mp4 name"),
        ("vfr", "vfr", "frame intervals vary between 33 and 100 ms"),
    ):
        rec = extra()
        plan.rows.append(_row(rec))
        plan.jobs.append(FileJob(rec.filename, kind, rec))
        fault(kind, rec.filename, expected, plan.rows[-1], note)

    source = recs[int(rng.integers(0, len(recs)))]
    sent = source.recorded_at + dt.timedelta(days=2, minutes=int(rng.integers(1, 600)))
    dup_name = f"WhatsApp Video {sent:%Y-%m-%d at %H.%M.%S}.mp4"
    plan.rows.append(_row(source, dup_name))
    plan.jobs.append(FileJob(dup_name, "near_duplicate", source))
    fault("near_duplicate", dup_name, "near_duplicate", plan.rows[-1],
          f"re-encoded, resized and trimmed copy of {source.filename}")
    plan.faults[-1]["duplicate_of"] = source.filename

    missing = extra()
    plan.rows.append(_row(missing))
    fault("missing_file", missing.filename, "missing_file", plan.rows[-1], "row without a file")

    orphan = extra()
    plan.jobs.append(FileJob(orphan.filename, "video", orphan))
    fault("orphan_file", orphan.filename, "no_metadata_row", None, "file without a row")

    achieved = [i for i, r in enumerate(plan.rows[: len(recs)]) if r["label"] == "achieved"]
    target = plan.rows[achieved[0] if achieved else 0]
    target["label"] = "Achieved "
    fault("label_needs_normalising", target["filename"], "normalised", dict(target),
          "label 'Achieved ' (capital letter, trailing space) must become 'achieved'")

    for kind, column, value, expected in (
        ("invalid_label", "label", "partially", "invalid_label"),
        ("out_of_range_age", "child_age", "52", "age_out_of_range"),
    ):
        rec = extra()
        plan.rows.append(_row(rec, **{column: value}))
        plan.jobs.append(FileJob(rec.filename, "video", rec))
        fault(kind, rec.filename, expected, plan.rows[-1], f"{column} is {value!r}")

    late = extra(age_months=3)
    late = dataclasses.replace(late, milestone_id=f"{late.milestone_id[0]}_30M_001")
    plan.rows.append(_row(late))
    plan.jobs.append(FileJob(late.filename, "video", late))
    fault("age_milestone_inconsistent", late.filename, "age_milestone_warning", plan.rows[-1],
          "a 30-month milestone on a 3-month-old: flagged, not quarantined")

    twin = dict(plan.rows[achieved[1] if len(achieved) > 1 else 1])
    plan.rows.append(twin)
    fault("duplicated_row", twin["filename"], "duplicate_row", twin, "the same row twice")


def _number_fault_lines(plan: Plan) -> None:
    """Record each fault's CSV line numbers (header is line 1) in the answer key."""
    for item in plan.faults:
        if item["row"] is None:
            item["lines"] = []
            continue
        item["lines"] = [i + 2 for i, row in enumerate(plan.rows) if row == item["row"]]


def _audio(rec: Recording, fps: int) -> np.ndarray:
    """A quiet hum and room noise, unrelated to the label."""
    rng = np.random.default_rng([rec.seed, 1])
    t = np.arange(int(AUDIO_RATE * rec.n_frames / fps)) / AUDIO_RATE
    tone = 0.05 * np.sin(2 * np.pi * rng.uniform(180, 420) * t)
    return (tone + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def _frames(rec: Recording, params: DemoParams) -> np.ndarray:
    scene = Scene(rec.domain, rec.label == "achieved", rec.child.rgb, rec.n_frames, rec.seed)
    return render(scene, params.width, params.height, params.fps, params.noise_std)


def _write_file(job: FileJob, params: DemoParams, videos: Path) -> None:
    """Write one file of the dataset; ``job.kind`` chooses how it is made (or broken)."""
    path, rec = videos / job.filename, job.recording
    if job.kind == "zero_byte":
        path.write_bytes(b"")
        return
    if job.kind == "non_video":
        path.write_text("Consent form scan placeholder - this is not a video.\n" * 40)
        return
    frames = _frames(rec, params)
    tags = catalog.container_tags(rec)
    audio = _audio(rec, params.fps) if rec.has_audio else None
    common = dict(fps=params.fps, crf=params.crf, metadata=tags, audio=audio)
    if job.kind == "near_duplicate":
        n = len(frames)
        kept = frames[round(0.06 * n) : n - round(0.04 * n)]
        size = (round(params.width * 0.875 / 2) * 2, round(params.height * 0.875 / 2) * 2)
        stamp = {"creation_time": tags["creation_time"]}  # messaging apps keep little metadata
        write_video(path, kept, fps=params.fps, crf=min(params.crf + 8, 51), size=size,
                    metadata=stamp)
    elif job.kind == "vfr":
        rng = np.random.default_rng([rec.seed, 2])
        steps = rng.choice([33, 67, 100], size=len(frames))
        write_video(path, frames, pts_ms=np.concatenate([[0], np.cumsum(steps[:-1])]), **common)
    else:
        write_video(path, frames, **common)
        if job.kind == "truncated":
            size = path.stat().st_size
            with open(path, "r+b") as handle:
                handle.truncate(int(size * TRUNCATE_TO))


# the demo command reads these (run itself takes the demo section and the seed)
PARAMS = Declaration("demo", outputs=("base.seed", "data.source", "demo"))


def run(params: DemoParams, *, seed: int, out: Path) -> dict:
    """Generate the demo dataset into ``out`` (replaced atomically).

    Args:
        params: the ``demo`` section of params.yaml.
        seed: ``base.seed``.
        out: output folder, e.g. data/raw/demo.

    Returns:
        Counts of rows, files, valid videos and planted faults.
    """
    plan = build_plan(params, seed)
    with atomic_dir(out, marker=MARKER) as tmp:
        videos = tmp / "videos"
        videos.mkdir()
        workers = worker_count(params.workers, len(plan.jobs))
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                futures = [pool.submit(_write_file, job, params, videos) for job in plan.jobs]
                for future in track(futures, total=len(futures), desc="demo"):
                    future.result()
        else:
            for job in track(plan.jobs, total=len(plan.jobs), desc="demo"):
                _write_file(job, params, videos)
        atomic_write_text(tmp / "metadata.csv", csv_text(CSV_COLUMNS, plan.rows))
        key = {
            "about": "Answer key of the faults planted in this synthetic dataset, and the sha256 "
            "of every file written (ingest accepts the published demo key only for exactly "
            "these files). No pipeline stage reads the faults.",
            "seed": seed,
            "faults": [{k: v for k, v in f.items() if k != "row"} for f in plan.faults],
            "content": content_digests(tmp),
        }
        atomic_write_text(tmp / MARKER, json.dumps(key, indent=2, ensure_ascii=False) + "\n")
    summary = {
        "rows": len(plan.rows),
        "files": len(plan.jobs),
        "videos": sum(job.kind == "video" for job in plan.jobs),
        "faults": len(plan.faults),
    }
    # the command prints the summary line; this one is for --verbose logs
    log.debug("demo: wrote %(files)d files, %(rows)d CSV rows, %(faults)d planted faults", summary)
    return summary


def skip(out: Path, *, reason: str) -> None:
    """Leave only an answer key that says why no demo was generated (real data is in use)."""
    with atomic_dir(out, marker=MARKER) as tmp:
        note = {"about": "No demo dataset was generated.", "skipped": reason, "faults": []}
        atomic_write_text(tmp / MARKER, json.dumps(note, indent=2) + "\n")
