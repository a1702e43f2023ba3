"""What the sanity modules share: the error a failed check raises, and the data they train on."""

from __future__ import annotations

from pathlib import Path

from vidlab.config import Params
from vidlab.core.errors import VidlabError


class SanityError(VidlabError):
    """A sanity check failed (the report says which and why)."""


def data(params: Params, splits: Path, clips: Path):
    from vidlab.data.datamodule import VideoDataModule

    data = VideoDataModule(params, splits=splits, clips=clips, source="memmap")
    data.setup()
    return data
