"""The ``ingest`` stage: metadata normalisation, row quarantine, de-identification and the leak
check."""
