"""The environment table every MLflow run and the card record: complete, strings only, never
raising, nothing identifying, and no torch import unless asked for the GPU."""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vidlab import __version__
from vidlab.tracking import environment as env_mod  # the module, not a same-named function

PACKAGES = ("torch", "torchvision", "lightning", "decord", "av", "dvc", "mlflow")


def test_the_table_holds_every_component_as_strings(tmp_path: Path) -> None:
    import av

    table = env_mod.environment(root=tmp_path)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in table.items())
    assert list(table)[:2] == ["python", "vidlab"]
    assert table["python"] == platform.python_version() and table["vidlab"] == __version__
    for key in PACKAGES:
        assert table[key] == env_mod.package_version(*env_mod.PACKAGES[key])
    assert table["av"] == importlib.metadata.version("av")
    assert table["mlflow"] == importlib.metadata.version("mlflow")
    for library, version in av.library_versions.items():
        assert table[f"ffmpeg.{library}"] == ".".join(map(str, version))
    assert list(table).index("ffmpeg.libavcodec") == list(table).index("av") + 1
    assert table["uv_lock"] == "absent"  # no uv.lock in tmp_path
    assert table["cpu"] not in ("", "unknown")
    assert table["cpu_count"] == str(os.cpu_count())
    assert 1 <= int(table["cpu_usable"]) <= os.cpu_count()
    assert table["os"] == platform.platform(terse=True)
    assert "gpu" not in table  # only asked for with gpu=True


def test_the_lock_hash_is_the_uv_lock_sha256(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_bytes(b"version = 1\n")
    digest = hashlib.sha256(b"version = 1\n").hexdigest()[:16]
    assert env_mod.environment(root=tmp_path)["uv_lock"] == f"sha256:{digest}"
    assert env_mod.lock_hash(tmp_path / "elsewhere") == "absent"


def test_thread_variables_are_listed_only_when_set(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    table = env_mod.environment(root=tmp_path)
    assert "omp_num_threads" not in table and table["mkl_num_threads"] == "3"


def test_no_torch_import_without_gpu() -> None:
    code = ("import json, sys\nfrom vidlab.tracking.environment import environment\n"
            "table = environment()\n"
            "print(json.dumps([sorted({'torch', 'mlflow', 'great_expectations', 'ray'}"
            " & set(sys.modules)), 'torch_threads' in table, 'gpu' in table]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[], False, False]


def test_gpu_reports_cuda_and_cudnn_where_present(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    table = env_mod.environment(gpu=True, root=tmp_path)
    assert table["torch_threads"] == str(torch.get_num_threads())
    if torch.cuda.is_available():
        assert torch.cuda.get_device_name(0) in table["gpu"]
        assert table["cuda"] == torch.version.cuda
        assert table["cudnn"] == env_mod.cudnn_version(torch.backends.cudnn.version())
    else:
        assert table["gpu"] == "none" and "cuda" not in table and "cudnn" not in table


@pytest.mark.parametrize("number, version", [(90100, "9.1.0"), (8902, "8.9.2"),
                                             (90501, "9.5.1"), (None, "none")])
def test_cudnn_numbers_read_as_versions(number: int | None, version: str) -> None:
    assert env_mod.cudnn_version(number) == version


def test_a_failing_probe_reads_unknown_never_raises(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("probe failed")

    monkeypatch.setattr(env_mod, "package_version", broken)
    monkeypatch.setattr(env_mod, "cpu_model", broken)
    monkeypatch.setattr(env_mod, "lock_hash", broken)
    monkeypatch.setattr(env_mod, "_gpu", broken)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now fails
    table = env_mod.environment(gpu=True, root=tmp_path)
    for key in (*PACKAGES, "cpu", "uv_lock", "ffmpeg", "gpu"):
        assert table[key] == "unknown", key
    assert not any(key.startswith("ffmpeg.") for key in table)
    assert env_mod.decoder_description("pyav") == "PyAV unknown (FFmpeg libavcodec unknown)"


def test_nothing_identifying_in_the_values(tmp_path: Path) -> None:
    table = env_mod.environment(gpu=True, root=tmp_path)
    values = " ".join(table.values())
    for secret in {socket.gethostname(), getpass.getuser(), str(Path.home()), str(tmp_path),
                   str(Path.cwd())}:
        if len(secret) >= 4:  # a one- or three-letter name could match any version string
            assert secret not in values, secret
    versions = [v for k, v in table.items() if k not in ("cpu", "gpu")]  # hardware names
    assert not [v for v in versions if "/" in v or "\\" in v]  # no path of any kind


def test_decoder_description_names_the_decoder_and_its_version() -> None:
    import av

    codec = ".".join(map(str, av.library_versions["libavcodec"]))
    assert env_mod.decoder_description("pyav") == (
        f"PyAV {importlib.metadata.version('av')} (FFmpeg libavcodec {codec})")
    assert env_mod.decoder_description("decord") == (
        f"decord {env_mod.package_version('decord')}")
