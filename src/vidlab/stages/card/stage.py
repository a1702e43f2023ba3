"""The `card` stage: the dataset card and the Go/No-Go readiness checklist.

Both are computed from the pipeline's own outputs, never typed in by hand:

* ``reports/DATASET_CARD.md``: the sections of a datasheet. What only the researcher can say
  (motivation, sources, licence, consent, authors) comes from the ``card`` params, and the card
  says plainly when a field is empty. Counts come from the summary report and the manifest,
  policies from params, leakage from the splits themselves, results from the evaluate stages,
  hashes from dvc.lock.
* ``reports/readiness.json`` and ``reports/readiness.md``: eight Go/No-Go items, each with the
  evidence it was decided on, and an overall verdict (Go only when all eight are Go).
  ``card.fail_on_nogo`` makes a No-Go fail the stage (after both are written).

The leakage item does not trust the split report: it recomputes subjects, duplicate clusters and
identical files across splits from ``splits.csv``, ``duplicates.json`` and the manifest.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import SPLIT_NAMES, Params
from vidlab.core.errors import VidlabError
from vidlab.core.fsutil import atomic_write_text
from vidlab.core.version import VERSION as __version__

log = logging.getLogger(__name__)

NOT_FILLED = "**Not filled in.**"
ITEMS = (
    ("decode_and_metadata", "All videos decode; metadata sane (duration, fps, resolution)"),
    ("no_leakage", "No cross-split near-duplicates or same-subject leakage"),
    ("labels_valid", "Labels valid and aligned with the videos"),
    ("splits_balanced", "Splits balanced; distributions comparable"),
    ("preprocessing_reproducible", "Preprocessing and augmentation defined and reproducible"),
    ("eda_done", "EDA completed"),
    ("sanity_passed", "Baseline sanity checks passed"),
    ("card_complete", "Dataset card complete; licence and consent filled"),
)
# The outputs whose dvc.lock hashes pin a dataset version, in pipeline order.
PINNED = ("data/raw/demo", "data/interim/videos", "data/interim/metadata.csv",
          "data/interim/quarantine_ingest.csv", "data/interim/manifest.parquet",
          "data/interim/quarantine.csv", "data/interim/duplicates.json",
          "data/processed/splits.csv", "data/processed/clips")


class ReadinessError(VidlabError):
    """The readiness verdict is No-Go and ``card.fail_on_nogo`` is true."""


@dataclass
class Inputs:
    """Everything the card and the checklist read (file contents, or None when missing)."""

    params: Params
    root: Path
    reports: Path
    manifest: pd.DataFrame | None = None
    splits: pd.DataFrame | None = None
    metadata: pd.DataFrame | None = None
    duplicates: dict | None = None
    json: dict[str, dict | None] = field(default_factory=dict)  # name -> parsed report
    metrics: dict[str, dict] = field(default_factory=dict)  # model -> reports/metrics/<model>.json
    lock: dict = field(default_factory=dict)
    outs: dict[str, str] = field(default_factory=dict)  # dvc.lock: output path -> md5
    eda_inputs: str | None = None  # eda.inputs_hash of the current manifest and splits
    frozen_clips: list[str] | None = None  # cached clips that repeat one picture (None: unread)
    missing: list[str] = field(default_factory=list)

    def report(self, name: str) -> dict | None:
        return self.json.get(name)


REPORTS = {  # name -> path under reports/
    "summary": "summary/summary.json", "ingest": "deidentify/ingest.json",
    "verification": "deidentify/verification.json", "probe": "probe/summary.json",
    "validation": "validation/summary.json", "dedup": "dedup/summary.json",
    "split": "split/summary.json", "leakage": "split/leakage.json",
    "clips": "clips/summary.json", "sanity": "sanity.json", "eda": "eda/summary.json",
}


def frozen_clips(clips: Path) -> list[str] | None:
    """Keys of cached clips whose frames are all one picture although they were sampled from
    different frames: what the cache holds, not what the clips stage says. None without a cache."""
    index_file = Path(clips) / "index.csv"
    if not index_file.is_file():
        return None
    index = pd.read_csv(index_file, dtype={"frames": str, "key": str, "split": str})
    frozen = []
    for split, part in index.groupby("split"):
        array = np.load(Path(clips) / f"{split}.npy", mmap_mode="r")
        for row in part.itertuples():
            if len(set(str(row.frames).split())) > 1:
                clip = np.asarray(array[row.row])
                if np.all(clip == clip[:1]):
                    frozen.append(row.key)
    return sorted(frozen)


def load(params: Params, *, root: Path, reports: Path, manifest: Path, splits: Path,
         metadata: Path, duplicates: Path, lock: Path, models: list[str],
         clips: Path | None = None) -> Inputs:
    """Read every input that exists; note the missing ones (items that need them are No-Go)."""
    from vidlab import tracking
    from vidlab.tracking.pipeline import inputs_hash

    inputs = Inputs(params=params, root=Path(root), reports=Path(reports))
    for name, rel in REPORTS.items():
        path = Path(reports) / rel
        if path.is_file():
            inputs.json[name] = json.loads(path.read_text(encoding="utf-8"))
        else:
            inputs.json[name] = None
            inputs.missing.append(str(path))
    for model in models:
        path = Path(reports) / "metrics" / f"{model}.json"
        if path.is_file():
            inputs.metrics[model] = json.loads(path.read_text(encoding="utf-8"))
        else:
            inputs.missing.append(str(path))
    if Path(manifest).is_file():
        inputs.manifest = pd.read_parquet(manifest)
    else:
        inputs.missing.append(str(manifest))
    for attr, path in (("splits", splits), ("metadata", metadata)):
        if Path(path).is_file():
            setattr(inputs, attr, pd.read_csv(path, dtype=str, keep_default_na=False))
        else:
            inputs.missing.append(str(path))
    if Path(duplicates).is_file():
        inputs.duplicates = json.loads(Path(duplicates).read_text(encoding="utf-8"))
    else:
        inputs.missing.append(str(duplicates))
    if Path(lock).is_file():
        inputs.lock = tracking.read_lock(Path(lock))
        inputs.outs = tracking.lock_outs(inputs.lock)
    if Path(manifest).is_file() and Path(splits).is_file():
        inputs.eda_inputs = inputs_hash(manifest, splits)
    if clips is not None:
        inputs.frozen_clips = frozen_clips(Path(clips))
        if inputs.frozen_clips is None:
            inputs.missing.append(str(Path(clips) / "index.csv"))
    return inputs


# --- the readiness items -----------------------------------------------------------------------


GO, NO_GO, NOT_PROVEN = "Go", "No-Go", "Not proven"


def _item(key: str, go: bool, why: str, evidence: dict, *, proven: bool = True) -> dict:
    """One readiness item. ``proven=False`` (the evidence cannot decide it) is Not proven, which
    never counts as Go; a failed check is No-Go whatever else."""
    title = dict(ITEMS)[key]
    state = GO if go and proven else NO_GO if not go and proven else NOT_PROVEN
    return {"id": key, "title": title, "state": state, "go": state == GO, "why": why,
            "evidence": evidence}


def _absent(key: str, *names: str) -> dict:
    return _item(key, True, f"No evidence: {', '.join(names)} missing. Run `dvc repro`.",
                 {"missing": list(names)}, proven=False)


def _in_splits(inputs: Inputs) -> pd.DataFrame:
    frame = inputs.splits
    return frame[frame["split"].isin(SPLIT_NAMES)]


def decode_and_metadata(inputs: Inputs) -> dict:
    key, v = "decode_and_metadata", inputs.params.validate
    validation, probe = inputs.report("validation"), inputs.report("probe")
    if inputs.manifest is None or inputs.splits is None or validation is None or probe is None:
        return _absent(key, "manifest/splits.csv/validation/probe summary")
    used = _in_splits(inputs)
    rows = inputs.manifest.set_index("video_id").reindex(used["video_id"])
    not_ok = sorted(rows.index[rows["status"].fillna("missing") != "ok"])
    side = rows[["width", "height"]].astype(float)
    insane = rows[(rows["duration_s"].astype(float) <= v.min_duration_s)
                  | (rows["duration_s"].astype(float) > v.max_duration_s)
                  | (rows["fps_avg"].astype(float) < v.min_fps)
                  | (rows["fps_avg"].astype(float) > v.max_fps)
                  | (side.min(axis=1) < v.min_side) | (side.max(axis=1) > v.max_side)]
    evidence = {"videos_in_splits": len(used), "not_decoded": not_ok[:20],
                "out_of_bounds": sorted(insane.index)[:20],
                "probed": probe.get("videos"), "probe_ok": probe.get("ok"),
                "excluded_from_splits": (inputs.report("split") or {}).get("excluded", {}).get(
                    "total"),
                "quarantined_rows": (validation.get("quarantined_by_ingest", 0)
                                     + validation.get("quarantined_by_validate", 0)),
                "validation_passed": validation.get("passed"),
                "blocking_failures": validation.get("blocking_failures", []),
                "warnings": probe.get("warnings", {})}
    problems = []
    if not_ok:
        problems.append(f"{len(not_ok)} video(s) in the splits did not decode")
    if len(insane):
        problems.append(f"{len(insane)} video(s) outside the validate bounds")
    if not validation.get("passed"):
        problems.append("the validation suites have blocking failures")
    why = "; ".join(problems) or (f"all {len(used)} videos in the splits decode fully and are "
                                  "within the validate bounds; quarantined files are excluded")
    return _item(key, not problems, why, evidence)


def leakage(inputs: Inputs) -> dict:
    """Subjects, duplicate clusters and byte-identical files that are in more than one split."""
    key = "no_leakage"
    if inputs.splits is None or inputs.duplicates is None or inputs.manifest is None:
        return _absent(key, "splits.csv/duplicates.json/manifest")
    used = _in_splits(inputs)
    split_of = dict(zip(used["video_id"], used["split"], strict=True))
    subjects = used[used["subject_id"] != ""].groupby("subject_id")["split"].nunique()
    crossing_subjects = sorted(subjects.index[subjects > 1])
    crossing_clusters = []
    for cluster in inputs.duplicates.get("clusters", []):
        where = {split_of[v] for v in cluster["video_ids"] if v in split_of}
        if len(where) > 1:
            crossing_clusters.append({"cluster": cluster["id"], "kind": cluster["kind"],
                                      "splits": sorted(where)})
    sha = inputs.manifest.set_index("video_id")["sha256"]
    by_hash: dict[str, set[str]] = {}
    for video, split in split_of.items():
        if video in sha.index and sha[video]:
            by_hash.setdefault(sha[video], set()).add(split)
    identical = sum(1 for where in by_hash.values() if len(where) > 1)
    # pairs just above the duplicate threshold: nobody has decided they are distinct
    review = [{"a": r["a"], "b": r["b"], "distance": r["distance"],
               "splits": sorted({split_of[r["a"]], split_of[r["b"]]})}
              for r in inputs.duplicates.get("review", [])
              if r["a"] in split_of and r["b"] in split_of and split_of[r["a"]] != split_of[r["b"]]]
    evidence = {"review_pairs_across_splits": review[:20],
                "subjects_in_two_splits": crossing_subjects[:20],
                "duplicate_clusters_across_splits": crossing_clusters[:20],
                "identical_files_across_splits": identical,
                "duplicate_clusters": len(inputs.duplicates.get("clusters", [])),
                "subjects": int(subjects.size)}
    problems = []
    if crossing_subjects:
        problems.append(f"{len(crossing_subjects)} subject(s) in two splits")
    if crossing_clusters:
        problems.append(f"{len(crossing_clusters)} duplicate cluster(s) across splits ("
                        + ", ".join(c["cluster"] for c in crossing_clusters[:5]) + ")")
    if identical:
        problems.append(f"{identical} identical file(s) across splits")
    if problems:
        return _item(key, False, "; ".join(problems), evidence)
    if review:
        pairs = ", ".join(f"{r['a']}-{r['b']} ({r['distance']:.3f}, {'/'.join(r['splits'])})"
                          for r in review[:5])
        return _item(key, True, f"not proven: {len(review)} near-duplicate review pair(s) just "
                     f"above the threshold sit in different splits ({pairs}); look at them and "
                     "lower dedup.threshold to join a real copy, or leave them if distinct",
                     evidence, proven=False)
    why = (f"no subject ({subjects.size}), duplicate cluster ({evidence['duplicate_clusters']}) "
           "or identical file is in two splits, and no review pair straddles them")
    return _item(key, True, why, evidence)


def labels_valid(inputs: Inputs) -> dict:
    key, p = "labels_valid", inputs.params
    validation = inputs.report("validation")
    if inputs.splits is None or inputs.metadata is None or validation is None \
            or inputs.manifest is None or inputs.duplicates is None:
        return _absent(key, "splits.csv/metadata.csv/validation summary/manifest")
    used = _in_splits(inputs)
    target, classes = p.base.target, list(p.base.classes)
    unknown = sorted(set(used[target]) - set(classes))
    bad_labels = sorted(set(used["label"]) - set(p.base.classes)) if target == "label" else []
    probed = set(inputs.manifest["video_id"])
    listed = set(inputs.metadata["video_id"])
    without_video = sorted(set(used["video_id"]) - probed)
    without_row = sorted(probed - listed)
    label_of = dict(zip(used["video_id"], used[target], strict=True))
    conflicts = []
    for cluster in inputs.duplicates.get("clusters", []):
        values = {label_of[v] for v in cluster["video_ids"] if v in label_of}
        if len(values) > 1:
            conflicts.append({"cluster": cluster["id"], "labels": sorted(values)})
    warnings = [w["expectation"] for w in validation.get("warnings", [])]
    evidence = {"target": target, "classes": classes, "unknown_values": unknown + bad_labels,
                "rows_without_video": without_video[:20], "videos_without_row": without_row[:20],
                "duplicates_with_different_labels": conflicts,
                "validation_passed": validation.get("passed"),
                "validation_warnings": warnings}
    problems = []
    if unknown or bad_labels:
        problems.append(f"values outside base.classes: {(unknown + bad_labels)[:5]}")
    if without_video or without_row:
        problems.append(f"{len(without_video)} row(s) without a video, {len(without_row)} "
                        "video(s) without a row")
    if conflicts:
        problems.append(f"{len(conflicts)} duplicate cluster(s) carry different labels")
    if not validation.get("passed"):
        problems.append("the label suite has blocking failures")
    why = "; ".join(problems) or (f"every video has exactly one row and a valid `{target}`; "
                                  f"no duplicate pair disagrees; {len(warnings)} non-blocking "
                                  "validation warning(s) documented")
    return _item(key, not problems, why, evidence)


def splits_balanced(inputs: Inputs) -> dict:
    key, p = "splits_balanced", inputs.params
    summary = inputs.report("split")
    if summary is None:
        return _absent(key, "reports/split/summary.json")
    tolerance = p.card.max_split_share_error
    off, empty = {}, {}
    for name in SPLIT_NAMES:
        info = summary["splits"].get(name)
        if info is None:
            continue
        share, wanted = info["share"], summary["ratios"][name]
        if abs(share - wanted) > tolerance:
            off[name] = {"share": share, "ratio": wanted}
        missing = [c for c, n in info["classes"].items() if n == 0]
        if missing:
            empty[name] = missing
    flagged = summary.get("flagged_tests", [])
    evidence = {"shares": {s: i["share"] for s, i in summary["splits"].items()},
                "ratios": summary["ratios"], "tolerance": tolerance,
                "classes": {s: i["classes"] for s, i in summary["splits"].items()},
                "off_ratio": off, "splits_missing_a_class": empty, "flagged_tests": flagged}
    problems = []
    if off:
        problems.append(f"split share off its ratio by more than {tolerance}: {sorted(off)}")
    if empty:
        problems.append(f"split(s) without every class: {empty}")
    if flagged:
        problems.append(f"{len(flagged)} distribution test(s) flagged at alpha "
                        f"{p.split.balance_alpha}")
    why = "; ".join(problems) or ("every split holds every class, within "
                                  f"{tolerance} of its share, no distribution test flagged")
    return _item(key, not problems, why, evidence)


def preprocessing_reproducible(inputs: Inputs) -> dict:
    key, p = "preprocessing_reproducible", inputs.params
    clips, eda = inputs.report("clips"), inputs.report("eda")
    if clips is None or eda is None:
        return _absent(key, "reports/clips/summary.json/reports/eda/summary.json")
    redecoded = eda["checks"]["clips_redecoded"]
    same_aug = eda["checks"]["augment_reproducible"]
    locked = inputs.outs.get("data/processed/clips")
    evidence = {"seed": p.base.seed, "clip_len": p.clips.clip_len,
                "target_fps": p.clips.target_fps, "size": p.clips.size, "crop": p.clips.crop,
                "augment": list(p.augment.use), "clips_failed": clips.get("failed", []),
                "clips_redecoded": redecoded, "augment_same_seed_same_clip": same_aug,
                "clips_cache_md5": locked, "frozen_clips": inputs.frozen_clips,
                "decoded_by_pyav_instead": clips.get("fallback_pyav")}
    problems = []
    if clips.get("failed"):
        problems.append(f"{len(clips['failed'])} video(s) failed to decode into clips")
    if inputs.frozen_clips:
        problems.append(f"{len(inputs.frozen_clips)} cached clip(s) repeat one picture although "
                        f"sampled from different frames ({', '.join(inputs.frozen_clips[:5])})")
    if not redecoded["checked"] or redecoded["identical"] != redecoded["checked"]:
        problems.append(f"cached clips decoded again: {redecoded['identical']} of "
                        f"{redecoded['checked']} identical")
    if same_aug is False:
        problems.append("the augmentation drawn twice with the same seed differed")
    if locked is None:
        problems.append("the clips cache is not pinned in dvc.lock")
    if not problems and inputs.frozen_clips is None:
        return _item(key, True, "not proven: the clips cache itself was not read (pass --clips)",
                     evidence, proven=False)
    why = "; ".join(problems) or (
        f"no cached clip is frozen; clips: {p.clips.clip_len} frames at "
        f"{p.clips.target_fps or 'native'} fps, "
        f"{p.clips.size}px {p.clips.crop}; seed {p.base.seed}; decoding again gave the same "
        "bytes and the augmentation repeats with its seed; the cache is pinned in dvc.lock")
    return _item(key, not problems, why, evidence)


def eda_done(inputs: Inputs) -> dict:
    key = "eda_done"
    eda = inputs.report("eda")
    if eda is None:
        return _absent(key, "reports/eda/summary.json")
    folder = inputs.reports / "eda"
    missing = [f for f in eda.get("figures", []) if not (folder / f).is_file()]
    if not (folder / "index.html").is_file():
        missing.append("index.html")
    required = ("distributions.png", "class_counts.png", "outliers.png", "preprocessing.png",
                "augmentation.png", "tsne_classical.png")
    absent = [f for f in required if f not in eda.get("figures", [])]
    current = eda.get("inputs_hash") == inputs.eda_inputs
    flagged = eda["outliers"]
    evidence = {"figures": len(eda.get("figures", [])), "missing_files": missing + absent,
                "of_current_data": current,
                "outliers": {k: len(flagged[k]) for k in ("shortest", "longest", "odd_fps",
                                                          "flagged")},
                "embeddings": {k: v["neighbour_label_agreement"]
                               for k, v in eda.get("embeddings", {}).items()}}
    problems = []
    if missing or absent:
        problems.append(f"figure(s) missing: {(missing + absent)[:5]}")
    if not current:
        problems.append("the EDA was made from other data than the current manifest and splits")
    why = "; ".join(problems) or (f"{evidence['figures']} figures on reports/eda/index.html, of "
                                  "the current data; outliers listed there and in this card")
    return _item(key, not problems, why, evidence)


def sanity_passed(inputs: Inputs) -> dict:
    key, p = "sanity_passed", inputs.params
    sanity = inputs.report("sanity")
    if sanity is None:
        return _absent(key, "reports/sanity.json")
    checked = sorted(sanity.get("models", {}))
    unchecked = sorted(set(p.sanity.models) - set(checked))
    unproven = sanity.get("not_proven", [])
    evidence = {"passed": sanity.get("passed"), "failures": sanity.get("failures", []),
                "not_proven": unproven, "models": checked}
    problems = []
    if sanity.get("failures") or (not sanity.get("passed") and not unproven):
        problems.append("failed: " + "; ".join(str(f) for f in sanity.get("failures", []))[:300])
    if unchecked:
        problems.append(f"model(s) not checked: {unchecked}")
    if problems:
        return _item(key, False, "; ".join(problems), evidence)
    if unproven:  # a check that could not fail on this data proves nothing
        why = "not proven: " + "; ".join(str(u) for u in unproven)[:600]
        return _item(key, True, why, evidence, proven=False)
    shuffle = [m.get("label_shuffle", {}) for m in sanity.get("models", {}).values()]
    tops = [s["range_top_before"] for s in shuffle if "range_top_before" in s]
    power = (f" (its chance range reaches {max(tops):.2f}, below "
             f"{p.sanity.learning_accuracy:.2f})" if tops else "")
    why = (f"label shuffle stays at chance{power} and a subset matched on colour statistics is "
           f"overfit for {', '.join(checked)}")
    return _item(key, True, why, evidence)


# The demo's card, as params.yaml ships it: on your own data (data.source: custom) a field that
# still holds this text describes the wrong dataset (a test keeps the two identical).
DEMO_CARD = {
    "title": "vidlab synthetic demo dataset",
    "motivation": "A synthetic stand-in for short videos of children attempting developmental "
                  "milestones, to exercise the whole vidlab pipeline without any real person's "
                  "data.",
    "sources": "Generated by `vidlab demo` (procedural scenes, H.264, some with a synthetic tone "
               "track) from base.seed; no camera, no person.",
    "licence": "CC0-1.0 (synthetic data generated by vidlab; no third-party content)",
    "consent": "Not applicable. The demo shows no real person; there is nobody to ask.",
    "authors": ("vidlab contributors",),
    "contact": "The vidlab maintainers, through the project's issue tracker (synthetic demo "
               "data)",
    "changelog": ("1.0: first release of the demo dataset",),
}


def demo_text_left(params: Params) -> list[str]:
    """Card fields that still hold the demo's text while the data is the user's own."""
    if params.data.source != "custom":
        return []
    return [name for name, text in DEMO_CARD.items() if getattr(params.card, name) == text]


def card_complete(params: Params, card_text: str) -> dict:
    key, c = "card_complete", params.card
    empty = [name for name in ("motivation", "sources", "licence", "consent", "contact")
             if not getattr(c, name)]
    if not c.authors:
        empty.append("authors")
    demo = demo_text_left(params)
    missing_sections = [s for s in SECTIONS if f"## {s}" not in card_text]
    no_input = card_text.count("_input missing:")
    evidence = {"empty_fields": empty, "missing_sections": missing_sections,
                "sections_without_input": no_input, "data_source": params.data.source,
                "demo_text_on_custom_data": demo}
    problems = []
    if demo:
        problems.append(f"card.{', card.'.join(demo)} still describe the synthetic demo, not "
                        "your data (data.source is custom): write your own in params.yaml")
    required = [f for f in empty if f in ("licence", "consent")]
    if required:
        problems.append(f"card.{' and card.'.join(required)} not filled in params.yaml")
    others = [f for f in empty if f not in required]
    if others:
        problems.append(f"card.{', card.'.join(others)} not filled")
    if missing_sections or no_input:
        problems.append(f"{len(missing_sections) + no_input} card section(s) lack their input")
    why = "; ".join(problems) or ("every section is filled; licence, consent and contact are "
                                  "stated" + ("" if params.data.source == "custom" else
                                              " (the demo's own text, for the demo's data)"))
    return _item(key, not problems, why, evidence)


def data_items(inputs: Inputs) -> list[dict]:
    """The seven items judged from the pipeline's outputs (the eighth judges the card)."""
    return [decode_and_metadata(inputs), leakage(inputs), labels_valid(inputs),
            splits_balanced(inputs), preprocessing_reproducible(inputs), eda_done(inputs),
            sanity_passed(inputs)]


def verdict(items: list[dict]) -> dict:
    """Go only when every item is Go; No-Go when any is No-Go; else Not proven."""
    failed = [i["id"] for i in items if i["state"] == NO_GO]
    unproven = [i["id"] for i in items if i["state"] == NOT_PROVEN]
    state = NO_GO if failed else NOT_PROVEN if unproven else GO
    return {"verdict": state, "failed": failed, "not_proven": unproven, "items": items}


def readiness_md(result: dict) -> str:
    lines = [f"# Readiness: {result['verdict']}", ""]
    if result["failed"]:
        lines += [f"No-Go on: {', '.join(result['failed'])}.", ""]
    if result.get("not_proven"):
        lines += [f"Not proven (the evidence cannot decide; the reason says what would): "
                  f"{', '.join(result['not_proven'])}.", ""]
    lines += ["| # | item | verdict | why |", "|---|---|---|---|"]
    for k, item in enumerate(result["items"], 1):
        shown = item["state"] if item["state"] == GO else f"**{item['state']}**"
        lines.append(f"| {k} | {item['title']} (`{item['id']}`) | {shown} | {item['why']} |")
    lines += ["", "The evidence behind each verdict is in `reports/readiness.json`. Computed by "
              "`vidlab card` from the pipeline's outputs."]
    return "\n".join(lines) + "\n"


# --- the card ----------------------------------------------------------------------------------

SECTIONS = ("Motivation", "Sources", "Licence and consent", "Collection period", "Composition",
            "De-identification", "Preprocessing and sampling", "Splits and leakage checks",
            "Baseline results", "Known limitations and biases", "Version", "Rebuild",
            "Changelog")


def _filled(value: str | None, name: str) -> str:
    return value.strip() if value else f"{NOT_FILLED} Set `card.{name}` in params.yaml."


def _table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _missing(what: str) -> list[str]:
    return [f"_input missing: {what} (run `dvc repro`)._"]


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f} %)" if total else str(count)


def _composition(inputs: Inputs) -> list[str]:
    summary = inputs.report("summary")
    if summary is None or inputs.manifest is None or inputs.splits is None:
        return _missing("reports/summary/summary.json, manifest or splits.csv")
    m = inputs.manifest
    total = summary["total_videos"]
    used = _in_splits(inputs)
    subjects = summary.get("per_subject", {})
    lines = [f"- **Videos**: {total} de-identified videos with metadata (summary report); "
             f"{len(m)} probed in the manifest, {int((m['status'] == 'ok').sum())} decode fully; "
             f"{len(used)} in the splits.",
             f"- **Children (pseudonymous subjects)**: {subjects.get('n_subjects', 'n/a')}; "
             f"videos per child min {subjects.get('min', 'n/a')}, median "
             f"{subjects.get('median', 'n/a')}, max {subjects.get('max', 'n/a')}."]
    ingest = inputs.report("ingest") or {}
    if ingest:
        # rows and files without a row are counted apart, as the summary report does
        orphans = ingest.get("files_without_rows", 0)
        reasons = ", ".join(f"{k} {v}" for k, v in ingest.get("problems_by_reason", {}).items()
                            if k != "no_metadata_row")
        lines.append(f"- **Quarantined at ingest**: {ingest.get('quarantined_rows', 0)} of "
                     f"{ingest.get('rows_read', 0)} CSV rows ({reasons or 'none'}), and "
                     f"{orphans} video file(s) without a CSV row; see "
                     "`data/interim/quarantine_ingest.csv`.")
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
    for title, key in (("Age groups", "age_group_distribution"),
                       ("Domains", "domain_distribution"), ("Labels", "label_distribution")):
        counts = summary.get(key, {})
        lines += ["", f"**{title}**", ""] + _table(
            ["value", "videos"], [[k, _share(v, total)] for k, v in counts.items()])
    cross = summary.get("domain_label_crosstab", {})
    if cross:
        labels = list(next(iter(cross.values())))
        lines += ["", "**Domain × label**", ""] + _table(
            ["domain", *labels], [[d, *(row.get(k, 0) for k in labels)]
                                  for d, row in cross.items()])
    return lines


def _deidentification(inputs: Inputs) -> list[str]:
    p = inputs.params
    verification = inputs.report("verification") or {}
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
             "**Not removed**: faces and bodies of children and adults, **voices** "
             f"{'(audio was dropped)' if p.ingest.audio == 'drop' else '(audio is kept)'}, "
             "rooms, clothing, and anything else visible or audible in the frames; the child's "
             "age in months and the milestone. The videos remain personal data wherever they "
             "show real people."]
    if verification:
        lines += ["", f"Verification (`reports/deidentify/verification.json`): "
                  f"{'passed' if verification.get('ok') else '**FAILED**'}; "
                  f"{verification.get('files_checked')} files and "
                  f"{verification.get('terms_checked')} identifying terms checked, "
                  f"{len(verification.get('leaks', []))} leak(s)."]
    return lines


def _decoded_with(c, clips: dict | None) -> str:
    """Which backend built the cache (``clips.backend: auto`` resolves to what is installed)."""
    if not clips or "backend" not in clips:
        return f"`{c.backend}`"
    said = f"`{clips['backend']}`" + (f" (`clips.backend: {c.backend}`)"
                                      if c.backend != clips["backend"] else "")
    fallback = clips.get("fallback_pyav", 0)
    return said + (f", PyAV for {fallback} video(s) it refused" if fallback else "")


def _preprocessing(params: Params, clips: dict | None = None) -> list[str]:
    c, a, pr = params.clips, params.augment, params.probe
    return [
        f"- **Probe**: every video decoded in full; frame-rate normalisation `{pr.normalize}` "
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


def _splits(inputs: Inputs, items: dict[str, dict]) -> list[str]:
    summary = inputs.report("split")
    if summary is None:
        return _missing("reports/split/summary.json")
    p = inputs.params
    classes = list(p.base.classes)
    rows = []
    for name in SPLIT_NAMES:
        info = summary["splits"].get(name)
        if info:
            rows.append([name, info["videos"], f"{info['share']:.3f}", info["groups"],
                         *(info["classes"].get(c, 0) for c in classes)])
    lines = [f"Strategy {summary['strategy']}, stratified on {summary['stratify']}, ratios "
             f"{summary['ratios']}, seed {summary['seed']}"
             + (f", {summary['folds']} folds" if summary.get("folds") else "") + ".", ""]
    lines += _table(["split", "videos", "share", "subject groups", *classes], rows)
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


def _results(inputs: Inputs) -> list[str]:
    from vidlab.models.scoring import cell as _cell

    if not inputs.metrics:
        return _missing("reports/metrics/<model>.json")
    first = next(iter(inputs.metrics.values()))
    lines = [f"Video level (softmax averaged over a video's clips), "
             f"{first['bootstrap']['level']:.0%} bootstrap intervals over "
             f"{first['bootstrap']['unit']}s ({first['bootstrap']['n']} resamples). "
             "`classical` is a logistic regression on colour histograms and motion energy.", ""]
    rows = []
    for model, r in inputs.metrics.items():
        test, val = r.get("test", {}).get("video", {}), r.get("val", {}).get("video", {})
        rows.append([f"`{model}`", _cell(test.get("acc")), _cell(test.get("macro_f1")),
                     _cell(test.get("auroc")), _cell(val.get("acc")), test.get("n", "n/a")])
    lines += _table(["model", "test accuracy", "test macro F1", "test AUROC", "val accuracy",
                     "test videos"], rows)
    sanity = inputs.report("sanity")
    if sanity:
        verdict = ("all passed" if sanity.get("passed")
                   else f"FAILED: {sanity.get('failures')}")
        lines += ["", f"Sanity checks (`reports/sanity.json`): {verdict}."]
    return lines


def _limitations(inputs: Inputs) -> list[str]:
    summary = inputs.report("summary")
    if summary is None:
        return _missing("reports/summary/summary.json")
    total = summary["total_videos"] or 1
    lines = []
    labels = summary.get("label_distribution", {})
    if labels:
        high, low = max(labels.values()), min(labels.values())
        lines.append(f"- **Label imbalance**: the rarest label has {low} videos, the most common "
                     f"{high} (ratio {high / max(1, low):.2f}); training weights classes by "
                     f"inverse frequency (`train.balance: {inputs.params.train.balance}`).")
    cross = summary.get("domain_label_crosstab", {})
    for domain, row in cross.items():
        values = list(row.values())
        if values and min(values) * 2 < max(values):
            lines.append(f"- **{domain}**: labels uneven within the domain ({row}); a model may "
                         "learn the domain instead of the milestone.")
    ages = summary.get("age_group_distribution", {})
    sparse = [k for k, v in ages.items() if v < 0.05 * total]
    lines.append(f"- **Age coverage**: {', '.join(f'{k} {v}' for k, v in ages.items())}"
                 + (f"; under 5 % of the videos: {', '.join(sparse)}." if sparse else "."))
    domains = summary.get("domain_distribution", {})
    if domains:
        smallest = min(domains, key=domains.get)
        lines.append(f"- **Domain coverage**: smallest domain {smallest} with "
                     f"{domains[smallest]} videos.")
    split = inputs.report("split")
    if split:
        test = split["splits"].get("test", {})
        lines.append(f"- **Small evaluation sets**: the test split has {test.get('videos')} "
                     f"videos from {test.get('groups')} subject groups; intervals are wide and "
                     "differences between models within them are not evidence.")
    probe = inputs.report("probe") or {}
    if probe.get("warnings"):
        lines.append(f"- **Recording quality**: probe warnings {probe['warnings']}.")
    lines += _duplicates(inputs)
    if inputs.manifest is not None:
        sources = inputs.manifest.groupby(["width", "height", "codec"]).size()
        lines.append(f"- **Camera and sensor diversity**: {len(sources)} distinct resolution and "
                     "codec combination(s); camera models are not recorded (stripped metadata).")
    lines.append("- **Not recorded, so not assessed**: sex, ethnicity, language, setting and "
                 "other attributes of the children; fairness across them cannot be checked.")
    if inputs.params.data.source == "demo":
        lines.append("- **Synthetic data**: the demo's label lives in its synthetic motion; "
                     "results on it say nothing about real children.")
    return lines


def _duplicates(inputs: Inputs, shown: int = 10) -> list[str]:
    """Duplicate clusters, the pairs just above the threshold left for a person to review, and
    the calibration the threshold was chosen on."""
    dedup = inputs.report("dedup") or {}
    review = (inputs.duplicates or {}).get("review", dedup.get("review", []))
    calibrated = dedup.get("calibration") or {}
    lines = []
    if dedup:  # worded and counted as the summary report words and counts it
        lines.append(f"- **Duplicate clusters** (dedup: identical or near-identical frames): "
                     f"{dedup.get('clusters', 0)}, {dedup.get('videos_in_clusters', 0)} videos, "
                     f"{dedup.get('exact_pairs', 0) + dedup.get('near_pairs', 0)} pairs"
                     + ("; each cluster is kept in one split (see leakage)"
                        if dedup.get("clusters") else "") + ".")
    if review:
        used = (inputs.duplicates or {}).get("params", {})
        band = (f" (distance {used['threshold']}–{used['threshold'] + used['review_margin']:.4g})"
                if {"threshold", "review_margin"} <= used.keys() else "")
        pairs = ", ".join(f"`{r['a']}`–`{r['b']}` ({r['distance']:.3f})" for r in review[:shown])
        more = f" and {len(review) - shown} more" if len(review) > shown else ""
        lines.append(f"- **Near-duplicate review**: {len(review)} pair(s) just above the "
                     f"threshold{band} are in no cluster, so they may sit in different splits; "
                     f"look at them: {pairs}{more} (`data/interim/duplicates.json`, `review`).")
    if calibrated.get("current"):
        lines.append(f"- **Duplicate threshold** {calibrated['threshold']}: on a labelled "
                     f"calibration set ({calibrated['positives']} edited copies, "
                     f"{calibrated['negatives']} distinct pairs) precision "
                     f"{calibrated['precision']}, recall {calibrated['recall']}; farthest copy "
                     f"{calibrated['positive_max']}, nearest distinct pair "
                     f"{calibrated['negative_min']}.")
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


def _version(inputs: Inputs) -> list[str]:
    from vidlab import tracking
    from vidlab.tracking.pipeline import DATA_OUTS

    summary = inputs.report("summary") or {}
    dataset = summary.get("dataset_fingerprint")
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
    return lines + (_table(["output", "md5"], rows) if rows else ["_dvc.lock has no hashes "
                                                                  "yet._"])


def _rebuild(params: Params) -> list[str]:
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


def card_text(inputs: Inputs, items: dict[str, dict]) -> str:
    p = inputs.params
    c = p.card
    period = (inputs.report("split") or {}).get("periods", {}).get("ranges", {})
    firsts = [r["first"] for r in period.values() if r.get("first")]
    lasts = [r["last"] for r in period.values() if r.get("last")]
    sections = {
        "Motivation": [_filled(c.motivation, "motivation")],
        "Sources": [_filled(c.sources, "sources")],
        "Licence and consent": [f"- **Licence**: {_filled(c.licence, 'licence')}",
                                f"- **Consent**: {_filled(c.consent, 'consent')}",
                                f"- **Authors**: {', '.join(c.authors) or NOT_FILLED}",
                                f"- **Contact**: {c.contact or NOT_FILLED}"],
        "Collection period": [
            f"{min(firsts)} to {max(lasts)} (recording dates generalised: "
            f"`ingest.dates: {p.ingest.dates}`)." if firsts and lasts else
            f"Not recorded (`ingest.dates: {p.ingest.dates}`, or no `recorded_on` column)."],
        "Composition": _composition(inputs),
        "De-identification": _deidentification(inputs),
        "Preprocessing and sampling": _preprocessing(p, inputs.report("clips")),
        "Splits and leakage checks": _splits(inputs, items),
        "Baseline results": _results(inputs),
        "Known limitations and biases": _limitations(inputs),
        "Version": _version(inputs),
        "Rebuild": _rebuild(p),
        "Changelog": [f"- {entry}" for entry in c.changelog] or [
            f"{NOT_FILLED} Add entries to `card.changelog`."],
    }
    lines = [f"# Dataset card: {c.title}", "",
             f"Target `{p.base.target}` ({', '.join(p.base.classes)}). Generated by "
             "`vidlab card` from the pipeline's outputs; do not edit by hand (edit the `card` "
             "params and rerun `dvc repro`). Readiness: see `reports/readiness.md`."]
    for title in SECTIONS:
        lines += ["", f"## {title}", "", *sections[title]]
    return "\n".join(lines) + "\n"


def run(params: Params, *, root: Path, reports: Path, manifest: Path, splits: Path,
        metadata: Path, duplicates: Path, lock: Path, models: list[str], card: Path,
        readiness_json: Path, clips: Path | None = None) -> dict:
    """Write the card and the readiness checklist; raise on No-Go with ``card.fail_on_nogo``."""
    inputs = load(params, root=root, reports=reports, manifest=manifest, splits=splits,
                  metadata=metadata, duplicates=duplicates, lock=lock, models=models,
                  clips=clips)
    items = data_items(inputs)  # the card reports the leakage and balance items
    text = card_text(inputs, {item["id"]: item for item in items})
    result = verdict([*items, card_complete(params, text)])
    text = text.replace("Readiness: see `reports/readiness.md`.",
                        f"Readiness: **{result['verdict']}**"
                        + (f" (No-Go on {', '.join(result['failed'])})" if result["failed"]
                           else "")
                        + (f" (not proven: {', '.join(result['not_proven'])})"
                           if result["not_proven"] else "") + "; see `reports/readiness.md`.")
    result["missing_inputs"] = inputs.missing
    result["params"] = {"card": asdict(params.card)}
    atomic_write_text(Path(card), text)
    atomic_write_text(Path(readiness_json), json.dumps(result, indent=2, default=str) + "\n")
    atomic_write_text(Path(readiness_json).with_suffix(".md"), readiness_md(result))
    if result["failed"] and params.card.fail_on_nogo:
        raise ReadinessError(f"Readiness is No-Go on {', '.join(result['failed'])} "
                             f"(card.fail_on_nogo is true); see "
                             f"{Path(readiness_json).with_suffix('.md')}.")
    return result
