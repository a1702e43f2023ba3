"""The readiness checklist and the dataset card, on pipeline outputs written to disk.

The outputs here are small and hand-made so each Go/No-Go item can be broken on its own; the
real pipeline's outputs are carded in test_pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT
from vidlab import config as params_mod
from vidlab import contracts, tracking
from vidlab.config import replace
from vidlab.core.errors import DataError
from vidlab.stages.card import readiness
from vidlab.stages.card import stage as card

CLASSES = ("achieved", "not_achieved")
SPLIT_OF = ["train"] * 8 + ["val"] * 2 + ["test"] * 2


def _ids() -> list[str]:
    return [f"{k:016x}" for k in range(12)]


@pytest.fixture
def outputs(tmp_path: Path) -> dict:
    """Consistent outputs of every stage for 12 videos, 12 children; one near-duplicate pair
    (videos 0 and 2, both 'achieved', both in train)."""
    ids = _ids()
    interim, reports = tmp_path / "data" / "interim", tmp_path / "reports"
    (reports / "eda").mkdir(parents=True)
    interim.mkdir(parents=True)
    splits = pd.DataFrame({
        "video_id": ids, "path": [f"data/interim/videos/{v}.mp4" for v in ids],
        "subject_id": [f"s{k:015x}" for k in range(12)], "label": [CLASSES[k % 2] for k in
                                                                    range(12)],
        "domain": ["motor", "language", "social", "cognitive"] * 3,
        "age_group": ["0-6m", "7-12m"] * 6, "milestone_id": ["M_12M_001"] * 12,
        "recorded_period": ["2024-Q1"] * 12, "group": [str(k) for k in range(12)],
        "split": SPLIT_OF})
    manifest = pd.DataFrame({
        "video_id": ids, "path": splits["path"], "sha256": [f"{k:064x}" for k in range(12)],
        "duration_s": 3.0, "fps_avg": 15.0, "width": 128, "height": 96, "codec": "h264",
        "audio": False, "status": "ok", "warnings": ""})
    files = {"splits": tmp_path / "data" / "processed" / "splits.csv",
             "manifest": interim / "manifest.parquet", "metadata": interim / "metadata.csv",
             "duplicates": interim / "duplicates.json", "lock": tmp_path / "dvc.lock",
             "reports": reports, "root": tmp_path}
    files["splits"].parent.mkdir(parents=True)
    splits.to_csv(files["splits"], index=False)
    files["clips"] = _clips_cache(files["splits"].parent / "clips", ids)
    manifest.to_parquet(files["manifest"])
    splits.drop(columns=["split", "group"]).to_csv(files["metadata"], index=False)
    files["lock"].write_text(yaml.safe_dump({"schema": "2.0", "stages": {"clips": {"outs": [
        {"path": "data/processed/clips", "md5": "abc.dir"}]}}}))
    params = params_mod.load(ROOT / "params.yaml")
    contracts.write(files["duplicates"], contracts.Duplicates, {
        "params": {"threshold": params.dedup.threshold,
                   "review_margin": params.dedup.review_margin},
        "pairs": [{"a": ids[0], "b": ids[2], "kind": "near", "distance": 0.1}],
        "clusters": [{"id": "dup-001", "kind": "near", "video_ids": [ids[0], ids[2]]}],
        "review": []})
    for rel, (contract, payload) in _reports(splits, files, params).items():
        contracts.write(reports / rel, contract, payload)
    for name in [*card_figures(), "index.html"]:
        (reports / "eda" / name).write_bytes(b"x")
    for model in ("center_frame", "classical"):
        contracts.write(reports / "metrics" / f"{model}.json", contracts.Metrics, {
            "model": model, "target": "label", "classes": list(CLASSES),
            "bootstrap": {"n": 50, "level": 0.95, "unit": "subject group"},
            "test": {"video": _scores({"value": 0.5, "low": 0.25, "high": 0.75}, n=2)},
            "val": {"video": _scores({"value": 0.5, "low": None, "high": None}, n=2)}})
    files["params"] = params
    return files


def _reports(splits: pd.DataFrame, files: dict, params) -> dict[str, tuple[type, dict]]:
    """Every report the card reads (path under reports/ -> its contract and payload), as the
    writer stages write them for these 12 videos. A payload that drifts from its contract
    fails `contracts.write`. reports/split/leakage.json is left out: the card reads no field of
    it and lists it among the missing inputs."""
    per_split = {s: {"videos": SPLIT_OF.count(s), "share": SPLIT_OF.count(s) / 12,
                     "groups": SPLIT_OF.count(s),
                     "classes": {c: SPLIT_OF.count(s) // 2 for c in CLASSES}}
                 for s in ("train", "val", "test")}

    def counts(column: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in splits[column].value_counts(sort=False).items()}

    crosstab = {d: {c: int(((splits["domain"] == d) & (splits["label"] == c)).sum())
                    for c in CLASSES} for d in counts("domain")}
    return {
        "summary/summary.json": (contracts.DatasetSummary, {
            "dataset_fingerprint": "fp-0123456789abcdef", "total_videos": 12,
            "age_group_distribution": counts("age_group"),
            "domain_distribution": counts("domain"), "label_distribution": counts("label"),
            "domain_label_crosstab": crosstab,
            "per_subject": {"n_subjects": 12, "min": 1, "median": 1.0, "max": 1}}),
        "deidentify/ingest.json": (contracts.IngestCounts, {
            "rows_read": 13, "quarantined_rows": 1, "problems_by_reason": {"missing_file": 1},
            "files_without_rows": 0}),
        "deidentify/verification.json": (contracts.Verification, {
            "ok": True, "files_checked": 12, "terms_checked": 40, "leaks": []}),
        "probe/summary.json": (contracts.ProbeSummary, {"videos": 12, "ok": 12, "warnings": {}}),
        "validation/summary.json": (contracts.ValidationSummary, {
            "passed": True, "warnings": [], "blocking_failures": [],
            "quarantined_by_ingest": 1, "quarantined_by_validate": 0}),
        "dedup/summary.json": (contracts.DedupSummary, {
            "exact_pairs": 0, "near_pairs": 1, "clusters": 1, "videos_in_clusters": 2,
            "review": [], "calibration": {"current": False}}),
        "split/summary.json": (contracts.SplitSummary, {
            "strategy": ["group", "stratified"], "stratify": ["label"], "seed": 1,
            "ratios": {"train": 0.7, "val": 0.15, "test": 0.15}, "folds": 0, "splits": per_split,
            "excluded": {"total": 0}, "flagged_tests": [],
            "periods": {"ranges": {s: {"first": "2024-Q1", "last": "2024-Q1"}
                                   for s in ("train", "val", "test")}}}),
        "clips/summary.json": (contracts.ClipsSummary, {
            "backend": "pyav", "fallback_pyav": 0, "failed": [],
            "decoder": "PyAV 14.2.0 (FFmpeg libavcodec 61.3.100)"}),
        "sanity.json": (contracts.SanityReport, {
            "passed": True, "failures": [], "not_proven": [],
            "models": {m: {"label_shuffle": {"status": "passed", "range_top_before": 0.5}}
                       for m in params.sanity.models}}),
        "eda/summary.json": (contracts.EdaSummary, {
            "inputs_hash": tracking.content_hash(files["manifest"], files["splits"]),
            "figures": list(card_figures()),
            "outliers": {k: [] for k in ("shortest", "longest", "odd_fps", "flagged")},
            "checks": {"clips_redecoded": {"checked": 2, "identical": 2},
                       "augment_reproducible": True},
            "embeddings": {}}),
    }


def _scores(acc: dict, *, n: int) -> dict:
    """Video-level scores as evaluate writes them: accuracy given, the others undefined."""
    undefined = {"value": None, "low": None, "high": None}
    return {"acc": acc, **{k: undefined for k in ("macro_f1", "balanced_acc", "auroc", "ap",
                                                  "ece")}, "n": n}


def _edit(path: Path, contract: type, change: Callable[[dict], object]) -> None:
    """Change one output as its writer would have written it: through its contract."""
    payload = json.loads(path.read_text())
    change(payload)
    contracts.write(path, contract, payload)


def card_figures() -> tuple[str, ...]:
    return ("distributions.png", "class_counts.png", "outliers.png", "preprocessing.png",
            "augmentation.png", "tsne_classical.png")


def _clips_cache(folder: Path, ids: list[str]) -> Path:
    """One moving 4-frame clip per video (frame k is grey 40 * k), as the clips stage stores."""
    folder.mkdir(parents=True)
    rows = []
    for split in ("train", "val", "test"):
        members = [v for v, s in zip(ids, SPLIT_OF, strict=True) if s == split]
        array = np.stack([np.stack([np.full((8, 8, 3), 40 * k, np.uint8) for k in range(4)])
                          for _ in members])
        np.save(folder / f"{split}.npy", array)
        rows += [{"split": split, "row": r, "key": f"{v}_000", "video_id": v,
                  "frames": "0 1 2 3"} for r, v in enumerate(members)]
    pd.DataFrame(rows).to_csv(folder / "index.csv", index=False)
    return folder


def build(files: dict, params=None) -> tuple[dict, str]:
    out = files["reports"] / "DATASET_CARD.md"
    result = card.run(params or files["params"], root=files["root"], reports=files["reports"],
                      manifest=files["manifest"], splits=files["splits"],
                      metadata=files["metadata"], duplicates=files["duplicates"],
                      lock=files["lock"], models=["center_frame", "classical"], card=out,
                      readiness_json=files["reports"] / "readiness.json",
                      clips=files["clips"])
    return result, out.read_text()


def item(result: dict, key: str) -> dict:
    return next(i for i in result["items"] if i["id"] == key)


def test_consistent_outputs_are_go_on_all_eight_items(outputs: dict) -> None:
    result, text = build(outputs)
    assert [i["id"] for i in result["items"]] == [key for key, _ in readiness.ITEMS]
    assert result["verdict"] == "Go", result["failed"]
    assert "Readiness: **Go**" in text
    for section in card.SECTIONS:
        assert f"## {section}" in text
    assert "| `center_frame` | 0.500 [0.250, 0.750] |" in text
    assert "`data/processed/clips` | `abc.dir`" in text
    md = (outputs["reports"] / "readiness.md").read_text()
    assert md.startswith("# Readiness: Go") and md.count("| Go |") == 8
    assert json.loads((outputs["reports"] / "readiness.json").read_text())["verdict"] == "Go"


def _move(files: dict, video: str, split: str) -> None:
    frame = pd.read_csv(files["splits"], dtype=str, keep_default_na=False)
    frame.loc[frame["video_id"] == video, "split"] = split
    frame.to_csv(files["splits"], index=False)


def test_a_near_duplicate_across_splits_is_no_go_naming_the_item(outputs: dict) -> None:
    _move(outputs, _ids()[2], "test")  # the duplicate of video 0 (train) goes to test
    result, text = build(outputs)
    assert result["verdict"] == "No-Go"
    assert result["failed"] == ["no_leakage", "eda_done"]  # EDA was made of the old splits
    leak = item(result, "no_leakage")
    assert "dup-001" in leak["why"]
    assert leak["evidence"]["duplicate_clusters_across_splits"] == [
        {"cluster": "dup-001", "kind": "near", "splits": ["test", "train"]}]
    assert "Readiness: **No-Go** (No-Go on no_leakage, eda_done)" in text
    md = (outputs["reports"] / "readiness.md").read_text()
    assert "No-Go on: no_leakage, eda_done" in md


def test_a_frozen_clip_in_the_cache_is_no_go_on_preprocessing(outputs: dict) -> None:
    """The clips stage once cached AVI clips as one frame repeated and said nothing: the item
    reads the cache itself."""
    array = np.load(outputs["clips"] / "val.npy")
    array[1] = array[1][:1]  # every frame of the second val clip becomes its first
    np.save(outputs["clips"] / "val.npy", array)
    result, _ = build(outputs)
    assert result["failed"] == ["preprocessing_reproducible"]
    why = item(result, "preprocessing_reproducible")["why"]
    assert "1 cached clip(s) repeat one picture" in why and f"{_ids()[9]}_000" in why


def test_a_review_pair_across_splits_makes_leakage_not_proven(outputs: dict) -> None:
    """A pair just above the duplicate threshold (0.1905 against 0.19 once) in two splits:
    nobody has decided it is distinct, so no_leakage cannot be Go."""
    ids = _ids()
    train, test = (ids[SPLIT_OF.index(s)] for s in ("train", "test"))
    _edit(outputs["duplicates"], contracts.Duplicates, lambda duplicates: duplicates.update(
        review=[{"a": train, "b": test, "distance": 0.1905}]))
    result, _ = build(outputs)
    leak = item(result, "no_leakage")
    assert leak["state"] == "Not proven" and result["not_proven"] == ["no_leakage"]
    assert f"{train}-{test} (0.191, test/train)" in leak["why"]
    _edit(outputs["duplicates"], contracts.Duplicates,  # both in train: fine
          lambda duplicates: duplicates["review"][0].update(b=ids[SPLIT_OF.index("train", 1)]))
    assert item(build(outputs)[0], "no_leakage")["state"] == "Go"


def test_same_subject_or_identical_file_in_two_splits_is_no_go(outputs: dict) -> None:
    frame = pd.read_csv(outputs["splits"], dtype=str, keep_default_na=False)
    frame.loc[11, "subject_id"] = frame.loc[0, "subject_id"]  # a test video of a train child
    frame.to_csv(outputs["splits"], index=False)
    leak = item(build(outputs)[0], "no_leakage")
    assert not leak["go"] and "1 subject(s) in two splits" in leak["why"]
    manifest = pd.read_parquet(outputs["manifest"])
    manifest.loc[10, "sha256"] = manifest.loc[1, "sha256"]  # val holds a copy of a train file
    manifest.to_parquet(outputs["manifest"])
    leak = item(build(outputs)[0], "no_leakage")
    assert "1 identical file(s) across splits" in leak["why"]


def test_a_failing_sanity_check_is_no_go_naming_it(outputs: dict) -> None:
    _edit(outputs["reports"] / "sanity.json", contracts.SanityReport, lambda report: report.update(
        passed=False, failures=["center_frame label_shuffle: val 0.95 above"]))
    result, text = build(outputs)
    assert result["verdict"] == "No-Go" and result["failed"] == ["sanity_passed"]
    assert "center_frame label_shuffle" in item(result, "sanity_passed")["why"]
    assert "Sanity checks (`reports/sanity.json`): FAILED" in text


def test_an_empty_licence_and_consent_are_said_plainly_and_no_go(outputs: dict) -> None:
    params = outputs["params"]
    empty = replace(params, card=replace(
        params.card, licence=None, consent=None, authors=()))
    result, text = build(outputs, empty)
    assert result["failed"] == ["card_complete"]
    why = item(result, "card_complete")["why"]
    assert "card.licence and card.consent not filled" in why and "card.authors" in why
    assert "- **Licence**: **Not filled in.** Set `card.licence` in params.yaml." in text
    assert "- **Consent**: **Not filled in.** Set `card.consent` in params.yaml." in text


def test_the_demo_card_text_on_custom_data_is_no_go_and_names_the_fields(outputs: dict) -> None:
    params = outputs["params"]
    assert {k: getattr(params.card, k) for k in card.DEMO_CARD} == card.DEMO_CARD  # one text
    custom = replace(params, data=replace(
        params.data, source="custom", csv="data/raw/mine.csv", videos="data/raw/mine"))
    result, _ = build(outputs, custom)
    assert result["failed"] == ["card_complete"]
    why = item(result, "card_complete")["why"]
    assert "card.title, card.motivation" in why and "card.licence" in why
    assert "still describe the synthetic demo" in why and "write your own" in why
    own = replace(custom, card=replace(
        custom.card, title="Crawling study", motivation="m", sources="s", licence="CC-BY-4.0",
        consent="Parents consented in writing (ethics ref 12/34).", authors=("A. Researcher",),
        contact="lab@example.org", changelog=("1.0",)))
    assert build(outputs, own)[0]["failed"] == []
    no_contact = replace(own, card=replace(own.card, contact=None))
    assert "card.contact not filled" in item(build(outputs, no_contact)[0], "card_complete")["why"]


def test_unbalanced_or_undecodable_or_irreproducible_outputs_are_no_go(outputs: dict) -> None:
    manifest = pd.read_parquet(outputs["manifest"])
    manifest.loc[3, "status"] = "truncated"
    manifest.to_parquet(outputs["manifest"])
    _edit(outputs["reports"] / "split" / "summary.json", contracts.SplitSummary,
          lambda summary: summary["splits"]["test"].update(
              classes={"achieved": 2, "not_achieved": 0}))
    _edit(outputs["reports"] / "eda" / "summary.json", contracts.EdaSummary,
          lambda eda: eda["checks"].update(augment_reproducible=False))
    result, _ = build(outputs)
    assert set(result["failed"]) == {"decode_and_metadata", "splits_balanced",
                                     "preprocessing_reproducible",
                                     "eda_done"}  # the EDA was made of the old manifest
    assert "1 video(s) in the splits did not decode" in item(result, "decode_and_metadata")["why"]
    assert "test" in item(result, "splits_balanced")["why"]
    assert "same seed differed" in item(result, "preprocessing_reproducible")["why"]


def test_missing_outputs_are_not_proven_for_want_of_evidence(outputs: dict) -> None:
    (outputs["reports"] / "sanity.json").unlink()
    (outputs["reports"] / "eda" / "summary.json").unlink()
    result, text = build(outputs)
    missing = {"sanity_passed", "eda_done", "preprocessing_reproducible"}
    assert missing <= set(result["not_proven"]) and result["verdict"] == "Not proven"
    assert all(item(result, k)["state"] == "Not proven" and not item(result, k)["go"]
               for k in missing)
    assert item(result, "sanity_passed")["why"].startswith("No evidence")
    assert str(outputs["reports"] / "sanity.json") in result["missing_inputs"]


def test_a_sanity_check_that_cannot_fail_is_not_proven_never_go(outputs: dict) -> None:
    reason = ("center_frame label_shuffle: label shuffle needs at least 28 validation videos to "
              "tell chance (0.56) from 0.80 at alpha 0.01; you have 3")
    _edit(outputs["reports"] / "sanity.json", contracts.SanityReport, lambda report: report.update(
        passed=False, failures=[], not_proven=[reason]))
    result, text = build(outputs)
    sanity_item = item(result, "sanity_passed")
    assert sanity_item["state"] == "Not proven" and "needs at least 28" in sanity_item["why"]
    assert result["verdict"] == "Not proven" and result["not_proven"] == ["sanity_passed"]
    assert "not proven: sanity_passed" in text


def test_fail_on_nogo_fails_after_writing_both(outputs: dict) -> None:
    _move(outputs, _ids()[2], "val")
    params = outputs["params"]
    strict = replace(params, card=replace(params.card, fail_on_nogo=True))
    with pytest.raises(card.ReadinessError, match="No-Go on no_leakage"):
        build(outputs, strict)
    assert json.loads((outputs["reports"] / "readiness.json").read_text())["verdict"] == "No-Go"
    assert (outputs["reports"] / "DATASET_CARD.md").is_file()


def test_a_report_that_breaks_its_contract_is_a_data_error_naming_it(outputs: dict) -> None:
    path = outputs["reports"] / "eda" / "summary.json"
    eda = json.loads(path.read_text())
    del eda["checks"]
    path.write_text(json.dumps(eda))
    with pytest.raises(DataError, match=r"eda/summary\.json is not what the eda stage writes "
                                        r"\(EdaSummary\): checks: Field required"):
        build(outputs)


def test_card_complete_judges_the_sections_rendered_not_the_text(outputs: dict) -> None:
    """A section counts when the card rendered it: a title merely present in the text (here
    in a field the researcher typed) does not."""
    made = card.Card("## Motivation\n", card.SECTIONS[1:], without_input=1)
    judged = card.card_complete(outputs["params"], made)
    assert judged["evidence"]["missing_sections"] == ["Motivation"]
    assert judged["evidence"]["sections_without_input"] == 1
    assert "2 card section(s) lack their input" in judged["why"] and not judged["go"]


def test_the_card_says_what_ingest_faces_did_per_video_without_frames() -> None:
    from vidlab.stages.card import render
    from vidlab.stages.card.inputs import Inputs

    params = params_mod.load(ROOT / "params.yaml")
    inputs = Inputs(params=params, root=ROOT, reports=ROOT / "reports")
    assert "not looked for" in "\n".join(render.faces(inputs))
    video = {"video_id": "aaaa000000000001", "frames": 24, "frames_with_faces": 20,
             "frames_blurred": 22, "verification": "passed"}
    inputs.faces = contracts.FacesSummary.model_validate({
        "mode": "blur", "videos": 2, "videos_with_faces": 1, "frames": 48,
        "frames_with_faces": 20, "frames_blurred": 22, "verified": 1, "failed": 1,
        "release_fingerprint": "rl-0123456789abcdef",
        "per_video": [video, {**video, "video_id": "bbbb000000000002", "frames_with_faces": 0,
                              "frames_blurred": 0, "verification": "failed"}]})
    text = "\n".join(render.faces(inputs))
    assert "found in 1 of 2 videos, on 20 of 48 frames" in text
    assert "`rl-0123456789abcdef`" in text and "1 still showed a face" in text
    assert "| `aaaa000000000001` | 24 | 20 | 22 | passed |" in text
    assert "| `bbbb000000000002` | 24 | 0 | 0 | failed |" in text
    assert "Not removed**: faces in the analysis copy" in "\n".join(
        render.deidentification(inputs))


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_card_shows_the_environment_and_the_clips_decoder(outputs: dict) -> None:
    """The environment table (versions, the uv.lock hash, CPU, GPU) and the decoder the clips
    summary names; two runs on one machine write the same bytes."""
    import av

    from vidlab.tracking.environment import environment

    (outputs["root"] / "uv.lock").write_text("version = 1\n")
    _, text = build(outputs)
    section = _section(text, "Environment")
    assert "vidlab.env.<key>" in section and "environment.json" in section
    for key, value in environment(root=outputs["root"]).items():  # gpu=True adds rows
        assert f"| {key} | `{value}` |" in section, key
    codec = ".".join(map(str, av.library_versions["libavcodec"]))
    assert f"| ffmpeg.libavcodec | `{codec}` |" in section
    assert "| uv_lock | `sha256:" in section and "| gpu | `" in section
    assert ("- **Clips cache decoded by**: PyAV 14.2.0 (FFmpeg libavcodec 61.3.100) "
            "(`reports/clips/summary.json`, `decoder`).") in section
    assert str(outputs["root"]) not in section
    assert build(outputs)[1] == text


def test_a_missing_clips_summary_leaves_the_decoder_line_missing(outputs: dict) -> None:
    (outputs["reports"] / "clips" / "summary.json").unlink()
    result, text = build(outputs)
    section = _section(text, "Environment")
    assert "| python | `" in section and "decoded by" not in section
    assert "_input missing: reports/clips/summary.json" in section
    assert item(result, "card_complete")["evidence"]["sections_without_input"] >= 1


def test_the_limitations_cite_the_share_past_each_quality_threshold(outputs: dict) -> None:
    from vidlab.media import quality

    manifest = pd.read_parquet(outputs["manifest"])
    for column in quality.COLUMNS:
        manifest[column] = 0.0
    manifest["sharpness"] = 200.0
    manifest.loc[[2, 7, 9], "sharpness"] = 5.0  # three blurred videos
    manifest.loc[4, "flicker"] = 0.2
    manifest.loc[5, "av_start_offset_s"] = -0.4  # audio early: its size counts
    manifest.loc[6, "noise"] = None  # not measured: not judged
    manifest.to_parquet(outputs["manifest"])
    section = _section(build(outputs)[1], "Known limitations and biases")
    line = next(x for x in section.splitlines() if x.startswith("- **Picture quality**"))
    assert "sharpness below 20: 3 of 12 (25.0%)" in line
    assert "flicker above 0.05: 1 of 12 (8.3%)" in line
    assert "av_start_offset_s more than ± 0.2: 1 of 12 (8.3%)" in line
    assert "noise above 6: 0 of 11 (0.0%)" in line
    assert "combing above 0.02: 0 of 12" in line


def test_without_quality_columns_the_card_says_nothing_of_picture_quality(outputs) -> None:
    section = _section(build(outputs)[1], "Known limitations and biases")
    assert "Picture quality" not in section  # a manifest from before the measures


def test_the_card_says_how_many_videos_the_faces_pass_could_not_decode() -> None:
    from vidlab.stages.card import render
    from vidlab.stages.card.inputs import Inputs

    params = params_mod.load(ROOT / "params.yaml")
    inputs = Inputs(params=params, root=ROOT, reports=ROOT / "reports")
    video = {"video_id": "aaaa000000000001", "frames": 24, "frames_with_faces": 0,
             "frames_blurred": 0, "verification": "passed"}
    inputs.faces = contracts.FacesSummary.model_validate({
        "mode": "blur", "videos": 2, "videos_with_faces": 0, "frames": 24,
        "frames_with_faces": 0, "frames_blurred": 0, "verified": 1, "failed": 0,
        "undecodable": 1, "release_fingerprint": "rl-0123456789abcdef",
        "per_video": [video, {**video, "video_id": "bbbb000000000002", "frames": 0,
                              "verification": "undecodable"}]})
    text = "\n".join(render.faces(inputs))
    assert "**1 could not be decoded and are left out too**" in text
    assert "| `bbbb000000000002` | 0 | 0 | 0 | undecodable |" in text
