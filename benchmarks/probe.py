"""Benchmark: manifest rows/s (1 vs all workers) against a naive serial decord loop; and the
validation time of the three suites on a 100k-row synthetic manifest.

Contenders run alternately in one process and are reported as ratios (shared, noisy machines).
Writes reports/bench/probe.json.

    uv run python benchmarks/probe.py [--repeats 3] [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from vidlab import params as params_mod
from vidlab.demo import generate
from vidlab.fsutil import atomic_write_text
from vidlab.quality.manifest import limits_of
from vidlab.quality.probe import probe_all

ROOT = Path(__file__).resolve().parents[1]


def naive_decord(paths: list[Path]) -> int:
    """What people write first: open each file with decord and read every frame, serially."""
    import decord

    frames = 0
    for path in paths:
        try:
            reader = decord.VideoReader(str(path))
            frames += len(reader.get_batch(list(range(len(reader)))))
        except Exception:  # broken files: counted as done, as a naive loop would skip them
            continue
    return frames


def probing(paths: list[Path], repeats: int) -> dict:
    params = params_mod.load(ROOT / "params.yaml")
    limits, timeout = limits_of(params), params.probe.timeout_s
    contenders = {
        "naive_decord_serial": lambda: naive_decord(paths),
        "vidlab_1_worker": lambda: probe_all(paths, limits, workers=1, timeout_s=timeout),
        "vidlab_all_workers": lambda: probe_all(paths, limits, workers=os.cpu_count() or 1,
                                                timeout_s=timeout),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, func in contenders.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    rows_per_s = {name: len(paths) / t for name, t in median.items()}
    return {
        "videos": len(paths), "cores": os.cpu_count(), "rows_per_s": rows_per_s,
        "ratio_1_worker_over_naive": rows_per_s["vidlab_1_worker"]
        / rows_per_s["naive_decord_serial"],
        "ratio_all_workers_over_naive": rows_per_s["vidlab_all_workers"]
        / rows_per_s["naive_decord_serial"],
        "note": "vidlab also hashes each file, decodes fully, and isolates it in its own process",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "probe.json")
    args = parser.parse_args()
    params = params_mod.load(ROOT / "params.yaml")
    with tempfile.TemporaryDirectory(prefix="vidlab-bench-") as tmp:
        demo = Path(tmp) / "demo"
        generate.run(params.demo, seed=params.base.seed, out=demo)
        paths = sorted((demo / "videos").glob("*.mp4"))
        result = {"probe": probing(paths, args.repeats)}
    text = json.dumps(result, indent=2) + "\n"
    atomic_write_text(args.out, text)
    print(text, end="")
    p = result["probe"]
    print(f"probe: {p['rows_per_s']['vidlab_1_worker']:.1f} rows/s with 1 worker, "
          f"{p['rows_per_s']['vidlab_all_workers']:.1f} with {p['cores']}; naive serial decord "
          f"{p['rows_per_s']['naive_decord_serial']:.1f} "
          f"(ratios {p['ratio_1_worker_over_naive']:.2f}x, "
          f"{p['ratio_all_workers_over_naive']:.2f}x)")


if __name__ == "__main__":
    main()
