"""Benchmark: face detection and the whole blur path at 720p on this machine, against deface's
own command-line tool on the same files, and the detector's recall at the faces' known places.

The videos are built from scikit-image's astronaut photograph (a real face; nothing is
downloaded), upscaled and panned across a 1280 x 720 frame, so every frame's face box is known.
Contenders run side by side on the same files, alternating, and are reported as frames/s and as
ratios (these machines are shared and noisy: absolute seconds mean little):

* ``detect``: vidlab's CenterFace pass alone (decode, upright, detect every frame);
* ``blur``: vidlab's whole ``ingest.faces: blur`` path for one video (detect, blur, recheck,
  re-encode) and its verification pass;
* ``deface``: ``deface`` (the package's CLI, same CenterFace model, its defaults: threshold 0.2,
  blur, OpenCV's DNN where onnxruntime is absent) writing its own anonymised copy.

Writes reports/bench/faces.json.

    uv run python benchmarks/faces.py [--seconds 10] [--videos 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from vidlab import config as params_mod
from vidlab.core.fsutil import atomic_write_text
from vidlab.media import faces
from vidlab.stages.faces import stage

ROOT = Path(__file__).resolve().parents[1]
FACE = (181, 58, 270, 178)  # in skimage.data.astronaut() (512 x 512)
WIDTH, HEIGHT, FPS = 1280, 720, 30


def build(path: Path, seconds: float, seed: int) -> list[tuple[float, ...]]:
    """A 720p H.264 video (B-frames) of the photograph at 3x, panning; the face box per frame."""
    from PIL import Image
    from skimage import data

    scale = 3.0
    image = np.asarray(Image.fromarray(data.astronaut()).resize((1536, 1536), Image.BILINEAR))
    rng = np.random.default_rng(seed)
    n = round(seconds * FPS)
    x_path = np.linspace(rng.integers(0, 60), rng.integers(160, 250), n).round().astype(int)
    y_path = np.linspace(rng.integers(0, 40), rng.integers(60, 120), n).round().astype(int)
    boxes = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "20", "bf": "2", "g": str(FPS)}
        for x0, y0 in zip(x_path, y_path, strict=True):
            crop = np.ascontiguousarray(image[y0:y0 + HEIGHT, x0:x0 + WIDTH])
            boxes.append(tuple(v * scale - o for v, o in zip(FACE, (x0, y0, x0, y0),
                                                                strict=True)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return boxes


def detect_only(path: Path, detector) -> tuple[float, dict[int, np.ndarray]]:
    found, start = {}, time.perf_counter()
    with av.open(str(path)) as source:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        for i, frame in enumerate(source.decode(video)):
            found[i] = detector(faces.upright(frame, faces.turns(frame.rotation)))
    return time.perf_counter() - start, found


def recall(found: dict[int, np.ndarray], truth: list) -> float:
    """Share of frames whose known face box a detection covers by at least half."""
    def covered(boxes, box) -> bool:
        for x1, y1, x2, y2, *_ in boxes:
            ix = max(0.0, min(x2, box[2]) - max(x1, box[0]))
            iy = max(0.0, min(y2, box[3]) - max(y1, box[1]))
            if ix * iy >= 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
                return True
        return False
    return sum(covered(found.get(i, []), box) for i, box in enumerate(truth)) / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "faces.json")
    args = parser.parse_args()
    params = params_mod.load(ROOT / "params.yaml")
    deface = shutil.which("deface") or str(Path(sys.executable).parent / "deface")
    times: dict[str, list[float]] = {"detect": [], "blur": [], "verify": [], "deface": []}
    recalls, failures, frames = [], [], 0
    with tempfile.TemporaryDirectory(prefix="vidlab-bench-faces-") as tmp:
        work = Path(tmp)
        videos = [(work / f"v{i}.mp4", build(work / f"v{i}.mp4", args.seconds, i))
                  for i in range(args.videos)]
        frames = sum(len(truth) for _, truth in videos)
        for _ in range(args.repeats):
            for path, truth in videos:
                detect, recheck, verifiers = stage.detectors(params)
                seconds, found = detect_only(path, detect)
                times["detect"].append(seconds)
                recalls.append(recall(found, truth))
                dst = work / "blurred.mp4"
                f = params.faces
                start = time.perf_counter()
                made = faces.process(path, dst, detector=detect, every=f.every,
                                     dilate=f.dilate, margin=f.margin, crf=f.crf,
                                     preset=f.preset, recheck=recheck, rounds=f.rounds)
                times["blur"].append(time.perf_counter() - start)
                start = time.perf_counter()
                failed = faces.verify(dst, verifiers, made.blurred_at, made.margin)
                times["verify"].append(time.perf_counter() - start)
                failures.append(len(failed))
                start = time.perf_counter()
                subprocess.run([deface, str(path), "-o", str(work / "deface.mp4")],
                               check=True, capture_output=True)
                times["deface"].append(time.perf_counter() - start)
    per_video = frames / args.videos
    fps = {name: per_video / statistics.median(values) for name, values in times.items()}
    result = {"videos": args.videos, "seconds": args.seconds, "size": f"{WIDTH}x{HEIGHT}",
              "frames_per_video": per_video, "repeats": args.repeats,
              "frames_per_s": {k: round(v, 2) for k, v in fps.items()},
              "blur_vs_deface": round(fps["blur"] / fps["deface"], 3),
              "detect_vs_deface": round(fps["detect"] / fps["deface"], 3),
              "recall": round(min(recalls), 4),
              "frames_failing_verification": sum(failures)}
    text = json.dumps(result, indent=2) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(text, end="")


if __name__ == "__main__":
    main()
