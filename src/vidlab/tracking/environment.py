"""The environment that made a run or a card: package versions, FFmpeg, the lock, CPU and GPU.

:func:`environment` returns one flat, ordered table of strings; every MLflow run records it (tags
``vidlab.env.<key>`` and the artifact ``environment.json``, see :mod:`~vidlab.tracking.runs`) and
the dataset card shows it. :func:`decoder_description` names the decoder that built the clips
cache, as the clips summary records it.

Privacy: the values are versions, hashes, counts and hardware models only, never a file name,
path, user name or host name, so the table can go wherever the card goes.

Nothing heavy is imported here at import time: package versions come from their installed
metadata (``importlib.metadata``), PyAV is imported only for its FFmpeg versions, and torch only
for ``gpu=True`` or when the caller has already imported it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import platform
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from vidlab.core.paths import project_root
from vidlab.core.version import VERSION

log = logging.getLogger(__name__)

TAG_ENV = "vidlab.env."  # prefix of a run's environment tags, one per key of the table
ENVIRONMENT_ARTIFACT = "environment.json"  # the table as a run's artifact
UNKNOWN, NOT_INSTALLED = "unknown", "not installed"
# key in the table -> the distributions that may provide it, first installed wins
PACKAGES = {
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "lightning": ("lightning", "pytorch-lightning"),
    "decord": ("decord",),
    "av": ("av",),
    "dvc": ("dvc",),
    "mlflow": ("mlflow", "mlflow-skinny"),
}
# FFmpeg's libraries in the order people read them; any other PyAV reports follows, sorted
FFMPEG_LIBRARIES = ("libavcodec", "libavformat", "libavutil", "libavfilter", "libavdevice",
                    "libswscale", "libswresample")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _guarded(probe: Callable[[], str]) -> str:
    """``probe()``, or "unknown" when it fails in any way (the table must never raise)."""
    try:
        value = probe()
    except Exception as exc:  # provenance is best effort, never a failure
        log.debug("environment probe %s failed: %s", getattr(probe, "__name__", probe), exc)
        return UNKNOWN
    return str(value).strip() or UNKNOWN


def package_version(*names: str) -> str:
    """The installed version of the first of ``names`` that is installed, else "not installed"."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return NOT_INSTALLED


def ffmpeg_versions() -> dict[str, str]:
    """FFmpeg's library versions as PyAV was built against them (``libavcodec`` -> "61.3.100")."""
    import av

    found = {name: ".".join(str(part) for part in version)
             for name, version in av.library_versions.items()}
    order = [n for n in FFMPEG_LIBRARIES if n in found] + sorted(set(found) - {*FFMPEG_LIBRARIES})
    return {name: found[name] for name in order}


def _ffmpeg() -> dict[str, str]:
    """``ffmpeg.<library>`` -> version, or ``ffmpeg: unknown`` where PyAV cannot say."""
    try:
        return {f"ffmpeg.{name}": version for name, version in ffmpeg_versions().items()}
    except Exception as exc:  # PyAV missing or broken: say so, don't fail
        log.debug("FFmpeg versions unavailable: %s", exc)
        return {"ffmpeg": UNKNOWN}


def lock_hash(root: Path | None = None) -> str:
    """``sha256:<16 hex>`` of the project's ``uv.lock``, or "absent" without one."""
    lock = (Path(root) if root is not None else project_root()) / "uv.lock"
    if not lock.is_file():
        return "absent"
    return "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()[:16]


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; macOS: sysctl), else the platform's word."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return " ".join(value.split())
    if sys.platform == "darwin":
        done = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                              text=True, timeout=2, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return platform.processor() or platform.machine()


def usable_cores() -> str:
    """Cores this process may run on (its affinity), or the CPU count where that is unknown."""
    if hasattr(os, "sched_getaffinity"):
        return str(len(os.sched_getaffinity(0)))
    return str(os.cpu_count())


def cudnn_version(number: int | None) -> str:
    """torch's cuDNN number as a version: 90100 -> "9.1.0", 8902 -> "8.9.2"."""
    if not number:
        return "none"
    if number >= 10000:  # cuDNN 9 and later: major * 10000 + minor * 100 + patch
        return f"{number // 10000}.{number % 10000 // 100}.{number % 100}"
    return f"{number // 1000}.{number % 1000 // 100}.{number % 100}"


def _gpu() -> dict[str, str]:
    """GPU model(s), CUDA and cuDNN as torch sees them; imports torch."""
    try:
        import torch
    except ImportError:
        return {"gpu": UNKNOWN}
    if not torch.cuda.is_available():
        return {"gpu": "none"}
    names = Counter(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return {"gpu": ", ".join(name if n == 1 else f"{n}x {name}" for name, n in names.items()),
            "cuda": _guarded(lambda: torch.version.cuda or "none"),
            "cudnn": _guarded(lambda: cudnn_version(torch.backends.cudnn.version()))}


def environment(*, gpu: bool = False, root: Path | None = None) -> dict[str, str]:
    """The environment table: ordered, flat, every value a string; it never raises.

    Args:
        gpu: also report GPU model(s), CUDA and cuDNN (imports torch; ``gpu: none`` without a
            CUDA device).
        root: the project root holding ``uv.lock``; defaults to
            :func:`vidlab.core.paths.project_root`.

    Returns:
        Key to value, e.g. ``python`` -> "3.11.7", ``ffmpeg.libavcodec`` -> "61.3.100",
        ``uv_lock`` -> "sha256:0123456789abcdef". A probe that fails reads "unknown".
    """
    table = {"python": platform.python_version(), "vidlab": VERSION}
    for key, names in PACKAGES.items():
        table[key] = _guarded(lambda names=names: package_version(*names))
        if key == "av":  # PyAV's FFmpeg next to PyAV
            table.update(_ffmpeg())
    table["uv_lock"] = _guarded(lambda: lock_hash(root))
    table["os"] = _guarded(lambda: platform.platform(terse=True))
    table["cpu"] = _guarded(cpu_model)
    table["cpu_count"] = _guarded(lambda: str(os.cpu_count()))
    table["cpu_usable"] = _guarded(usable_cores)
    for variable in THREAD_VARIABLES:
        if os.environ.get(variable):
            table[variable.lower()] = os.environ[variable].strip()
    if gpu:
        try:
            table.update(_gpu())
        except Exception as exc:  # a broken CUDA setup must not stop a run
            log.debug("GPU probe failed: %s", exc)
            table["gpu"] = UNKNOWN
    if "torch" in sys.modules:  # never imported for this alone
        table["torch_threads"] = _guarded(lambda: str(sys.modules["torch"].get_num_threads()))
    return table


def run_environment(root: Path | None = None) -> dict[str, str]:
    """The table an MLflow run records: with GPU, CUDA and cuDNN when the process has imported
    torch (training, evaluation), without importing it otherwise."""
    return environment(gpu="torch" in sys.modules, root=root)


def environment_tags(table: dict[str, str]) -> dict[str, str]:
    """The table as MLflow tags, ``vidlab.env.<key>`` (tag values are strings already)."""
    return {f"{TAG_ENV}{key}": value for key, value in table.items()}


def decoder_description(backend: str) -> str:
    """The decoder behind a clips backend, with versions: "decord 0.6.0" or
    "PyAV 14.2.0 (FFmpeg libavcodec 61.3.100)". Deterministic on one install."""
    if backend == "decord":
        return f"decord {_guarded(lambda: package_version('decord'))}"
    if backend == "pyav":
        codec = _guarded(lambda: ffmpeg_versions()["libavcodec"])
        return f"PyAV {_guarded(lambda: package_version('av'))} (FFmpeg libavcodec {codec})"
    return backend
