"""The sections of the dataset card that are computed from the inputs: composition,
de-identification, preprocessing, splits, results, version, environment and rebuild, with the
small Markdown helpers they share. `stage.card_text` puts them together."""

from __future__ import annotations

import logging
from collections import Counter

from vidlab import contracts
from vidlab.config import SPLIT_NAMES, Params
from vidlab.core.render import markdown_table
from vidlab.core.version import VERSION as __version__
from vidlab.stages.card.inputs import Inputs, in_splits

log = logging.getLogger(__name__)

NOT_FILLED = "**Not filled in.**"
# The outputs whose dvc.lock hashes pin a dataset version, in pipeline order.
PINNED = ("data/raw/demo", "data/interim/videos", "data/interim/metadata.csv",
          "data/interim/quarantine_ingest.csv", "data/interim/manifest.parquet",
          "data/interim/quarantine.csv", "data/interim/duplicates.json",
          "data/processed/splits.csv", "data/processed/clips")


def filled(value: str | None, name: str) -> str:
    return value.strip() if value else f"{NOT_FILLED} Set `card.{name}` in params.yaml."


MISSING_INPUT = "_input missing:"  # the line a section holds instead of what it lacks


def missing(what: str) -> list[str]:
    return [f"{MISSING_INPUT} {what} (run `dvc repro`)._"]


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f} %)" if total else str(count)


def composition(inputs: Inputs) -> list[str]:
    summary = inputs.summary
    if summary is None or inputs.manifest is None or inputs.splits is None:
        return missing("reports/summary/summary.json, manifest or splits.csv")
    m = inputs.manifest
    total = summary.total_videos
    used = in_splits(inputs)
    subjects = summary.per_subject
    lines = [f"- **Videos**: {total} de-identified videos with metadata (summary report); "
             f"{len(m)} probed in the manifest, {int((m['status'] == 'ok').sum())} pass the "
             f"integrity check; {len(used)} in the splits.",
             f"- **Children (pseudonymous subjects)**: {subjects.n_subjects}; "
             f"videos per child min {subjects.min}, median "
             f"{subjects.median}, max {subjects.max}."]
    ingest = inputs.ingest
    if ingest is not None:
        # rows and files without a row are counted apart, as the summary report does
        orphans = ingest.files_without_rows
        reasons = ", ".join(f"{k} {v}" for k, v in ingest.problems_by_reason.items()
                            if k != "no_metadata_row")
        lines.append(f"- **Quarantined at ingest**: {ingest.quarantined_rows} of "
                     f"{ingest.rows_read} CSV rows ({reasons or 'none'}), and "
                     f"{orphans} video file(s) without a CSV row; see "
                     "`data/interim/quarantine_ingest.csv`.")
    notes = inputs.annotations
    if notes is not None and notes.read:
        tasks = ", ".join(f"{n} {task}" for task, n in notes.by_task.items() if n)
        reasons = ", ".join(f"{k} {v}" for k, v in notes.reasons.items())
        lines.append(f"- **Annotations**: {notes.kept} of {notes.read} kept on {notes.videos} "
                     f"videos ({tasks or 'none'}); {notes.quarantined} quarantined "
                     f"({reasons or 'none'}); see `data/interim/quarantine_annotations.csv`.")
    ok = m[m["status"] == "ok"]
    if len(ok):
        resolutions = Counter(f"{w}x{h}" for w, h in zip(ok["width"], ok["height"], strict=True))
        lines.append(
            f"- **Containers**: duration {ok['duration_s'].min():.2f}–{ok['duration_s'].max():.2f}"
            f" s (median {ok['duration_s'].median():.2f}); {ok['fps_avg'].min():.2f}–"
            f"{ok['fps_avg'].max():.2f} fps; resolutions "
            + ", ".join(f"{k} ({v})" for k, v in resolutions.most_common(5))
            + "; codecs " + ", ".join(f"{k} ({v})" for k, v in Counter(ok["codec"]).items())
            + f"; {int(ok['audio'].sum())} with an audio track.")
    for title, counts in (("Age groups", summary.age_group_distribution),
                          ("Domains", summary.domain_distribution),
                          ("Labels", summary.label_distribution)):
        lines += ["", f"**{title}**", ""] + markdown_table(
            ["value", "videos"], [[k, _share(v, total)] for k, v in counts.items()])
    cross = summary.domain_label_crosstab
    if cross:
        labels = list(next(iter(cross.values())))
        lines += ["", "**Domain × label**", ""] + markdown_table(
            ["domain", *labels], [[d, *(row.get(k, 0) for k in labels)]
                                  for d, row in cross.items()])
    return lines


def deidentification(inputs: Inputs) -> list[str]:
    p = inputs.params
    verification = inputs.verification
    dates = {"drop": "dropped", "year": "generalised to the year",
             "quarter": "generalised to the quarter (2024-Q1)",
             "keep": "**kept exact** (ingest.dates: keep)"}[p.ingest.dates]
    lines = ["Removed or replaced:", "",
             f"- original file names → keyed HMAC-SHA256 pseudonyms "
             f"({p.ingest.pseudonym_length} hex characters); child ids → keyed pseudonyms; the "
             "key and the re-identification mapping stay outside the repository;",
             f"- recording dates {dates};",
             "- container metadata: every video remuxed (no re-encoding) into a fresh container "
             "without global or stream metadata (creation time, GPS, make and model, title, "
             "comments), chapters, data tracks, subtitles, attachments or encoder tag;",
             f"- audio: {'dropped' if p.ingest.audio == 'drop' else 'kept'} "
             "(`ingest.audio`).", "",
             "**Not removed**: faces" + (" in the analysis copy (data/interim; the release "
                                         "copy is blurred, below)" if inputs.faces and
                                         inputs.faces.mode == "blur" else "")
             + " and bodies of children and adults, **voices** "
             f"{'(audio was dropped)' if p.ingest.audio == 'drop' else '(audio is kept)'}, "
             "rooms, clothing, reflections, name tags and anything else visible or audible in "
             "the frames; the child's age in months and the milestone. The videos remain "
             "personal data wherever they show real people.", "", *faces(inputs)]
    if verification is not None:
        lines += ["", f"Verification (`reports/deidentify/verification.json`): "
                  f"{'passed' if verification.ok else '**FAILED**'}; "
                  f"{verification.files_checked} files and "
                  f"{verification.terms_checked} identifying terms checked, "
                  f"{len(verification.leaks)} leak(s)."]
    return lines


def faces(inputs: Inputs) -> list[str]:
    """What ``ingest.faces`` did (reports/faces/summary.json), per video where faces showed."""
    found = inputs.faces
    if found is None or found.mode == "keep":
        return ["Faces: not looked for (`ingest.faces: keep`). `report` counts and locates them "
                "(privately), `blur` makes a separate release copy with faces blurred and "
                "checks every frame."]
    lines = [f"Faces (`ingest.faces: {found.mode}`; CenterFace, every frame): found in "
             f"{found.videos_with_faces} of {found.videos} videos, on "
             f"{found.frames_with_faces} of {found.frames} frames. Where, frame by frame, is "
             "in the private report beside the key, never here."]
    if found.mode == "blur":
        lines[0] += (f" Blurred release copy (`data/release`, data version "
                     f"`{found.release_fingerprint}`): {found.frames_blurred} frames blurred "
                     "and re-encoded (H.264, every frame, timestamp and the rotation kept); "
                     "OpenCV's Haar cascades and CenterFace checked every frame: "
                     f"{found.verified} videos passed, **{found.failed} still showed a face "
                     "and are left out of the release** (`data/release/quarantine.csv`)"
                     + (f"; **{found.undecodable} could not be decoded and are left out "
                        "too**" if found.undecodable else "") + ". "
                     "Blurring hides faces only: voices, bodies, other people, reflections "
                     "and name tags stay.")
    shown = [v for v in found.per_video
             if v.frames_with_faces or v.verification in ("failed", "undecodable")]
    if shown:
        lines += ["", *markdown_table(
            ["video", "frames", "frames with faces", "frames blurred", "verification"],
            [[f"`{v.video_id}`", v.frames, v.frames_with_faces, v.frames_blurred,
              v.verification.replace("_", " ")] for v in shown])]
    return lines


def _decoded_with(c, clips: contracts.ClipsSummary | None) -> str:
    """Which backend built the cache (``clips.backend: auto`` resolves to what is installed)."""
    if clips is None:
        return f"`{c.backend}`"
    said = f"`{clips.backend}`" + (f" (`clips.backend: {c.backend}`)"
                                   if c.backend != clips.backend else "")
    fallback = clips.fallback_pyav
    return said + (f", PyAV for {fallback} video(s) it refused" if fallback else "")


INTEGRITY = {
    "full": "every frame of every video decoded (`probe.integrity: full`)",
    "fast": ("`probe.integrity: fast`: every packet counted against the container's index and "
             "timestamps, only keyframes and each video's last group of pictures decoded, so "
             "damage inside other groups of pictures would go unseen"),
}


def integrity_check(manifest) -> str:
    """What the manifest's ``integrity`` column says about how the pinned videos were checked."""
    if manifest is None or "integrity" not in manifest:
        return "integrity check unknown (a manifest from before the integrity column)"
    modes = sorted(set(manifest["integrity"]) - {""})
    if len(modes) == 1:
        return INTEGRITY.get(modes[0], modes[0])
    counts = manifest["integrity"].value_counts()
    return "mixed: " + ", ".join(f"{counts[m]} video(s) {m}" for m in modes)


def preprocessing(params: Params, clips: contracts.ClipsSummary | None = None,
                  manifest=None) -> list[str]:
    c, a, pr = params.clips, params.augment, params.probe
    return [
        f"- **Probe**: {integrity_check(manifest)}; frame-rate normalisation `{pr.normalize}` "
        f"(VFR beyond {pr.vfr_tolerance} of the median interval is flagged).",
        f"- **Clips**: {c.clip_len} frames, stride {c.stride}, at "
        f"{c.target_fps or 'the native'} fps (resampled by timestamp); short videos padded by "
        f"`{c.pad}`; {c.train_clips} random clips per training video and {c.eval_clips} evenly "
        f"spaced per val/test video (scores averaged per video); decoded with "
        f"{_decoded_with(c, clips)}, "
        f"resized to {c.size}×{c.size} (`{c.crop}`), cached as uint8; normalised with mean "
        f"{list(c.mean)}, std {list(c.std)}.",
        f"- **Augmentation** (training only): groups {list(a.use) or 'none'}; flip {a.hflip}, "
        f"resized crop ≥ {a.crop_scale}, rotate {a.rotate}°, shift {a.translate}, colour "
        f"{a.color}, grayscale {a.grayscale}, noise {a.noise}, blur {a.blur}; frame drop "
        f"{a.frame_drop}, jitter {a.jitter}, time warp {a.time_warp}, reverse {a.reverse}; "
        f"JPEG quality {a.jpeg[0]}–{a.jpeg[1]}.",
        f"- **Seed**: `base.seed` {params.base.seed}; every draw derives from it. Panels of "
        "each step: `reports/eda/preprocessing.png`, `reports/eda/augmentation.png`."]


def splits(inputs: Inputs, items: dict[str, dict]) -> list[str]:
    summary = inputs.split
    if summary is None:
        return missing("reports/split/summary.json")
    p = inputs.params
    classes = list(p.base.classes)
    rows = []
    for name in SPLIT_NAMES:
        info = summary.splits.get(name)
        if info:
            rows.append([name, info.videos, f"{info.share:.3f}", info.groups,
                         *(info.classes.get(c, 0) for c in classes)])
    lines = [f"Strategy {summary.strategy}, stratified on {summary.stratify}, ratios "
             f"{summary.ratios}, seed {summary.seed}"
             + (f", {summary.folds} folds" if summary.folds else "") + ".", ""]
    lines += markdown_table(["split", "videos", "share", "subject groups", *classes], rows)
    leak = items["no_leakage"]
    ev = leak["evidence"]
    lines += ["", f"Leakage, recomputed from `splits.csv`, `duplicates.json` and the manifest: "
              f"{'none' if leak['go'] else '**' + leak['why'] + '**'}. "
              f"Subjects in two splits: {len(ev.get('subjects_in_two_splits', []))}; "
              f"duplicate clusters across splits: "
              f"{len(ev.get('duplicate_clusters_across_splits', []))} of "
              f"{ev.get('duplicate_clusters', 0)}; identical files across splits: "
              f"{ev.get('identical_files_across_splits', 0)}. Balance: "
              f"{items['splits_balanced']['why']}."]
    return lines


def results(inputs: Inputs) -> list[str]:
    from vidlab.models.scoring import cell as _cell

    if not inputs.metrics:
        return missing("reports/metrics/<model>.json")
    first = next(iter(inputs.metrics.values()))
    lines = [f"Video level (softmax averaged over a video's clips), "
             f"{first.bootstrap.level:.0%} bootstrap intervals over "
             f"{first.bootstrap.unit}s ({first.bootstrap.n} resamples). "
             "`classical` is a logistic regression on colour histograms and motion energy.", ""]
    rows = []
    for model, r in inputs.metrics.items():
        test = r.test.video if r.test else None
        val = r.val.video if r.val else None
        rows.append([f"`{model}`", _cell(test and test.acc), _cell(test and test.macro_f1),
                     _cell(test and test.auroc), _cell(val and val.acc),
                     test.n if test else "n/a"])
    lines += markdown_table(["model", "test accuracy", "test macro F1", "test AUROC",
                             "val accuracy", "test videos"], rows)
    sanity = inputs.sanity
    if sanity is not None:
        verdict = ("all passed" if sanity.passed
                   else f"FAILED: {sanity.failures}")
        lines += ["", f"Sanity checks (`reports/sanity.json`): {verdict}."]
    return lines



def _commit_lines(inputs: Inputs, dataset: str | None, processed: str | None) -> list[str]:
    """The commit the models and metrics were produced at (what their MLflow runs carry), and
    the card's own when it differs."""
    from vidlab import tracking

    commit, dirty = tracking.git_commit(inputs.root)
    own = (f"`{commit}`" + (" (with uncommitted changes, such as the outputs of this run; the "
                            "release tag, `git describe --tags`, names the commit that holds "
                            "this card)" if dirty else ""))
    runs = None
    if dataset and processed:
        from mlflow.exceptions import MlflowException

        try:
            runs = tracking.run_commits(inputs.params.tracking,
                                        {tracking.TAG_FINGERPRINT: dataset,
                                         tracking.TAG_PROCESSED: processed}, root=inputs.root)
        except (MlflowException, OSError) as exc:  # an unreadable store must not stop the card
            log.warning("Could not read the MLflow runs of this data: %s", exc)
            return [f"- **Git commit**: {own}; the MLflow store could not be read ({exc})"]
    produced = sorted(set((runs or {}).values()))
    if not produced:
        return [f"- **Git commit**: {own}; no MLflow run carries this dataset and processed "
                "fingerprint"]
    if produced == [commit]:
        return [f"- **Git commit**: {own}, the commit every MLflow run of this data "
                f"({len(runs)}: {', '.join(runs)}) carries"]
    by_commit = {c: [name for name, sha in runs.items() if sha == c] for c in produced}
    listed = "; ".join(f"`{c}` ({', '.join(names)})" for c, names in by_commit.items())
    return [f"- **Git commit of the models and metrics** (their MLflow runs): {listed}",
            f"- **Git commit of this card**: {own}. The runs of this data were made at more "
            "than one commit (a stage DVC did not rerun keeps the outputs of the commit it ran "
            "at, and a commit made while `dvc repro` ran splits one pipeline run); the "
            "fingerprints above say the data is the same"]


def version(inputs: Inputs) -> list[str]:
    from vidlab import tracking
    from vidlab.tracking.pipeline import DATA_OUTS

    dataset = inputs.summary.dataset_fingerprint if inputs.summary else None
    processed = tracking.outs_fingerprint(inputs.outs, DATA_OUTS)
    lines = [f"- **Dataset fingerprint** `{dataset or 'n/a'}`: names this data version in the "
             "summary report, the EDA page, every MLflow run (tag "
             f"`{tracking.TAG_FINGERPRINT}`) and the release; it hashes the de-identified "
             "metadata, which holds every video's sha256",
             f"- **Processed-data fingerprint** `{processed or 'n/a'}`: the splits and clips "
             f"cache of these params (tag `{tracking.TAG_PROCESSED}`)",
             *_commit_lines(inputs, dataset, processed),
             f"- **vidlab**: {__version__}; data source `{inputs.params.data.source}`", "",
             "Data hashes (md5, from dvc.lock):", ""]
    rows = [[f"`{path}`", f"`{inputs.outs[path]}`"] for path in PINNED if path in inputs.outs]
    data = inputs.params.data
    for stage in (inputs.lock.get("stages") or {}).values():
        for dep in (stage or {}).get("deps") or []:
            if dep.get("path") in (data.csv, data.videos) and data.source == "custom":
                rows.insert(0, [f"`{dep['path']}` (raw)", f"`{dep.get('md5')}`"])
    return lines + (markdown_table(["output", "md5"], rows) if rows
                    else ["_dvc.lock has no hashes yet._"])


def environment(inputs: Inputs) -> list[str]:
    """The environment this card was computed in (versions, the uv.lock hash, CPU, GPU) and the
    decoder that built the clips cache. Nothing in it varies between two runs on one machine."""
    from vidlab import tracking
    from vidlab.tracking.environment import environment as table_of

    table = table_of(gpu=True, root=inputs.root)  # never raises; torch optional
    lines = ["The environment this card was computed in; each MLflow run records its own "
             f"(tags `{tracking.TAG_ENV}<key>` and the artifact "
             f"`{tracking.ENVIRONMENT_ARTIFACT}`), the model runs with their GPU, CUDA and cuDNN.",
             "", *markdown_table(["component", "value"],
                                 [[key, f"`{value.replace('|', '/')}`"]
                                  for key, value in table.items()]), ""]
    clips = inputs.clips
    if clips is None:
        return lines + missing("reports/clips/summary.json, the clips cache's decoder")
    return lines + [f"- **Clips cache decoded by**: {clips.decoder} "
                    "(`reports/clips/summary.json`, `decoder`)."]


def rebuild(params: Params) -> list[str]:
    return ["```bash",
            "git clone <this repository> && cd <it>",
            "git checkout <release tag>      # e.g. v1.0; `git tag` lists them",
            "uv sync --locked                 # the locked environment",
            "uv run dvc pull                  # the exact data of dvc.lock from the remote",
            "uv run dvc repro                 # or rebuild every stage (same params, same bytes)",
            "```", "",
            "Only the files: `uv run dvc get <repository url> data/interim/manifest.parquet "
            "--rev <tag>`, or `dvc import` to keep the link. Rebuilding custom data from the raw "
            "videos needs the same HMAC key (`VIDLAB_HMAC_KEY`) for the same pseudonyms."
            + (" The demo uses its published key." if params.data.source == "demo" else "")]

