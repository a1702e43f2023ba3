"""Benchmark: what the quality measures add to the probe's decode, at 720p and 1080p.

Issue 25's bound: the probe with ``probe.quality: true`` costs at most 1.15x the probe without
it. Contenders run side by side on the same files, alternating, and are reported as frames/s and
as ratios (these machines are shared and noisy: absolute seconds mean little):

* ``decode``: the floor, one threaded sequential decode of every frame (PyAV), nothing else;
* ``probe_without``: :func:`vidlab.media.probe.probe_file` with ``quality=False`` (integrity
  check, dedup signature and sheet frames from the one decode);
* ``probe_with``: the same with the quality measures (``probe.quality_fps`` from params.yaml).

The videos: a photograph (scikit-image's coffee, nothing downloaded) upscaled, panned and lit
with a slow brightness drift and sensor noise, H.264 with B-frames, 30 fps.

Writes reports/bench/quality.json.

    uv run python benchmarks/quality.py [--seconds 20] [--repeats 3] [--sizes 1280x720,1920x1080]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path

import av
import numpy as np
from sidebyside import alternate, medians

from vidlab import config as params_mod
from vidlab.core.fsutil import atomic_write_text
from vidlab.media.probe import probe_file
from vidlab.stages.probe.stage import limits_of

ROOT = Path(__file__).resolve().parents[1]
FPS = 30


def build(path: Path, width: int, height: int, seconds: float, seed: int) -> int:
    """A panned, noisy photograph as H.264 (B-frames); the frame count."""
    from PIL import Image
    from skimage import data

    image = np.asarray(Image.fromarray(data.coffee()).resize(
        (width + width // 3, height + height // 3), Image.BILINEAR)).astype(np.int16)
    rng = np.random.default_rng(seed)
    n = round(seconds * FPS)
    xs = np.linspace(0, width // 3 - 1, n).round().astype(int)
    ys = np.linspace(0, height // 3 - 1, n).round().astype(int)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast", "bf": "2", "g": str(FPS * 2)}
        noise = rng.normal(0, 3, (8, height, width, 1)).astype(np.int16)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            crop = image[y:y + height, x:x + width] + noise[i % 8] + int(10 * np.sin(i / 50))
            frame = av.VideoFrame.from_ndarray(crop.clip(0, 255).astype(np.uint8), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return n


def decode_only(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def measure(paths: list[Path], frames: int, repeats: int) -> dict:
    params = params_mod.load(ROOT / "params.yaml")
    with_quality = dataclasses.replace(limits_of(params), quality=True)
    without = dataclasses.replace(with_quality, quality=False)
    contenders = {
        "decode": lambda: [decode_only(p) for p in paths],
        "probe_without": lambda: [probe_file(p, without) for p in paths],
        "probe_with": lambda: [probe_file(p, with_quality) for p in paths],
    }
    times = alternate(contenders, repeats)
    median = medians(times)
    # paired ratios (the same repeat's two probes ran seconds apart): robust to drift
    paired = [w / o for w, o in zip(times["probe_with"], times["probe_without"], strict=True)]
    return {
        "frames": frames,
        "seconds": {name: round(t, 3) for name, t in median.items()},
        "frames_per_s": {name: round(frames / t, 1) for name, t in median.items()},
        "with_over_without": round(statistics.median(paired), 3),
        "with_over_without_each": [round(r, 3) for r in paired],
        "with_over_decode": round(median["probe_with"] / median["decode"], 3),
        "quality_fps": params.probe.quality_fps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "quality.json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            paths, frames = [], 0
            for i in range(args.videos):
                path = Path(tmp) / f"{size}_{i}.mp4"
                frames += build(path, width, height, args.seconds, seed=i)
                paths.append(path)
            results[size] = measure(paths, frames, args.repeats)
            print(size, json.dumps(results[size]), flush=True)
    report = {"bound": 1.15, "sizes": results,
              "within_bound": all(r["with_over_without"] <= 1.15 for r in results.values())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(json.dumps({"within_bound": report["within_bound"]}))


if __name__ == "__main__":
    main()
