"""The `demo` stage: a synthetic, deterministic child-development video dataset with planted faults.

Output layout (``out``)::

    metadata.csv   seed CSV columns + child_id, recorded_on
    videos/        H.264 mp4 files named like a real collection's
    annotations/   the first ``annotated`` usable videos' annotations, one file or folder per
                   format of ``tasks`` (:data:`ANNOTATION_FILES`), made from the rendered truth
    faults.json    answer key of every planted fault (for tests only: no stage reads it)

faults.json's ``annotation_faults`` lists the annotation faults (one of each kind, each on its
own video): ``task``, ``format``, ``video`` (the original file name), ``name_in_file`` (how the
format names it), ``reason`` (what the QA must report), ``note``, ``scope`` ("records": only the
records in ``records`` are wrong; "video": every record of that video in that format is), and
``records`` / ``related``: the wrong records and the correct ones they clash with, as a reader
gives them back (0-based frames, seconds, the fields that identify them). ``annotated`` lists the
videos with annotations. Neither is in ``content`` (ingest's digests cover metadata.csv and
videos/ only).

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

from vidlab.annotations import formats
from vidlab.annotations.schema import FORMATS, RawRecord, VideoInfo
from vidlab.config import DemoParams
from vidlab.config.annotations import DEMO_FILES
from vidlab.config.declare import Declaration
from vidlab.core.fsutil import atomic_dir, atomic_write_text, content_digests, csv_text
from vidlab.core.paths import DEMO_FAULTS
from vidlab.core.progress import track, worker_count
from vidlab.media.encode import AUDIO_RATE, write_video
from vidlab.synth import annotate, catalog
from vidlab.synth.catalog import Recording
from vidlab.synth.scene import DOMAIN_STYLE, Scene, render, render_with_truth

log = logging.getLogger(__name__)

CSV_COLUMNS = ("filename", "child_age", "milestone_id", "label", "child_id", "recorded_on")
MARKER = DEMO_FAULTS.name  # the answer key; ingest recognises the demo by its digests
TRUNCATE_TO = 0.55  # fraction of bytes kept in the truncated file
# format -> its file (or folder) under annotations/ (the annotations params' defaults)
ANNOTATION_FILES = DEMO_FILES
# what a worker gives back for an annotated video: its name, VideoInfo and records by format
AnnotatedVideo = tuple[str, VideoInfo, dict[str, list[RawRecord]]]


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


def _scene(rec: Recording) -> Scene:
    return Scene(rec.domain, rec.label == "achieved", rec.child.rgb, rec.n_frames, rec.seed)


def _frames(rec: Recording, params: DemoParams) -> np.ndarray:
    return render(_scene(rec), params.width, params.height, params.fps, params.noise_std)


def annotated_videos(plan: Plan, params: DemoParams) -> list[str]:
    """The files that get annotations: the first ``params.annotated`` plain videos (in plan
    order) that no planted file fault names (not an orphan, a duplicate's source, a quarantined
    row's file...), so that every annotation belongs to a video the pipeline keeps."""
    if not params.tasks:
        return []
    named = {f["filename"] for f in plan.faults} | {f.get("duplicate_of") for f in plan.faults}
    usable = [job.filename for job in plan.jobs
              if job.kind == "video" and job.filename not in named]
    return usable[: params.annotated]


def _write_file(job: FileJob, params: DemoParams, videos: Path,
                tasks: tuple[str, ...] = ()) -> AnnotatedVideo | None:
    """Write one file of the dataset; ``job.kind`` chooses how it is made (or broken). With
    ``tasks`` (a plain video only) also return its annotations, from the same rendering."""
    path, rec = videos / job.filename, job.recording
    if job.kind == "zero_byte":
        path.write_bytes(b"")
        return None
    if job.kind == "non_video":
        path.write_text("Consent form scan placeholder - this is not a video.\n" * 40)
        return None
    result: AnnotatedVideo | None = None
    if tasks and job.kind == "video":
        frames, truth = render_with_truth(_scene(rec), params.width, params.height, params.fps,
                                          params.noise_std)
        subject = annotate.Subject(job.filename, rec.label == "achieved", rec.domain,
                                   rec.child.rgb)
        result = (job.filename, annotate.video_info(truth),
                  annotate.annotate(truth, subject, tasks))
    else:
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
    return result


def _write_annotations(found: list[AnnotatedVideo], root: Path, plant: bool) -> list[dict]:
    """Write every format's file under ``root`` (after planting faults); return their key."""
    bundles = annotate.bundles(found)
    key = annotate.plant_faults(bundles, [name for name, _, _ in found]) if plant else []
    for fmt in FORMATS:
        if fmt in bundles:
            formats.write(fmt, bundles[fmt].records, root / ANNOTATION_FILES[fmt],
                          bundles[fmt].videos)
    return key


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
    chosen = set(annotated_videos(plan, params))
    tasks = [tuple(params.tasks) if job.filename in chosen else () for job in plan.jobs]
    with atomic_dir(out, marker=MARKER) as tmp:
        videos = tmp / "videos"
        videos.mkdir()
        workers = worker_count(params.workers, len(plan.jobs))
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                futures = [pool.submit(_write_file, job, params, videos, t)
                           for job, t in zip(plan.jobs, tasks, strict=True)]
                results = [f.result() for f in track(futures, total=len(futures), desc="demo")]
        else:
            results = [_write_file(job, params, videos, t) for job, t in
                       track(zip(plan.jobs, tasks, strict=True), total=len(plan.jobs),
                             desc="demo")]
        found = [r for r in results if r is not None]  # in plan order, for any worker count
        annotation_faults = (_write_annotations(found, tmp / "annotations", params.plant_faults)
                             if found else [])
        atomic_write_text(tmp / "metadata.csv", csv_text(CSV_COLUMNS, plan.rows))
        key = {
            "about": "Answer key of the faults planted in this synthetic dataset, and the sha256 "
            "of metadata.csv and every file under videos/ (ingest accepts the published demo "
            "key only for exactly these files). annotation_faults lists the faults planted in "
            "annotations/. No pipeline stage reads the faults.",
            "seed": seed,
            "faults": [{k: v for k, v in f.items() if k != "row"} for f in plan.faults],
            "annotated": [name for name, _, _ in found],
            "annotation_faults": annotation_faults,
            "content": content_digests(tmp),
        }
        atomic_write_text(tmp / MARKER, json.dumps(key, indent=2, ensure_ascii=False) + "\n")
    summary = {
        "rows": len(plan.rows),
        "files": len(plan.jobs),
        "videos": sum(job.kind == "video" for job in plan.jobs),
        "faults": len(plan.faults),
        "annotated": len(found),
        "annotation_faults": len(annotation_faults),
    }
    # the command prints the summary line; this one is for --verbose logs
    log.debug("demo: wrote %(files)d files, %(rows)d CSV rows, %(faults)d planted faults", summary)
    return summary


def skip(out: Path, *, reason: str) -> None:
    """Leave only an answer key that says why no demo was generated (real data is in use), and
    an annotations folder holding only a note (the annotations stage's default folder)."""
    with atomic_dir(out, marker=MARKER) as tmp:
        note = {"about": "No demo dataset was generated.", "skipped": reason, "faults": []}
        atomic_write_text(tmp / MARKER, json.dumps(note, indent=2) + "\n")
        # the annotations stage watches this folder by default: it exists, and says why empty
        (tmp / "annotations").mkdir()
        atomic_write_text(tmp / "annotations" / "README.txt", "No demo annotations: "
                          f"{reason}. Set annotations.folder to your exports' folder.\n")
