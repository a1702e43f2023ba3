"""Run a function on many items, each in its own worker process with a timeout.

Video decoders can hang or crash in native code (decord loops forever on a container that
over-reports frames; a corrupt stream can segfault FFmpeg). A process pool cannot kill one stuck
task, and one crash breaks the whole pool. Here every item gets a fresh forked process: a hang is
killed at the timeout, a crash ends only that process, and the run goes on.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
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
class _Running:
    index: int
    process: multiprocessing.Process
    conn: Connection
    started: float


def _child(func: Callable[[Any], Any], item: Any, conn: Connection) -> None:
    try:
        conn.send(("ok", func(item), ""))
    except Exception as exc:  # reported to the parent, which decides what it means
        conn.send(("error", None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
    finally:
        conn.close()


def run_isolated(func: Callable[[Any], Any], items: Sequence[Any], *, workers: int,
                 timeout_s: float) -> Iterator[Outcome]:
    """Yield one Outcome per item, in completion order.

    Args:
        func: a picklable function of one item (runs in the child process).
        items: the inputs.
        workers: processes at a time (at least 1).
        timeout_s: wall-clock limit per item; the process is killed when it is exceeded.
    """
    ctx = multiprocessing.get_context("fork")
    pending = list(enumerate(items))[::-1]
    running: list[_Running] = []
    while pending or running:
        while pending and len(running) < max(1, workers):
            index, item = pending.pop()
            parent, child = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_child, args=(func, item, child), daemon=True)
            process.start()
            child.close()
            running.append(_Running(index, process, parent, time.monotonic()))
        wait([r.conn for r in running] + [r.process.sentinel for r in running], timeout=_POLL_S)
        still = []
        for task in running:
            outcome = _check(task, timeout_s)
            if outcome is None:
                still.append(task)
            else:
                task.conn.close()
                yield outcome
        running = still


def _check(task: _Running, timeout_s: float) -> Outcome | None:
    """The task's outcome if it has one now (result, crash or overrun), else None."""
    alive = task.process.is_alive()  # before polling: a result sent before exit is then seen
    if task.conn.poll():
        try:
            status, value, detail = task.conn.recv()
        except EOFError:  # the pipe closed with no result: the worker died
            task.process.join()
            return Outcome(task.index, "crash", None,
                           f"the worker died (exit code {task.process.exitcode})")
        task.process.join()
        return Outcome(task.index, status, value, detail)
    if not alive:
        task.process.join()
        code = task.process.exitcode
        return Outcome(task.index, "crash", None, f"the worker died (exit code {code})")
    if time.monotonic() - task.started > timeout_s:
        task.process.kill()
        task.process.join()
        return Outcome(task.index, "timeout", None, f"no result within {timeout_s:g} s")
    return None
