"""What the faces stage writes for the card."""

from __future__ import annotations

from typing import Literal

from vidlab.contracts.base import Model


class FacesVideo(Model):
    """One video: frames, frames with a face found, frames blurred, the verification."""

    video_id: str
    frames: int
    frames_with_faces: int
    frames_blurred: int
    # undecodable: the file could not be read through (it is left out and quarantined)
    verification: Literal["passed", "failed", "not_run", "undecodable"]


class FacesSummary(Model):
    """``reports/faces/summary.json``: what ``ingest.faces`` did, in counts (never frames)."""

    mode: Literal["keep", "report", "blur"]
    videos: int
    videos_with_faces: int
    frames: int
    frames_with_faces: int
    frames_blurred: int
    verified: int
    failed: int
    undecodable: int = 0  # videos the faces pass could not decode (quarantined, not released)
    release_fingerprint: str | None = None
    per_video: list[FacesVideo]
