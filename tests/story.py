"""One story across the reports: every count a person compares between two reports is equal,
and one dataset fingerprint names the data version in all of them and in every MLflow run.

Used by the pipeline test on its fresh `dvc repro` of the demo; run on a workspace that has been
reproduced with ``python -m tests.story [project]``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_one_story(project: Path, *, one_commit: bool = True) -> dict:
    """Assert it; return the counts compared (for a note). ``one_commit``: every run of this data
    carries one commit, the card's (false for a workspace whose repro saw a commit land)."""
    reports, interim = project / "reports", project / "data" / "interim"
    summary = _json(reports / "summary" / "summary.json")
    ingest = _json(reports / "deidentify" / "ingest.json")
    validation = _json(reports / "validation" / "summary.json")
    probe = _json(reports / "probe" / "summary.json")
    dedup = _json(reports / "dedup" / "summary.json")
    eda = _json(reports / "eda" / "summary.json")
    readiness = _json(reports / "readiness.json")
    duplicates = _json(interim / "duplicates.json")
    card = (reports / "DATASET_CARD.md").read_text(encoding="utf-8")
    text = (reports / "summary" / "summary.txt").read_text(encoding="utf-8")
    page = (reports / "eda" / "index.html").read_text(encoding="utf-8")
    metadata = pd.read_csv(interim / "metadata.csv", dtype=str, keep_default_na=False)
    qc = summary["quality_checks"]
    item = {i["id"]: i for i in readiness["items"]}

    # rows read, rows quarantined, files without a row (counted apart)
    assert ingest["rows_read"] == validation["rows_read"]
    rows = ingest["quarantined_rows"]
    assert rows == qc["quarantined_rows"] == validation["quarantined_by_ingest"]
    assert f"Quarantined CSV rows: {rows}\n" in text
    orphans = ingest["files_without_rows"]
    assert orphans == qc["files_without_rows"]
    assert f"Video files without a CSV row: {orphans}\n" in text
    assert (f"**Quarantined at ingest**: {rows} of {ingest['rows_read']} CSV rows" in card
            and f"and {orphans} video file(s) without a CSV row" in card)

    # usable videos
    usable = ingest["usable_videos"]
    assert usable == summary["total_videos"] == len(metadata) == probe["videos"] == dedup["videos"]
    assert f"Total Videos: {usable}\n" in text
    assert f"**Videos**: {usable} de-identified videos with metadata" in card
    assert item["decode_and_metadata"]["evidence"]["probed"] == usable

    # duplicate clusters and pairs
    clusters = len(duplicates["clusters"])
    in_clusters = sum(len(c["video_ids"]) for c in duplicates["clusters"])
    pairs = len(duplicates["pairs"])
    assert clusters == dedup["clusters"] == qc["duplicate_clusters"]
    assert in_clusters == dedup["videos_in_clusters"] == qc["videos_in_duplicate_clusters"]
    assert pairs == dedup["exact_pairs"] + dedup["near_pairs"] == qc["duplicate_pairs"]
    assert len(duplicates["review"]) == dedup["review_pairs"] == qc["duplicate_review_pairs"]
    assert item["no_leakage"]["evidence"]["duplicate_clusters"] == clusters
    said = f"{clusters}, {in_clusters} videos, {pairs} pairs"
    assert f"Duplicate clusters (dedup: identical or near-identical frames): {said}" in text
    assert f"**Duplicate clusters** (dedup: identical or near-identical frames): {said}" in card

    # children
    children = summary["per_subject"]["n_subjects"]
    assert f"**Children (pseudonymous subjects)**: {children};" in card
    assert children == metadata.loc[metadata["subject_id"] != "", "subject_id"].nunique()

    # one fingerprint
    fingerprint = summary["dataset_fingerprint"]
    assert re.fullmatch(r"fp-[0-9a-f]{16}", fingerprint)
    assert fingerprint == ingest["dataset_fingerprint"] == eda["dataset_fingerprint"]
    assert f"Dataset fingerprint: {fingerprint}\n" in text
    assert f"<code>{fingerprint}</code>" in page
    assert f"**Dataset fingerprint** `{fingerprint}`" in card
    assert set(re.findall(r"fp-[0-9a-f]{16}", card + text + page)) == {fingerprint}
    runs = _mlflow_runs(project)
    assert runs, "no MLflow run"
    processed = re.search(r"\*\*Processed-data fingerprint\*\* `(pd-[0-9a-f]{16})`", card)[1]
    for name, tags in runs.items():
        assert tags.get("vidlab.dataset_fingerprint") == fingerprint, name
        assert tags.get("vidlab.processed_fingerprint") == processed, name
    commits = {tags["vidlab.git_commit"] for tags in runs.values()}
    line = card.split("**Git commit", 1)[1].split("\n", 1)[0]
    assert all(f"`{commit}`" in line for commit in commits), (commits, line)
    assert len(commits) == 1 or not one_commit, commits
    return {"rows_read": ingest["rows_read"], "quarantined_rows": rows,
            "files_without_rows": orphans, "usable_videos": usable,
            "duplicate_clusters": clusters, "duplicate_pairs": pairs, "children": children,
            "fingerprint": fingerprint, "processed": processed, "mlflow_runs": len(runs)}


def _mlflow_runs(project: Path) -> dict[str, dict[str, str]]:
    """Tags of the newest run of each name in the project's store (the stages' runs: each
    model's, sanity's)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("vidlab")
    found = client.search_runs([experiment.experiment_id],
                               order_by=["attributes.start_time DESC"], max_results=1000)
    runs: dict[str, dict[str, str]] = {}
    for run in found:
        if {"vidlab.model", "vidlab.stage"} & set(run.data.tags):
            runs.setdefault(run.info.run_name, run.data.tags)
    return runs


if __name__ == "__main__":
    where = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(assert_one_story(Path(where[0] if where else "."),
                                      one_commit="--any-commit" not in sys.argv), indent=2))
