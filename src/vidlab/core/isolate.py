"""Run a function on many items in worker processes, with a timeout per item.

Video decoders can hang or crash in native code (decord loops forever on a container that
over-reports frames; a corrupt stream can segfault FFmpeg). A standard process pool cannot kill
one stuck task, and one crash breaks the whole pool. Here the parent tracks which item each
worker holds: a worker that overruns the timeout is killed, one that dies is reported, only that
item is marked, and a fresh worker takes its place. Workers are reused between items, because a
fork per file cost more than probing a short video.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

_POLL_S = 0.05


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: ``status`` is ok, error, timeout or crash."""

    index: int
    status: str
    value: Any = None
    detail: str = ""


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: Connection
    index: int | None = None
    started: float = 0.0


def _serve(func: Callable[[Any], Any], conn: Connection) -> None:
    while (message := conn.recv()) is not None:
        index, item = message
        try:
            conn.send((index, "ok", func(item), ""))
        except Exception as exc:  # reported to the parent, which decides what it means
            conn.send((index, "error", None, error_detail(exc)))


def error_detail(exc: Exception) -> str:
    """What an item's "error" outcome says: the exception, then a short traceback."""
    return f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def _spawn(ctx, func: Callable[[Any], Any]) -> _Worker:
    parent, child = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_serve, args=(func, child), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def time_limits(timeout_s: float | Sequence[float], count: int) -> list[float]:
    """One wall-clock limit per item: ``timeout_s`` for each, or its own entry for each."""
    if isinstance(timeout_s, int | float):
        return [float(timeout_s)] * count
    limits = [float(t) for t in timeout_s]
    if len(limits) != count:
        raise ValueError(f"{len(limits)} time limits for {count} items: give one per item")
    return limits


def run_isolated(func: Callable[[Any], Any], items: Sequence[Any], *, workers: int,
                 timeout_s: float | Sequence[float]) -> Iterator[Outcome]:
    """Yield one Outcome per item, in completion order.

    Args:
        func: a function of one item (runs in a forked worker process).
        items: the inputs.
        workers: processes at a time (at least 1).
        timeout_s: wall-clock limit per item, one for all or one per item (in the order of
            ``items``); a worker exceeding its item's limit is killed and replaced.
    """
    limits = time_limits(timeout_s, len(items))
    return _run(func, items, workers, limits)


def _run(func: Callable[[Any], Any], items: Sequence[Any], workers: int,
         limits: list[float]) -> Iterator[Outcome]:
    ctx = multiprocessing.get_context("fork")
    pending = deque(enumerate(items))
    pool = [_spawn(ctx, func) for _ in range(min(max(1, workers), len(items)))]
    try:
        while True:
            for worker in pool:
                if worker.index is None and pending:
                    worker.index, item = pending.popleft()
                    worker.started = time.monotonic()
                    worker.conn.send((worker.index, item))
            busy = [w for w in pool if w.index is not None]
            if not busy:
                return
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=_POLL_S)
            for worker in busy:
                outcome = _check(worker, limits[worker.index])
                if outcome is None:
                    continue
                yield outcome
                worker.index = None
                if outcome.status in ("crash", "timeout"):
                    pool[pool.index(worker)] = _spawn(ctx, func)
    finally:
        _shutdown(pool)


def _check(worker: _Worker, timeout_s: float) -> Outcome | None:
    """The worker's outcome for its item if there is one now, else None."""
    alive = worker.process.is_alive()  # before polling: a result sent before exit is then seen
    if worker.conn.poll():
        try:
            index, status, value, detail = worker.conn.recv()
            return Outcome(index, status, value, detail)
        except EOFError:  # the pipe closed with no result: the worker died
            alive = False
            worker.process.join()
    if not alive:
        worker.process.join()
        code = worker.process.exitcode
        return Outcome(worker.index, "crash", None, f"the worker died (exit code {code})")
    if time.monotonic() - worker.started > timeout_s:
        worker.process.kill()
        worker.process.join()
        return Outcome(worker.index, "timeout", None, f"no result within {timeout_s:g} s")
    return None


def _shutdown(pool: list[_Worker]) -> None:
    for worker in pool:
        try:
            if worker.process.is_alive() and worker.index is None:
                worker.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
    for worker in pool:
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
