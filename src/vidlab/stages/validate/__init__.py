"""The ``validate`` stage: Great Expectations suites on metadata, labels and manifest; the
quarantine."""
