"""Tracking: data versions (:mod:`~vidlab.tracking.versions`: git, fingerprints, dvc.lock),
MLflow runs (:mod:`~vidlab.tracking.runs`: where runs go, their tags, how they nest) and the
pipeline run the model stages share (:mod:`~vidlab.tracking.pipeline`).

The public names of versions and runs are available here as ``tracking.<name>``.
"""

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
    "NOTE", "PARENT_RUN_ENV", "TAG_COMMIT", "TAG_DIRTY", "TAG_FINGERPRINT", "TAG_PIPELINE",
    "TAG_PROCESSED", "TAG_VERSION", "close_pipeline", "content_hash", "data_version",
    "data_version_of", "describe",
    "dvc_fingerprint", "find_run", "git", "git_commit", "lock_outs", "outs_fingerprint",
    "parent_run_id_from_env", "pipeline_outputs", "pipeline_parent", "read_lock", "run_commits",
    "server_command", "standard_tags", "start_run", "tracking_uri", "ui_url",
]
