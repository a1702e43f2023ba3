"""The Ray engine, for real: a head and a worker node on this machine (tests/raycluster.py) and a
private Ray per call, against the local engine's outcomes. No mocks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.raycluster import processes_of, ray_cluster
from vidlab.core import engine as engine_mod
from vidlab.core.engine import run_tasks
from vidlab.core.errors import ParamsError

pytestmark = pytest.mark.slow

ITEMS = ["a", "hang", "b", "crash", "exit", "raise", "c"]
STATUSES = ["ok", "timeout", "ok", "crash", "crash", "error", "ok"]


def behave(item: str) -> str:
    """As in test_isolate; "hang@FILE" first writes its PID to FILE."""
    name, _, pid_file = item.partition("@")
    if name == "hang":
        if pid_file:
            Path(pid_file).write_text(str(os.getpid()))
        time.sleep(600)
    if name == "crash":
        os.abort()
    if name == "exit":
        os._exit(3)
    if name == "raise":
        raise ValueError("bad data")
    if name == "nap":
        time.sleep(2.5)
    return name.upper()


def where(item: int) -> tuple[str, int]:
    import ray

    time.sleep(0.3)
    return ray.get_runtime_context().get_node_id(), os.getpid()


def blab(item: str) -> int:
    """Says its item every way a per-file function might (a decoder naming a file)."""
    print(f"print {item}")
    print(f"stderr {item}", file=sys.stderr)
    os.write(2, f"native {item}\n".encode())
    if item.endswith("raise"):
        raise ValueError(f"cannot decode {item}")
    return len(item)


@pytest.fixture(scope="module")
def cluster():
    root = tempfile.mkdtemp(prefix="vlt-", dir="/tmp" if os.path.isdir("/tmp") else None)
    try:
        with ray_cluster(num_workers_cpus=1, temp_root=root) as address:
            yield address, Path(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _items(pid_file: Path) -> list[str]:
    return [f"hang@{pid_file}" if item == "hang" else item for item in ITEMS]


def _gone(pid: int, within_s: float = 15.0) -> bool:
    import psutil

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def _by_index(outcomes) -> dict:
    return {o.index: o for o in outcomes}


def test_cluster_gives_the_local_engines_outcomes(cluster, tmp_path: Path) -> None:
    address, _ = cluster
    local = _by_index(run_tasks(behave, _items(tmp_path / "local.pid"), workers=2,
                                timeout_s=3.0))
    remote = _by_index(run_tasks(behave, _items(tmp_path / "ray.pid"), workers=2,
                                 timeout_s=3.0, engine="ray", address=address))
    assert [remote[i].status for i in range(len(ITEMS))] == STATUSES
    assert [remote[i].status for i in range(len(ITEMS))] == [
        local[i].status for i in range(len(ITEMS))]
    assert [remote[i].value for i in range(len(ITEMS))] == [
        local[i].value for i in range(len(ITEMS))] == ["A", None, "B", None, None, None, "C"]
    assert remote[1].detail == local[1].detail == "no result within 3 s"
    assert remote[5].detail.startswith("ValueError: bad data\n")
    for crash in (remote[3], remote[4]):
        assert "worker died" in crash.detail and "\n" not in crash.detail
    assert _gone(int((tmp_path / "ray.pid").read_text())), "the hung worker is still alive"


def test_time_limits_per_item(cluster) -> None:
    address, _ = cluster
    outcomes = _by_index(run_tasks(behave, ["nap", "nap"], workers=2, timeout_s=[1.0, 20.0],
                                   engine="ray", address=address))
    assert [outcomes[0].status, outcomes[1].status] == ["timeout", "ok"]
    assert outcomes[0].detail == "no result within 1 s"
    assert outcomes[1].value == "NAP"


def test_work_spreads_over_both_nodes(cluster) -> None:
    address, _ = cluster
    outcomes = list(run_tasks(where, list(range(8)), workers=0, timeout_s=30, engine="ray",
                              address=address))
    assert sorted(o.index for o in outcomes) == list(range(8))
    assert {o.status for o in outcomes} == {"ok"}
    assert len({node for node, _ in (o.value for o in outcomes)}) == 2


def test_cluster_logs_keep_no_item(cluster) -> None:
    address, root = cluster
    marker = f"vidlab-marker-{uuid.uuid4().hex}"
    items = [f"/data/{marker}/ok.mp4", f"/data/{marker}/raise"]
    outcomes = _by_index(run_tasks(blab, items, workers=2, timeout_s=30, engine="ray",
                                   address=address))
    assert [outcomes[0].status, outcomes[1].status] == ["ok", "error"]
    assert marker in outcomes[1].detail  # the caller gets it; Ray's files must not
    assert list(root.rglob("worker-*.err"))  # where Ray keeps what its workers print
    assert not _files_naming(root, marker)


def test_private_ray_on_loopback_leaves_nothing(monkeypatch, tmp_path: Path) -> None:
    import psutil

    marker = f"vidlab-marker-{uuid.uuid4().hex}"
    kept: list[tuple[str, list[Path]]] = []
    discard = engine_mod._discard

    def inspect_then_discard(path: str) -> None:  # the session folder, just before deletion
        kept.append((path, _files_naming(Path(path), marker)))
        discard(path)

    monkeypatch.setattr(engine_mod, "_discard", inspect_then_discard)
    items = [f"/data/{marker}/raise", *(f"/data/{marker}/{n}.mp4" for n in range(3))]
    me = psutil.Process()
    token_before = _token_file()
    listening: list[tuple[str, int]] = []
    outcomes = {}
    for outcome in run_tasks(blab, items, workers=2, timeout_s=60, engine="ray"):
        if not listening:  # Ray is up: which TCP ports do this process and its children open?
            pids = {me.pid, *(child.pid for child in me.children(recursive=True))}
            listening = [(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
                         if c.status == psutil.CONN_LISTEN and c.pid in pids]
        outcomes[outcome.index] = outcome
    assert [outcomes[i].status for i in range(4)] == ["error", "ok", "ok", "ok"]
    assert listening and all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for ip, _ in listening), \
        listening
    (path, naming), = kept
    assert Path(path).name.startswith("vidlab-ray-") and not Path(path).exists()
    assert naming == []
    assert not processes_of([Path(path)])
    assert not me.children(recursive=True)
    assert _token_file() == token_before  # its token lived in the environment only


def test_unreachable_address_is_a_clear_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ParamsError, match=rf"127\.0\.0\.1:{port}.*ray start --head"):
        list(run_tasks(behave, ["a"], workers=1, timeout_s=5, engine="ray",
                       address=f"127.0.0.1:{port}"))
    assert time.monotonic() - started < 30


def test_one_time_limit_per_item_or_one_for_all() -> None:
    for engine in ("local", "ray"):  # checked before anything starts
        with pytest.raises(ValueError, match="2 time limits for 1 items"):
            run_tasks(behave, ["a"], workers=1, timeout_s=[1.0, 2.0], engine=engine)
    with pytest.raises(ValueError, match="not one of local, ray"):
        run_tasks(behave, ["a"], workers=1, timeout_s=1.0, engine="dask")


def test_cli_does_not_import_ray() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, vidlab.cli.main, vidlab.core.engine; "
         "print('ray' in sys.modules)"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def _files_naming(root: Path, marker: str) -> list[Path]:
    needle = marker.encode()
    return [p for p in root.rglob("*") if p.is_file() and not p.is_socket()
            and needle in p.read_bytes()]


def _token_file() -> tuple[int, int] | None:
    """Ray's default token file: (modification time, size), if there is one."""
    path = Path.home() / ".ray" / "auth_token"
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None
