"""The `split` stage: leakage-free train/val/test splits (and k folds) of the kept videos.

Videos first merge into groups that are never cut: every duplicate cluster of the dedup stage,
always, and every child (``subject_id``) under the ``group`` strategy. The groups are shuffled with
the seed; then, largest first (sizes binned by powers of two, so the seed matters), each goes to
the split whose per-stratum counts and size fall furthest short of the ratios (squared relative
shortfall), or, under ``time``, they are cut in order of their latest recording period. With
``split.folds`` the test split is held out first and the rest is cut into k equal folds the same
way.

Leakage (a child or a duplicate cluster in two splits or folds) is recounted from the CSV text as
written, not taken from the assignment; the reports are written first, then the stage stops.
A failed run leaves no ``splits.csv``, so no stale split can pass for a current one.

Outputs: ``data/processed/splits.csv`` (:data:`COLUMNS`) and, under ``reports/split/``,
``summary.json``, ``leakage.json``, ``distributions.json``, ``distributions.png`` and ``split.md``.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import SPLIT_NAMES, Params, SplitParams
from vidlab.config.declare import Declaration
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text, csv_text
from vidlab.data.usable import NOT_VALIDATED, usable
from vidlab.stages.split.report import (
    distributions,
    leakage,
    period_ranges,
    stop_on_leakage,
    summarize,
    value_counts,
    write_reports,
)

PARAMS = Declaration(
    "split",
    outputs=("base.seed", "base.target", "base.classes", "split"),
)


log = logging.getLogger(__name__)

COLUMNS = ("video_id", "path", "subject_id", "label", "domain", "age_group", "milestone_id",
           "recorded_period", "duration_s", "fps_avg", "width", "height", "group", "split", "fold")
META_COLUMNS = ("video_id", "subject_id", "label", "domain", "age_group", "milestone_id",
                "recorded_period")
PROBED_COLUMNS = ("video_id", "path", "duration_s", "fps_avg", "width", "height", "status")
_PERIOD = re.compile(r"(\d{4})(?:-Q([1-4])|-(\d{2})-\d{2})?")


def _read(path: Path, columns: tuple[str, ...], what: str, stage: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        if stage == "validate":
            raise DataError(NOT_VALIDATED.format(path=path))
        raise DataError(f"The {what} {path} does not exist. Run `vidlab {stage}` first.")
    frame = (pd.read_parquet(path) if path.suffix == ".parquet"
             else pd.read_csv(path, dtype=str, keep_default_na=False))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"The {what} {path} lacks the column(s) {', '.join(missing)}. "
                        f"Rerun `vidlab {stage}` to rewrite it.")
    return frame


def load_rows(metadata_csv: Path, manifest: Path, quarantine: Path) -> tuple[pd.DataFrame, dict]:
    """The kept videos (metadata joined with the manifest, sorted by video_id) and the excluded.

    Returns:
        (rows, excluded): ``excluded`` counts quarantined videos by reason and failed probes by
        status.
    """
    meta = _read(metadata_csv, META_COLUMNS, "metadata CSV", "ingest")
    probed = _read(manifest, PROBED_COLUMNS, "manifest", "probe")
    held = _read(quarantine, ("stage", "video_id", "reason"), "quarantine CSV", "validate")
    for frame, path in ((meta, metadata_csv), (probed, manifest)):
        repeated = frame["video_id"][frame["video_id"].duplicated()]
        if len(repeated):
            raise DataError(f"{path} lists video_id {repeated.iloc[0]} more than once. Rerun the "
                            "ingest and probe stages.")
    rows = meta.merge(probed[list(PROBED_COLUMNS)], on="video_id", how="left")
    unprobed = rows.loc[rows["status"].isna(), "video_id"]
    if len(unprobed):
        raise DataError(f"{len(unprobed)} video(s) of {metadata_csv} have no row in {manifest} "
                        f"(first: {unprobed.iloc[0]}). Rerun `vidlab probe`.")
    # The same rule as dedup's: ingest's own quarantine rows never reached metadata.csv, except
    # duplicate_row, whose id is the copy ingest kept; later stages' rows remove a video.
    kept, failed = usable(rows, held), rows["status"] != "ok"
    quarantined = rows.loc[~kept & ~failed, "video_id"]
    reasons = held[(held["stage"] != "ingest") & held["video_id"].isin(quarantined)]
    excluded = {"quarantined": len(quarantined), "not_ok": int(failed.sum()),
                "quarantine_reasons": value_counts(reasons.drop_duplicates(["video_id", "reason"])
                                              ["reason"]),
                "not_ok_statuses": value_counts(rows.loc[failed, "status"])}
    rows = rows[kept].sort_values("video_id", ignore_index=True)
    if rows.empty:
        raise DataError(f"No video is left to split: all of {metadata_csv} are quarantined in "
                        f"{quarantine} or failed in {manifest}. See reports/validation/.")
    for column in ("width", "height"):
        rows[column] = rows[column].astype("int64")
    rows["resolution"] = rows["width"].astype(str) + "x" + rows["height"].astype(str)
    return rows, excluded


def load_clusters(path: Path, kept: set[str]) -> list[tuple[str, list[str]]]:
    """Duplicate clusters as (id, sorted kept members); clusters with < 2 kept videos dropped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The duplicates file {path} does not exist. Run `vidlab dedup` first.")
    found = []
    for cluster in contracts.read(path, contracts.Duplicates).clusters:
        members = sorted(set(cluster.video_ids) & kept)
        if len(members) > 1:
            found.append((cluster.id, members))
    return found


def build_groups(rows: pd.DataFrame, clusters: list[tuple[str, list[str]]], *,
                 by_subject: bool) -> np.ndarray:
    """Group number of each row: connected components over shared subjects (when
    ``by_subject``) and duplicate clusters, numbered by each group's first row."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, index = len(rows), pd.Index(rows["video_id"])
    # Nodes: the rows, then one per subject (else self-loops), then one per cluster.
    first = n + pd.factorize(rows["subject_id"])[0] if by_subject else np.arange(n)
    heads, tails, node = [np.arange(n)], [first], int(first.max()) + 1
    for _, members in clusters:
        heads.append(index.get_indexer(members))
        tails.append(np.full(len(members), node))
        node += 1
    head, tail = np.concatenate(heads), np.concatenate(tails)
    graph = coo_matrix((np.ones(len(head)), (head, tail)), shape=(node, node))
    labels = connected_components(graph, directed=False)[1][:n]
    return pd.factorize(labels)[0]


def periods_of(rows: pd.DataFrame, *, strict: bool) -> pd.Series:
    """recorded_period generalised to the coarsest level present (year > quarter > date), so all
    compare as strings; '' where unknown. ``strict`` (time strategy): an unknown one is an error."""
    parsed = {}
    for value in rows["recorded_period"].unique():
        match = _PERIOD.fullmatch(value)
        if match:
            year, quarter, month = match.groups()
            quarter = quarter or (str((int(month) + 2) // 3) if month else None)
            level = 2 if month else 1 if quarter else 0
            parsed[value] = (level, year, f"{year}-Q{quarter}", value)
    unknown = ~rows["recorded_period"].isin(list(parsed))
    if strict and unknown.any():
        first = rows[unknown].iloc[0]
        raise DataError(
            f"split.strategy has 'time' but {int(unknown.sum())} video(s) have no usable "
            f"recorded_period (first: {first['video_id']} with {first['recorded_period']!r}). "
            "Set ingest.dates to quarter, year or keep (the CSV needs a recorded_on column), or "
            "drop 'time' from split.strategy.")
    if not parsed:
        return pd.Series("", index=rows.index)
    level = min(p[0] for p in parsed.values())
    return rows["recorded_period"].map({v: p[1 + level] for v, p in parsed.items()}).fillna("")


def _strata(rows: pd.DataFrame, split: SplitParams) -> np.ndarray:
    """Per group x stratum video counts; no columns unless the strategy is stratified."""
    groups = rows["group"].to_numpy()
    if "stratified" not in split.strategy:
        return np.zeros((groups.max() + 1, 0))
    key = rows[list(split.stratify)].astype(str).agg("\x1f".join, axis=1)
    codes, uniques = pd.factorize(key)
    table = np.zeros((groups.max() + 1, len(uniques)))
    np.add.at(table, (groups, codes), 1)
    return table


def partition(order: np.ndarray, sizes: np.ndarray, strata: np.ndarray, ratios: np.ndarray, *,
              timed: bool) -> np.ndarray:
    """Part index (into ``ratios``) of each group in ``order``; -1 for the groups not in it.

    Timed: cut ``order`` where each group's midpoint crosses the cumulative ratios. Otherwise each
    group in turn goes to the part where it most lowers the sum of squared relative shortfalls of
    stratum counts and size against ``ratios`` times the totals.
    """
    part = np.full(len(sizes), -1)
    if timed:
        bounds = np.cumsum(ratios) * sizes[order].sum()
        middle = np.cumsum(sizes[order]) - sizes[order] / 2
        part[order] = np.minimum(np.searchsorted(bounds, middle, side="right"), len(ratios) - 1)
        return part
    target = np.column_stack([np.outer(ratios, strata[order].sum(0)), ratios * sizes[order].sum()])
    scale = np.maximum(target, 1.0) ** 2  # relative: a small split's shortfall weighs as much
    have = np.zeros_like(target)
    for g in order:
        add = np.append(strata[g], sizes[g])
        delta = (((have + add - target) ** 2 - (have - target) ** 2) / scale).sum(1)
        part[g] = best = int(np.argmin(delta))
        have[best] += add
    return part


def assign(rows: pd.DataFrame, split: SplitParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split name and fold (-1: none or test) of every row; DataError when one cannot be made."""
    groups = rows["group"].to_numpy()
    sizes, n_groups = np.bincount(groups), groups.max() + 1
    if n_groups < len(SPLIT_NAMES):
        drop = ", or drop 'group' from split.strategy" if "group" in split.strategy else ""
        raise DataError(f"Only {n_groups} group(s) of videos exist ({_group_words(split)}); "
                        f"train, val and test need one each. Add data{drop}.")
    if n_groups < split.folds + 1:
        raise DataError(
            f"split.folds is {split.folds} but only {n_groups} groups of videos exist "
            f"({_group_words(split)}); {split.folds} folds plus a test split need "
            f"{split.folds + 1}. Lower split.folds to at most {n_groups - 1}, or add data.")
    perm = np.random.default_rng(seed).permutation(n_groups)
    timed = "time" in split.strategy
    if timed:
        latest = pd.Series(periods_of(rows, strict=True).to_numpy()).groupby(groups).max()
        key = np.unique(latest.to_numpy(), return_inverse=True)[1]
    else:  # largest first by powers of two, shuffled within: so the seed matters even when
        key = -np.floor(np.log2(sizes))  # few groups have distinct sizes
    order = perm[np.argsort(key[perm], kind="stable")]
    strata = _strata(rows, split)
    if not split.folds:
        part = partition(order, sizes, strata, np.array([split.train, split.val, split.test]),
                         timed=timed)
        _check_filled(part, len(SPLIT_NAMES), split, sizes, "split")
        return np.array(SPLIT_NAMES)[part[groups]], np.full(len(rows), -1)
    test = partition(order, sizes, strata, np.array([1 - split.test, split.test]), timed=timed)
    _check_filled(test, 2, split, sizes, "test")
    rest = order[test[order] == 0]
    if len(rest) < split.folds:
        raise DataError(
            f"split.folds is {split.folds} but only {len(rest)} group(s) remain after holding "
            f"out the test split ({n_groups} in all, split.test={split.test}). Lower split.folds "
            f"to at most {len(rest)}, lower split.test, or add data.")
    fold = partition(rest, sizes, strata, np.full(split.folds, 1 / split.folds), timed=timed)
    _check_filled(fold, split.folds, split, sizes, "fold")
    fold = fold[groups]
    names = np.where(fold < 0, "test", np.where(fold == split.val_fold, "val", "train"))
    return names, fold


def _group_words(split: SplitParams) -> str:
    return ("children merged with duplicate clusters" if "group" in split.strategy
            else "videos merged with duplicate clusters")


def _check_filled(part: np.ndarray, parts: int, split: SplitParams, sizes: np.ndarray,
                  kind: str) -> None:
    filled = np.bincount(part[part >= 0], minlength=parts)
    for index in np.flatnonzero(filled == 0):
        if kind == "fold":
            name, fix = f"Fold {index}", "Lower split.folds or split.test, or add data."
        else:
            ratio = "test" if kind == "test" else SPLIT_NAMES[index]
            name = f"The {ratio} split"
            fix = f"Raise split.{ratio} (now {getattr(split, ratio)}), or add data."
        raise DataError(
            f"{name} is empty: the {len(sizes)} groups ({_group_words(split)}; the largest "
            f"has {sizes.max()} of {sizes.sum()} videos) could not fill it. {fix}")


def check_classes(rows: pd.DataFrame, params: Params) -> None:
    """Every class of base.target in the data is in every split and fold, or DataError."""
    target, split = params.base.target, params.split
    classes = sorted(set(rows[target]) - {""})
    parts = [("split", name) for name in SPLIT_NAMES]
    parts += [("fold", index) for index in range(split.folds)]
    for column, part in parts:
        present = set(rows.loc[rows[column] == part, target])
        for name in (c for c in classes if c not in present):
            holders = rows.loc[rows[target] == name, "group"]
            where = f"the {part} split" if column == "split" else f"fold {part}"
            hints = [f"change split.train/val/test ({split.train}/{split.val}/{split.test})"]
            if split.folds:
                hints.append(f"use fewer split.folds (now {split.folds})")
            balanced = "stratified" in split.strategy and target in split.stratify
            if "time" not in split.strategy and not balanced:
                hints.append(f"add 'stratified' to split.strategy with '{target}' in "
                             "split.stratify")
            hints += ["add videos of that class", "set split.require_all_classes: false"]
            raise DataError(
                f"Class {name!r} of base.target '{target}' is absent from {where}: only "
                f"{holders.nunique()} group(s) ({len(holders)} videos) hold it. To fix: "
                + ", or ".join(hints) + ".")


def _records(rows: pd.DataFrame) -> list[dict]:
    out = rows[list(COLUMNS)].copy()
    for column in ("width", "height", "group", "fold"):
        out[column] = out[column].astype(int)
    return out.to_dict("records")


def run(params: Params, *, metadata_csv: Path, manifest: Path, quarantine: Path,
        duplicates: Path, out_csv: Path, reports: Path) -> dict:
    """Split the kept videos into train/val/test (and folds), write splits.csv and the reports.

    Args:
        params: all params; reads ``split`` and ``base`` (seed, target).
        metadata_csv: data/interim/metadata.csv from ingest.
        manifest: data/interim/manifest.parquet from probe.
        quarantine: data/interim/quarantine.csv; videos quarantined after ingest are left out
            (the rule of :func:`vidlab.data.usable.usable`).
        duplicates: duplicates.json from dedup; each cluster stays in one split.
        out_csv: where splits.csv goes (:data:`COLUMNS`, sorted by video_id).
        reports: the report folder, replaced as a whole.

    Returns:
        The summary (also reports/summary.json).

    Raises:
        DataError: on unusable inputs, a split that cannot be made or leakage; no splits.csv is
            left behind then (on leakage the reports are written first).
    """
    params = PARAMS.view(params)
    try:
        return _run(params, metadata_csv, manifest, quarantine, duplicates, Path(out_csv),
                    Path(reports))
    except DataError:
        Path(out_csv).unlink(missing_ok=True)
        raise


def _run(params: Params, metadata_csv: Path, manifest: Path, quarantine: Path,
         duplicates: Path, out_csv: Path, reports: Path) -> dict:
    split = params.split
    seed = params.base.seed if split.seed is None else split.seed
    rows, excluded = load_rows(metadata_csv, manifest, quarantine)
    clusters = load_clusters(duplicates, set(rows["video_id"]))
    by_subject = "group" in split.strategy
    if by_subject and (rows["subject_id"] == "").any():
        missing = rows.loc[rows["subject_id"] == "", "video_id"]
        raise DataError(
            f"split.strategy has 'group' but {len(missing)} of {len(rows)} videos have no "
            f"subject_id (first: {missing.iloc[0]}). Give the CSV a child_id column (ingest "
            "pseudonymises it) and rerun `vidlab ingest`, or drop 'group' from split.strategy.")
    rows["group"] = build_groups(rows, clusters, by_subject=by_subject)
    rows["split"], rows["fold"] = assign(rows, split, seed)
    if split.require_all_classes:
        check_classes(rows, params)
    text = csv_text(COLUMNS, _records(rows))
    written = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    leaks = leakage(written, clusters, split.folds)
    dists = distributions(rows, split.balance_alpha)
    periods = period_ranges(rows, periods_of(rows, strict=False), "time" in split.strategy)
    summary = summarize(rows, params, seed, excluded, leaks, dists, periods)
    write_reports(reports, summary, leaks, dists, rows, params.base.target)
    stop_on_leakage(summary, leaks, reports)
    atomic_write_text(out_csv, text)
    for name, s in summary["splits"].items():
        log.debug("split: %s %d videos, %d groups", name, s["videos"], s["groups"])
    for flagged in dists["flagged"]:
        log.warning("split: distribution differs across splits: %s", flagged)
    return summary


def print_summary(summary: dict, echo: Callable[[str], object]) -> None:
    """The short terminal summary (for the CLI)."""
    parts = ", ".join(f"{n} {s['videos']}" for n, s in summary["splits"].items())
    echo(f"split: {summary['videos']} videos in {summary['groups']} groups -> {parts}; "
         f"{summary['excluded']['total']} excluded; overlaps: {summary['subject_overlap']} "
         f"subject(s), {summary['duplicate_cluster_overlap']} duplicate cluster(s)")
    for flagged in summary["flagged_tests"]:
        echo(f"  flagged: {flagged}")
