"""vidlab.tracking against a real MLflow SQLite store (no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vidlab import __version__, tracking
from vidlab.config import TrackingParams
from vidlab.core.errors import DataError

# MLflow's SQLAlchemy models trip a deprecation warning in newer SQLAlchemy; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

# A real dvc.lock (DVC 3 schema) trimmed to what dvc_fingerprint reads, plus a dep it must ignore.
DVC_LOCK = """\
schema: '2.0'
stages:
  demo:
    cmd: vidlab demo
    deps:
    - path: src/vidlab/demo
      hash: md5
      md5: 00000000000000000000000000000000.dir
    outs:
    - path: data/raw/demo/metadata.csv
      hash: md5
      md5: 1111aaaa1111aaaa1111aaaa1111aaaa
      size: 4096
    - path: data/raw/demo/videos
      hash: md5
      md5: 2222bbbb2222bbbb2222bbbb2222bbbb.dir
      size: 123456
      nfiles: 132
  prepare:
    cmd: vidlab prepare
    outs:
    - path: data/processed/frames
      hash: md5
      md5: 3333cccc3333cccc3333cccc3333cccc.dir
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One SQLite store for the module: creating one runs every migration (seconds)."""
    import mlflow

    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder.as_posix()}/mlflow.db"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # create tables once, here
    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    yield uri
    # start_run points the process-wide MLflow client at the store; undo that for later modules.
    mlflow.set_tracking_uri(None)
    if env_before is not None:
        os.environ["MLFLOW_TRACKING_URI"] = env_before


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test in an empty cwd, with no tracking env vars, and leave no run active."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(tracking.PARENT_RUN_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    if "mlflow" in sys.modules:
        import mlflow

        leftover = mlflow.active_run()
        while mlflow.active_run() is not None:
            mlflow.end_run()
        assert leftover is None, "test left an MLflow run active"
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def _params(store: str, experiment: str) -> TrackingParams:
    return TrackingParams(experiment=experiment, uri=store)


def _get_run(store: str, run_id: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=store).get_run(run_id)


# --- tracking_uri ---------------------------------------------------------------------------


def test_tracking_uri_env_beats_params(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////env/mlflow.db")
    params = TrackingParams(uri="sqlite:////params/mlflow.db")
    assert tracking.tracking_uri(params, tmp_path) == "sqlite:////env/mlflow.db"


def test_tracking_uri_params_beat_default(tmp_path: Path) -> None:
    params = TrackingParams(uri="http://127.0.0.1:5000")
    assert tracking.tracking_uri(params, tmp_path) == "http://127.0.0.1:5000"


def test_tracking_uri_default_is_absolute_sqlite_in_root(tmp_path: Path) -> None:
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / "params.yaml").write_text("{}\n")
    expected = f"sqlite:///{(tmp_path / 'proj').resolve().as_posix()}/mlflow.db"
    assert tracking.tracking_uri(TrackingParams(), Path("proj")) == expected
    os.chdir(tmp_path / "proj" / "sub")  # no root given: found from the cwd via params.yaml
    assert tracking.tracking_uri() == expected


# --- fingerprints ---------------------------------------------------------------------------


def _dataset(folder: Path) -> tuple[Path, Path]:
    videos = folder / "videos"
    (videos / "nested").mkdir(parents=True)
    (videos / "a.mp4").write_bytes(b"\x00\x01video-a" * 1000)
    (videos / "nested" / "b.mp4").write_bytes(b"video-b")
    csv = folder / "metadata.csv"
    csv.write_text("filename,label\na.mp4,achieved\nnested/b.mp4,not_achieved\n")
    return csv, videos


def test_fingerprint_same_data_elsewhere_same_fingerprint(tmp_path: Path) -> None:
    first = tracking.content_hash(*_dataset(tmp_path / "one"))
    csv, videos = _dataset(tmp_path / "elsewhere" / "two")
    os.utime(videos / "a.mp4", (0, 0))  # mtimes must not count
    assert tracking.content_hash(csv, videos) == first
    assert first.startswith("h-") and len(first) == 18  # not a dataset fingerprint
    int(first[3:], 16)


def test_fingerprint_changes_with_one_byte(tmp_path: Path) -> None:
    csv, videos = _dataset(tmp_path)
    before = tracking.content_hash(csv, videos)
    data = bytearray((videos / "a.mp4").read_bytes())
    data[5000] ^= 1
    (videos / "a.mp4").write_bytes(bytes(data))
    assert tracking.content_hash(csv, videos) != before


def test_fingerprint_changes_with_rename(tmp_path: Path) -> None:
    csv, videos = _dataset(tmp_path)
    before = tracking.content_hash(csv, videos)
    (videos / "nested" / "b.mp4").rename(videos / "nested" / "c.mp4")
    assert tracking.content_hash(csv, videos) != before


def test_fingerprint_missing_path_is_data_error(tmp_path: Path) -> None:
    csv, _ = _dataset(tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        tracking.content_hash(csv, tmp_path / "absent")


def test_dvc_fingerprint_reads_outs_of_all_stages(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text(DVC_LOCK)
    outs = ["data/raw/demo/videos", "data/processed/frames"]
    fp = tracking.dvc_fingerprint(lock, outs)
    assert fp is not None and fp.startswith("pd-") and len(fp) == 19
    assert tracking.dvc_fingerprint(lock, list(reversed(outs))) == fp  # order-free
    assert tracking.dvc_fingerprint(lock, ["data/raw/demo/videos/"]) != fp  # different set
    lock.write_text(DVC_LOCK.replace("3333cccc", "4444dddd"))
    assert tracking.dvc_fingerprint(lock, outs) != fp
    assert tracking.dvc_fingerprint(lock, ["src/vidlab/demo"]) is None  # a dep, not an out
    assert tracking.dvc_fingerprint(lock, ["data/missing"]) is None
    assert tracking.dvc_fingerprint(tmp_path / "no.lock", outs) is None


# --- git and tags ---------------------------------------------------------------------------


def test_git_commit_outside_a_checkout(tmp_path: Path) -> None:
    assert tracking.git_commit(tmp_path) == ("unknown", False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_commit_in_a_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
        return subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "f.txt").write_text("x")
    git("add", "f.txt")
    git("commit", "-q", "-m", "init")
    sha = git("rev-parse", "HEAD").strip()
    assert tracking.git_commit(tmp_path) == (sha, False)
    (tmp_path / "f.txt").write_text("y")
    assert tracking.git_commit(tmp_path) == (sha, True)


def test_what_dvc_repro_writes_does_not_make_a_checkout_dirty(tmp_path: Path) -> None:
    """DVC removes a stage's outputs before running it and rewrites dvc.lock as it goes: runs
    made by `dvc repro` from a clean commit must not read dirty (they all did)."""
    def git(*args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
        return subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  a:\n    cmd: x\n    outs: [data/out]\n"
        "    metrics:\n      - reports/a/summary.json:\n          cache: false\n"
        "  b:\n    foreach: [m1, m2]\n    do:\n      cmd: y\n"
        "      outs:\n        - models/${item}\n")
    for name in ("dvc.lock", "reports/a/summary.json", "src.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    sha = git("rev-parse", "HEAD").strip()
    (tmp_path / "dvc.lock").write_text("2")
    (tmp_path / "reports" / "a" / "summary.json").unlink()  # what DVC does before the stage
    (tmp_path / "models" / "m1").mkdir(parents=True)
    (tmp_path / "models" / "m1" / "model.pt").write_text("w")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "out").write_text("o")
    assert tracking.git_commit(tmp_path) == (sha, False)
    (tmp_path / "src.py").write_text("2")  # the code that runs changed
    assert tracking.git_commit(tmp_path) == (sha, True)
    (tmp_path / "src.py").write_text("1")
    (tmp_path / "new_module.py").write_text("")  # an untracked, un-ignored file counts too
    assert tracking.git_commit(tmp_path) == (sha, True)


def test_standard_tags(tmp_path: Path) -> None:
    assert tracking.standard_tags("fp-0123456789abcdef", tmp_path) == {
        "vidlab.git_commit": "unknown",
        "vidlab.git_dirty": "false",
        "vidlab.version": __version__,
        "vidlab.dataset_fingerprint": "fp-0123456789abcdef",
    }
    assert "vidlab.dataset_fingerprint" not in tracking.standard_tags(None, tmp_path)
    assert tracking.standard_tags(None, tmp_path, processed="pd-1")[
        "vidlab.processed_fingerprint"] == "pd-1"


def test_data_version_is_the_fingerprint_of_the_metadata(tmp_path: Path) -> None:
    metadata = tmp_path / "metadata.csv"
    metadata.write_text("video_id,sha256\na,0f\n")
    assert tracking.data_version_of(metadata) == tracking.data_version(metadata.read_text())
    assert tracking.data_version_of(metadata).startswith("fp-")
    assert tracking.data_version_of(tmp_path / "absent.csv") is None


def test_run_commits_reads_without_creating_a_store(tmp_path: Path) -> None:
    params = _params(f"sqlite:///{tmp_path / 'absent.db'}", "none")
    assert tracking.run_commits(params, {"a": "b"}, root=tmp_path) is None
    assert not (tmp_path / "absent.db").exists()


# --- start_run ------------------------------------------------------------------------------


def test_start_run_round_trip(store: str, tmp_path: Path) -> None:
    import mlflow

    params = _params(store, "round-trip")
    with tracking.start_run(
        params, run_name="train", fingerprint="fp-abc", tags={"stage": "train"}, root=tmp_path
    ) as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_metric("acc", 0.75)
        mlflow.log_text("hello", "notes.txt")
    assert os.environ.get("MLFLOW_TRACKING_URI") is None  # not leaked by mlflow.set_tracking_uri

    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("round-trip")
    assert experiment is not None and experiment.name == "round-trip"
    # MLflow 3 opens the experiment on its training runs, not on the GenAI dashboard
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_id == run.info.run_id
    assert found.info.status == "FINISHED"
    assert found.info.run_name == "train"
    assert found.data.params == {"lr": "0.01"}
    assert found.data.metrics == {"acc": 0.75}
    tags = found.data.tags
    assert tags["vidlab.git_commit"] == "unknown"
    assert tags["vidlab.git_dirty"] == "false"
    assert tags["vidlab.version"] == __version__
    assert tags["vidlab.dataset_fingerprint"] == "fp-abc"
    assert tags["stage"] == "train"
    assert "mlflow.parentRunId" not in tags
    # Artifacts sit beside the store, not in the cwd.
    store_dir = Path(store.removeprefix("sqlite:///")).parent
    artifact = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, tracking_uri=store))
    assert artifact.is_dir() and (artifact / "notes.txt").read_text() == "hello"
    assert (store_dir / "mlruns" / "round-trip" / run.info.run_id).is_dir()


def test_start_run_reuses_existing_experiment(store: str, tmp_path: Path) -> None:
    params = _params(store, "reused")
    with tracking.start_run(params, run_name="a", root=tmp_path) as first:
        pass
    with tracking.start_run(params, run_name="b", root=tmp_path) as second:
        pass
    assert first.info.experiment_id == second.info.experiment_id


def test_start_run_marks_failed_on_error(store: str, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with tracking.start_run(_params(store, "failing"), run_name="bad", root=tmp_path) as run:
            raise RuntimeError("boom")
    assert _get_run(store, run.info.run_id).info.status == "FAILED"


def test_start_run_marks_killed_on_interrupt(store: str, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with tracking.start_run(_params(store, "failing"), run_name="ctrl-c", root=tmp_path) as run:
            raise KeyboardInterrupt
    assert _get_run(store, run.info.run_id).info.status == "KILLED"


def test_child_run_nests_under_env_parent(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _params(store, "pipeline")
    with tracking.start_run(params, run_name="pipeline", root=tmp_path) as parent:
        pass  # the pipeline process would now start child processes
    monkeypatch.setenv(tracking.PARENT_RUN_ENV, parent.info.run_id)
    assert tracking.parent_run_id_from_env() == parent.info.run_id
    with tracking.start_run(params, run_name="model-a", root=tmp_path) as child:
        pass
    child_tags = _get_run(store, child.info.run_id).data.tags
    assert child_tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_tags["vidlab.git_commit"] == "unknown"


def test_nested_run_under_active_run_and_leftovers_end(store: str, tmp_path: Path) -> None:
    import mlflow

    params = _params(store, "nested")
    with tracking.start_run(params, run_name="outer", root=tmp_path) as outer:
        with tracking.start_run(params, run_name="inner", nested=True, root=tmp_path) as inner:
            assert mlflow.active_run().info.run_id == inner.info.run_id
        assert mlflow.active_run().info.run_id == outer.info.run_id
        leftover = mlflow.start_run(run_name="forgotten", nested=True)  # never ended by the body
    assert mlflow.active_run() is None
    assert _get_run(store, inner.info.run_id).data.tags["mlflow.parentRunId"] == outer.info.run_id
    for run in (outer, inner, leftover):
        assert _get_run(store, run.info.run_id).info.status == "FINISHED"


def test_parent_run_id_from_env_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracking.parent_run_id_from_env() is None
    monkeypatch.setenv(tracking.PARENT_RUN_ENV, "  ")
    assert tracking.parent_run_id_from_env() is None


def test_import_does_not_load_mlflow() -> None:
    code = "import sys, vidlab.tracking; print('mlflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_run_commits_names_each_runs_commit(store: str, tmp_path: Path) -> None:
    params = _params(store, "commits")
    tags = {"vidlab.dataset_fingerprint": "fp-1", "vidlab.processed_fingerprint": "pd-1"}
    for name in ("train-a", "train-b"):
        with tracking.start_run(params, run_name=name, fingerprint="fp-1", processed="pd-1",
                                root=tmp_path):
            pass
    with tracking.start_run(params, run_name="other", fingerprint="fp-2", processed="pd-1",
                            root=tmp_path):
        pass
    assert tracking.run_commits(params, tags, root=tmp_path) == {"train-a": "unknown",
                                                                 "train-b": "unknown"}
    assert tracking.run_commits(_params(store, "absent-experiment"), tags, root=tmp_path) is None


# --- the environment every run records ------------------------------------------------------


def _environment_of(store: str, run_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """A run's ``vidlab.env.*`` tags, and its ``environment.json`` artifact as tags."""
    import mlflow

    tags = _get_run(store, run_id).data.tags
    folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id, tracking_uri=store))
    table = json.loads((folder / tracking.ENVIRONMENT_ARTIFACT).read_text())
    return ({k: v for k, v in tags.items() if k.startswith(tracking.TAG_ENV)},
            {f"{tracking.TAG_ENV}{k}": v for k, v in table.items()})


def test_every_run_records_the_environment_as_tags_and_artifact(store: str,
                                                                 tmp_path: Path) -> None:
    import av

    (tmp_path / "uv.lock").write_text("version = 1\n")
    params = _params(store, "environment")
    with tracking.start_run(params, run_name="any", root=tmp_path) as run:
        pass
    tags, artifact = _environment_of(store, run.info.run_id)
    assert tags == artifact
    codec = ".".join(map(str, av.library_versions["libavcodec"]))
    assert tags["vidlab.env.python"] == sys.version.split()[0]
    assert tags["vidlab.env.vidlab"] == __version__
    assert tags["vidlab.env.ffmpeg.libavcodec"] == codec
    assert tags["vidlab.env.uv_lock"].startswith("sha256:")
    for key in ("torch", "torchvision", "lightning", "decord", "av", "dvc", "mlflow", "cpu",
                "cpu_count", "cpu_usable", "os"):
        assert tags[f"{tracking.TAG_ENV}{key}"], key
    parent = tracking.pipeline_parent(params, key="env-parent", root=tmp_path)
    assert _environment_of(store, parent)[0] == _environment_of(store, parent)[1]
    assert "vidlab.env.python" in _environment_of(store, parent)[0]


def test_a_run_in_a_process_with_torch_records_the_gpu(store: str, tmp_path: Path) -> None:
    import torch

    with tracking.start_run(_params(store, "environment"), run_name="train",
                            root=tmp_path) as run:
        pass
    tags, artifact = _environment_of(store, run.info.run_id)
    assert tags == artifact
    assert tags["vidlab.env.torch_threads"] == str(torch.get_num_threads())
    if torch.cuda.is_available():
        assert torch.cuda.get_device_name(0) in tags["vidlab.env.gpu"]
        assert tags["vidlab.env.cuda"] == torch.version.cuda
        assert tags["vidlab.env.cudnn"] not in ("none", "unknown")
    else:
        assert tags["vidlab.env.gpu"] == "none"


def test_a_run_without_torch_neither_imports_it_nor_records_a_gpu(store: str,
                                                                  tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from vidlab import tracking\n"
        "from vidlab.config import TrackingParams\n"
        f"params = TrackingParams(experiment='environment', uri={store!r})\n"
        f"with tracking.start_run(params, run_name='data', root=Path({str(tmp_path)!r})) as r:\n"
        "    pass\n"
        "print(json.dumps([r.info.run_id, 'torch' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    run_id, torch_loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert torch_loaded is False
    tags, artifact = _environment_of(store, run_id)
    assert tags == artifact and "vidlab.env.python" in tags
    assert "vidlab.env.gpu" not in tags and "vidlab.env.torch_threads" not in tags
