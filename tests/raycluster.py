"""A real Ray cluster on this machine, for tests: a head node and a worker node, each started by
the ``ray`` command line as on a real cluster, each with its own session folder.

The nodes take the loopback addresses 127.0.0.2 (head) and 127.0.0.3 (worker) on Linux, where
all of 127/8 is loopback, so no cluster address leaves this machine. (127.0.0.1 itself cannot
serve two nodes: Ray replaces a 127.0.0.1 node or head address by the machine's outward
address whenever multi-node clusters are enabled.) Ray (2.5x) binds a node's servers to all
interfaces unless its node IP is 127.0.0.1, so a fresh random token guards the cluster: it is
given to the nodes and, while the cluster runs, to this process in its environment, never
written to a file (Ray's default is ~/.ray/auth_token).

Stopping kills only the processes this cluster started (those naming its session folders and
their children), never other Ray instances on the machine as ``ray stop`` would.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINUX = sys.platform.startswith("linux")
HEAD_IP = "127.0.0.2" if LINUX else None
WORKER_IP = "127.0.0.3" if LINUX else None
START_TIMEOUT_S = 180
_AUTH = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def ray_executable() -> str | None:
    """The ``ray`` command of this Python environment, else one on PATH."""
    here = shutil.which("ray", path=str(Path(sys.executable).parent))
    return here or shutil.which("ray")


@contextmanager
def ray_cluster(num_workers_cpus: int = 1, temp_root: str | Path | None = None) -> Iterator[str]:
    """Start a head node (1 CPU) and a worker node (``num_workers_cpus`` CPUs) and yield the
    head's address ("host:port", for ``ray.init(address=...)``); stop both at the end.

    ``temp_root`` holds the nodes' session folders (default: a new folder under /tmp; Ray's
    socket paths must stay under 107 characters, so keep it short). Skips the test if the
    ``ray`` executable is missing; any failure to start is an error.
    """
    ray = ray_executable()
    if ray is None:
        pytest.skip("the `ray` executable is not installed")
    root = Path(tempfile.mkdtemp(prefix="vlray-", dir=temp_root or _short_tmp()))
    head_dir, worker_dir = root / "h", root / "w"
    head_dir.mkdir()
    worker_dir.mkdir()
    token = secrets.token_hex(32)
    env = {key: value for key, value in os.environ.items()
           if key not in (*_AUTH, "RAY_ADDRESS")}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token,
               # workers import the tests' module-level functions from this checkout
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    port = _free_port(HEAD_IP or "127.0.0.1")
    head = HEAD_IP or _outward_ip()
    try:
        _run(ray, ["start", "--head", f"--port={port}", "--num-cpus=1",
                   "--include-dashboard=false", *_ip_option(HEAD_IP), *_quiet(head_dir)], env)
        _run(ray, ["start", f"--address={head}:{port}", f"--num-cpus={num_workers_cpus}",
                   *_ip_option(WORKER_IP), *_quiet(worker_dir)], env)
        with _driver_token(token):
            yield f"{head}:{port}"
    finally:
        stop_processes([head_dir, worker_dir])
        shutil.rmtree(root, ignore_errors=True)


def _quiet(temp_dir: Path) -> list[str]:
    # no usage statistics, no log monitor (nothing here reads worker logs live)
    return ["--disable-usage-stats", "--include-log-monitor=false", f"--temp-dir={temp_dir}"]


def _ip_option(ip: str | None) -> list[str]:
    return [f"--node-ip-address={ip}"] if ip else []


def _short_tmp() -> str:
    return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()


def _outward_ip() -> str:
    from ray._raylet import node_ip_address_from_perspective

    return node_ip_address_from_perspective(None)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _run(ray: str, args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([ray, *args], env=env, capture_output=True, text=True,
                          timeout=START_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`ray {' '.join(args)}` failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")


@contextmanager
def _driver_token(token: str) -> Iterator[None]:
    """This process holds the cluster's token while it runs (Ray reads it when connecting)."""
    saved = {key: os.environ.pop(key, None) for key in _AUTH}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    _reset_ray_auth()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_ray_auth()


def _reset_ray_auth() -> None:
    """Make Ray read its token settings again (it caches them per process)."""
    if "ray" not in sys.modules:
        return
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def processes_of(folders: list[Path]) -> list:
    """The running processes whose command line names one of ``folders``, and their children
    (Ray's workers rename themselves "ray::IDLE" and the like)."""
    import psutil

    marks = [str(folder) for folder in folders]
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if any(mark in command for mark in marks):
            found[process.pid] = process
            try:
                found.update((child.pid, child) for child in process.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
    return list(found.values())


def stop_processes(folders: list[Path], grace_s: float = 3.0) -> None:
    """Stop the processes of these Ray session folders: SIGTERM, then SIGKILL after
    ``grace_s``."""
    import psutil

    for _ in range(2):  # again, for a worker started while the first round ran
        processes = processes_of(folders)
        if not processes:
            return
        for process in processes:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(processes, timeout=grace_s)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=grace_s)
