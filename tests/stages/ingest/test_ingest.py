"""The ingest stage: normalisation, quarantine, de-identification and the leak check."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import av
import pytest

from tests.conftest import assert_no_identifiers
from vidlab.config import DataParams, replace
from vidlab.core import keys
from vidlab.core.errors import DataError
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.stages.ingest import deid, leaks, stage
from vidlab.stages.ingest.csvread import read_rows

IDENTIFYING_TAGS = {"creation_time", "location", "location-eng", "make", "model", "title",
                    "comment", "encoder", "com.apple.quicktime.location.ISO6709"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ingested(demo_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo dataset ingested once (demo key), with the raw folder's digest before and after."""
    from tests.conftest import ROOT
    from vidlab import config as params_mod

    loaded = params_mod.load(ROOT / "params.yaml")
    work = tmp_path_factory.mktemp("ingest")
    before = tree_digest(demo_dataset)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDLAB_KEY_DIR", str(work / "keys"))
        counts = stage.run(loaded, csv_path=demo_dataset / "metadata.csv",
                           videos=demo_dataset / "videos", out=work / "interim",
                           reports=work / "reports")
    return {"counts": counts, "out": work / "interim", "reports": work / "reports",
            "keys": work / "keys", "before": before, "params": loaded}


def test_originals_are_untouched(ingested: dict, demo_dataset: Path) -> None:
    assert tree_digest(demo_dataset) == ingested["before"]


def test_every_planted_fault_is_quarantined_with_its_reason(ingested: dict,
                                                            demo_dataset: Path) -> None:
    key = json.loads((demo_dataset / "faults.json").read_text())
    faults = {f["kind"]: f for f in key["faults"]}
    rows = read_csv(ingested["out"] / "quarantine_ingest.csv")
    assert tuple(rows[0]) == QUARANTINE_COLUMNS
    found = {(r["line"], r["reason"]) for r in rows}
    expected = {
        "zero_byte": "zero_byte", "truncated": "truncated", "non_video": "unreadable",
        "missing_file": "missing_file", "invalid_label": "invalid_label",
        "out_of_range_age": "age_out_of_range",
    }
    for kind, reason in expected.items():
        assert (str(faults[kind]["lines"][0]), reason) in found, kind
    assert (str(faults["duplicated_row"]["lines"][1]), "duplicate_row") in found
    assert ("", "no_metadata_row") in found
    # Nothing else: the VFR video and the near-duplicate are later stages' business.
    assert len(rows) == len(expected) + 2
    assert ingested["counts"]["labels_normalised"] == 1


def test_metadata_table(ingested: dict, demo_dataset: Path) -> None:
    rows = read_csv(ingested["out"] / "metadata.csv")
    assert tuple(rows[0]) == METADATA_COLUMNS
    assert len(rows) == ingested["counts"]["usable_videos"] >= 130
    assert {r["label"] for r in rows} == {"achieved", "not_achieved"}
    assert {r["domain"] for r in rows} == {"motor", "language", "social", "cognitive"}
    assert all(len(r["video_id"]) == 16 and len(r["subject_id"]) == 16 for r in rows)
    assert all(r["recorded_period"][:4].isdigit() and "-Q" in r["recorded_period"] for r in rows)
    for row in rows:
        path = ingested["out"] / "videos" / row["filename"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]


def test_outputs_carry_no_container_metadata(ingested: dict) -> None:
    videos = sorted((ingested["out"] / "videos").glob("*.mp4"))
    assert videos
    for path in videos:
        with av.open(str(path)) as container:
            assert not IDENTIFYING_TAGS & set(container.metadata)
            for s in container.streams:
                assert s.type in ("video", "audio")
                assert not IDENTIFYING_TAGS & set(s.metadata)
        assert b"Lavf" not in path.read_bytes()


def test_nothing_identifying_anywhere_in_outputs(ingested: dict, demo_dataset: Path) -> None:
    """An independent check: child names, raw file names, child ids, exact dates."""
    roots = [ingested["out"], ingested["reports"]]
    assert_no_identifiers(demo_dataset / "metadata.csv", roots, ingested["out"].parent)
    verification = json.loads((ingested["reports"] / "verification.json").read_text())
    assert verification["ok"] and verification["videos_checked"] >= 130


def test_mapping_lives_beside_the_key_only(ingested: dict) -> None:
    mapping = ingested["keys"] / "mappings" / "demo" / "video_mapping.json"
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600
    data = json.loads(mapping.read_text())
    assert len(data["videos"]) == ingested["counts"]["usable_videos"]
    for root in (ingested["out"], ingested["reports"]):
        assert not list(root.rglob("*mapping*"))


def test_leak_check_catches_raw_files(demo_dataset: Path) -> None:
    """The verifier can fail: a raw file carries its tags and its child's id."""
    _, rows = read_rows(demo_dataset / "metadata.csv")
    terms = leaks.forbidden_terms(rows, check_dates=True)
    raw = demo_dataset / "videos" / rows[0].cells["filename"]
    report = leaks.verify({rows[0].cells["filename"]: raw}, terms)
    assert not report["ok"]
    kinds = {(leak["where"], leak["kind"]) for leak in report["leaks"]}
    assert ("name", "original_filename") in kinds
    assert {("content", "child_id"), ("content", "exact_date"),
            ("content", "name_in_filename")} <= kinds
    assert any("title" in v["violation"] for v in report["metadata_violations"])
    leaked = json.dumps({k: v for k, v in report.items()} | {"leaks": [
        {k: v for k, v in leak.items() if k != "file"} for leak in report["leaks"]]})
    assert rows[0].cells["child_id"] not in leaked


# --- custom data: keys, pseudonyms, bad input ----------------------------------------------------

@pytest.fixture
def custom(tmp_path: Path, tiny_video, params, monkeypatch) -> dict:
    """A tiny real dataset of three videos with a private key."""
    monkeypatch.setenv("VIDLAB_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("VIDLAB_HMAC_KEY", "a-private-key-of-enough-length")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("Léa 2024-01-05.mp4", "noah_2024-02-01.mp4", "sub/mia_2024-03-09.mp4"):
        (videos / name).parent.mkdir(exist_ok=True)
        shutil.move(tiny_video(n_frames=6), videos / name)
    csv_path = tmp_path / "meta.csv"
    loaded = replace(params, data=DataParams(source="custom", csv=str(csv_path),
                                             videos=str(videos)))
    return {"videos": videos, "csv": csv_path, "params": loaded, "tmp": tmp_path}


GOOD = ("filename,child_age,milestone_id,label,child_id,recorded_on\n"
        "Léa 2024-01-05.mp4,7,M_6M_001,achieved,K-17,2024-01-05\n"
        "noah_2024-02-01.mp4,12,L_12M_002,not_achieved,K-18,2024-02-01\n"
        "sub/mia_2024-03-09.mp4,30,S_30M_001,achieved,K-19,2024-03-09\n")


def ingest(custom: dict, text: str, **kwargs) -> dict:
    custom["csv"].write_bytes(text.encode("utf-8"))
    return stage.run(custom["params"], csv_path=custom["csv"], videos=custom["videos"],
                     out=custom["tmp"] / "interim", reports=custom["tmp"] / "reports", **kwargs)


def quarantine(custom: dict) -> list[tuple[str, str, str]]:
    rows = read_csv(custom["tmp"] / "interim" / "quarantine_ingest.csv")
    return [(r["line"], r["column"], r["reason"]) for r in rows]


def test_unicode_spaces_and_subfolders(custom: dict) -> None:
    counts = ingest(custom, GOOD)
    assert counts["usable_videos"] == 3 and counts["problems"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("filename,child_age,milestone_id,label\n", "has a header but no rows"),
        ("filename,child_age,milestone_id\nx.mp4,3,M_6M_001\n",
         "lacks the required column(s) label"),
        ("filename,Filename,child_age,milestone_id,label\n", "more than once"),
    ],
)
def test_unusable_csv_stops_with_a_message(custom: dict, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ingest(custom, text)
    assert not (custom["tmp"] / "interim").exists()


def test_semicolon_bom_and_messy_headers(custom: dict) -> None:
    text = "\ufeff Filename ; Child_Age (months);MILESTONE_ID; Label \n" + "\n".join(
        ";".join(line.split(",")[:4]) for line in GOOD.splitlines()[1:]) + "\n"
    assert ingest(custom, text)["usable_videos"] == 3


@pytest.mark.parametrize(
    ("age", "reason"),
    [("12 months", ""), ("12.0", ""), ("-1", "age_out_of_range"), ("1e9", "age_out_of_range"),
     ("", "missing_value"), ("twelve", "age_not_a_number"), ("12.5", "age_not_integer")],
)
def test_ages(custom: dict, age: str, reason: str) -> None:
    ingest(custom, GOOD.replace(",12,L_12M", f",{age},L_12M"))
    expected = [("3", "child_age", reason)] if reason else []
    assert quarantine(custom) == expected


@pytest.mark.parametrize(
    ("old", "new", "column", "reason"),
    [
        ("L_12M_002", "X_12M_002", "milestone_id", "unknown_domain"),
        ("L_12M_002", "L12", "milestone_id", "bad_milestone_id"),
        ("not_achieved", "maybe", "label", "invalid_label"),
        ("2024-02-01\n", "01.02.2024\n", "recorded_on", "bad_date"),
        ("noah_2024-02-01.mp4,", "../outside.mp4,", "filename", "path_outside_data"),
        ("noah_2024-02-01.mp4,", "/etc/passwd.mp4,", "filename", "path_outside_data"),
        ("noah_2024-02-01.mp4,", "noah.txt,", "filename", "unsupported_extension"),
        ("noah_2024-02-01.mp4,", "ghost.mp4,", "filename", "missing_file"),
    ],
)
def test_bad_cells_are_quarantined(custom: dict, old: str, new: str, column: str,
                                   reason: str) -> None:
    counts = ingest(custom, GOOD.replace(old, new, 1))
    assert ("3", column, reason) in quarantine(custom)
    assert counts["usable_videos"] == 2


def test_label_normalisation(custom: dict) -> None:
    ingest(custom, GOOD.replace(",achieved,K-17", ",Achieved ,K-17").replace(
        "not_achieved", "NOT-ACHIEVED"))
    labels = [r["label"] for r in read_csv(custom["tmp"] / "interim" / "metadata.csv")]
    assert labels == ["achieved", "not_achieved", "achieved"]


def test_outside_file_is_never_read(custom: dict) -> None:
    secret = custom["tmp"] / "outside.mp4"
    shutil.copy(next(custom["videos"].glob("*.mp4")), secret)
    (custom["videos"] / "link.mp4").symlink_to(secret)
    counts = ingest(custom, GOOD + "link.mp4,9,M_6M_001,achieved,K-20,2024-03-01\n"
                    + "../outside.mp4,9,M_6M_001,achieved,K-21,2024-03-01\n")
    assert ("5", "filename", "symlink_outside_data") in quarantine(custom)
    assert ("6", "filename", "path_outside_data") in quarantine(custom)
    assert counts["usable_videos"] == 3


def test_duplicates_and_conflicts(custom: dict) -> None:
    lines = GOOD.splitlines()
    text = "\n".join([*lines, lines[1], lines[2].replace(",12,", ",13,")]) + "\n"
    ingest(custom, text)
    assert quarantine(custom) == [("3", "filename", "conflicting_rows"),
                                  ("5", "filename", "duplicate_row"),
                                  ("6", "filename", "conflicting_rows")]


def test_file_without_row_is_counted_not_named(custom: dict) -> None:
    counts = ingest(custom, "\n".join(GOOD.splitlines()[:3]) + "\n")
    assert counts["files_without_rows"] == 1
    row = read_csv(custom["tmp"] / "interim" / "quarantine_ingest.csv")[0]
    assert row["value"] == "<redacted>" and "mia" not in json.dumps(row)


def test_foreign_output_folder_is_refused(custom: dict) -> None:
    (custom["tmp"] / "interim" / "videos").mkdir(parents=True)
    (custom["tmp"] / "interim" / "videos" / "thesis.docx").write_text("keep")
    with pytest.raises(DataError, match="Refusing to overwrite"):
        ingest(custom, GOOD)
    assert (custom["tmp"] / "interim" / "videos" / "thesis.docx").read_text() == "keep"
    shutil.rmtree(custom["tmp"] / "interim")
    ingest(custom, GOOD)
    ingest(custom, GOOD)  # its own previous output is replaced


def test_pseudonyms_depend_on_the_key_only(custom: dict, monkeypatch) -> None:
    ids = lambda: [r["video_id"] for r in read_csv(custom["tmp"] / "interim" / "metadata.csv")]  # noqa: E731
    ingest(custom, GOOD)
    first = ids()
    ingest(custom, GOOD)
    assert ids() == first
    monkeypatch.setenv("VIDLAB_HMAC_KEY", "another-private-key-entirely")
    ingest(custom, GOOD)
    assert not set(ids()) & set(first)


def test_demo_key_is_refused_for_real_data(custom: dict, monkeypatch) -> None:
    monkeypatch.setenv("VIDLAB_HMAC_KEY", keys.DEMO_KEY.decode())
    with pytest.raises(DataError, match="demo key cannot de-identify real data"):
        ingest(custom, GOOD)


def test_key_file_is_created_private(custom: dict, monkeypatch) -> None:
    monkeypatch.delenv("VIDLAB_HMAC_KEY")
    ingest(custom, GOOD)
    key_file = custom["tmp"] / "keys" / keys.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = read_csv(custom["tmp"] / "interim" / "metadata.csv")
    ingest(custom, GOOD)
    assert read_csv(custom["tmp"] / "interim" / "metadata.csv") == first


def test_dry_run_writes_nothing(custom: dict) -> None:
    counts = ingest(custom, GOOD, dry_run=True)
    assert sorted(counts["mapping"]) == ["Léa 2024-01-05.mp4", "noah_2024-02-01.mp4",
                                         "sub/mia_2024-03-09.mp4"]
    assert not (custom["tmp"] / "interim").exists() and not (custom["tmp"] / "keys").exists()


def test_audio_can_be_dropped(custom: dict, tmp_path: Path) -> None:
    import numpy as np

    from vidlab.media.encode import write_video

    write_video(custom["videos"] / "noah_2024-02-01.mp4", np.zeros((6, 48, 64, 3), np.uint8),
                fps=15, audio=np.zeros(8000, np.float32))
    for mode, expected in (("keep", 1), ("drop", 0)):
        custom["params"] = replace(custom["params"], ingest=replace(
            custom["params"].ingest, audio=mode))
        ingest(custom, GOOD)
        row = read_csv(custom["tmp"] / "interim" / "metadata.csv")[1]
        with av.open(str(custom["tmp"] / "interim" / "videos" / row["filename"])) as container:
            assert len(container.streams.audio) == expected


def test_summary_counts_equal_counts_from_the_csv(ingested: dict, demo_dataset: Path,
                                                  tmp_path: Path) -> None:
    """summary.json vs counting the raw CSV directly, minus the rows the answer key says fail."""
    from collections import Counter

    from vidlab.stages.report import stage as report

    params = ingested["params"]
    summary = report.run(params=params, metadata_csv=ingested["out"] / "metadata.csv",
                         quarantine_csv=ingested["out"] / "quarantine_ingest.csv",
                         out=tmp_path / "summary", fingerprint="fp-test")
    key = json.loads((demo_dataset / "faults.json").read_text())["faults"]
    bad_kinds = {"zero_byte", "truncated", "non_video", "missing_file", "invalid_label",
                 "out_of_range_age"}
    skip = {line for f in key if f["kind"] in bad_kinds for line in f["lines"]}
    skip |= {f["lines"][1] for f in key if f["kind"] == "duplicated_row"}
    rows = [r for i, r in enumerate(read_csv(demo_dataset / "metadata.csv"), start=2)
            if i not in skip]
    domains = params.ingest.domains
    groups = params.ingest.age_groups()
    assert summary["total_videos"] == len(rows)
    assert summary["label_distribution"] == dict(Counter(r["label"].strip().lower() for r in rows))
    assert summary["domain_distribution"] == {
        d: sum(domains[r["milestone_id"][0]] == d for r in rows) for d in domains.values()}
    assert summary["age_group_distribution"] == {
        g: sum(groups[max(0, (int(r["child_age"]) - 1) // 6)] == g for r in rows) for g in groups}
    flagged = summary["age_milestone_inconsistent"]
    assert len(flagged) == 1 and flagged[0]["milestone_id"].endswith("_30M_001")


@pytest.mark.parametrize(
    ("term", "data", "hit"),
    [
        ("Aarav_2023-04-14_S_18M_002", b"title=Aarav_2023-04-14_S_18M_002.mp4", True),
        ("1001", b"ab1001cd", False),
        ("1001", b"id 1001.", True),
        ("Léa 2024-01-05.mp4", "x Léa 2024-01-05.mp4 y".encode(), True),
        ("Léa 2024-01-05.mp4", "x Léa 2024-01-05.mp4y".encode(), False),
        ("K-17", b"child K-17,", True),
        ("K-17", b"XK-17", False),
        ("outside", b"path_outside_data", False),
        ("2024-03-15", b"\x00\x1f2024-03-15T10:21:33Z", True),
        ("2024-03-15", b"12024-03-15", False),
    ],
)
def test_term_index_matches_whole_words(term: str, data: bytes, hit: bool) -> None:
    kind = "exact_date" if term[:4].isdigit() else "original_filename"
    assert bool(leaks.TermIndex({term: kind}, 1).kinds_in(data)) is hit


def rewrap(src: Path, dst: Path, *, extras: bool) -> None:
    """Copy ``src`` into another container, with identifying tags (and chapters/attachments)."""
    from fractions import Fraction

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        out.metadata.update({"title": "Noah at home", "creation_time": "2024-02-01T09:00:00Z"})
        source = inp.streams.video[0]
        stream = out.add_stream_from_template(source)
        stream.time_base = source.time_base  # AVI otherwise counts every tick as a frame
        stream.metadata["title"] = "Noah"
        if extras:
            out.set_chapters([{"id": 1, "start": 0, "end": 1000, "time_base": Fraction(1, 1000),
                               "metadata": {"title": "Noah crawls"}}])
            out.add_attachment("notes.txt", "text/plain", b"Noah, K-18, 2024-02-01")
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


@pytest.mark.parametrize(("suffix", "extras"), [(".mov", False), (".mkv", True), (".avi", False)])
def test_other_containers_are_stripped(custom: dict, suffix: str, extras: bool) -> None:
    original = custom["videos"] / "noah_2024-02-01.mp4"
    rewrap(original, original.with_suffix(suffix), extras=extras)
    original.unlink()
    counts = ingest(custom, GOOD.replace("noah_2024-02-01.mp4", f"noah_2024-02-01{suffix}"))
    assert counts["usable_videos"] == 3
    row = read_csv(custom["tmp"] / "interim" / "metadata.csv")[1]
    path = custom["tmp"] / "interim" / "videos" / row["filename"]
    assert path.suffix == suffix
    with av.open(str(path)) as container:
        tags = {t.lower() for t, v in container.metadata.items() if (t, v) != ("encoder", "Lavf")}
        assert not IDENTIFYING_TAGS & tags  # Matroska must name a muxing app: bare "Lavf"
        assert [s.type for s in container.streams] == ["video"]
        assert not container.chapters()
    assert b"Noah" not in path.read_bytes()


@pytest.mark.parametrize(("mode", "period"), [("quarter", "2024-Q1"), ("year", "2024"),
                                               ("drop", ""), ("keep", "2024-01-05")])
def test_date_generalisation(custom: dict, mode: str, period: str, caplog) -> None:
    custom["params"] = replace(custom["params"], ingest=replace(
        custom["params"].ingest, dates=mode))
    ingest(custom, GOOD)
    assert read_csv(custom["tmp"] / "interim" / "metadata.csv")[0]["recorded_period"] == period
    assert ("exact recording dates stay" in caplog.text) is (mode == "keep")


def test_copies_a_remux_cannot_make_faithfully_are_reencoded_losslessly_and_counted(
        custom: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A remux that drops the first packet (as the MKV/B-frame bug did) fails the frame-by-frame
    proof; the stage then publishes a proven FFV1 copy and says how many."""
    from vidlab.media.reference import reference_decode

    copy_packets = deid._copy_packets

    def lossy(src: Path, dst: Path, fmt: str, keep_audio: bool) -> dict:
        result = copy_packets(src, dst, fmt, keep_audio)
        with av.open(str(dst)) as inp, av.open(str(dst) + ".x", "w", format=fmt) as out:
            stream = out.add_stream_from_template(inp.streams.video[0])
            for k, packet in enumerate(p for p in inp.demux(video=0) if p.size):
                if k:
                    packet.stream = stream
                    out.mux(packet)
        os.replace(str(dst) + ".x", dst)
        return result

    monkeypatch.setattr(deid, "_copy_packets", lossy)
    custom["params"] = replace(custom["params"], ingest=replace(
        custom["params"].ingest, workers=1))
    counts = ingest(custom, GOOD)
    assert counts["usable_videos"] == 3 and counts["lossless_copies"] == 3
    meta = read_csv(custom["tmp"] / "interim" / "metadata.csv")
    originals = sorted(custom["videos"].rglob("*.mp4"))
    for row in meta:
        copy = custom["tmp"] / "interim" / "videos" / row["filename"]
        assert copy.suffix == ".mkv" and deid.tag_violations(copy) == []
    source = sorted(reference_decode(p)[0].digests for p in originals)
    copied = sorted(reference_decode(custom["tmp"] / "interim" / "videos" / r["filename"])[0]
                    .digests for r in meta)
    assert copied == source
