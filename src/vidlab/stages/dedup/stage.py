"""The `dedup` stage: exact and near-duplicate videos, clustered, with a contact sheet each.

Exact duplicates share the sha256 of their de-identified file. Near-duplicates (copies
re-encoded, at another frame rate, scaled, cropped, trimmed, brightened, with boxes or text drawn
on them, or stored sideways with a display rotation) are found from perceptual signatures
(:mod:`vidlab.media.signature`): candidates by a multi-index Hamming search on each video's
144-bit code (:mod:`.neighbors`), then the frame-by-frame distance, which tolerates
a temporal offset, decides. Pairs at or below ``dedup.threshold`` are joined into clusters
(connected components); pairs above it by at most ``dedup.review_margin`` are listed as
``review`` pairs for a person to look at, and joined to nothing. The threshold comes from a
labelled calibration set (:mod:`vidlab.stages.dedup.calibration`), whose precision, recall and
distance gap at the configured threshold the report repeats.

Outputs: ``data/interim/duplicates.json`` (pairs with distances, clusters, review pairs, videos
that could not be hashed), ``reports/dedup/summary.json`` (counts, review pairs and the
calibration figures, a DVC metric) and one contact sheet per cluster in
``reports/dedup/sheets/<cluster id>.png``.
Quarantined videos and videos the probe could not decode are left out.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from vidlab import contracts
from vidlab.config import DedupParams, Params
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import write_headline
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir
from vidlab.core.progress import worker_count
from vidlab.data.usable import read_usable
from vidlab.media import signature as sig
from vidlab.media.probe import read_frames
from vidlab.stages.dedup import calibration
from vidlab.stages.dedup.neighbors import components, near_pairs

PARAMS = Declaration(
    "dedup",
    outputs=("dedup",),
)


log = logging.getLogger(__name__)

SHEETS_MARKER = ".vidlab-dedup"
_CHUNK = 4096  # pairs per vectorised distance batch (16x16x3 uint64 each)


class Found(NamedTuple):
    """What :func:`find_duplicates` found, by video index."""

    pairs: list[dict]         # duplicate pairs: a, b, kind (exact | near), distance
    groups: list[list[int]]   # clusters, each sorted, ordered by their smallest member
    review: list[dict]        # near misses above the threshold: a, b, distance


def signatures(ids: list[str], pictures: dict, p: DedupParams
               ) -> tuple[np.ndarray, dict[int, str]]:
    """The videos' signatures from the probe's side table; (n, K, 3) array and {index: why
    not}. The probe took them from its own decode, so nothing is decoded here."""
    out = np.zeros((len(ids), p.frames, sig.PLANES), dtype=np.uint64)
    failed: dict[int, str] = {}
    for i, video_id in enumerate(ids):
        signature = pictures.get(video_id, (None, []))[0]
        if signature is None:
            failed[i] = "no signature: the probe decoded no frame or found no duration"
        else:
            out[i] = signature
    return out, failed


def pair_distances(signs: np.ndarray, pairs: np.ndarray, window: int) -> np.ndarray:
    """The windowed video distance of each pair, in batches."""
    parts = [sig.distances(signs[chunk[:, 0]], signs[chunk[:, 1]], window)
             for chunk in np.array_split(pairs, max(1, math.ceil(len(pairs) / _CHUNK)))]
    return np.concatenate(parts) if parts else np.empty(0)


def find_duplicates(signs: np.ndarray, sha256: list[str], p: DedupParams,
                    usable: np.ndarray | None = None) -> Found:
    """Duplicate pairs, clusters and review pairs among n videos.

    Args:
        signs: (n, K, 3) signatures.
        sha256: content hash per video (exact duplicates).
        p: the dedup params.
        usable: mask of videos whose signature is valid (default: all).

    Returns:
        Pairs at or below ``p.threshold`` (and byte-identical ones), their clusters, and the
        candidate pairs above the threshold by at most ``p.review_margin``, all sorted by (a, b).
    """
    n = len(signs)
    usable = np.ones(n, bool) if usable is None else usable
    index = np.flatnonzero(usable)
    codes = sig.video_codes(signs[index])
    radius = math.floor(p.candidate_radius * codes.shape[1])
    candidates, _ = near_pairs(codes, radius, workers=worker_count(p.workers))
    candidates = index[candidates] if len(candidates) else candidates
    dist = pair_distances(signs, candidates, p.window_frames)
    near = dist <= p.threshold + 1e-12
    pairs = {(int(a), int(b)): ("near", float(d))
             for (a, b), d in zip(candidates[near], dist[near], strict=True)}
    by_hash: dict[str, list[int]] = {}
    for i, digest in enumerate(sha256):
        by_hash.setdefault(digest, []).append(i)
    for members in by_hash.values():
        for other in members[1:]:
            pairs[(members[0], other)] = ("exact", 0.0)
    labels, groups = components(n, pairs)
    rows = [{"a": a, "b": b, "kind": kind, "distance": round(d, 4)}
            for (a, b), (kind, d) in sorted(pairs.items())]
    band = ~near & (dist <= p.threshold + p.review_margin + 1e-12)
    review = [{"a": int(a), "b": int(b), "distance": round(float(d), 4)}
              for (a, b), d in zip(candidates[band], dist[band], strict=True)
              if labels[a] != labels[b]]  # not already in one cluster
    return Found(rows, groups, review)


def run(params: Params, *, manifest: Path, quarantine: Path, out: Path, reports: Path,
        frames: Path | None = None) -> dict:
    """Compare every usable video's signature (from the probe), find duplicates, write
    duplicates.json and the contact sheets (from the probe's thumbnails)."""
    params = PARAMS.view(params)
    p = params.dedup
    videos, _ = read_usable(Path(manifest), Path(quarantine))
    ids = list(videos["video_id"])
    frames = Path(frames or Path(manifest).with_name("frames.parquet"))
    if not frames.is_file():
        raise DataError(f"{frames} does not exist. Run the probe stage first "
                        "(dvc repro probe).")
    try:
        pictures = read_frames(frames, p.frames)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    signs, failed = signatures(ids, pictures, p)
    usable = np.array([i not in failed for i in range(len(ids))], dtype=bool)
    found = find_duplicates(signs, list(videos["sha256"]), p, usable)
    clusters = _clusters(found.groups, found.pairs, ids)
    doc = _document(p, ids, found, clusters, failed)
    summary = _summary(doc, calibration.report(p))
    with atomic_dir(Path(reports) / "sheets", marker=SHEETS_MARKER) as tmp:
        (tmp / SHEETS_MARKER).touch()
        for cluster in clusters:
            _sheet(cluster, videos, pictures, p, tmp / cluster["sheet"])
    contracts.write(Path(reports) / "summary.json", contracts.DedupSummary, summary, indent=2)
    write_headline(Path(reports) / "headline.json", {
        "videos": summary["videos"], "flagged": summary["videos_in_clusters"] + summary["failed"]})
    contracts.write(Path(out), contracts.Duplicates, doc, indent=2)
    if failed:
        log.warning("dedup: %d video(s) could not be hashed and were not compared; see 'failed' "
                    "in %s", len(failed), out)
    if doc["review"]:
        log.info("dedup: %d pair(s) just above the threshold %.3f listed for review in %s",
                 len(doc["review"]), p.threshold, out)
    return summary


def _document(p: DedupParams, ids: list[str], found: Found, clusters: list[dict],
              failed: dict[int, str]) -> dict:
    """duplicates.json: pairs, clusters and review pairs by pseudonymous id."""
    review = sorted(({"a": ids[r["a"]], "b": ids[r["b"]], "distance": r["distance"]}
                     for r in found.review), key=lambda r: (r["distance"], r["a"], r["b"]))
    return {
        "about": "Duplicate videos by pseudonymous id. distance: share of differing perceptual "
                 "hash bits after temporal alignment (0 = same frames, ~0.5 = unrelated). "
                 "review: pairs above the threshold by at most review_margin, in no cluster "
                 "together; a person should look at them.",
        "params": {"frames": p.frames, "threshold": p.threshold,
                   "review_margin": p.review_margin, "window": p.window,
                   "window_frames": p.window_frames, "candidate_radius": p.candidate_radius,
                   "code_bits": sig.BITS * sig.PLANES},
        "videos": len(ids),
        "pairs": [{"a": ids[r["a"]], "b": ids[r["b"]], "kind": r["kind"],
                   "distance": r["distance"]} for r in found.pairs],
        "clusters": clusters,
        "review": review,
        "failed": [{"video_id": ids[i], "reason": failed[i]} for i in sorted(failed)],
    }


def _clusters(groups: list[list[int]], pairs: list[dict], ids: list[str]) -> list[dict]:
    clusters = []
    ordered = sorted(groups, key=lambda g: min(ids[i] for i in g))
    cluster_of = {i: number for number, members in enumerate(ordered) for i in members}
    pairs_of: list[list[dict]] = [[] for _ in ordered]
    for r in pairs:  # one pass: every pair's ends are in the same cluster
        pairs_of[cluster_of[r["a"]]].append(r)
    for number, (members, inside) in enumerate(zip(ordered, pairs_of, strict=True), start=1):
        name = f"dup-{number:03d}"
        clusters.append({
            "id": name,
            "kind": "exact" if all(r["kind"] == "exact" for r in inside) else "near",
            "video_ids": sorted(ids[i] for i in members),
            "max_distance": max(r["distance"] for r in inside),
            "sheet": f"{name}.png",
        })
    return clusters


def _summary(doc: dict, calibrated: dict) -> dict:
    return {
        "videos": doc["videos"],
        "exact_pairs": sum(r["kind"] == "exact" for r in doc["pairs"]),
        "near_pairs": sum(r["kind"] == "near" for r in doc["pairs"]),
        "clusters": len(doc["clusters"]),
        "videos_in_clusters": sum(len(c["video_ids"]) for c in doc["clusters"]),
        "review_pairs": len(doc["review"]),
        "failed": len(doc["failed"]),
        "review": doc["review"],
        "calibration": calibrated,
    }


def _sheet(cluster: dict, videos: pd.DataFrame, pictures: dict, p: DedupParams,
           out: Path) -> None:
    from vidlab.media.sheets import contact_sheet, unthumbnail

    by_id = videos.set_index("video_id")
    rows = []
    for video_id in cluster["video_ids"][: p.sheet_videos]:
        row = by_id.loc[video_id]
        frames = [unthumbnail(t) for t in pictures[video_id][1]]
        rows.append((f"{video_id}\n{row['duration_s']:.1f} s {row['width']}x{row['height']}",
                     frames))
    extra = len(cluster["video_ids"]) - len(rows)
    title = (f"{cluster['id']} ({cluster['kind']}, max distance {cluster['max_distance']:.3f})"
             + (f"; {extra} more not shown" if extra > 0 else ""))
    contact_sheet(rows, out, title=title)
