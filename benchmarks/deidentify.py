"""Benchmark: file hashing vs sha256sum, and de-identification files/s with 1 and all workers.

Everything is measured side by side in one run, alternating the contenders, and reported as
ratios (these machines are shared and noisy: absolute seconds mean little). Writes
reports/bench/deidentify.json.

    uv run python benchmarks/deidentify.py [--mib 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from vidlab import params as params_mod
from vidlab.demo import generate
from vidlab.fsutil import atomic_write_text, sha256_file
from vidlab.ingest import stage

ROOT = Path(__file__).resolve().parents[1]


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def hashing(work: Path, mib: int, repeats: int) -> dict:
    """sha256 of a few large files: vidlab's sha256_file against coreutils' sha256sum."""
    files = []
    for k in range(4):
        path = work / f"blob{k}.bin"
        with open(path, "wb") as handle:
            handle.write(os.urandom(mib * (1 << 20) // 4))
        files.append(path)
    ours = lambda: [sha256_file(p) for p in files]  # noqa: E731
    theirs = lambda: subprocess.run(["sha256sum", *map(str, files)], check=True,  # noqa: E731
                                    capture_output=True)
    ours(), theirs()  # warm the page cache
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t_ours.append(timed(ours))
        t_theirs.append(timed(theirs))
    ours_s, theirs_s = statistics.median(t_ours), statistics.median(t_theirs)
    return {"bytes": mib << 20, "vidlab_s": ours_s, "sha256sum_s": theirs_s,
            "vidlab_mib_s": mib / ours_s, "sha256sum_mib_s": mib / theirs_s,
            "ratio_vidlab_over_sha256sum": theirs_s / ours_s, "target": 0.9}


def deidentification(work: Path, repeats: int) -> dict:
    """Files/s of the whole ingest stage on the demo, with one worker and with all cores."""
    params = params_mod.load(ROOT / "params.yaml")
    demo = work / "demo"
    generate.run(params.demo, seed=params.base.seed, out=demo)
    os.environ["VIDLAB_KEY_DIR"] = str(work / "keys")
    runs: dict[int, list[float]] = {1: [], 0: []}
    counts = {}
    for _ in range(repeats):
        for workers in (1, 0):
            loaded = dataclasses.replace(params, ingest=dataclasses.replace(params.ingest,
                                                                            workers=workers))
            out = work / f"out{workers}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            counts = stage.run(loaded, csv_path=demo / "metadata.csv", videos=demo / "videos",
                               out=out, reports=out / "reports")
            runs[workers].append(time.perf_counter() - start)
    files = counts["rows_read"]
    one, many = statistics.median(runs[1]), statistics.median(runs[0])
    return {"rows": files, "videos_written": counts["usable_videos"], "cores": os.cpu_count(),
            "files_per_s_1_worker": files / one, "files_per_s_all_workers": files / many,
            "speedup_all_over_1": one / many}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="total size of the hashed files")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "deidentify.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vidlab-bench-") as tmp:
        result = {"hashing": hashing(Path(tmp), args.mib, args.repeats),
                  "deidentify": deidentification(Path(tmp), max(1, args.repeats // 2))}
    text = json.dumps(result, indent=2) + "\n"
    atomic_write_text(args.out, text)
    print(text, end="")
    h, d = result["hashing"], result["deidentify"]
    print(f"hashing: {h['ratio_vidlab_over_sha256sum']:.2f}x sha256sum's throughput "
          f"({h['vidlab_mib_s']:.0f} vs {h['sha256sum_mib_s']:.0f} MiB/s; target >= 0.9)")
    print(f"de-identification: {d['files_per_s_1_worker']:.1f} files/s with 1 worker, "
          f"{d['files_per_s_all_workers']:.1f} with {d['cores']} ({d['speedup_all_over_1']:.2f}x)")


if __name__ == "__main__":
    main()
