"""The split stage: groups never cut, stratification, k-fold, time order, leakage, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidlab import contracts
from vidlab.config import SPLIT_NAMES, replace
from vidlab.core.errors import DataError
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.stages.split import report as split_report
from vidlab.stages.split import stage as split

N_SUBJECTS = 30
REPORT_FILES = ("summary.json", "leakage.json", "distributions.json", "distributions.png",
                "split.md", "headline.json")


def metadata(n_subjects: int = N_SUBJECTS, *, seed: int = 0) -> pd.DataFrame:
    """1-6 videos per child, labels mixed within and between children, periods by video."""
    rng = np.random.default_rng(seed)
    rows, k = [], 0
    for s in range(n_subjects):
        for _ in range(int(rng.integers(1, 7))):
            age = int(rng.integers(1, 36))
            low = (age - 1) // 6 * 6
            rows.append({
                "video_id": f"v{k:04d}", "filename": f"v{k:04d}.mp4", "subject_id": f"s{s:03d}",
                "child_age": str(age), "age_group": f"{low + 1}-{low + 6}m",
                "milestone_id": f"M_{age}M_001", "milestone_age": str(age),
                "domain": ["motor", "language", "social", "cognitive"][k % 4],
                "label": "achieved" if rng.random() < 0.4 + 0.2 * (s % 2) else "not_achieved",
                "recorded_period": f"{2021 + k % 4}-Q{1 + k % 3}", "size_bytes": "1000",
                "sha256": f"{k:064x}"})
            k += 1
    return pd.DataFrame(rows, columns=list(METADATA_COLUMNS))


def manifest(meta: pd.DataFrame, statuses: dict[str, str] | None = None) -> pd.DataFrame:
    n = len(meta)
    frame = pd.DataFrame({
        "video_id": meta["video_id"], "path": "data/interim/videos/" + meta["filename"],
        "duration_s": np.linspace(2.0, 4.0, n).round(3), "fps_avg": 15.0,
        "width": pd.array([128] * n, dtype="Int64"), "height": pd.array([96] * n, dtype="Int64"),
        "status": "ok"})
    for video_id, status in (statuses or {}).items():
        frame.loc[frame["video_id"] == video_id, "status"] = status
    return frame


@pytest.fixture
def stage(tmp_path: Path, params) -> Callable[..., dict]:
    """Write the inputs, run the stage into ``tmp_path / out`` and return the summary."""

    def go(meta: pd.DataFrame | None = None, *, clusters: tuple[tuple[str, ...], ...] = (),
           quarantined: tuple[tuple[str, str, str], ...] = (), statuses: dict | None = None,
           out: str = "out", **split_kw) -> dict:
        meta = metadata() if meta is None else meta
        meta.to_csv(tmp_path / "metadata.csv", index=False)
        manifest(meta, statuses).to_parquet(tmp_path / "manifest.parquet")
        pd.DataFrame([{"stage": st, "video_id": v, "reason": r} for st, v, r in quarantined],
                     columns=list(QUARANTINE_COLUMNS)).to_csv(tmp_path / "q.csv", index=False)
        listed = [{"id": f"c{i}", "kind": "near", "video_ids": list(c)}
                  for i, c in enumerate(clusters)]
        contracts.write(tmp_path / "dup.json", contracts.Duplicates, {
            "params": {"threshold": 0.19, "review_margin": 0.03}, "pairs": [],
            "clusters": listed, "review": []})
        run_params = replace(params, split=replace(params.split,
                                                                           **split_kw))
        return split.run(run_params, metadata_csv=tmp_path / "metadata.csv",
                         manifest=tmp_path / "manifest.parquet", quarantine=tmp_path / "q.csv",
                         duplicates=tmp_path / "dup.json",
                         out_csv=tmp_path / out / "splits.csv", reports=tmp_path / out / "rep")

    return go


@pytest.fixture
def real_plot() -> None:
    """Request this to draw the real PNG (slow-ish); other tests get a stub."""


@pytest.fixture(autouse=True)
def _fast_plot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "real_plot" not in request.fixturenames:
        monkeypatch.setattr(split_report, "plot_distributions",
                            lambda rows, path: path.write_bytes(b"stub"))


def read(tmp_path: Path, out: str = "out") -> pd.DataFrame:
    return pd.read_csv(tmp_path / out / "splits.csv", dtype=str, keep_default_na=False)


# Two children joined by a cluster, and a cluster within one child.
CLUSTERS = (("v0000", "v0010", "v0030"), ("v0050", "v0051"))


@pytest.mark.parametrize("folds", [0, 3])
def test_group_keeps_each_subject_in_one_split_and_fold(stage, tmp_path: Path, folds: int) -> None:
    stage(folds=folds)
    rows = read(tmp_path)
    assert (rows.groupby("subject_id")[["split", "fold"]].nunique() == 1).all().all()
    assert (rows.groupby("subject_id")["group"].nunique() == 1).all()


@pytest.mark.parametrize("strategy", [("stratified",), ("group", "stratified"), ("time",),
                                      ("group",)])
def test_duplicate_cluster_members_share_a_split(stage, tmp_path: Path, strategy: tuple) -> None:
    summary = stage(clusters=CLUSTERS, strategy=strategy, allow_subject_overlap=True)
    rows = read(tmp_path).set_index("video_id")
    for cluster in CLUSTERS:
        assert rows.loc[list(cluster), "split"].nunique() == 1
        assert rows.loc[list(cluster), "group"].nunique() == 1
    assert summary["duplicate_cluster_overlap"] == 0


def test_outputs_have_the_contract_columns_and_files(stage, tmp_path: Path) -> None:
    summary = stage()
    rows = read(tmp_path)
    assert tuple(rows.columns) == split.COLUMNS
    assert list(rows["video_id"]) == sorted(rows["video_id"])
    assert set(rows["split"]) == set(SPLIT_NAMES) and set(rows["fold"]) == {"-1"}
    assert rows["group"].astype(int).min() == 0 and rows["path"].str.endswith(".mp4").all()
    assert sorted(p.name for p in (tmp_path / "out" / "rep").iterdir()) == sorted(REPORT_FILES)
    assert split_report.MARKER in REPORT_FILES
    on_disk = json.loads((tmp_path / "out" / "rep" / "summary.json").read_text())
    assert on_disk == summary and summary["videos"] == len(rows)
    assert sum(s["videos"] for s in summary["splits"].values()) == len(rows)


def test_same_seed_gives_identical_bytes(stage, tmp_path: Path, real_plot: None) -> None:
    stage(out="a", clusters=CLUSTERS)
    stage(out="b", clusters=CLUSTERS)
    for name in ("splits.csv", *(f"rep/{f}" for f in REPORT_FILES)):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "rep" / "distributions.png").read_bytes()[:4] == b"\x89PNG"


def test_different_seed_changes_the_assignment(stage, tmp_path: Path, params) -> None:
    first = stage(out="a", seed=1)
    stage(out="b", seed=2)
    assert not read(tmp_path, "a")["split"].equals(read(tmp_path, "b")["split"])
    assert first["seed"] == 1
    assert stage(out="c")["seed"] == params.base.seed  # split.seed: null -> base.seed


def test_quarantined_and_failed_videos_are_left_out(stage, tmp_path: Path) -> None:
    quarantined = (("validate", "v0003", "bad_age"), ("validate", "v0003", "bad_age"),
                   ("validate", "v0004", "bad_label"), ("ingest", "", "missing_file"),
                   ("ingest", "v0005", "duplicate_row"),  # the id of the copy ingest kept
                   ("ingest", "not-in-metadata", "no_metadata_row"))
    summary = stage(quarantined=quarantined, statuses={"v0007": "undecodable"})
    kept = set(read(tmp_path)["video_id"])
    assert not kept & {"v0003", "v0004", "v0007"}
    assert "v0005" in kept and len(kept) == len(metadata()) - 3
    assert summary["excluded"] == {"total": 3, "quarantined": 2, "not_ok": 1,
                                   "quarantine_reasons": {"bad_age": 1, "bad_label": 1},
                                   "not_ok_statuses": {"undecodable": 1}}


@pytest.mark.parametrize("strategy,tolerance", [(("stratified",), 0.02),
                                                (("group", "stratified"), 0.08)])
def test_stratification_keeps_label_shares_near_the_ratios(stage, tmp_path: Path, params,
                                                           strategy: tuple,
                                                           tolerance: float) -> None:
    stage(metadata(60), strategy=strategy, allow_subject_overlap=True)
    rows = read(tmp_path)
    shares = pd.crosstab(rows["label"], rows["split"], normalize="index")
    for name in SPLIT_NAMES:
        assert np.allclose(shares[name], getattr(params.split, name), atol=tolerance), shares


def test_kfold_puts_each_group_in_one_fold_and_val_is_val_fold(stage, tmp_path: Path) -> None:
    summary = stage(folds=4, val_fold=1)
    rows = read(tmp_path)
    rows["fold"] = rows["fold"].astype(int)
    assert (rows.groupby("group")["fold"].nunique() == 1).all()
    assert set(rows["fold"]) == {-1, 0, 1, 2, 3}
    assert ((rows["fold"] == -1) == (rows["split"] == "test")).all()
    assert ((rows["fold"] == 1) == (rows["split"] == "val")).all()
    assert list(summary["fold_counts"]) == ["0", "1", "2", "3"]
    assert 0.08 < summary["splits"]["test"]["share"] < 0.25


def test_time_strategy_orders_splits_by_period(stage, tmp_path: Path) -> None:
    meta = metadata()
    meta["recorded_period"] = [f"{2020 + k // 40}-Q{1 + k % 4}" for k in range(len(meta))]
    summary = stage(meta, strategy=("time",), allow_subject_overlap=True)
    rows = read(tmp_path)
    spans = rows.groupby("split")["recorded_period"].agg(["min", "max"])
    assert spans.loc["train", "max"] <= spans.loc["val", "min"]
    assert spans.loc["val", "max"] <= spans.loc["test", "min"]
    ranges = summary["periods"]["ranges"]
    assert ranges["train"] == {"first": spans.loc["train", "min"],
                               "last": spans.loc["train", "max"]}
    for period, names in summary["periods"]["shared"].items():  # only boundary periods
        assert names in (["train", "val"], ["val", "test"])
        assert period in (spans.loc["train", "max"], spans.loc["val", "max"])


@pytest.mark.parametrize("periods,expected", [
    (["2024-Q1", "2023-Q4", ""], ["2024-Q1", "2023-Q4", ""]),
    (["2024", "2024-Q2", "2023-11-30"], ["2024", "2024", "2023"]),
    (["2024-Q1", "2024-05-09", "2023-12-31"], ["2024-Q1", "2024-Q2", "2023-Q4"]),
    (["2024-02-01", "2024-01-15"], ["2024-02-01", "2024-01-15"]),
])
def test_periods_generalise_to_the_coarsest_level(periods: list, expected: list) -> None:
    rows = pd.DataFrame({"video_id": [f"v{i}" for i in range(len(periods))],
                         "recorded_period": periods})
    assert list(split.periods_of(rows, strict=False)) == expected


def test_leakage_failure_writes_reports_but_no_splits(stage, tmp_path: Path) -> None:
    stale = tmp_path / "out" / "splits.csv"
    stale.parent.mkdir()
    stale.write_text("old\n")
    with pytest.raises(DataError, match="allow_subject_overlap") as info:
        stage(strategy=("stratified",))
    assert "'group' to split.strategy" in str(info.value)
    assert not stale.exists()
    leaks = json.loads((tmp_path / "out" / "rep" / "leakage.json").read_text())
    assert leaks["subjects"]["by_split"]["count"] > 0


def test_allow_subject_overlap_lets_it_through_but_reports_it(stage, tmp_path: Path) -> None:
    summary = stage(strategy=("stratified",), allow_subject_overlap=True)
    leaks = json.loads((tmp_path / "out" / "rep" / "leakage.json").read_text())
    assert summary["subject_overlap"] == leaks["subjects"]["by_split"]["count"] > 0
    assert sum(leaks["subjects"]["by_split"]["pairs"].values()) >= summary["subject_overlap"]


def test_duplicate_overlap_is_recounted_from_the_written_rows(stage, tmp_path: Path,
                                                              monkeypatch) -> None:
    """A grouping that forgot the clusters must not slip through: leakage is checked apart."""
    real = split.build_groups
    monkeypatch.setattr(split, "build_groups",
                        lambda rows, clusters, by_subject: real(rows, [], by_subject=by_subject))
    cluster = tuple(f"v{k:04d}" for k in range(0, 120, 3))  # 40 videos: cannot all agree
    with pytest.raises(DataError, match="duplicate cluster"):
        stage(clusters=(cluster,), strategy=("stratified",), allow_subject_overlap=True)
    leaks = json.loads((tmp_path / "out" / "rep" / "leakage.json").read_text())
    assert leaks["duplicate_clusters"]["by_split"]["ids"] == ["c0"]
    assert not (tmp_path / "out" / "splits.csv").exists()


def _one_child_holds_achieved() -> pd.DataFrame:
    meta = metadata()
    meta["label"] = np.where(meta["subject_id"] == "s000", "achieved", "not_achieved")
    return meta


def _no_subjects() -> pd.DataFrame:
    meta = metadata()
    meta["subject_id"] = ""
    return meta


def _no_periods() -> pd.DataFrame:
    meta = metadata()
    meta.loc[3, "recorded_period"] = ""
    return meta


@pytest.mark.parametrize("make_meta,split_kw,match", [
    (lambda: metadata(5), {"folds": 5}, r"split.folds is 5 .*Lower split.folds to at most 4"),
    (lambda: metadata(6), {"folds": 5, "test": 0.5, "train": 0.4, "val": 0.1},
     r"split.folds is 5 but only \d group\(s\) remain.*Lower split.folds"),
    (lambda: metadata(2), {}, r"Only 2 group\(s\).*drop 'group' from split.strategy"),
    (lambda: metadata(2), {"folds": 2}, r"Only 2 group\(s\)"),
    (_one_child_holds_achieved, {}, r"Class 'achieved' .* absent from the (train|val|test) split: "
                                    r"only 1 group.*split.require_all_classes: false"),
    (_one_child_holds_achieved, {"require_all_classes": False}, None),
    (_no_subjects, {}, r"no subject_id .*child_id column.*drop 'group' from split.strategy"),
    (_no_periods, {"strategy": ("time",)}, r"v0003 with ''.*ingest.dates.*split.strategy"),
    (lambda: metadata(4), {"strategy": ("group",), "train": 0.49, "val": 0.02, "test": 0.49},
     r"The val split is empty.*Raise split.val"),
])
def test_impossible_splits_name_the_param_to_change(stage, make_meta, split_kw: dict,
                                                    match: str | None) -> None:
    if match is None:  # the escape hatch: the same data passes once the check is off
        assert stage(make_meta(), **split_kw)["videos"] == len(make_meta())
        return
    with pytest.raises(DataError, match=match):
        stage(make_meta(), **split_kw)


@pytest.mark.parametrize("content,match", [
    (None, "vidlab dedup"),
    ("not json", "not valid JSON"),
    ('{"pairs": []}', "dup.json is not what the dedup stage writes .*clusters: Field required"),
    ('{"params": {"threshold": 0.19, "review_margin": 0.03}, "pairs": [], "review": [], '
     '"clusters": [{"id": "c0", "kind": "near", "video_ids": "v0001"}]}',
     r"clusters\[0\]\.video_ids: Input should be a valid list"),
])
def test_bad_duplicates_file(stage, tmp_path: Path, monkeypatch, content: str | None,
                             match: str) -> None:
    real = split.load_clusters

    def broken(path: Path, kept: set[str]) -> list:
        if content is None:
            path.unlink()
        else:
            path.write_text(content)
        return real(path, kept)

    monkeypatch.setattr(split, "load_clusters", broken)
    with pytest.raises(DataError, match=match):
        stage()


@pytest.mark.parametrize("alpha,flagged", [(0.0, False), (1.0, True)])
def test_distribution_tests_flag_below_alpha(stage, tmp_path: Path, alpha: float,
                                             flagged: bool) -> None:
    summary = stage(balance_alpha=alpha)
    dists = json.loads((tmp_path / "out" / "rep" / "distributions.json").read_text())
    assert bool(summary["flagged_tests"]) is flagged
    assert summary["flagged_tests"] == dists["flagged"]
    assert "skipped" in dists["categorical"]["resolution"]["test"]  # one resolution only
    assert dists["categorical"]["label"]["test"]["method"] == "chi2_contingency"
    assert set(dists["numeric"]["duration_s"]["ks_vs_train"]) == {"val", "test"}
