"""Which videos later stages use: decodable, and not quarantined after ingest.

Ingest's own quarantine rows describe rows and files that never reached metadata.csv (and so the
manifest), except ``duplicate_row``, whose video id is that of the copy ingest kept. So only
quarantine rows of later stages (validate, ...) remove a video from the manifest's set.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vidlab.core.errors import DataError


def usable(manifest: pd.DataFrame, quarantine: pd.DataFrame) -> pd.Series:
    """Boolean mask over manifest rows: status ok and not quarantined after ingest."""
    later = quarantine.loc[quarantine["stage"] != "ingest", "video_id"]
    held = set(later[later != ""])
    return (manifest["status"] == "ok") & ~manifest["video_id"].isin(held)


# validate writes the merged quarantine only when validation passes
NOT_VALIDATED = ("{path} does not exist: `vidlab validate` has not run or did not pass (it writes "
                 "this file only when validation passes). See reports/validation/summary.json, "
                 "fix what it reports and rerun `vidlab validate`.")


def read_usable(manifest: Path, quarantine: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """The usable manifest rows sorted by video id, and counts of what was left out and why."""
    if not Path(manifest).is_file():
        raise DataError(f"{manifest} does not exist. Run `vidlab probe` first.")
    if not Path(quarantine).is_file():
        raise DataError(NOT_VALIDATED.format(path=quarantine))
    frame = pd.read_parquet(manifest)
    held = pd.read_csv(quarantine, dtype=str, keep_default_na=False)
    mask = usable(frame, held)
    left_out = {"not_decodable": int((frame["status"] != "ok").sum()),
                "quarantined": int(((frame["status"] == "ok") & ~mask).sum())}
    return frame.loc[mask].sort_values("video_id").reset_index(drop=True), left_out
