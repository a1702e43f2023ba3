"""The `annotations` stage: annotation exports in, one de-identified, aligned, checked table out.

Reads every file ``annotations.files`` names (inside ``annotations.folder``) in its format
(:mod:`vidlab.annotations.formats`), joins each record's video name to the de-identified video
through ingest's private mapping (beside the key, never copied), places it on the decoded frames
(:mod:`.align`) and judges it with the Great Expectations suite ``expectations/annotations.json``
(:mod:`.qa`). A record that cannot be placed or fails a check is quarantined with its reason;
nothing is shifted or dropped silently.

Outputs, published together: ``data/interim/annotations.parquet`` (:data:`ALIGNED_COLUMNS`, one
row per annotated element: a segment, a box or mask on one frame, a caption),
``data/interim/quarantine_annotations.csv`` (the quarantine columns; ``line`` is the position in
the export, never its file or video name) and ``reports/annotations/summary.json`` (counts per
task, format and reason; a DVC metric). No output holds an original file name.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from vidlab import contracts
from vidlab.annotations import align, formats
from vidlab.annotations.schema import ALIGNED_COLUMNS, FORMATS, TASKS, raw_frame
from vidlab.config import Params
from vidlab.config.annotations import DEMO_FOLDER
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import JOURNAL_PREFIX, OutputSet
from vidlab.data.schema import QUARANTINE_COLUMNS
from vidlab.data.usable import read_usable
from vidlab.stages.annotations import qa

PARAMS = Declaration("annotations", outputs=("annotations", "data.source", "data.csv"))

log = logging.getLogger(__name__)


def exports(params: Params) -> dict[str, str]:
    """The formats to read and their paths in ``annotations.folder``: none when your own data is
    in use and the folder is still the demo's (which then holds only a note)."""
    p = params.annotations
    if params.data.source != "demo" and Path(p.folder) == Path(DEMO_FOLDER):
        return {}
    return dict(p.files)


def read_all(params: Params) -> pd.DataFrame:
    """Every configured export's raw records, in params order then file order."""
    folder = Path(params.annotations.folder)
    records = []
    for fmt, relative in exports(params).items():
        path = folder / relative
        if not path.exists():
            raise DataError(f"annotations.files.{fmt} names {relative}, which is not in "
                            f"{folder}. Fix the path in params.yaml or leave the format out.")
        try:
            records += formats.read(fmt, path)
        except DataError as exc:
            raise DataError(f"{fmt} annotations in {folder / relative}: {exc}") from None
    return raw_frame(records)


def parameters(params: Params) -> dict:
    """Values for the annotations suite's ``$PARAMETER`` placeholders."""
    p = params.annotations
    return {"time_tolerance_s": p.time_tolerance_s, "box_tolerance_px": p.box_tolerance_px,
            "max_overlap_s": 1e9 if p.segments_may_overlap else 0.0, "max_jump": p.max_jump,
            "languages": [p.language, "und"]}


def run(params: Params, *, manifest: Path, quarantine: Path, out: Path, rejected: Path,
        reports: Path, suites: Path = Path("expectations"), mapping: Path | None = None) -> dict:
    """Read, align and check the annotations; write the table, its quarantine and the summary.

    Args:
        mapping: ingest's private mapping file (default: the one beside this dataset's key).
    """
    params = PARAMS.view(params)
    p = params.annotations
    usable, _ = read_usable(Path(manifest), Path(quarantine))
    raw = read_all(params)
    names = align.mapping_of(Path(mapping) if mapping else
                             align.mapping_file(params.data.source, params.data.csv))
    index = align.name_index(names)
    ids = {align.resolve(str(v), *index)[0] for v in raw["video"].unique()}
    videos = align.video_facts(usable, ids - {""})
    table, problems = align.align(raw, names, set(usable["video_id"]), videos,
                                  ontology=dict(p.ontology), unlabelled=dict(p.unlabelled),
                                  fps_tolerance=p.fps_tolerance)
    checks: list[dict] = []
    if len(table):
        batch = qa.measures(table, videos, p.classes(), p.max_jump)
        found, checks = qa.failures(batch, Path(suites), parameters(params))
        for failure in found:
            row = table.iloc[failure["row"]]
            problems.append({"index": int(row["_raw"]), "video_id": row["video_id"],
                             "column": failure["column"], "value": failure["value"],
                             "reason": failure["reason"], "detail": failure["detail"]})
    held = {problem["index"] for problem in problems}
    kept = table[~table["_raw"].isin(held)]
    kept = kept.sort_values(["video_id", "task", "source", "_raw"], kind="stable")
    kept = kept[list(ALIGNED_COLUMNS)].reset_index(drop=True)
    rows = _quarantine_rows(problems, raw)
    summary = _summary(raw, kept, rows, len(held), checks)
    with OutputSet(Path(out).parent / f"{JOURNAL_PREFIX}annotations.json") as outputs:
        kept.to_parquet(outputs.file(Path(out)), index=False, engine="pyarrow")
        outputs.text(Path(rejected), rows.to_csv(index=False, lineterminator="\n"))
        tmp = outputs.folder(Path(reports), marker="summary.json")
        contracts.write(tmp / "summary.json", contracts.AnnotationsSummary, summary,
                        atomic=False, indent=2)
        # videos with annotations kept; annotations quarantined
        write_headline(tmp / "headline.json", {"videos": summary["videos"],
                                               "flagged": summary["quarantined"]}, atomic=False)
    return summary


def _quarantine_rows(problems: list[dict], raw: pd.DataFrame) -> pd.DataFrame:
    entries = []
    for problem in sorted(problems, key=lambda item: (item["index"], item["reason"])):
        record = raw.iloc[problem["index"]]
        entries.append({"stage": "annotations", "line": f"{record['source']} {record['where']}",
                        "video_id": problem["video_id"], "column": problem["column"],
                        "value": problem["value"], "reason": problem["reason"],
                        "detail": problem["detail"]})
    return pd.DataFrame(entries, columns=list(QUARANTINE_COLUMNS))


def _summary(raw: pd.DataFrame, kept: pd.DataFrame, rows: pd.DataFrame, held: int,
             checks: list[dict]) -> dict:
    by_task = {task: int((kept["task"] == task).sum()) for task in TASKS}
    return {
        "read": len(raw),
        "kept": len(kept),
        "quarantined": held,
        "by_task": by_task,
        "by_format": {fmt: int((kept["source"] == fmt).sum())
                      for fmt in FORMATS if fmt in set(raw["source"])},
        "videos": int(kept["video_id"].nunique()),
        "reasons": dict(sorted(Counter(rows["reason"]).items())),
        "checks": checks,
    }


def print_summary(summary: dict, echo, rejected: Path) -> None:
    """The short terminal summary."""
    tasks = ", ".join(f"{n} {task}" for task, n in summary["by_task"].items() if n)
    echo(f"annotations: {summary['kept']} of {summary['read']} annotations kept on "
         f"{summary['videos']} videos ({tasks or 'none'})")
    if summary["quarantined"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary["reasons"].items())
        echo(f"  {summary['quarantined']} quarantined ({reasons}): see {rejected}")
