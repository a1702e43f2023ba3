"""Benchmark: near-duplicate search at scale, against a naive pairwise loop, and its accuracy.

1. Scale: 100k synthetic video signatures (distinct videos plus planted copies with the bit-flip
   rates and temporal shifts measured on real copies) clustered end to end -- multi-index code
   search, windowed distances, union-find -- with all cores; planted pairs recovered.
2. Ratio: the same clustering and a naive Python double loop over all pairs (the windowed distance
   per pair) on one subset, side by side in this run; their clusters must be identical.
3. Accuracy: distinct videos from the demo generator (another seed than the committed demo) plus
   one planted copy of some of them per edit (lower bit rate, 75 % size, 5 % crop, 10 % trim,
   +-10 % brightness, and all at once), through the real decoder and hashing: pair precision and
   recall, and the margin between the farthest copy and the nearest distinct pair.

Writes reports/bench/dedup.json.

    uv run python benchmarks/dedup.py [--signatures 100000] [--subset 1000] [--videos 120]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from vidlab import params as params_mod
from vidlab.demo import generate
from vidlab.demo.variants import KINDS, write_variant
from vidlab.fsutil import atomic_write_text
from vidlab.quality import dedup
from vidlab.quality import signature as sig
from vidlab.quality.neighbors import UnionFind

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
    union = UnionFind(len(signs))
    for i in range(len(signs)):
        for j in range(i + 1, len(signs)):
            if sig.distances(signs[i][None], signs[j][None], p.window_frames)[0] <= p.threshold:
                union.union(i, j)
    return union.groups()


def scale(n: int, subset: int, p) -> dict:
    signs, truth = synthetic(n, n // 20, p.frames)
    digests = [str(i) for i in range(n)]
    start = time.perf_counter()
    _, groups = dedup.find_duplicates(signs, digests, p)
    seconds = time.perf_counter() - start
    found = {(g[0], g[1]) for g in groups if len(g) == 2}
    recall = sum(t in found for t in truth) / len(truth)
    small, _ = synthetic(subset, subset // 20, p.frames, seed=1)
    start = time.perf_counter()
    _, ours = dedup.find_duplicates(small, digests[:subset], p)
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


def accuracy(videos: int, p, fps: int) -> dict:
    params = params_mod.load(ROOT / "params.yaml")
    demo = dataclasses.replace(params.demo, n_videos=videos, n_children=videos // 4,
                               plant_faults=False)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        generate.run(demo, seed=params.base.seed + 1, out=out)
        distinct = sorted((out / "videos").glob("*.mp4"))
        wanted = min(len(distinct), 6 * len(KINDS))  # six copies of each kind
        sources = distinct[:: max(1, len(distinct) // wanted)][:wanted]
        copies = [write_variant(src, Path(tmp) / f"copy{n:03d}.mp4", KINDS[n % len(KINDS)],
                                fps=fps) for n, src in enumerate(sources)]
        paths = distinct + copies
        signs, failed = dedup.signatures([str(x) for x in paths], p)
    assert not failed, failed
    index = {path: i for i, path in enumerate(paths)}
    truth = {(index[s], index[c]) for s, c in zip(sources, copies, strict=True)}
    kind_of = {(index[s], index[c]): KINDS[n % len(KINDS)]
               for n, (s, c) in enumerate(zip(sources, copies, strict=True))}
    _, groups = dedup.find_duplicates(signs, [str(i) for i in range(len(paths))], p)
    predicted = {pair for g in groups for pair in combinations(g, 2)}
    hits = predicted & truth
    every = np.array(list(combinations(range(len(paths)), 2)))
    dist = dedup.pair_distances(signs, every, p.window_frames)
    planted = np.array([tuple(x) in truth for x in every])
    return {
        "distinct_videos": len(distinct), "planted_copies": len(copies),
        "precision": round(len(hits) / max(1, len(predicted)), 4),
        "recall": round(len(hits) / len(truth), 4),
        "recall_by_kind": {k: round(sum(kind_of[t] == k for t in hits)
                                    / sum(v == k for v in kind_of.values()), 4) for k in KINDS},
        "farthest_copy_distance": round(float(dist[planted].max()), 4),
        "nearest_distinct_distance": round(float(dist[~planted].min()), 4),
        "threshold": p.threshold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--subset", type=int, default=1000)
    parser.add_argument("--videos", type=int, default=120)
    args = parser.parse_args()
    params = params_mod.load(ROOT / "params.yaml")
    p = params.dedup
    result = {"scale": scale(args.signatures, args.subset, p),
              "accuracy": accuracy(args.videos, p, params.demo.fps)}
    text = json.dumps(result, indent=2)
    print(text)
    atomic_write_text(ROOT / "reports" / "bench" / "dedup.json", text + "\n")


if __name__ == "__main__":
    main()
