"""The ``dedup`` stage: exact and near-duplicate videos from perceptual signatures, clustered; its
calibration."""
