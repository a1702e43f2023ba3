"""Tracking: data versions (:mod:`~vidlab.tracking.versions`: git, fingerprints, dvc.lock),
MLflow runs (:mod:`~vidlab.tracking.runs`: where runs go, their tags, how they nest), the
environment every run and the card record (:mod:`~vidlab.tracking.environment`) and the
pipeline run the model stages share (:mod:`~vidlab.tracking.pipeline`).

The public names of versions, runs and the environment are available here as
``tracking.<name>``.
"""

# the table itself is tracking.environment.environment: exported here under its own name it
# would hide the module of that name (and `monkeypatch`/`mock` targets through it)
from vidlab.tracking.environment import (
    ENVIRONMENT_ARTIFACT,
    TAG_ENV,
    decoder_description,
    environment_tags,
    run_environment,
)
from vidlab.tracking.runs import (
    NOTE,
    PARENT_RUN_ENV,
    TAG_COMMIT,
    TAG_DIRTY,
    TAG_FINGERPRINT,
    TAG_PIPELINE,
    TAG_PROCESSED,
    TAG_VERSION,
    close_pipeline,
    describe,
    find_run,
    parent_run_id_from_env,
    pipeline_parent,
    run_commits,
    server_command,
    standard_tags,
    start_run,
    tracking_uri,
    ui_url,
)
from vidlab.tracking.versions import (
    content_hash,
    data_version,
    data_version_of,
    dvc_fingerprint,
    git,
    git_commit,
    lock_outs,
    outs_fingerprint,
    pipeline_outputs,
    read_lock,
)

__all__ = [
    "ENVIRONMENT_ARTIFACT", "NOTE", "PARENT_RUN_ENV", "TAG_COMMIT", "TAG_DIRTY", "TAG_ENV",
    "TAG_FINGERPRINT", "TAG_PIPELINE", "TAG_PROCESSED", "TAG_VERSION", "close_pipeline",
    "content_hash", "data_version", "data_version_of", "decoder_description", "describe",
    "dvc_fingerprint", "environment_tags", "find_run", "git", "git_commit",
    "lock_outs", "outs_fingerprint", "parent_run_id_from_env", "pipeline_outputs",
    "pipeline_parent", "read_lock", "run_commits", "run_environment", "server_command",
    "standard_tags", "start_run", "tracking_uri", "ui_url",
]
