"""The ``card`` stage: the dataset card and the Go/No-Go readiness checklist."""
