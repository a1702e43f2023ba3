"""Column contracts of the de-identified tables every later stage reads.

``data/interim/metadata.csv`` has exactly :data:`METADATA_COLUMNS`, one row per usable video;
``data/interim/quarantine.csv`` has :data:`QUARANTINE_COLUMNS`, one row per problem found. Neither
may hold an original file name, a child id or an exact date: rows are identified by pseudonym and
by their line number in the researcher's own CSV.
"""

from __future__ import annotations

METADATA_COLUMNS = (
    "video_id",         # HMAC pseudonym of the video (hex)
    "filename",         # <video_id><ext> under data/interim/videos
    "subject_id",       # HMAC pseudonym of child_id; empty when the CSV has no child_id
    "child_age",        # int, months
    "age_group",        # e.g. "7-12m", from ingest.age_bins
    "milestone_id",     # normalised, e.g. "M_12M_001"
    "milestone_age",    # int months parsed from the milestone id ("12M" -> 12); empty if none
    "domain",           # from the milestone prefix via ingest.domains
    "label",            # normalised label
    "recorded_period",  # generalised date: "2024-Q1", "2024", "" (drop) or the date (keep)
    "size_bytes",       # of the de-identified file
    "sha256",           # of the de-identified file
)

QUARANTINE_COLUMNS = (
    "stage",      # which stage quarantined it (ingest, validate, ...)
    "line",       # line number in the source CSV (header = 1); empty for a file without a row
    "video_id",   # pseudonym when the file exists, else empty
    "column",     # the offending column, or "file"
    "value",      # the offending value, or "<redacted>" for identifying columns
    "reason",     # short machine-readable reason, e.g. invalid_label
    "detail",     # a sentence for people: what was expected, what to do
)
