"""The validate stage's inputs: clean synthetic metadata and manifest, and the stage on them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from vidlab import contracts
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.media.probe import MANIFEST_COLUMNS
from vidlab.stages.validate import stage as validate

N = 40


def metadata(n: int = N) -> pd.DataFrame:
    rows = []
    for k in range(n):
        rows.append({
            "video_id": f"v{k:04d}", "filename": f"v{k:04d}.mp4", "subject_id": f"s{k % 8}",
            "child_age": str(6 + k % 24), "age_group": "", "milestone_id": f"M_{6 + k % 24}M_001",
            "milestone_age": str(6 + k % 24), "domain": ["motor", "language", "social",
                                                         "cognitive"][k % 4],
            "label": ["achieved", "not_achieved"][k % 2], "recorded_period": "2024-Q1",
            "size_bytes": "1000", "sha256": f"{k:064x}",
        })
    return pd.DataFrame(rows, columns=list(METADATA_COLUMNS))


def manifest(meta: pd.DataFrame) -> pd.DataFrame:
    """A clean manifest for ``meta``: every video decodes fully at 15 fps, 128x96."""
    good = {"status": "ok", "duration_s": 3.0, "fps_avg": 15.0, "width": 128, "height": 96,
            "frames_declared": 45, "frames_decoded": 45, "codec": "h264"}
    frame = pd.DataFrame({c: [good.get(c)] * len(meta) for c in MANIFEST_COLUMNS})
    frame["video_id"] = meta["video_id"].to_numpy()
    return frame


@pytest.fixture
def stage(tmp_path: Path, params):
    """Write the inputs and return a function running the stage on them."""

    def go(meta: pd.DataFrame, probed: pd.DataFrame | None = None, *, quarantined: int = 0,
           rows_read: int | None = None, run_params=None, suites: Path | None = None) -> dict:
        meta.to_csv(tmp_path / "metadata.csv", index=False)
        (manifest(meta) if probed is None else probed).to_parquet(tmp_path / "m.parquet")
        pd.DataFrame(columns=list(QUARANTINE_COLUMNS)).to_csv(tmp_path / "qi.csv", index=False)
        contracts.write(tmp_path / "ingest.json", contracts.IngestCounts, {
            "rows_read": rows_read or len(meta) + quarantined, "quarantined_rows": quarantined,
            "problems_by_reason": {"missing_file": quarantined} if quarantined else {},
            "files_without_rows": 0})
        return validate.run(run_params or params, metadata_csv=tmp_path / "metadata.csv",
                            manifest=tmp_path / "m.parquet", ingest_quarantine=tmp_path / "qi.csv",
                            ingest_report=tmp_path / "ingest.json",
                            suites=suites or ROOT / "expectations",
                            quarantine=tmp_path / "q.csv", reports=tmp_path / "reports")

    go.tmp = tmp_path
    return go
