"""The Go/No-Go readiness items judged from the pipeline's outputs (the first seven of
`ITEMS`), how one item is built (`item`), the overall verdict and ``reports/readiness.md``.

The eighth item, `card_complete`, judges the card itself and lives with it in `stage`.
"""

from __future__ import annotations

from vidlab.config import SPLIT_NAMES
from vidlab.core.render import markdown_table
from vidlab.stages.card.inputs import Inputs, in_splits

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


GO, NO_GO, NOT_PROVEN = "Go", "No-Go", "Not proven"


def item(key: str, go: bool, why: str, evidence: dict, *, proven: bool = True) -> dict:
    """One readiness item. ``proven=False`` (the evidence cannot decide it) is Not proven, which
    never counts as Go; a failed check is No-Go whatever else."""
    title = dict(ITEMS)[key]
    state = GO if go and proven else NO_GO if not go and proven else NOT_PROVEN
    return {"id": key, "title": title, "state": state, "go": state == GO, "why": why,
            "evidence": evidence}


def _absent(key: str, *names: str) -> dict:
    return item(key, True, f"No evidence: {', '.join(names)} missing. Run `dvc repro`.",
                {"missing": list(names)}, proven=False)



def decode_and_metadata(inputs: Inputs) -> dict:
    key, v = "decode_and_metadata", inputs.params.validate
    validation, probe = inputs.validation, inputs.probe
    if inputs.manifest is None or inputs.splits is None or validation is None or probe is None:
        return _absent(key, "manifest/splits.csv/validation/probe summary")
    used = in_splits(inputs)
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
                "probed": probe.videos, "probe_ok": probe.ok,
                "excluded_from_splits": inputs.split.excluded.total if inputs.split else None,
                "quarantined_rows": (validation.quarantined_by_ingest
                                     + validation.quarantined_by_validate),
                "validation_passed": validation.passed,
                "blocking_failures": validation.blocking_failures,
                "warnings": probe.warnings}
    problems = []
    if not_ok:
        problems.append(f"{len(not_ok)} video(s) in the splits did not decode")
    if len(insane):
        problems.append(f"{len(insane)} video(s) outside the validate bounds")
    if not validation.passed:
        problems.append("the validation suites have blocking failures")
    # manifests from before the integrity column had every frame decoded
    checked = rows["integrity"].fillna("") if "integrity" in rows else None
    fast = [] if checked is None or problems else sorted(rows.index[checked == "fast"])
    evidence["fast_checked"] = len(fast)
    if fast:  # a check that decoded keyframes only could not see damage elsewhere
        return item(key, True, f"not proven: {len(fast)} video(s) in the splits had the fast "
                    "integrity check (probe.integrity: fast: keyframes and the last group of "
                    "pictures decoded); run with probe.integrity: full to decode every frame",
                    evidence, proven=False)
    why = "; ".join(problems) or (f"all {len(used)} videos in the splits decode fully and are "
                                  "within the validate bounds; quarantined files are excluded")
    return item(key, not problems, why, evidence)


def leakage(inputs: Inputs) -> dict:
    """Subjects, duplicate clusters and byte-identical files that are in more than one split."""
    key = "no_leakage"
    if inputs.splits is None or inputs.duplicates is None or inputs.manifest is None:
        return _absent(key, "splits.csv/duplicates.json/manifest")
    used = in_splits(inputs)
    split_of = dict(zip(used["video_id"], used["split"], strict=True))
    subjects = used[used["subject_id"] != ""].groupby("subject_id")["split"].nunique()
    crossing_subjects = sorted(subjects.index[subjects > 1])
    crossing_clusters = []
    for cluster in inputs.duplicates.clusters:
        where = {split_of[v] for v in cluster.video_ids if v in split_of}
        if len(where) > 1:
            crossing_clusters.append({"cluster": cluster.id, "kind": cluster.kind,
                                      "splits": sorted(where)})
    sha = inputs.manifest.set_index("video_id")["sha256"]
    by_hash: dict[str, set[str]] = {}
    for video, split in split_of.items():
        if video in sha.index and sha[video]:
            by_hash.setdefault(sha[video], set()).add(split)
    identical = sum(1 for where in by_hash.values() if len(where) > 1)
    # pairs just above the duplicate threshold: nobody has decided they are distinct
    review = [{"a": r.a, "b": r.b, "distance": r.distance,
               "splits": sorted({split_of[r.a], split_of[r.b]})}
              for r in inputs.duplicates.review
              if r.a in split_of and r.b in split_of and split_of[r.a] != split_of[r.b]]
    evidence = {"review_pairs_across_splits": review[:20],
                "subjects_in_two_splits": crossing_subjects[:20],
                "duplicate_clusters_across_splits": crossing_clusters[:20],
                "identical_files_across_splits": identical,
                "duplicate_clusters": len(inputs.duplicates.clusters),
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
        return item(key, False, "; ".join(problems), evidence)
    if review:
        pairs = ", ".join(f"{r['a']}-{r['b']} ({r['distance']:.3f}, {'/'.join(r['splits'])})"
                          for r in review[:5])
        return item(key, True, f"not proven: {len(review)} near-duplicate review pair(s) just "
                    f"above the threshold sit in different splits ({pairs}); look at them and "
                    "lower dedup.threshold to join a real copy, or leave them if distinct",
                    evidence, proven=False)
    why = (f"no subject ({subjects.size}), duplicate cluster ({evidence['duplicate_clusters']}) "
           "or identical file is in two splits, and no review pair straddles them")
    return item(key, True, why, evidence)


def labels_valid(inputs: Inputs) -> dict:
    key, p = "labels_valid", inputs.params
    validation = inputs.validation
    if inputs.splits is None or inputs.metadata is None or validation is None \
            or inputs.manifest is None or inputs.duplicates is None:
        return _absent(key, "splits.csv/metadata.csv/validation summary/manifest")
    used = in_splits(inputs)
    target, classes = p.base.target, list(p.base.classes)
    unknown = sorted(set(used[target]) - set(classes))
    bad_labels = sorted(set(used["label"]) - set(p.base.classes)) if target == "label" else []
    probed = set(inputs.manifest["video_id"])
    listed = set(inputs.metadata["video_id"])
    without_video = sorted(set(used["video_id"]) - probed)
    without_row = sorted(probed - listed)
    label_of = dict(zip(used["video_id"], used[target], strict=True))
    conflicts = []
    for cluster in inputs.duplicates.clusters:
        values = {label_of[v] for v in cluster.video_ids if v in label_of}
        if len(values) > 1:
            conflicts.append({"cluster": cluster.id, "labels": sorted(values)})
    # the metadata and label suites' warnings; the manifest's (picture quality) are the card's
    # limitations, not the labels'
    warnings = [w.expectation for w in validation.warnings
                if not w.expectation.startswith("manifest.")]
    evidence = {"target": target, "classes": classes, "unknown_values": unknown + bad_labels,
                "rows_without_video": without_video[:20], "videos_without_row": without_row[:20],
                "duplicates_with_different_labels": conflicts,
                "validation_passed": validation.passed,
                "validation_warnings": warnings}
    problems = []
    if unknown or bad_labels:
        problems.append(f"values outside base.classes: {(unknown + bad_labels)[:5]}")
    if without_video or without_row:
        problems.append(f"{len(without_video)} row(s) without a video, {len(without_row)} "
                        "video(s) without a row")
    if conflicts:
        problems.append(f"{len(conflicts)} duplicate cluster(s) carry different labels")
    if not validation.passed:
        problems.append("the label suite has blocking failures")
    why = "; ".join(problems) or (f"every video has exactly one row and a valid `{target}`; "
                                  f"no duplicate pair disagrees; {len(warnings)} non-blocking "
                                  "validation warning(s) documented")
    return item(key, not problems, why, evidence)


def splits_balanced(inputs: Inputs) -> dict:
    key, p = "splits_balanced", inputs.params
    summary = inputs.split
    if summary is None:
        return _absent(key, "reports/split/summary.json")
    tolerance = p.card.max_split_share_error
    off, empty = {}, {}
    for name in SPLIT_NAMES:
        info = summary.splits.get(name)
        if info is None:
            continue
        share, wanted = info.share, summary.ratios[name]
        if abs(share - wanted) > tolerance:
            off[name] = {"share": share, "ratio": wanted}
        missing = [c for c, n in info.classes.items() if n == 0]
        if missing:
            empty[name] = missing
    flagged = summary.flagged_tests
    evidence = {"shares": {s: i.share for s, i in summary.splits.items()},
                "ratios": summary.ratios, "tolerance": tolerance,
                "classes": {s: i.classes for s, i in summary.splits.items()},
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
    return item(key, not problems, why, evidence)


def preprocessing_reproducible(inputs: Inputs) -> dict:
    key, p = "preprocessing_reproducible", inputs.params
    clips, eda = inputs.clips, inputs.eda
    if clips is None or eda is None:
        return _absent(key, "reports/clips/summary.json/reports/eda/summary.json")
    redecoded = eda.checks.clips_redecoded
    same_aug = eda.checks.augment_reproducible
    locked = inputs.outs.get("data/processed/clips")
    evidence = {"seed": p.base.seed, "clip_len": p.clips.clip_len,
                "target_fps": p.clips.target_fps, "size": p.clips.size, "crop": p.clips.crop,
                "augment": list(p.augment.use),
                "clips_failed": [failure.model_dump() for failure in clips.failed],
                "clips_redecoded": redecoded.model_dump(), "augment_same_seed_same_clip": same_aug,
                "clips_cache_md5": locked, "frozen_clips": inputs.frozen_clips,
                "decoded_by_pyav_instead": clips.fallback_pyav}
    problems = []
    if clips.failed:
        problems.append(f"{len(clips.failed)} video(s) failed to decode into clips")
    if inputs.frozen_clips:
        problems.append(f"{len(inputs.frozen_clips)} cached clip(s) repeat one picture although "
                        f"sampled from different frames ({', '.join(inputs.frozen_clips[:5])})")
    if not redecoded.checked or redecoded.identical != redecoded.checked:
        problems.append(f"cached clips decoded again: {redecoded.identical} of "
                        f"{redecoded.checked} identical")
    if same_aug is False:
        problems.append("the augmentation drawn twice with the same seed differed")
    if locked is None:
        problems.append("the clips cache is not pinned in dvc.lock")
    if not problems and inputs.frozen_clips is None:
        return item(key, True, "not proven: the clips cache itself was not read (pass --clips)",
                    evidence, proven=False)
    why = "; ".join(problems) or (
        f"no cached clip is frozen; clips: {p.clips.clip_len} frames at "
        f"{p.clips.target_fps or 'native'} fps, "
        f"{p.clips.size}px {p.clips.crop}; seed {p.base.seed}; decoding again gave the same "
        "bytes and the augmentation repeats with its seed; the cache is pinned in dvc.lock")
    return item(key, not problems, why, evidence)


def eda_done(inputs: Inputs) -> dict:
    key = "eda_done"
    eda = inputs.eda
    if eda is None:
        return _absent(key, "reports/eda/summary.json")
    folder = inputs.reports / "eda"
    missing = [f for f in eda.figures if not (folder / f).is_file()]
    if not (folder / "index.html").is_file():
        missing.append("index.html")
    required = ("distributions.png", "class_counts.png", "outliers.png", "preprocessing.png",
                "augmentation.png", "tsne_classical.png")
    absent = [f for f in required if f not in eda.figures]
    current = eda.inputs_hash == inputs.eda_inputs
    flagged = eda.outliers
    evidence = {"figures": len(eda.figures), "missing_files": missing + absent,
                "of_current_data": current,
                "outliers": {k: len(getattr(flagged, k)) for k in ("shortest", "longest",
                                                                   "odd_fps", "flagged")},
                "embeddings": {k: v.neighbour_label_agreement
                               for k, v in eda.embeddings.items()}}
    problems = []
    if missing or absent:
        problems.append(f"figure(s) missing: {(missing + absent)[:5]}")
    if not current:
        problems.append("the EDA was made from other data than the current manifest and splits")
    why = "; ".join(problems) or (f"{evidence['figures']} figures on reports/eda/index.html, of "
                                  "the current data; outliers listed there and in this card")
    return item(key, not problems, why, evidence)


def sanity_passed(inputs: Inputs) -> dict:
    key, p = "sanity_passed", inputs.params
    sanity = inputs.sanity
    if sanity is None:
        return _absent(key, "reports/sanity.json")
    checked = sorted(sanity.models)
    unchecked = sorted(set(p.sanity.models) - set(checked))
    unproven = sanity.not_proven
    evidence = {"passed": sanity.passed, "failures": sanity.failures,
                "not_proven": unproven, "models": checked}
    problems = []
    if sanity.failures or (not sanity.passed and not unproven):
        problems.append("failed: " + "; ".join(str(f) for f in sanity.failures)[:300])
    if unchecked:
        problems.append(f"model(s) not checked: {unchecked}")
    if problems:
        return item(key, False, "; ".join(problems), evidence)
    if unproven:  # a check that could not fail on this data proves nothing
        why = "not proven: " + "; ".join(str(u) for u in unproven)[:600]
        return item(key, True, why, evidence, proven=False)
    tops = [m.label_shuffle.range_top_before for m in sanity.models.values()
            if m.label_shuffle.range_top_before is not None]
    power = (f" (its chance range reaches {max(tops):.2f}, below "
             f"{p.sanity.learning_accuracy:.2f})" if tops else "")
    why = (f"label shuffle stays at chance{power} and a subset matched on colour statistics is "
           f"overfit for {', '.join(checked)}")
    return item(key, True, why, evidence)



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
    rows = []
    for k, item in enumerate(result["items"], 1):
        shown = item["state"] if item["state"] == GO else f"**{item['state']}**"
        rows.append([k, f"{item['title']} (`{item['id']}`)", shown, item["why"]])
    lines += markdown_table(["#", "item", "verdict", "why"], rows)
    lines += ["", "The evidence behind each verdict is in `reports/readiness.json`. Computed by "
              "`vidlab card` from the pipeline's outputs."]
    return "\n".join(lines) + "\n"

