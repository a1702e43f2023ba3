"""Worker isolation, for real: a worker that hangs is killed, one that dies is reported."""

from __future__ import annotations

import os
import time

from vidlab.core.isolate import run_isolated


def behave(item: str) -> str:
    if item == "hang":
        time.sleep(600)
    if item == "crash":
        os.abort()  # SIGABRT, like a segfaulting decoder: no Python cleanup, no result
    if item == "exit":
        os._exit(3)
    if item == "raise":
        raise ValueError("bad data")
    return item.upper()


def test_hang_and_crash_affect_only_their_item() -> None:
    items = ["a", "hang", "b", "crash", "exit", "raise", "c"]
    outcomes = {o.index: o for o in run_isolated(behave, items, workers=2, timeout_s=1.5)}
    assert [outcomes[i].status for i in range(len(items))] == [
        "ok", "timeout", "ok", "crash", "crash", "error", "ok"]
    assert [outcomes[i].value for i in (0, 2, 6)] == ["A", "B", "C"]
    assert "exit code -6" in outcomes[3].detail
    assert "exit code 3" in outcomes[4].detail
    assert "ValueError: bad data" in outcomes[5].detail


def test_one_worker_runs_in_order_and_leaves_no_process() -> None:
    import multiprocessing

    outcomes = list(run_isolated(behave, ["x", "y", "z"], workers=1, timeout_s=30))
    assert [o.value for o in outcomes] == ["X", "Y", "Z"]
    assert not multiprocessing.active_children()
