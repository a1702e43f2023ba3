"""Calibrating the near-duplicate threshold on a labelled set of real encoded videos.

The set comes from the demo generator (:mod:`vidlab.demo`): ``recordings`` distinct synthetic
recordings (each its own child, setting, furniture and motion), each written as an H.264
original plus one copy per edit in :data:`EDITS`, the things people do to videos: a worse
re-encode, 6 fps, scaling, crop, trim, boxes and text drawn on it, brightness, a phone's
display-rotation matrix, and several at once (``fps6_overlay`` is the kind of copy that was
missed before: distance 0.1905 against the old threshold 0.19). Every copy is a fresh encode.

Labels: an (original, copy) pair of one recording is a positive; any pair of videos of two
different recordings (copies included) is a negative; two copies of one recording are neither.
Distances are those of :func:`vidlab.media.signature.distances`, multiples of ``1 / (bits *
K)``: the file keeps every positive and a histogram of the negatives in those exact units, so
precision and recall can be recomputed for any threshold (:func:`figures`).

Threshold rule (:func:`choose_threshold`): the midpoint of the gap between the farthest positive
and the nearest negative, rounded down to 0.005, so it sits as far from both as the grid allows.
Pairs above it by at most ``dedup.review_margin`` are listed for a person to review.

The committed result, ``calibration.json`` next to this module, is what the dedup stage reports;
regenerate it with::

    uv run python -m vidlab.stages.dedup.calibration
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidlab.config import DedupParams
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text
from vidlab.core.progress import track, worker_count
from vidlab.media import signature as sig
from vidlab.stages.dedup.edits import EDITS, edit, write

if TYPE_CHECKING:  # the demo generator is imported only to build the set, not by the stage
    from vidlab.synth.scene import Scene

log = logging.getLogger(__name__)

COMMITTED = Path(__file__).with_name("calibration.json")
COMMAND = "uv run python -m vidlab.stages.dedup.calibration"  # regenerates COMMITTED
SEED = 20_240_611  # calibration recordings: not the demo dataset's seed
GRID = 0.005       # thresholds are multiples of this
RULE = ("midpoint of the gap between the largest positive and the smallest negative distance, "
        "rounded down to a multiple of 0.005")


@dataclasses.dataclass(frozen=True)
class CalibrationSet:
    """How the labelled set is drawn: recordings, their size and length, the edits applied."""

    recordings: int = 240
    width: int = 128
    height: int = 96
    fps: int = 15
    seconds: tuple[float, float] = (2.0, 4.0)
    crf: int = 20
    noise_std: float = 3.0
    edits: tuple[str, ...] = EDITS
    seed: int = SEED

    @classmethod
    def from_dict(cls, values: dict) -> CalibrationSet:
        """The set a calibration document's ``set`` describes."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
                      if k in names})


def scenes(cal: CalibrationSet) -> list[Scene]:
    """The set's distinct recordings, drawn from ``cal.seed`` with the demo's own catalogue."""
    from vidlab.synth import catalog
    from vidlab.synth.scene import DOMAIN_STYLE, Scene

    rng = np.random.default_rng([cal.seed, 0xCA11])
    children = catalog.make_children(rng, cal.recordings)
    domains = np.resize(list(DOMAIN_STYLE), cal.recordings)
    out = []
    for child, domain in zip(children, domains, strict=True):
        rec = catalog.make_recording(rng, child, fps=cal.fps, seconds=cal.seconds,
                                     achieved_fraction=0.5, audio_fraction=0.0,
                                     domain=str(domain))
        out.append(Scene(rec.domain, rec.label == "achieved", rec.child.rgb, rec.n_frames,
                         rec.seed))
    return out


def _sign_recording(job: tuple[Scene, CalibrationSet, int]) -> np.ndarray:
    """Render one recording, encode it and its copies, sign all: (1 + edits, K, 3) uint64."""
    from vidlab.synth.scene import render

    scene, cal, k = job
    frames = render(scene, cal.width, cal.height, cal.fps, cal.noise_std)
    with tempfile.TemporaryDirectory(prefix="vidlab-calibration-") as tmp:
        paths = [write(Path(tmp) / "original.mp4", frames, fps=cal.fps, crf=cal.crf, size=None,
                       rotation=0)]
        for kind in cal.edits:
            edited, settings = edit(frames, cal.fps, kind, scene.seed)
            paths.append(write(Path(tmp) / f"{kind}.mp4", edited, **settings))
        return np.stack([sig.signature(path, k) for path in paths])


def sign_set(cal: CalibrationSet, frames: int, *, workers: int = 0) -> np.ndarray:
    """Signatures of every video of the set: (recordings, 1 + edits, K, 3) uint64.

    The same for any ``workers``: each recording is made and signed from its own seed.
    """
    jobs = [(scene, cal, frames) for scene in scenes(cal)]
    count = worker_count(workers, len(jobs))
    if count == 1:
        return np.stack([_sign_recording(job) for job in track(jobs, total=len(jobs),
                                                                desc="calibrate")])
    with ProcessPoolExecutor(count) as pool:
        return np.stack(list(track(pool.map(_sign_recording, jobs), total=len(jobs),
                                   desc="calibrate")))


def evaluate(signs: np.ndarray, p: DedupParams, cal: CalibrationSet) -> dict:
    """Label and measure every pair of the set: the document :func:`figures` reads.

    Args:
        signs: (recordings, 1 + edits, K, 3) signatures from :func:`sign_set`.
        p: the dedup params (frames, window).
        cal: how the set was made (recorded in the document).

    Returns:
        The set, the signature settings, each positive as ``[recording, edit, distance, code
        distance]`` (distance in units of ``1 / distance_unit``, code distance in bits) and the
        negatives' histogram (``counts[i]`` pairs at distance ``first + i``).
    """
    from vidlab.stages.dedup.neighbors import hamming, pack_words
    from vidlab.stages.dedup.stage import pair_distances  # dedup imports this module

    recordings, videos, k = signs.shape[:3]
    flat = signs.reshape(recordings * videos, k, sig.PLANES)
    group, variant = np.divmod(np.arange(len(flat)), videos)
    i, j = np.triu_indices(len(flat), 1)
    unit = sig.BITS * sig.PLANES * k
    dist = np.rint(pair_distances(flat, np.stack([i, j], axis=1), p.window_frames) * unit)
    dist = dist.astype(np.int64)
    pos = (group[i] == group[j]) & (variant[i] == 0)
    code = hamming(pack_words(sig.video_codes(flat)), i[pos], j[pos])
    negative = dist[group[i] != group[j]]
    return {
        "about": "Labelled near-duplicate calibration set (vidlab.stages.dedup.calibration): "
                 "(original, copy) pairs of one recording are positives, pairs of videos of two "
                 "recordings negatives. Distances in units of 1/distance_unit.",
        "command": COMMAND,
        "set": {**dataclasses.asdict(cal), "videos": len(flat)},
        "signature": signature_settings(p),
        "distance_unit": unit,
        "code_bits": sig.BITS * sig.PLANES,
        "positives": [[int(group[a]), cal.edits[variant[b] - 1], int(d), int(c)]
                      for a, b, d, c in zip(i[pos], j[pos], dist[pos], code, strict=True)],
        "negatives": {"pairs": len(negative), "first": int(negative.min()),
                      "counts": np.bincount(negative - negative.min()).tolist()},
    }


def signature_settings(p: DedupParams) -> dict:
    """What a calibration holds for: the signature's make-up and the compared frames."""
    return {"frames": p.frames, "window_frames": p.window_frames, "bits_per_plane": sig.BITS,
            "planes": sig.PLANES, "fine": sig.FINE, "morph": sig.MORPH, "side": sig.SIDE}


def choose_threshold(positive_max: float, negative_min: float) -> float:
    """The rule: the midpoint of the gap between the farthest positive and the nearest
    negative, rounded down to a multiple of :data:`GRID`."""
    return round(math.floor((positive_max + negative_min) / 2 / GRID + 1e-9) * GRID, 6)


def figures(doc: dict, threshold: float, *, radius: float, margin: float) -> dict:
    """Precision, recall, the distance gap and the review band of a calibration at a threshold.

    A positive is found when the stage would pair it: distance at or below ``threshold`` and
    codes within ``radius`` (the candidate search). Negatives count as false pairs by distance
    alone, as if every one were a candidate: the precision is a lower bound.
    """
    unit, rows, neg = doc["distance_unit"], doc["positives"], doc["negatives"]
    dist, code = (np.array([r[column] for r in rows]) for column in (2, 3))
    counts = np.array(neg["counts"])
    values = neg["first"] + np.flatnonzero(counts)
    counts = counts[counts > 0]
    top, band = (math.floor(t * unit + 1e-6) for t in (threshold, threshold + margin))
    found = (dist <= top) & (code <= math.floor(radius * doc["code_bits"] + 1e-9))
    hits, false_pairs = int(found.sum()), int(counts[values <= top].sum())
    edits = np.array([r[1] for r in rows])
    return {
        "threshold": threshold, "positives": len(rows), "negatives": neg["pairs"],
        "precision": round(hits / max(1, hits + false_pairs), 4),
        "recall": round(hits / max(1, len(rows)), 4), "false_pairs": false_pairs,
        "missed": [f"recording {r[0]} {r[1]}" for r, ok in zip(rows, found, strict=True) if not ok],
        "positive_max": round(float(dist.max()) / unit, 4),
        "negative_min": round(float(values.min()) / unit, 4),
        "gap": round(float(values.min() - dist.max()) / unit, 4),
        "recommended_threshold": choose_threshold(float(dist.max()) / unit,
                                                  float(values.min()) / unit),
        "positive_code_max": round(float(code.max()) / doc["code_bits"], 4),
        "review_band": [threshold, round(threshold + margin, 4)],
        "review_positives": int(((dist > top) & (dist <= band)).sum()),
        "review_negatives": int(counts[(values > top) & (values <= band)].sum()),
        "by_edit": {e: {"max": round(float(dist[edits == e].max()) / unit, 4),
                        "found": int(found[edits == e].sum()), "of": int((edits == e).sum())}
                    for e in dict.fromkeys(edits.tolist())},
    }


def calibrate(cal: CalibrationSet, p: DedupParams, *, workers: int = 0) -> dict:
    """Make and sign the set, label its pairs, choose the threshold and measure it there."""
    doc = evaluate(sign_set(cal, p.frames, workers=workers), p, cal)
    chosen = figures(doc, 0.0, radius=p.candidate_radius, margin=0.0)["recommended_threshold"]
    doc["threshold"] = {"rule": RULE, "chosen": chosen}
    doc["figures"] = figures(doc, chosen, radius=p.candidate_radius, margin=p.review_margin)
    return doc


def report(p: DedupParams, path: Path = COMMITTED) -> dict:
    """The committed calibration's figures at the configured threshold, for the dedup report.

    Raises:
        DataError: when the calibration file is missing or unreadable.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read the dedup calibration {path}: {exc}. Regenerate it with "
                        f"`{COMMAND}`.") from None
    source = "src/vidlab/stages/dedup/calibration.json" if Path(path) == COMMITTED else str(path)
    head = {"source": source, "rule": doc["threshold"]["rule"],
            "calibrated_threshold": doc["threshold"]["chosen"], "set": doc["set"]}
    if doc["signature"] != signature_settings(p):
        log.warning("dedup: the calibration was made for signature settings %s, not the current "
                    "%s; its figures are left out of the report. Regenerate it with `%s`.",
                    doc["signature"], signature_settings(p), COMMAND)
        return {**head, "current": False}
    figs = figures(doc, p.threshold, radius=p.candidate_radius, margin=p.review_margin)
    return {**head, "current": True, **figs}


def dumps(doc: dict) -> str:
    """JSON with two-space indents and every list of plain values on one line (short diffs)."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                  text) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Regenerate the committed calibration (or write one elsewhere with --out)."""
    from vidlab import config as params_mod

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--recordings", type=int, default=CalibrationSet.recordings)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=COMMITTED)
    parser.add_argument("--workers", type=int, default=0, help="0 = all cores")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = params_mod.load(args.params).dedup
    doc = calibrate(CalibrationSet(recordings=args.recordings), p, workers=args.workers)
    atomic_write_text(args.out, dumps(doc))
    f = doc["figures"]
    log.info("calibration: %d positives, %d negatives; positive max %.4f, negative min %.4f; "
             "threshold %.3f: precision %.4f, recall %.4f -> %s", f["positives"], f["negatives"],
             f["positive_max"], f["negative_min"], f["threshold"], f["precision"], f["recall"],
             args.out)


if __name__ == "__main__":
    main()
