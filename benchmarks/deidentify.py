"""Benchmark: file hashing vs sha256sum, de-identification files/s with 1 and all workers, and
what proving each copy costs on realistic video (720p and 1080p H.264 with B-frames, 20 s) against
the floor, one threaded full decode of the original.

Everything is measured side by side in one run, alternating the contenders, and reported as
ratios (these machines are shared and noisy: absolute seconds mean little). Writes
reports/bench/deidentify.json.

    uv run python benchmarks/deidentify.py [--mib 256] [--repeats 5] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from vidlab import config as params_mod
from vidlab.config import replace
from vidlab.core.fsutil import atomic_write_text, sha256_file
from vidlab.stages.demo import stage as generate
from vidlab.stages.ingest import stage

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
            loaded = replace(params, ingest=replace(params.ingest,
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


def realistic_video(path: Path, width: int, height: int, seconds: int, fps: int = 30) -> None:
    """H.264 with B-frames as a phone writes it: a moving texture, crf 23, 2 s GOP."""
    import av
    import numpy as np

    rng = np.random.default_rng(width)
    texture = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    texture = np.kron(texture, np.ones((8, 8, 1), np.uint8))
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast",
                                                              "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 2 * fps
        for index in range(seconds * fps):
            image = np.roll(texture, 3 * index, axis=1)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def proof(work: Path, seconds: int, repeats: int) -> dict:
    """Per file: the packet remux alone, the remux with its frame-by-frame proof (what ingest
    does), and the floor a user pays to look at a file at all: one threaded full decode."""
    from vidlab.media.reference import reference_decode
    from vidlab.stages.ingest import deid

    result = {}
    for name, (width, height) in {"720p": (1280, 720), "1080p": (1920, 1080)}.items():
        src = work / f"{name}.mp4"
        realistic_video(src, width, height, seconds)
        contenders = {
            "full_decode": lambda src=src: reference_decode(src),
            "remux_only": lambda src=src: deid._copy_packets(src, work / "r.mp4", "mp4", True),
            "remux_and_proof": lambda src=src: deid.remux(src, work / "p.mp4", keep_audio=True),
        }
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(repeats):
            for key, func in contenders.items():
                times[key].append(timed(func))
        median = {k: statistics.median(v) for k, v in times.items()}
        result[name] = {"seconds_of_video": seconds, **{f"{k}_s": v for k, v in median.items()},
                        "proof_over_full_decode": median["remux_and_proof"]
                        / median["full_decode"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="total size of the hashed files")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=20, help="length of the realistic videos")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "deidentify.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vidlab-bench-") as tmp:
        result = {"hashing": hashing(Path(tmp), args.mib, args.repeats),
                  "deidentify": deidentification(Path(tmp), max(1, args.repeats // 2)),
                  "proof": proof(Path(tmp), args.seconds, max(1, args.repeats // 2))}
    text = json.dumps(result, indent=2) + "\n"
    atomic_write_text(args.out, text)
    print(text, end="")
    h, d = result["hashing"], result["deidentify"]
    print(f"hashing: {h['ratio_vidlab_over_sha256sum']:.2f}x sha256sum's throughput "
          f"({h['vidlab_mib_s']:.0f} vs {h['sha256sum_mib_s']:.0f} MiB/s; target >= 0.9)")
    print(f"de-identification: {d['files_per_s_1_worker']:.1f} files/s with 1 worker, "
          f"{d['files_per_s_all_workers']:.1f} with {d['cores']} ({d['speedup_all_over_1']:.2f}x)")
    for name, p in result["proof"].items():
        print(f"proof ({name}, {p['seconds_of_video']} s): remux + proof "
              f"{p['remux_and_proof_s']:.2f} s = {p['proof_over_full_decode']:.2f}x one full "
              f"decode ({p['full_decode_s']:.2f} s); remux alone {p['remux_only_s']:.2f} s")


if __name__ == "__main__":
    main()
