"""The ``train`` stage: one baseline trained with Lightning, logged to MLflow."""
