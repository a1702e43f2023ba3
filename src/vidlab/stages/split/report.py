"""Reports of the `split` stage: leakage recount, per-split distributions and tests, summary.

Everything here reads the assignment the split stage made and describes it; nothing decides.
Leakage is recounted from the CSV text as written. Floats are rounded to :data:`DIGITS` so that
reruns give the same bytes (DVC tracks these files).
"""

from __future__ import annotations

import json
import logging
import math
import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import SPLIT_NAMES, Params
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir, atomic_write_text
from vidlab.core.render import markdown_table, save_figure

log = logging.getLogger(__name__)

MARKER = "summary.json"  # a reports folder holding one was written by this stage
CATEGORICAL = ("label", "domain", "age_group", "resolution")
NUMERIC = ("duration_s", "fps_avg")
DIGITS = 6  # floats in the JSON reports are rounded so that reruns give the same bytes


def _round(value: float) -> float | None:
    return round(float(value), DIGITS) if math.isfinite(value) else None


def _natural(value: object) -> list:
    """Sort key putting '7-12m' before '13-18m' and '112x84' before '1280x720'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(value))]


def _crosstab(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Videos per split (rows, SPLIT_NAMES order) and value of ``column`` (natural order)."""
    table = pd.crosstab(rows["split"], rows[column]).reindex(SPLIT_NAMES, fill_value=0)
    return table[sorted(table.columns, key=_natural)]


def value_counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(values.value_counts().items())}


def _spanning(keys: pd.Series, parts: pd.Series, order: list[str]) -> dict:
    """Keys (non-empty) found in more than one part: count, per part pair, and the keys."""
    keep = keys != ""
    table = pd.crosstab(keys[keep], parts[keep]).reindex(columns=order, fill_value=0) > 0
    spanning = table[table.sum(axis=1) > 1]
    return {"count": len(spanning),
            "pairs": {f"{a}|{b}": int((spanning[a] & spanning[b]).sum())
                      for a, b in combinations(order, 2)},
            "ids": sorted(map(str, spanning.index))}


def leakage(written: pd.DataFrame, clusters: list[tuple[str, list[str]]], folds: int) -> dict:
    """Subjects and duplicate clusters in more than one split (and fold), from the written rows."""
    parts = {"split": (written["split"], list(SPLIT_NAMES))}
    if folds:
        label = np.where(written["fold"] == "-1", "test", "fold" + written["fold"])
        parts["fold"] = (pd.Series(label, index=written.index),
                         [f"fold{k}" for k in range(folds)] + ["test"])
    members = pd.DataFrame([(cid, v) for cid, ids in clusters for v in ids],
                           columns=["cluster", "video_id"], dtype=str)
    joined = members.merge(written.reset_index(), on="video_id")
    report: dict = {"subjects": {}, "duplicate_clusters": {}}
    for by, (values, order) in parts.items():
        report["subjects"][f"by_{by}"] = _spanning(written["subject_id"], values, order)
        report["duplicate_clusters"][f"by_{by}"] = _spanning(
            joined["cluster"], values.loc[joined["index"]].set_axis(joined.index), order)
    report["subjects_total"] = int(written.loc[written["subject_id"] != "", "subject_id"]
                                   .nunique())
    report["duplicate_clusters_total"] = len(clusters)
    return report


def _chi2(table: pd.DataFrame) -> dict:
    from scipy.stats import chi2_contingency

    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return {"skipped": "one value or one non-empty split only: nothing to compare"}
    chi2, p, dof, _ = chi2_contingency(table.to_numpy())
    return {"method": "chi2_contingency", "chi2": _round(chi2), "dof": int(dof), "p": _round(p)}


def distributions(rows: pd.DataFrame, alpha: float) -> dict:
    """Per-split shares with a chi-square test of homogeneity; per-split numeric summaries with
    KS tests of val and test against train. Tests with p < ``alpha`` are listed in ``flagged``."""
    from scipy.stats import ks_2samp

    report: dict = {"alpha": alpha, "categorical": {}, "numeric": {}, "flagged": []}
    for column in CATEGORICAL:
        table = _crosstab(rows, column)
        shares = table.div(table.sum(axis=1).replace(0, 1), axis=0)
        entry = {"counts": {s: {str(k): int(v) for k, v in table.loc[s].items()}
                            for s in SPLIT_NAMES},
                 "shares": {s: {str(k): _round(v) for k, v in shares.loc[s].items()}
                            for s in SPLIT_NAMES},
                 "test": _chi2(table)}
        report["categorical"][column] = entry
        if entry["test"].get("p") is not None and entry["test"]["p"] < alpha:
            report["flagged"].append(f"{column}: chi2 p={entry['test']['p']}")
    for column in NUMERIC:
        values = {s: rows.loc[rows["split"] == s, column].dropna().astype(float)
                  for s in SPLIT_NAMES}
        entry = {"stats": {s: {"n": len(v), **{f: _round(getattr(v, f)()) if len(v) else None
                                               for f in ("mean", "median", "min", "max")}}
                           for s, v in values.items()}, "ks_vs_train": {}}
        for s in ("val", "test"):
            if len(values[s]) and len(values["train"]):
                result = ks_2samp(values[s], values["train"])
                entry["ks_vs_train"][s] = {"statistic": _round(result.statistic),
                                           "p": _round(result.pvalue)}
                if result.pvalue < alpha:
                    report["flagged"].append(f"{column}: {s} vs train KS p={_round(result.pvalue)}")
        report["numeric"][column] = entry
    return report


def plot_distributions(rows: pd.DataFrame, path: Path) -> None:
    """A 2x3 grid: stacked shares per split of the categorical columns, box plots of the numeric
    ones. Agg, default style, no Software chunk: same bytes on rerun (as analytics.plots)."""
    import matplotlib
    import matplotlib.style

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        fig = Figure(figsize=(13, 7), dpi=100, layout="constrained")
        axes = fig.subplots(2, 3).ravel()
        colors = matplotlib.colormaps["tab20"]
        for ax, column in zip(axes[:4], CATEGORICAL, strict=True):
            table = _crosstab(rows, column)
            shares = table.div(table.sum(axis=1).replace(0, 1), axis=0).T
            bottom = np.zeros(len(SPLIT_NAMES))
            for i, (value, share) in enumerate(shares.iterrows()):
                ax.bar(SPLIT_NAMES, share.to_numpy(), bottom=bottom, label=str(value),
                       color=colors(i % 20))
                bottom += share.to_numpy()
            ax.set_title(f"{column} (share per split)")
            ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        for ax, column in zip(axes[4:], NUMERIC, strict=True):
            ax.boxplot([rows.loc[rows["split"] == s, column].dropna().to_numpy()
                        for s in SPLIT_NAMES])
            ax.set_xticks(range(1, len(SPLIT_NAMES) + 1), SPLIT_NAMES)
            ax.set_title(column)
        save_figure(fig, path, dpi=100)
        fig.clear()


def period_ranges(rows: pd.DataFrame, periods: pd.Series, timed: bool) -> dict:
    """First and last generalised period per split; under time, the periods two splits share."""
    known = periods != ""
    ranges = {s: {"first": min(p, default=None), "last": max(p, default=None)}
              for s in SPLIT_NAMES for p in [list(periods[known & (rows["split"] == s)])]}
    report: dict = {"ranges": ranges}
    if timed:
        where = rows[known].groupby(periods[known])["split"].agg(lambda s: sorted(
            set(s), key=SPLIT_NAMES.index))
        report["shared"] = {str(p): list(s) for p, s in where.items() if len(s) > 1}
        if report["shared"]:  # one line: under time+group a child's videos span many periods
            log.warning("split: %d period(s) hold videos of more than one split: %s",
                        len(report["shared"]), ", ".join(
                            f"{p} ({'/'.join(s)})" for p, s in report["shared"].items()))
    return report


def summarize(rows: pd.DataFrame, params: Params, seed: int, excluded: dict, leaks: dict,
              dists: dict, periods: dict) -> dict:
    """The summary.json dict: counts per split (and fold), exclusions, overlaps, flagged tests."""
    split, target = params.split, params.base.target

    def counts(part: pd.DataFrame) -> dict:
        return {"videos": len(part), "share": _round(len(part) / len(rows)),
                "groups": int(part["group"].nunique()),
                "subjects": int(part.loc[part["subject_id"] != "", "subject_id"].nunique()),
                "classes": value_counts(part[target])}

    summary = {
        "strategy": list(split.strategy), "stratify": list(split.stratify), "seed": seed,
        "ratios": {s: getattr(split, s) for s in SPLIT_NAMES}, "folds": split.folds,
        "val_fold": split.val_fold if split.folds else None,
        "videos": len(rows), "groups": int(rows["group"].nunique()),
        "splits": {s: counts(rows[rows["split"] == s]) for s in SPLIT_NAMES},
        "fold_counts": {str(k): counts(rows[rows["fold"] == k]) for k in range(split.folds)},
        "excluded": {"total": excluded["quarantined"] + excluded["not_ok"], **excluded},
        "subject_overlap": max(v["count"] for v in leaks["subjects"].values()),
        "duplicate_cluster_overlap": max(v["count"] for v in leaks["duplicate_clusters"].values()),
        "allow_subject_overlap": split.allow_subject_overlap,
        "flagged_tests": dists["flagged"], "periods": periods,
    }
    return summary


def markdown(summary: dict, target: str) -> str:
    """A short human summary of the split (split.md)."""
    classes = sorted({c for s in summary["splits"].values() for c in s["classes"]})
    stratify = (f" (stratify: {', '.join(summary['stratify'])})"
                if "stratified" in summary["strategy"] else "")
    val_fold = f" (val is fold {summary['val_fold']})" if summary["folds"] else ""
    lines = [
        "# Split", "",
        f"Strategy {', '.join(summary['strategy'])}{stratify}, seed {summary['seed']}, "
        f"folds {summary['folds'] or 'none'}{val_fold}.",
        f"{summary['videos']} videos in {summary['groups']} groups; "
        f"{summary['excluded']['total']} excluded ({summary['excluded']['quarantined']} "
        f"quarantined, {summary['excluded']['not_ok']} not ok).", "",
    ]
    lines += markdown_table(["split", "videos", "share", "groups", "subjects", *classes],
                            [[name, s["videos"], f"{s['share']:.1%}", s["groups"], s["subjects"],
                              *(s["classes"].get(c, 0) for c in classes)]
                             for name, s in summary["splits"].items()])
    if summary["fold_counts"]:
        lines += ["", "Folds (videos/groups): " + ", ".join(
            f"{k}: {f['videos']}/{f['groups']}" for k, f in summary["fold_counts"].items())]
    ranges = summary["periods"]["ranges"]
    lines += ["", f"Classes are values of base.target '{target}'.",
              f"Leakage: {summary['subject_overlap']} subject(s) and "
              f"{summary['duplicate_cluster_overlap']} duplicate cluster(s) in more than one "
              "split (see leakage.json).",
              "Flagged distribution tests: " + ("; ".join(summary["flagged_tests"]) or "none")
              + " (see distributions.json, distributions.png).",
              "Periods: " + ", ".join(f"{s} {r['first']}..{r['last']}" for s, r in ranges.items()
                                      if r["first"])]
    if summary["periods"].get("shared"):
        lines.append("Shared boundary periods: " + ", ".join(
            f"{p} ({'/'.join(s)})" for p, s in summary["periods"]["shared"].items()))
    return "\n".join(lines) + "\n"


def write_reports(folder: Path, summary: dict, leaks: dict, dists: dict, rows: pd.DataFrame,
                   target: str) -> None:
    with atomic_dir(Path(folder), marker=MARKER) as tmp:
        contracts.write(tmp / "summary.json", contracts.SplitSummary, summary, indent=2)
        contracts.write(tmp / "leakage.json", contracts.Leakage, leaks, indent=2)
        write_headline(tmp / "headline.json", {"videos": summary["videos"],
                                               "flagged": summary["excluded"]["total"]})
        atomic_write_text(tmp / "distributions.json", json.dumps(dists, indent=2) + "\n")
        atomic_write_text(tmp / "split.md", markdown(summary, target))
        plot_distributions(rows, tmp / "distributions.png")


def stop_on_leakage(summary: dict, leaks: dict, reports: Path) -> None:
    problems = []
    dup = summary["duplicate_cluster_overlap"]
    if dup:
        problems.append(f"{dup} duplicate cluster(s) span more than one split or fold (a bug "
                        "or a changed duplicates.json: report it)")
    subjects = summary["subject_overlap"]
    if subjects and not summary["allow_subject_overlap"]:
        pairs = ", ".join(f"{k}: {v}" for k, v in leaks["subjects"]["by_split"]["pairs"].items())
        problems.append(
            f"{subjects} subject(s) have videos in more than one split or fold ({pairs}). Add "
            "'group' to split.strategy, or set split.allow_subject_overlap: true (rarely right: "
            "the model is then evaluated on children it was trained on)")
    if problems:
        raise DataError("Leakage between splits: " + "; ".join(problems)
                        + f". Details: {Path(reports) / 'leakage.json'}. splits.csv not written.")
