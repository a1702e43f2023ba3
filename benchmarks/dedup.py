"""Benchmark: near-duplicate search at scale, against a naive pairwise loop, and its accuracy.

1. Scale: 100k synthetic video signatures (distinct videos plus planted copies with the bit-flip
   rates and temporal shifts measured on real copies) clustered end to end -- multi-index code
   search, windowed distances, connected components -- with all cores; planted pairs recovered.
2. Ratio: the same clustering and a naive Python double loop over all pairs (the windowed distance
   per pair) on one subset, side by side in this run; their clusters must be identical.
3. Held-out accuracy: a labelled calibration set (:mod:`vidlab.stages.dedup.calibration`) drawn from
   another seed than the one the default threshold was chosen on: distinct demo recordings and 12
   edited copies of each (worse encode, 6 fps, scaling, crop, trim, boxes and text, brightness,
   display rotation, combinations), through the real encoder, decoder and hashing; pair precision
   and recall at the configured threshold and the gap between the farthest copy and the nearest
   distinct pair.

Writes reports/bench/dedup.json.

    uv run python benchmarks/dedup.py [--signatures 100000] [--subset 1000] [--recordings 120]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from vidlab import config as params_mod
from vidlab.core.fsutil import atomic_write_text
from vidlab.media import signature as sig
from vidlab.stages.dedup import calibration
from vidlab.stages.dedup import stage as dedup
from vidlab.stages.dedup.neighbors import components

ROOT = Path(__file__).resolve().parents[1]


def synthetic(n: int, copies: int, k: int, seed: int = 0) -> tuple[np.ndarray, list[tuple]]:
    """n signatures; the last ``copies`` are near-duplicates of earlier ones.

    A distinct video is a random 35-bit hash per plane that drifts over its K frames (each bit
    flips with p=0.08 per frame, so frames differ as a moving scene's do). A copy flips each bit
    of its source with p=0.06 (the median of real re-encoded, resized, cropped copies) and is
    shifted by up to one sample, as a trim does.
    """
    rng = np.random.default_rng(seed)
    distinct = n - copies
    bits = sig.BITS
    base = rng.integers(0, 2**bits, (distinct, 1, sig.PLANES), dtype=np.uint64)
    drift = _flips(rng, (distinct, k, sig.PLANES), 0.08)
    signs = np.concatenate([base ^ drift, np.zeros((copies, k, sig.PLANES), np.uint64)])
    sources = rng.choice(distinct, copies, replace=False)
    truth = []
    for c, src in enumerate(sources):
        shifted = np.roll(signs[src], int(rng.integers(-1, 2)), axis=0)
        signs[distinct + c] = shifted ^ _flips(rng, (k, sig.PLANES), 0.06)
        truth.append((int(src), distinct + c))
    return signs, truth


def _flips(rng: np.random.Generator, shape: tuple, p: float) -> np.ndarray:
    mask = rng.random((*shape, sig.BITS)) < p
    return sig.pack(mask.reshape(-1, sig.BITS)).reshape(shape)


def naive_clusters(signs: np.ndarray, p) -> list[list[int]]:
    """What people write first: compare every pair in a Python double loop."""
    pairs = [(i, j) for i in range(len(signs)) for j in range(i + 1, len(signs))
             if sig.distances(signs[i][None], signs[j][None], p.window_frames)[0] <= p.threshold]
    return components(len(signs), pairs)[1]


def scale(n: int, subset: int, p) -> dict:
    signs, truth = synthetic(n, n // 20, p.frames)
    digests = [str(i) for i in range(n)]
    start = time.perf_counter()
    groups = dedup.find_duplicates(signs, digests, p).groups
    seconds = time.perf_counter() - start
    found = {(g[0], g[1]) for g in groups if len(g) == 2}
    recall = sum(t in found for t in truth) / len(truth)
    small, _ = synthetic(subset, subset // 20, p.frames, seed=1)
    start = time.perf_counter()
    ours = dedup.find_duplicates(small, digests[:subset], p).groups
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = naive_clusters(small, p)
    naive_s = time.perf_counter() - start
    assert naive == ours, "the naive loop and the search disagree"
    pairs_full, pairs_subset = n * (n - 1) / 2, subset * (subset - 1) / 2
    return {
        "signatures": n, "planted_copies": len(truth), "cores": os.cpu_count(),
        "seconds": round(seconds, 2), "clusters": len(groups),
        "planted_recall": round(recall, 4),
        "subset": subset, "subset_seconds_vidlab": round(ours_s, 4),
        "subset_seconds_naive": round(naive_s, 2),
        "speedup_on_subset": round(naive_s / ours_s, 1),
        "naive_estimate_full_hours": round(naive_s / pairs_subset * pairs_full / 3600, 1),
    }


def accuracy(recordings: int, p) -> dict:
    """Calibration figures at the configured threshold on a set the threshold never saw."""
    held_out = calibration.CalibrationSet(recordings=recordings, seed=calibration.SEED + 1)
    doc = calibration.evaluate(calibration.sign_set(held_out, p.frames), p, held_out)
    figures = calibration.figures(doc, p.threshold, radius=p.candidate_radius,
                                  margin=p.review_margin)
    return {"recordings": recordings, "seed": held_out.seed, "videos": doc["set"]["videos"],
            **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--subset", type=int, default=1000)
    parser.add_argument("--recordings", type=int, default=120)
    args = parser.parse_args()
    params = params_mod.load(ROOT / "params.yaml")
    p = params.dedup
    result = {"scale": scale(args.signatures, args.subset, p),
              "accuracy": accuracy(args.recordings, p)}
    text = json.dumps(result, indent=2)
    print(text)
    atomic_write_text(ROOT / "reports" / "bench" / "dedup.json", text + "\n")


if __name__ == "__main__":
    main()
