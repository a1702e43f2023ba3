"""MLflow runs: where runs go, what every run is tagged with, and how runs nest.

Every stage that trains or evaluates opens its run through :func:`start_run`, so all runs carry
the same provenance tags::

    vidlab.git_commit           sha of HEAD, or "unknown" outside a git checkout
    vidlab.git_dirty            "true" when the working tree has uncommitted changes other than
                                what `dvc repro` itself writes (dvc.lock, the pipeline's outputs)
    vidlab.version              the installed vidlab version
    vidlab.dataset_fingerprint  the data version: ingest's fingerprint of the de-identified
                                metadata (it holds every video's sha256), the string the summary
                                report, the EDA page and the dataset card show
    vidlab.processed_fingerprint  the splits and clips cache the run read (their dvc.lock hashes)
    vidlab.env.<key>            the environment the run ran in (Python, vidlab, torch, FFmpeg,
                                ..., the uv.lock hash, CPU; GPU, CUDA and cuDNN in runs that
                                imported torch), also logged whole as ``environment.json``; see
                                :mod:`vidlab.tracking.environment`

A pipeline can open one parent run and export its id as ``VIDLAB_PARENT_RUN_ID``; runs started by
child processes then nest under it (see :func:`parent_run_id_from_env`).

Privacy: this module logs only what callers hand it (run name, tags, fingerprint), the
environment table (versions, hashes, counts and hardware models; no path, user or host name)
and MLflow's own context tags (user name, entry-point script). Callers must never pass original
file names, child ids or exact recording dates, not as tags, params, metrics, run names nor
artifacts. The dataset fingerprint is a hash and reveals no file names.

mlflow is imported inside the functions that need it: importing it takes seconds and the CLI's
``--help`` must stay fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from vidlab.config import TrackingParams
from vidlab.core.errors import DataError
from vidlab.core.paths import MLFLOW_DB, project_root
from vidlab.core.version import VERSION as __version__
from vidlab.tracking.environment import ENVIRONMENT_ARTIFACT, environment_tags, run_environment
from vidlab.tracking.versions import git_commit

if TYPE_CHECKING:
    import mlflow

log = logging.getLogger(__name__)


PARENT_RUN_ENV = "VIDLAB_PARENT_RUN_ID"
TAG_COMMIT = "vidlab.git_commit"
TAG_DIRTY = "vidlab.git_dirty"
TAG_VERSION = "vidlab.version"
TAG_FINGERPRINT = "vidlab.dataset_fingerprint"
TAG_PROCESSED = "vidlab.processed_fingerprint"
NOTE = "mlflow.note.content"  # the run's description, shown on its page in the UI


def describe(summary: str, detail: str) -> str:
    """A run's description: what it is, then how this run went (Markdown, two short lines)."""
    return f"{summary}\n\n{detail}"


def tracking_uri(params: TrackingParams | None = None, root: Path | None = None) -> str:
    """Return the MLflow tracking URI to use.

    Precedence: the ``MLFLOW_TRACKING_URI`` environment variable, then ``params.uri``, else a
    SQLite store ``mlflow.db`` in the project root (absolute, so the cwd does not matter).

    Args:
        params: the tracking section of params.yaml; None means defaults.
        root: project root; defaults to :func:`vidlab.core.paths.project_root`.

    Returns:
        A URI accepted by ``mlflow.set_tracking_uri``.
    """
    from_env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if from_env:
        return from_env
    if params is not None and params.uri:
        return params.uri
    db = (Path(root) if root is not None else project_root()).resolve() / MLFLOW_DB
    return f"sqlite:///{db.as_posix()}"


def standard_tags(fingerprint: str | None, root: Path | None = None, *,
                  processed: str | None = None) -> dict[str, str]:
    """Return the provenance tags every vidlab run carries.

    Args:
        fingerprint: dataset fingerprint, or None to leave the tag out.
        root: folder inside the git checkout; defaults to the project root.
        processed: processed-data fingerprint, or None to leave the tag out.

    Returns:
        Tag name to value, all strings.
    """
    sha, dirty = git_commit(root)
    tags = {TAG_COMMIT: sha, TAG_DIRTY: "true" if dirty else "false", TAG_VERSION: __version__}
    if fingerprint:
        tags[TAG_FINGERPRINT] = fingerprint
    if processed:
        tags[TAG_PROCESSED] = processed
    return tags


def parent_run_id_from_env() -> str | None:
    """Return the run id in ``VIDLAB_PARENT_RUN_ID``, or None when unset or empty."""
    value = os.environ.get(PARENT_RUN_ENV, "").strip()
    return value or None


def _set_tracking_uri(uri: str) -> None:
    """Point MLflow at ``uri`` without leaving ``MLFLOW_TRACKING_URI`` changed behind us."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI. Left there, it would outrank
    # params.uri in every later tracking_uri() call of this process, so the variable would no
    # longer mean "the user's choice". Children still find the store: they read the same params.
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def _artifact_location(uri: str, experiment: str) -> str | None:
    """Artifact folder next to a local SQLite store, or None to keep MLflow's default.

    MLflow's default is ``./mlruns`` in whatever cwd first created the experiment; anchoring it
    beside the database keeps runs and their artifacts together.
    """
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(unquote(uri[len("sqlite:///") :]))
    if not db.name or db.name == ":memory:":
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment).strip("._") or "experiment"
    return (db.resolve().parent / "mlruns" / slug).as_uri()


EXPERIMENT_KIND, MODEL_DEVELOPMENT = "mlflow.experimentKind", "custom_model_development"


def _use_experiment(name: str, uri: str) -> None:
    """Make ``name`` the active experiment, creating it (with a stable artifact folder) if new."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=uri)
    location = _artifact_location(uri, name)
    if location and client.get_experiment_by_name(name) is None:
        try:
            client.create_experiment(name, artifact_location=location)
        except MlflowException as exc:
            # Another process may have created it since the lookup; set_experiment finds it.
            log.debug("create_experiment(%r) failed: %s", name, exc)
    experiment = mlflow.set_experiment(name)
    if experiment.tags.get(EXPERIMENT_KIND) != MODEL_DEVELOPMENT:
        # MLflow 3 opens an experiment of this kind on its training runs, not on the GenAI
        # traces dashboard
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND, MODEL_DEVELOPMENT)


@contextlib.contextmanager
def start_run(
    params: TrackingParams,
    *,
    run_name: str,
    fingerprint: str | None = None,
    processed: str | None = None,
    tags: dict[str, str] | None = None,
    nested: bool = False,
    root: Path | None = None,
    parent_run_id: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Open an MLflow run with the standard tags; end it FINISHED, FAILED or KILLED.

    With no active run and ``VIDLAB_PARENT_RUN_ID`` set, the run becomes a child of that run
    (which should live in the same experiment for the UI to nest it). With ``nested=True`` and
    an active run, it becomes a child of the active run.

    Args:
        params: tracking section of params.yaml (experiment name, optional URI).
        run_name: display name; must not contain file names, child ids or dates.
        fingerprint: dataset fingerprint to tag the run with.
        processed: processed-data fingerprint to tag the run with.
        tags: extra tags; they override the standard ones on a name clash.
        nested: start under the currently active run.
        root: project root (for the default store and git); defaults to the project root.
        parent_run_id: nest under this run (e.g. from :func:`pipeline_parent`); overrides
            ``VIDLAB_PARENT_RUN_ID``.

    Yields:
        The active run.
    """
    import mlflow

    uri = tracking_uri(params, root)
    _set_tracking_uri(uri)
    _use_experiment(params.experiment, uri)
    parent = (parent_run_id or parent_run_id_from_env()) if mlflow.active_run() is None else None
    env = run_environment(root)
    all_tags = {**standard_tags(fingerprint, root, processed=processed), **environment_tags(env),
                **{k: str(v) for k, v in (tags or {}).items()}}
    run = mlflow.start_run(run_name=run_name, nested=nested, parent_run_id=parent, tags=all_tags)
    log.debug("Started MLflow run %s (%s) in %s", run.info.run_id, run_name, uri)
    status = "FINISHED"
    try:
        mlflow.MlflowClient(tracking_uri=uri).log_dict(run.info.run_id, env,
                                                       ENVIRONMENT_ARTIFACT)
        yield run
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        _end_run(run.info.run_id, status)


TAG_PIPELINE = "vidlab.pipeline_key"


def _tag_filter(tags: dict[str, str]) -> str:
    """An MLflow search filter matching runs that carry every tag in ``tags``."""
    return " and ".join(f"tags.`{name}` = '{value}'" for name, value in tags.items())


def find_run(params: TrackingParams, tags: dict[str, str], *,
             root: Path | None = None) -> str | None:
    """The id of the newest run of the experiment carrying all ``tags``, or None."""
    import mlflow

    uri = tracking_uri(params, root)
    _set_tracking_uri(uri)
    _use_experiment(params.experiment, uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(params.experiment)
    found = client.search_runs([experiment.experiment_id], filter_string=_tag_filter(tags),
                               order_by=["attributes.start_time DESC"], max_results=1)
    return found[0].info.run_id if found else None


def _no_store(uri: str) -> bool:
    """A SQLite store whose file does not exist yet (reading it would create it)."""
    return uri.startswith("sqlite:///") and not Path(unquote(uri[len("sqlite:///"):])).is_file()


def run_commits(params: TrackingParams, tags: dict[str, str], *,
                root: Path | None = None) -> dict[str, str] | None:
    """``{run name: vidlab.git_commit}`` of the runs carrying all ``tags`` (the newest run of
    each name); None when there is no store or experiment to look in (nothing is created)."""
    uri = tracking_uri(params, root)
    if _no_store(uri):
        return None
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(params.experiment)
    if experiment is None:
        return None
    found = client.search_runs([experiment.experiment_id], filter_string=_tag_filter(tags),
                               order_by=["attributes.start_time DESC"], max_results=500)
    commits: dict[str, str] = {}
    for run in found:
        name = run.data.tags.get("mlflow.runName", run.info.run_id)
        commits.setdefault(name, run.data.tags.get(TAG_COMMIT, "unknown"))
    return dict(sorted(commits.items()))


def pipeline_parent(params: TrackingParams, *, key: str, fingerprint: str | None = None,
                    processed: str | None = None, root: Path | None = None) -> str:
    """The id of the parent run of one pipeline run, created on first use.

    Stages of one ``dvc repro`` run in separate processes; they find their common parent by the
    tag ``vidlab.pipeline_key`` (a hash of commit, data and params the caller computes).
    """
    import mlflow

    found = find_run(params, {TAG_PIPELINE: key}, root=root)
    if found:
        return found
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(params, root))
    experiment = client.get_experiment_by_name(params.experiment)
    env = run_environment(root)
    tags = {**standard_tags(fingerprint, root, processed=processed), **environment_tags(env),
            TAG_PIPELINE: key}
    run = client.create_run(experiment.experiment_id, run_name=f"pipeline-{key[:8]}", tags=tags)
    client.log_dict(run.info.run_id, env, ENVIRONMENT_ARTIFACT)
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def close_pipeline(params: TrackingParams, *, fingerprint: str, processed: str,
                   metrics: dict[str, float], note: str, root: Path | None = None) -> str | None:
    """Give the newest parent run of this data (dataset and processed fingerprints) the
    pipeline's summary metrics and a description, and end it now, so its duration spans the
    model stages up to the card. Returns its id, or None when no parent run carries this data
    (nothing is created)."""
    import time

    import mlflow
    from mlflow.entities import Metric

    uri = tracking_uri(params, root)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(params.experiment)
    if experiment is None:
        return None
    where = (_tag_filter({TAG_FINGERPRINT: fingerprint, TAG_PROCESSED: processed})
             + f" and tags.`{TAG_PIPELINE}` LIKE '%'")
    found = client.search_runs([experiment.experiment_id], filter_string=where,
                               order_by=["attributes.start_time DESC"], max_results=1)
    if not found:
        return None
    run_id, stamp = found[0].info.run_id, int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0)
                                      for k, v in sorted(metrics.items())])
    client.set_tag(run_id, NOTE, note)
    client.set_terminated(run_id, "FINISHED", end_time=stamp)
    return run_id


def _descends_from(run: mlflow.entities.Run, ancestor_id: str) -> bool:
    """Whether ``run`` is ``ancestor_id`` or nested (at any depth) under it."""
    import mlflow
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    client = mlflow.MlflowClient()
    seen: set[str] = set()
    while run.info.run_id != ancestor_id:
        parent = run.data.tags.get(MLFLOW_PARENT_RUN_ID)
        if not parent or parent in seen:
            return False
        seen.add(parent)
        run = client.get_run(parent)
    return True


def _end_run(run_id: str, status: str) -> None:
    """End ``run_id`` and any descendant the body left open, all with ``status``.

    ``mlflow.end_run`` ends the innermost active run, so unwind from the top while the top is
    ours or under ours; a body that already ended our run leaves outer runs alone.
    """
    import mlflow

    while (active := mlflow.active_run()) is not None and _descends_from(active, run_id):
        mlflow.end_run(status)
        if active.info.run_id == run_id:
            break


def ui_url(params: TrackingParams, *, port: int, root: Path | None = None) -> str:
    """The address that opens the UI on the experiment's training runs.

    MLflow 3's UI starts on its GenAI pages (traces, "Detect Issues") unless the address asks for
    the model-training view (``workflowType=machine_learning``, which it then remembers); the
    experiment's ``mlflow.experimentKind`` tag alone does not switch it. Without a store or
    experiment yet, the experiments list in that view.
    """
    base = f"http://127.0.0.1:{port}/#/"
    uri = tracking_uri(params, root)
    if _no_store(uri):
        return f"{base}experiments?workflowType=machine_learning"
    import mlflow

    experiment = mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name(params.experiment)
    where = f"experiments/{experiment.experiment_id}" if experiment else "experiments"
    return f"{base}{where}?workflowType=machine_learning"


def server_command(uri: str, *, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command line serving the store ``uri`` (UI and REST API) on ``host``.

    Artifacts stay where the runs recorded them (``mlruns/`` beside a SQLite store); the server
    reads them from there for the UI.
    """
    import shutil
    import sys

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise DataError(f"Refusing to serve MLflow on {host!r}: vidlab binds to loopback only.")
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which(
        "mlflow")
    if mlflow is None:
        raise DataError("The mlflow command is not installed in this environment; run "
                        "`make install` (uv sync) first.")
    return [mlflow, "server", "--backend-store-uri", uri, "--host", host, "--port", str(port),
            "--workers", "1"]
