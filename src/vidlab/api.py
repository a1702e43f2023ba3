"""``VideoDatasetManager``: the researchers' existing Python API, on vidlab's stage code.

Same constructor, methods, default output file names and return shapes as their script, with its
weaknesses fixed: pseudonyms are keyed HMACs (reproducible, not reversible without the key),
videos are remuxed without container metadata, and the mapping is written beside the key, not
beside the shared data.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from vidlab import config as params_mod
from vidlab.core import keys
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text, sha256_file
from vidlab.data.schema import METADATA_COLUMNS, QUARANTINE_COLUMNS
from vidlab.stages.ingest import deid, rows, stage
from vidlab.stages.ingest.csvread import read_rows

log = logging.getLogger(__name__)

_OWN_OUTPUTS = {"videos", "metadata.csv", "quarantine_ingest.csv", "reports"}


class VideoDatasetManager:
    """Manage an annotated child-development video dataset.

    Args:
        csv_path: the metadata CSV (filename, child_age, milestone_id, label; optionally
            child_id, recorded_on).
        video_directory: the folder the file names are relative to; optional when only the
            metadata is summarised.
        params: vidlab params (age bins, domain map, ...); defaults to params.yaml's defaults.
        key: the HMAC key; by default ``VIDLAB_HMAC_KEY`` or the private key file.
    """

    def __init__(self, csv_path: str | Path, video_directory: str | Path | None = None, *,
                 params: params_mod.Params | None = None, key: bytes | str | None = None) -> None:
        self.csv_path = Path(csv_path)
        self.video_directory = Path(video_directory) if video_directory is not None else None
        # checked here as the CLI checks them, so a wrong argument fails now, not silently
        if params is not None and not isinstance(params, params_mod.Params):
            raise DataError("params must be a vidlab Params (vidlab.config.load('params.yaml')), "
                            f"not {type(params).__name__}.")
        self.params = params or params_mod.from_dict({})
        self.key = None if key is None else keys.check_key(key)
        self.output_directory_: Path | None = None

    # -- helpers of the seed's API ---------------------------------------------------------------

    def categorize_age_group(self, age_months: int) -> str:
        """'0-6m', '7-12m', ... for an age in months; 'unknown' outside the bins."""
        try:
            age = int(age_months)
        except (TypeError, ValueError):
            return "unknown"
        return rows.age_group(age, self.params.ingest) if 0 <= age else "unknown"

    def extract_domain(self, milestone_id: str) -> str:
        """'M_12M_001' -> 'motor' (M/L/S/C by default); 'unknown' for other prefixes."""
        prefix = rows.normalize_milestone(str(milestone_id)).split("_", 1)[0]
        return self.params.ingest.domains.get(prefix, "unknown")

    # -- the three outputs ---------------------------------------------------------------------

    def deidentify_files(self, output_directory: str | Path = "deidentified_videos",
                         dry_run: bool = True) -> dict[str, str]:
        """Pseudonymise and remux every video into ``output_directory``.

        Args:
            output_directory: gets videos/, metadata.csv, quarantine_ingest.csv and reports/.
            dry_run: only compute the mapping (the default, as in the original script).

        Returns:
            The mapping original file name -> pseudonymous file name. When not a dry run it is
            also saved as ``video_mapping.json`` beside the key (mode 0600), never beside the data.
        """
        if self.video_directory is None:
            raise DataError("deidentify_files needs the video_directory the CSV's files are in.")
        if not isinstance(dry_run, bool):  # "False" is a true string: it must not pass for False
            raise DataError(f"dry_run must be True or False, not {dry_run!r}.")
        out = Path(output_directory)
        if not dry_run and out.exists():
            foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWN_OUTPUTS)
            if foreign:
                raise DataError(f"Refusing to write into {out}: it holds {len(foreign)} file(s) "
                                "vidlab did not write. Choose an empty or new folder.")
        counts = stage.run(self.params, csv_path=self.csv_path, videos=self.video_directory,
                           out=out, reports=out / "reports", dry_run=dry_run, key=self._key())
        if dry_run:
            for original, pseudo in sorted(counts["mapping"].items()):
                print(f"{original} -> {pseudo}")
            return counts["mapping"]
        self.output_directory_ = out
        mapping_file = Path(counts["mapping_file"])
        log.info("Mapping saved beside the key: %s", mapping_file)
        return json.loads(mapping_file.read_text(encoding="utf-8"))["videos"]

    def generate_summary_report(self, output_path: str | Path = "dataset_summary_report.txt"
                                ) -> dict:
        """Print the summary with ASCII bars and save it (text, plus a JSON export beside it).

        Returns:
            The summary dict (``total_videos``, ``age_group_distribution``,
            ``domain_distribution``, ``label_distribution``, ``age_domain_crosstab``,
            ``top_milestones``, ``quality_checks`` and more).
        """
        from vidlab.stages.report import render
        from vidlab.stages.report.summary import summarize

        meta, quarantine = self._tables()
        summary = summarize(meta, ingest=self.params.ingest, report=self.params.report,
                            classes=self.params.base.classes, quarantine=quarantine,
                            fingerprint=self._fingerprint(meta))
        text = render.to_text(summary, bar_width=self.params.report.bar_width)
        print(text)
        output_path = Path(output_path)
        atomic_write_text(output_path, text)
        atomic_write_text(output_path.with_suffix(".json"), render.to_json(summary))
        return summary

    def save_deidentified_csv(self, output_path: str | Path = "deidentified_dataset.csv") -> Path:
        """Write the metadata with pseudonyms instead of names, ids and exact dates."""
        meta, _ = self._tables()
        output_path = Path(output_path)
        atomic_write_text(output_path, meta.to_csv(index=False, lineterminator="\n"))
        return output_path

    # -- internals --------------------------------------------------------------------------------

    def _key(self) -> bytes:
        if self.key is None:
            self.key = keys.load_key("custom")
        return self.key

    def _fingerprint(self, meta: pd.DataFrame) -> str:
        """The dataset fingerprint: of the metadata.csv ingest wrote (the string every report
        and run shows), else of the table computed without copies."""
        from vidlab import tracking

        if self.output_directory_ is not None:
            return tracking.data_version_of(self.output_directory_ / "metadata.csv") or ""
        return tracking.data_version(meta.to_csv(index=False, lineterminator="\n"))

    def _tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The de-identified metadata and quarantine, from the last de-identification or fresh."""
        if self.output_directory_ is not None:
            read = lambda name: pd.read_csv(self.output_directory_ / name, dtype=str,  # noqa: E731
                                            keep_default_na=False)
            return read("metadata.csv"), read("quarantine_ingest.csv")
        records, problems = self._check()
        key, length = self._key(), self.params.ingest.pseudonym_length
        meta = []
        for record in records:
            content = sha256_file(record.path) if record.path is not None else ""
            video_id = deid.pseudonym(key, content, record.filename, length)
            meta.append({
                "video_id": video_id, "filename": video_id + Path(record.filename).suffix.lower(),
                "subject_id": deid.subject_pseudonym(key, record.child_id, length),
                "child_age": record.child_age, "age_group": record.age_group,
                "milestone_id": record.milestone_id,
                "milestone_age": "" if record.milestone_age is None else record.milestone_age,
                "domain": record.domain, "label": record.label,
                "recorded_period": record.recorded_period, "size_bytes": "", "sha256": "",
            })
        quarantine = [{"stage": "ingest", "line": p.line or "", "video_id": p.video_id,
                       "column": p.column, "value": p.value, "reason": p.reason,
                       "detail": p.detail} for p in problems]
        return (pd.DataFrame(meta, columns=list(METADATA_COLUMNS)).astype(str),
                pd.DataFrame(quarantine, columns=list(QUARANTINE_COLUMNS)).astype(str))

    def _check(self) -> tuple[list[rows.Record], list[rows.Problem]]:
        if self.video_directory is not None:
            checked = stage.check(self.params, csv_path=self.csv_path,
                                  videos=self.video_directory)
            return checked.records, checked.problems
        _, csv_rows = read_rows(self.csv_path)
        records, problems = [], []
        classes = self.params.base.classes
        for row in csv_rows:
            result = rows.check_row(row, None, {}, self.params.ingest, classes)
            if isinstance(result, rows.Record):
                records.append(result)
            else:
                problems += result
        records, duplicates = rows.dedupe(records, self.params.ingest, classes)
        return records, problems + duplicates
