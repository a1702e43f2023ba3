"""Run a per-file function on many items: in worker processes on this machine (engine "local",
``isolate.run_isolated``) or as Ray tasks, on this machine or a cluster (engine "ray"). Both
yield the same ``Outcome`` per item (ok, error, timeout or crash, in completion order), with the
same values, so a caller that processes outcomes by index writes the same bytes.

The Ray engine runs one task per item (one CPU each, never retried) around the same function,
which must be importable on every node (a module-level function of an installed package):

* an exception in the function is caught inside the task and reported as "error" (Ray logs no
  traceback, which could name a private file); the task's stdout and stderr go to /dev/null
  while the function runs, because Ray keeps a worker's output in its log files and decoders
  print the names of the files they fail on;
* a task past its item's time limit is cancelled with ``force=True``, which kills its worker
  process: "timeout";
* a worker that dies (abort, exit, segfault, killed for memory) gives "crash".

Time limits. A task reports when it starts on its worker (it is a streaming task: first an empty
report, then the result), and its item's clock starts then, as in the local engine when a worker
takes the item: time queued for a CPU, for Ray to start a worker process (a second or more, and
again after a worker was killed) or to import the function's module does not count. At most as
many tasks are in flight as the cluster has CPUs (or ``workers``, if fewer), so items start in
order and stopping early cancels few. Ray Client ("ray://host:port") runs no streaming tasks:
there an item's clock starts when its task is submitted under that cap, so it includes starting
a worker and any wait for CPUs that other jobs on the cluster hold.

Where Ray runs (``address``): None starts a private Ray on this machine for the call and stops
it at the end. It listens on 127.0.0.1 only, has no dashboard, sends no usage statistics, is
protected by a fresh random token (in the environment of its processes, never in a file), and
keeps its session files (logs, sockets, spilled objects) in a new folder in the temp folder
(/tmp if $TMPDIR is too long for Ray's socket paths), deleted at the end. "auto", "host:port"
or "ray://host:port" joins a running cluster (``ray start --head``) and only disconnects at the
end. A process already connected to Ray keeps using that connection. Ray is imported only
here, when the engine is "ray".
"""

from __future__ import annotations

import logging
import os
import pickle
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from vidlab.core.errors import ParamsError, VidlabError
from vidlab.core.isolate import Outcome, error_detail, run_isolated, time_limits

ENGINES = ("local", "ray")
LOOPBACK = "127.0.0.1"
# A Ray session keeps unix sockets at <root>/vidlab-ray-XXXXXXXX/session_<date>_<pid>/sockets/
# plasma_store: 85 characters past the root, and such a path may have at most 107.
_SOCKET_ROOM = 107 - 85
_CONNECT_TIMEOUT_S = 5.0
# a task that has not reported its start this long after submission (under the CPU cap, so
# it had a CPU) is given up as a timeout rather than waited for without end
START_TIMEOUT_S = 120.0


def run_tasks(func: Callable[[Any], Any], items: Sequence[Any], *, workers: int,
              timeout_s: float | Sequence[float], engine: str = "local",
              address: str | None = None) -> Iterator[Outcome]:
    """Yield one Outcome per item, in completion order.

    Args:
        func: a function of one item; for Ray, a module-level function of an importable
            module, whose items and results pickle.
        items: the inputs.
        workers: items at a time. Ray: at most the cluster's CPUs; 0 or less means all of them.
        timeout_s: wall-clock limit per item, one for all or one per item (in order of items).
        engine: "local" (worker processes here) or "ray".
        address: Ray only: None for a private Ray on this machine, else the cluster's address
            ("auto", "host:port" or "ray://host:port").

    Raises (Ray, on iteration):
        ParamsError: Ray cannot be reached at ``address``.
        VidlabError: Ray's workers cannot load ``func`` (vidlab is not installed there).
    """
    if engine == "local":
        return run_isolated(func, items, workers=workers, timeout_s=timeout_s)
    if engine != "ray":
        raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    return _run_ray(func, items, workers, time_limits(timeout_s, len(items)), address)


def _run_ray(func: Callable[[Any], Any], items: Sequence[Any], workers: int,
             limits: list[float], address: str | None) -> Iterator[Outcome]:
    if not items:
        return
    with _ray_session(address, workers) as ray:
        # a task first reports that it started, then its result; Ray Client runs no such
        # (streaming) tasks: there an item's clock starts when its task is submitted
        reports = not _ray_client(ray)
        options = {"num_cpus": 1, "max_retries": 0, "retry_exceptions": False}
        if reports:
            task = ray.remote(_reporting).options(num_returns="streaming", **options)
        else:
            task = ray.remote(_call).options(**options)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        in_flight = min(workers if workers > 0 else cpus, cpus)
        pending = deque(enumerate(items))
        # task -> [item index, deadline (None until it starts), latest start]
        running: dict[Any, list] = {}
        try:
            while pending or running:
                while pending and len(running) < in_flight:
                    index, item = pending.popleft()
                    submitted = time.monotonic()
                    running[task.remote(func, item, os.getcwd())] = [
                        index, None if reports else submitted + limits[index],
                        submitted + START_TIMEOUT_S]
                # never wait without a bound: a task that never reports its start (a node
                # lost, a worker that cannot start) must not hang the stage
                deadlines = [d if d is not None else start for _, d, start in running.values()]
                tasks = list(running)
                ready, _ = ray.wait(tasks, num_returns=1,
                                    timeout=max(0.0, min(deadlines) - time.monotonic()))
                if ready:
                    ready, _ = ray.wait(tasks, num_returns=len(tasks), timeout=0)
                for ref in ready:
                    entry = running[ref]
                    outcome = _receive(ray, ref, entry[0], reports)
                    if outcome is None:  # it started now
                        entry[1] = time.monotonic() + limits[entry[0]]
                    else:
                        del running[ref]
                        yield outcome
                now = time.monotonic()
                for ref, (index, deadline, start) in list(running.items()):
                    if deadline is None and now >= start:
                        ray.cancel(ref, force=True)
                        del running[ref]
                        yield Outcome(index, "timeout", None,
                                      f"its task did not start within {START_TIMEOUT_S:g} s")
                    elif deadline is not None and now >= deadline:
                        ray.cancel(ref, force=True)  # kills the worker process
                        del running[ref]
                        yield Outcome(index, "timeout", None,
                                      f"no result within {limits[index]:g} s")
        finally:  # stopped early (an error, or the caller stopped iterating): leave nothing running
            for ref in running:
                ray.cancel(ref, force=True)


def _ray_client(ray: Any) -> bool:
    try:
        from ray.util.client import ray as client
    except ImportError:
        return False
    return bool(client.is_connected())


def _reporting(func: Callable[[Any], Any], item: Any, cwd: str) -> Iterator[bytes | None]:
    """The Ray task (streaming): None when it starts, then what ``_call`` returns."""
    yield None
    yield _call(func, item, cwd)


def _call(func: Callable[[Any], Any], item: Any, cwd: str | None = None) -> bytes:
    """``func(item)`` as (status, value, detail), pickled here as the local engine's workers
    send it, so the driver unpickles the very objects the local engine gives (writable arrays,
    not views of Ray's shared memory)."""
    # in the driver's working directory, as the local workers are: stages pass paths relative
    # to the project (the manifest keeps them so), and every node sees the project at one path
    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    with _silenced():
        try:
            return pickle.dumps(("ok", func(item), ""), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # reported, not raised: Ray would log the traceback
            return pickle.dumps(("error", None, error_detail(exc)))


@contextmanager
def _silenced() -> Iterator[None]:
    """Send this process's stdout and stderr (the file descriptors, so native libraries' output
    too) to /dev/null, then restore them."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _receive(ray: Any, task: Any, index: int, reports: bool) -> Outcome | None:
    """The task's next report: None if it says it started, else the item's Outcome."""
    errors = ray.exceptions
    try:
        data = ray.get(next(task) if reports else task)
    except StopIteration:
        return Outcome(index, "crash", None, "the task ended without a result")
    except errors.RaySystemError as exc:  # the worker could not load the function or item
        raise VidlabError(
            f"Ray workers cannot load vidlab's task ({_cause(exc)}). Every node of the Ray "
            "cluster needs the same Python environment as this machine, with vidlab (and "
            "the project's code) installed.") from None
    except errors.RayError as exc:  # no result: the worker (or its node) died
        return Outcome(index, "crash", None, f"the worker died ({type(exc).__name__})")
    if data is None:
        return None
    status, value, detail = pickle.loads(data)
    return Outcome(index, status, value, detail)


def _cause(exc: BaseException) -> str:
    """The underlying error of a Ray error, on one line."""
    inner = getattr(exc, "cause", None) or exc
    if inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    lines = str(inner).strip().splitlines()
    text = f"{type(inner).__name__}: {lines[0]}" if lines else type(inner).__name__
    return text if len(text) <= 200 else text[:197] + "..."


@contextmanager
def _ray_session(address: str | None, workers: int) -> Iterator[Any]:
    """Ray, connected for the duration: the existing connection, a private instance or the
    cluster at ``address``."""
    import ray

    if ray.is_initialized():
        yield ray
    elif address in (None, "", "local"):
        with _private_ray(ray, workers if workers > 0 else (os.cpu_count() or 1)):
            yield ray
    else:
        _connect(ray, address)
        try:
            yield ray
        finally:
            ray.shutdown()  # disconnects; the cluster keeps running


@contextmanager
def _private_ray(ray: Any, cpus: int) -> Iterator[None]:
    temp = tempfile.mkdtemp(prefix="vidlab-ray-", dir=_temp_root())
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    saved = {name: os.environ.get(name) for name in (*env, "RAY_AUTH_TOKEN_PATH")}
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.update(env)  # inherited by the Ray processes started now
    try:
        _reset_auth()
        with _single_machine():
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     _node_ip_address=LOOPBACK, _temp_dir=temp, log_to_driver=False,
                     logging_level=logging.WARNING)
        yield
    finally:
        if ray.is_initialized():
            ray.shutdown()  # stops the processes this call started
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_auth()
        _discard(temp)


@contextmanager
def _ray_constants(**values: Any) -> Iterator[None]:
    """Ray's module-level settings ``values`` while Ray starts or connects, then as before (a
    Ray without them: its defaults)."""
    try:
        from ray._private import ray_constants
    except ImportError:  # another Ray layout
        yield
        return
    before = {name: getattr(ray_constants, name, _UNSET) for name in values}
    for name, value in values.items():
        setattr(ray_constants, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is _UNSET:
                delattr(ray_constants, name)
            else:
                setattr(ray_constants, name, value)


_UNSET = object()
# Ray's "uv run" hook: a driver started by `uv run` (as `make test` and `uv run vidlab ...`
# start it) would have every worker re-create the environment with `uv run` and upload the
# working directory, the whole project with its data, to the cluster. vidlab's workers use the
# environment already installed on each node and read the project where the driver does.
_NO_UV_HOOK = {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": False}


def _single_machine() -> Any:
    """While a private Ray starts: its node IP is 127.0.0.1, to which Ray then binds its
    servers. Ray replaces a loopback node IP by the machine's outward address, except where it
    supports one machine only (macOS, Windows); this instance is one machine, so it says so."""
    return _ray_constants(ENABLE_RAY_CLUSTER=False, **_NO_UV_HOOK)


def _reset_auth() -> None:
    """Make Ray read its token settings from the environment again (it caches them)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without token authentication
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _temp_root() -> str:
    root = tempfile.gettempdir()
    return root if len(root) <= _SOCKET_ROOM or not os.path.isdir("/tmp") else "/tmp"


def _discard(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _connect(ray: Any, address: str) -> None:
    problem = _unreachable(address)
    if problem is None:
        _reset_auth()
        try:
            with _ray_constants(**_NO_UV_HOOK):
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            return
        # SystemExit: Ray ends the process when no Ray answers on an open port for minutes
        except (Exception, SystemExit) as exc:
            problem = _cause(exc)
    where = "on this machine" if address == "auto" else f"at {address!r}"
    raise ParamsError(
        f"cannot reach Ray {where} (engine.address): {problem}. A Ray head must be running "
        "there: start it with `ray start --head` on that machine (and `ray start "
        "--address=<head>:<port>` on each other node), or set engine.address to null for a "
        "private Ray on this machine.")


def _unreachable(address: str) -> str | None:
    """Why nothing answers at ``address`` (a quick TCP check: Ray itself retries for minutes),
    or None if something does (or the address is "auto", which Ray resolves itself)."""
    if address == "auto":
        return None
    bare = address.removeprefix("ray://")
    host, _, port = bare.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        return "not 'auto', 'host:port' or 'ray://host:port'"
    hosts = [host]
    if bare == address:  # Ray dials a loopback head at the machine's outward address
        try:
            from ray._private.services import canonicalize_bootstrap_address

            hosts.append((canonicalize_bootstrap_address(bare) or bare).rpartition(":")[0])
        except Exception:  # another Ray layout: the address as given
            pass
    error: OSError | None = None
    for name in dict.fromkeys(h.strip("[]") for h in hosts):
        try:
            with socket.create_connection((name, int(port)), timeout=_CONNECT_TIMEOUT_S):
                return None
        except OSError as exc:
            error = exc
    return f"nothing answers on port {port} ({error.strerror or error})" if error else None
