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
import tempfile
import time
from pathlib import Path

from sidebyside import alternate, medians

from vidlab import config as params_mod
from vidlab.core.fsutil import atomic_write_text
from vidlab.media.probe import probe_all
from vidlab.stages.demo import stage as generate
from vidlab.stages.probe.stage import limits_of

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
    times = alternate(contenders, repeats)
    median = medians(times)
    rows_per_s = {name: len(paths) / t for name, t in median.items()}
    return {
        "videos": len(paths), "cores": os.cpu_count(), "rows_per_s": rows_per_s,
        "ratio_1_worker_over_naive": rows_per_s["vidlab_1_worker"]
        / rows_per_s["naive_decord_serial"],
        "ratio_all_workers_over_naive": rows_per_s["vidlab_all_workers"]
        / rows_per_s["naive_decord_serial"],
        "note": "vidlab also hashes each file, decodes fully, and isolates it in its own process",
    }


def synthetic(rows: int):
    """A clean 100k-row metadata table and manifest, shaped like the stage's inputs."""
    import numpy as np
    import pandas as pd

    from vidlab.data.schema import METADATA_COLUMNS
    from vidlab.media.probe import MANIFEST_COLUMNS

    rng = np.random.default_rng(0)
    ids = [f"{k:016x}" for k in range(rows)]
    age = rng.integers(0, 37, rows)
    meta = pd.DataFrame({c: [""] * rows for c in METADATA_COLUMNS})
    meta.update(pd.DataFrame({
        "video_id": ids, "filename": [i + ".mp4" for i in ids], "subject_id": ids,
        "child_age": age.astype(str), "milestone_id": [f"M_{a}M_001" for a in age],
        "milestone_age": age.astype(str), "domain": rng.choice(["motor", "language"], rows),
        "label": rng.choice(["achieved", "not_achieved"], rows)}))
    probed = pd.DataFrame({c: [None] * rows for c in MANIFEST_COLUMNS})
    probed.update(pd.DataFrame({
        "video_id": ids, "status": ["ok"] * rows, "duration_s": rng.uniform(1, 60, rows),
        "fps_avg": [15.0] * rows, "width": [128] * rows, "height": [96] * rows,
        "frames_declared": [45] * rows, "frames_decoded": [45] * rows, "codec": ["h264"] * rows}))
    return meta, probed


def pandas_checks(batches: dict, parameters: dict) -> bool:
    """The same row checks written directly in pandas: the floor for any validation tool."""
    meta, probed = batches["metadata"], batches["manifest"]
    return bool(meta["video_id"].notna().all() and meta["video_id"].is_unique
                and meta["child_age"].between(0, parameters["max_age"]).all()
                and meta["milestone_id"].str.match(r"^[A-Z0-9]+(?:_[A-Z0-9]+)+$").all()
                and meta["label"].isin(parameters["classes"]).all()
                and (probed["status"] == "ok").all()
                and probed["fps_avg"].between(parameters["min_fps"], parameters["max_fps"]).all()
                and probed["codec"].isin(parameters["allowed_codecs"]).all())


def validation(rows: int, repeats: int) -> dict:
    from vidlab.stages.validate import stage as validate

    params = params_mod.load(ROOT / "params.yaml")
    meta, probed = synthetic(rows)
    batches = validate.frames(meta, probed, params.base.classes)
    parameters = validate.expectation_parameters(params)
    times: dict[str, list[float]] = {"great_expectations_3_suites": [], "pandas_direct": []}
    with tempfile.TemporaryDirectory(prefix="vidlab-bench-") as tmp:
        validate.run_suites(batches, ROOT / "expectations", parameters, Path(tmp) / "warm")
        for k in range(repeats):
            start = time.perf_counter()
            results = validate.run_suites(batches, ROOT / "expectations", parameters,
                                          Path(tmp) / f"docs{k}")
            times["great_expectations_3_suites"].append(time.perf_counter() - start)
            start = time.perf_counter()
            pandas_checks(batches, parameters)
            times["pandas_direct"].append(time.perf_counter() - start)
    median = medians(times)
    return {"rows": rows, "seconds": median, "target_s": 5.0,
            "all_passed": all(r.success for r in results.values()),
            "ratio_gx_over_pandas": median["great_expectations_3_suites"]
            / median["pandas_direct"],
            "note": "GX time includes building the Data Docs site"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "probe.json")
    args = parser.parse_args()
    params = params_mod.load(ROOT / "params.yaml")
    with tempfile.TemporaryDirectory(prefix="vidlab-bench-") as tmp:
        demo = Path(tmp) / "demo"
        generate.run(params.demo, seed=params.base.seed, out=demo)
        paths = sorted((demo / "videos").glob("*.mp4"))
        result = {"probe": probing(paths, args.repeats),
                  "validation": validation(args.rows, args.repeats)}
    text = json.dumps(result, indent=2) + "\n"
    atomic_write_text(args.out, text)
    print(text, end="")
    p = result["probe"]
    print(f"probe: {p['rows_per_s']['vidlab_1_worker']:.1f} rows/s with 1 worker, "
          f"{p['rows_per_s']['vidlab_all_workers']:.1f} with {p['cores']}; naive serial decord "
          f"{p['rows_per_s']['naive_decord_serial']:.1f} "
          f"(ratios {p['ratio_1_worker_over_naive']:.2f}x, "
          f"{p['ratio_all_workers_over_naive']:.2f}x)")
    v = result["validation"]
    print(f"validation: 3 suites on {v['rows']} rows in "
          f"{v['seconds']['great_expectations_3_suites']:.2f} s (target < 5 s; "
          f"{v['ratio_gx_over_pandas']:.0f}x the same checks in plain pandas)")


if __name__ == "__main__":
    main()
