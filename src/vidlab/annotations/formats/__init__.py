"""Readers (and, for the demo and tests, writers) of the annotation formats people export.

``read(fmt, path)`` gives :class:`~vidlab.annotations.schema.RawRecord` s in file order;
``write(fmt, records, out, videos)`` writes records back in that format. A file its format's own
tools would refuse raises :class:`~vidlab.annotations.schema.FormatError` saying where; a
well-formed record with wrong content (a box outside the frame, an unknown video) is read as is:
the QA judges it.

Positions (``RawRecord.where`` and error messages) never hold a path or a video name (both are
original, private names): lines count from 1 ("line 12"), list items and the n-th video of a
file, folder or JSON object from 0 ("database/video[3]/annotations[2]").

The format modules share the helpers in :mod:`.common`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vidlab.annotations.formats import activitynet, ava, captions, cvat, davis, mot, youtube_vis
from vidlab.annotations.schema import FORMATS, FormatError, RawRecord, VideoInfo

__all__ = ["read", "write"]

# format -> the module with its read_<format> and write_<format>
_MODULES = {
    "activitynet": activitynet,
    "ava": ava,
    "mot": mot,
    "cvat": cvat,
    "youtube_vis": youtube_vis,
    "davis": davis,
    "msrvtt": captions,
    "activitynet_captions": captions,
}


def _function(fmt: str, verb: str) -> Callable[..., Any]:
    if fmt not in FORMATS:
        raise FormatError(f"Unknown annotation format {fmt!r}; known formats: "
                          f"{', '.join(FORMATS)}.")
    return getattr(_MODULES[fmt], f"{verb}_{fmt}")


def read(fmt: str, path: Path) -> list[RawRecord]:
    """The raw records of one annotation file (or folder, for ``mot``, ``cvat``, ``davis``).

    Args:
        fmt: a key of :data:`~vidlab.annotations.schema.FORMATS`.
        path: the file or folder the format is stored in.

    Returns:
        The records in file order, with ``task``, ``source`` and ``where`` set.

    Raises:
        FormatError: on an unknown format, a missing path, or a file the format's tools refuse.
    """
    reader = _function(fmt, "read")
    path = Path(path)
    if not path.exists():
        raise FormatError(f"The {fmt} annotations given do not exist (no such file or folder).")
    return reader(path)


def write(fmt: str, records: list[RawRecord], out: Path,
          videos: dict[str, VideoInfo]) -> list[Path]:
    """Write records in a format, deterministically (the same input gives the same bytes).

    Args:
        fmt: a key of :data:`~vidlab.annotations.schema.FORMATS`.
        records: what to write; each record's video must be a key of ``videos``.
        out: the file (activitynet, ava, youtube_vis, msrvtt, activitynet_captions) or folder
            (mot, davis; cvat unless it ends in ``.xml``) to write; parents are created.
        videos: size, frame rate, frame count and duration of each video, for header fields.

    Returns:
        The paths written.

    Raises:
        FormatError: on an unknown format or records the format cannot hold.
    """
    writer = _function(fmt, "write")
    for i, rec in enumerate(records):
        if rec.video not in videos:
            raise FormatError(f"records[{i}]: its video has no VideoInfo in `videos`.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return writer(records, out, videos)
