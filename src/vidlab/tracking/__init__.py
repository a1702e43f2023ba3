"""MLflow tracking: where runs go, what every run is tagged with, and how runs nest.

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

A pipeline can open one parent run and export its id as ``VIDLAB_PARENT_RUN_ID``; runs started by
child processes then nest under it (see :func:`parent_run_id_from_env`).

Privacy: this module logs only what callers hand it (run name, tags, fingerprint) plus MLflow's
own context tags (user name, entry-point script). Callers must never pass original file names,
child ids or exact recording dates, not as tags, params, metrics, run names nor artifacts. The
dataset fingerprint is a hash and reveals no file names.

mlflow is imported inside the functions that need it: importing it takes seconds and the CLI's
``--help`` must stay fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote

import yaml

from vidlab.config import TrackingParams
from vidlab.core.errors import DataError
from vidlab.core.fsutil import sha256_file
from vidlab.core.paths import MLFLOW_DB, project_root
from vidlab.core.version import VERSION as __version__

if TYPE_CHECKING:
    import mlflow

log = logging.getLogger(__name__)

PARENT_RUN_ENV = "VIDLAB_PARENT_RUN_ID"
TAG_COMMIT = "vidlab.git_commit"
TAG_DIRTY = "vidlab.git_dirty"
TAG_VERSION = "vidlab.version"
TAG_FINGERPRINT = "vidlab.dataset_fingerprint"
TAG_PROCESSED = "vidlab.processed_fingerprint"
_GIT_TIMEOUT_S = 10


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


def _git(args: list[str], root: Path) -> str | None:
    """Run ``git <args>`` in ``root``; return stdout, or None on any failure (no git, no repo)."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("git %s failed: %s", " ".join(args), exc)
        return None
    if done.returncode != 0:
        log.debug("git %s exited %d: %s", " ".join(args), done.returncode, done.stderr.strip())
        return None
    return done.stdout


def git_commit(root: Path | None = None) -> tuple[str, bool]:
    """Return the commit checked out in ``root`` and whether the working tree is dirty.

    Untracked files that git does not ignore count as dirty: a new, un-added module changes what
    runs just as much as an edit does.

    Args:
        root: folder inside the checkout; defaults to the project root.

    Returns:
        ``(sha, dirty)``; ``("unknown", False)`` when git is missing or ``root`` is no checkout.
    """
    root = Path(root) if root is not None else project_root()
    sha = _git(["rev-parse", "HEAD"], root)
    if sha is None or not sha.strip():
        return "unknown", False
    status = _git(["status", "--porcelain", "--no-renames", "--untracked-files=all"], root)
    # A failing status after a working rev-parse is odd; call it dirty rather than vouch for it.
    if status is None:
        return sha.strip(), True
    top = _git(["rev-parse", "--show-toplevel"], root)
    produced = pipeline_outputs(Path(top.strip()) if top else root)
    changed = [line[3:].strip().strip('"') for line in status.splitlines() if line.strip()]
    dirty = any(not _produced(path, produced) for path in changed)
    return sha.strip(), dirty


def pipeline_outputs(top: Path) -> list[str]:
    """What `dvc repro` itself writes in a checkout: dvc.lock and every out, metric and plot
    path of dvc.yaml (a templated path counts up to its first ``${``). DVC removes a stage's
    outputs before running it and rewrites dvc.lock as it goes, so a change to these alone does
    not make the code that ran differ from the commit."""
    dvc_yaml = top / "dvc.yaml"
    if not dvc_yaml.is_file():
        return []
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages") or {}
    except yaml.YAMLError:
        return []
    paths = ["dvc.lock"]
    for stage in stages.values():
        body = (stage or {}).get("do", stage) or {}
        for kind in ("outs", "metrics", "plots"):
            for entry in body.get(kind) or []:
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                if isinstance(path, str) and not path.startswith("${"):
                    paths.append(path.split("${")[0].rstrip("/") or path)
    return paths


def _produced(path: str, produced: list[str]) -> bool:
    path = path.rstrip("/")
    return any(path == out or path.startswith(out + "/") for out in produced)


def _file_sha256(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise DataError(f"Cannot read {path} to fingerprint it: {exc.strerror or exc}.") from None


def _tree_files(top: Path) -> list[tuple[str, Path]]:
    """Files under ``top`` as (POSIX path relative to top's parent, path), sorted by the former.

    Keying by top's own name (not its absolute location) lets a copy elsewhere hash the same.
    """
    if top.is_file():
        return [(top.name, top)]
    found = []
    # followlinks: DVC and users often symlink data folders; the content is what counts.
    for folder, _dirs, files in os.walk(top, followlinks=True):
        for name in files:
            path = Path(folder, name)
            found.append((path.relative_to(top.parent).as_posix(), path))
    return sorted(found)


def data_version(metadata_csv_text: str) -> str:
    """THE dataset fingerprint: it names one data version in the summary report, the EDA page,
    the dataset card, the release and every MLflow run. It hashes the de-identified metadata CSV
    that ingest writes, which holds every video's sha256 beside its labels, so any changed video
    byte, label, age or added/removed row changes it; params and derived data (splits, clips)
    do not: those are the processed fingerprint's."""
    return "fp-" + hashlib.sha256(metadata_csv_text.encode()).hexdigest()[:16]


def data_version_of(metadata: Path | None) -> str | None:
    """:func:`data_version` of a metadata CSV on disk; None when it is not there."""
    if metadata is None or not Path(metadata).is_file():
        return None
    return data_version(Path(metadata).read_text(encoding="utf-8"))


def content_hash(*paths: Path) -> str:
    """Hash the content of files and folders into a short, location-independent string (not
    the dataset fingerprint: see :func:`data_version`).

    The hash covers each file's path relative to the parent of the argument it was found under
    (so ``data/videos`` contributes ``videos/a.mp4``) and the sha256 of its bytes. Modification
    times and absolute locations do not count; any changed byte or file name does. Arguments are
    hashed in the order given, so call it with a fixed order.

    Args:
        *paths: files or folders (folders are walked recursively).

    Returns:
        ``"h-"`` followed by 16 hex characters.

    Raises:
        DataError: when a path does not exist or a file cannot be read.
        ValueError: when no path is given.
    """
    if not paths:
        raise ValueError("content_hash needs at least one path.")
    digest = hashlib.sha256()
    for index, raw in enumerate(paths):
        path = Path(raw)
        if not path.exists():
            raise DataError(f"Cannot fingerprint {path}: no such file or folder.")
        # The argument index separates e.g. (a/, b/) from (a/ holding both); NUL cannot occur in
        # a path, so the encoding is unambiguous.
        digest.update(f"arg\0{index}\0".encode())
        for rel, file in _tree_files(path):
            digest.update(f"{rel}\0{_file_sha256(file)}\n".encode())
    return "h-" + digest.hexdigest()[:16]


def read_lock(dvc_lock: Path) -> dict:
    """dvc.lock as a mapping ({} when it is empty).

    Raises:
        DataError: when it is not valid YAML.
    """
    try:
        lock = yaml.safe_load(Path(dvc_lock).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{dvc_lock} is not valid YAML: {exc}") from None
    return lock if isinstance(lock, dict) else {}


def lock_outs(lock: dict) -> dict[str, str]:
    """Map every output path of a parsed dvc.lock (all stages) to its md5."""
    outs: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") and out.get("md5"):
                outs[str(PurePosixPath(out["path"]))] = str(out["md5"])
    return outs


def dvc_fingerprint(dvc_lock: Path, outs: list[str]) -> str | None:
    """Fingerprint data from the md5s DVC already recorded, instead of re-hashing it.

    Args:
        dvc_lock: path of dvc.lock.
        outs: output paths as written in dvc.yaml (e.g. ``data/raw/demo/videos``).

    Returns:
        ``"pd-"`` (processed data) plus 16 hex characters over the sorted (path, md5) pairs of
        ``outs``, or None
        when dvc.lock is missing or any of ``outs`` is not an output in it.

    Raises:
        DataError: when dvc.lock is not valid YAML.
    """
    dvc_lock = Path(dvc_lock)
    if not dvc_lock.is_file() or not outs:
        return None
    return outs_fingerprint(lock_outs(read_lock(dvc_lock)), outs)


def outs_fingerprint(recorded: dict[str, str], outs: list[str]) -> str | None:
    """:func:`dvc_fingerprint` of outputs already read with :func:`lock_outs`."""
    wanted = sorted({str(PurePosixPath(out)) for out in outs})
    missing = [out for out in wanted if out not in recorded]
    if missing or not wanted:
        log.debug("No md5 in dvc.lock for %s", ", ".join(missing))
        return None
    digest = hashlib.sha256()
    for out in wanted:
        digest.update(f"{out}\0{recorded[out]}\n".encode())
    return "pd-" + digest.hexdigest()[:16]


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
    mlflow.set_experiment(name)


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
    all_tags = {**standard_tags(fingerprint, root, processed=processed),
                **{k: str(v) for k, v in (tags or {}).items()}}
    run = mlflow.start_run(run_name=run_name, nested=nested, parent_run_id=parent, tags=all_tags)
    log.debug("Started MLflow run %s (%s) in %s", run.info.run_id, run_name, uri)
    status = "FINISHED"
    try:
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


def run_commits(params: TrackingParams, tags: dict[str, str], *,
                root: Path | None = None) -> dict[str, str] | None:
    """``{run name: vidlab.git_commit}`` of the runs carrying all ``tags`` (the newest run of
    each name); None when there is no store or experiment to look in (nothing is created)."""
    uri = tracking_uri(params, root)
    if uri.startswith("sqlite:///") and not Path(unquote(uri[len("sqlite:///"):])).is_file():
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
    tags = {**standard_tags(fingerprint, root, processed=processed), TAG_PIPELINE: key}
    run = client.create_run(experiment.experiment_id, run_name=f"pipeline-{key[:8]}", tags=tags)
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


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
