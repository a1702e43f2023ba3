"""DAVIS semi-supervised masks: ``<video>/<frame:05d>.png``, palette PNGs whose pixel value is
the object id (0 background).

``path`` is a folder of video folders (DAVIS' ``Annotations/480p``) or one video folder (PNGs
directly in it). One record per frame and object id present, label "" (DAVIS has no classes:
the stage's ontology gives one), frame = the file's stem as a number. Value 255 is DAVIS' void
(ignored boundary) region: read as background. Palette ("P") and 8-bit grey ("L") PNGs are read,
as DAVIS' evaluation does (it reads the pixel values only); any other mode is refused. Files that
are not ``.png`` are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vidlab.annotations import rle
from vidlab.annotations.formats.common import by_video, need, record, safe_name
from vidlab.annotations.schema import FormatError, RawRecord, VideoInfo

FMT = "davis"
VOID = 255


def read_davis(path: Path) -> list[RawRecord]:
    """Masks of a DAVIS annotation folder, by video folder (sorted), frame, then object id."""
    folders = [path] if _pngs(path) else sorted(p for p in path.iterdir() if p.is_dir())
    records = []
    for v, folder in enumerate(folders):
        frames = []
        for file in _pngs(folder):
            if not file.stem.isdigit():
                # the stem is not quoted: it could be anything, a private name included
                raise FormatError(f"video[{v}]: a PNG whose name is not a frame number (DAVIS "
                                  "names frames 00000.png, 00001.png, ...).")
            frames.append((int(file.stem), file))
        for frame, file in sorted(frames):
            records += _read_frame(file, frame, folder.name, f"video[{v}]/{file.name}")
    if not folders or not any(_pngs(f) for f in folders):
        raise FormatError("no PNG frames here: expected <video>/<frame>.png in the folder.")
    return records


def _pngs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png"]


def _read_frame(file: Path, frame: int, video: str, where: str) -> list[RawRecord]:
    try:
        with Image.open(file) as image:
            image.load()
    except (UnidentifiedImageError, OSError):
        raise FormatError(f"{where}: not a readable PNG image.") from None
    if image.mode not in ("P", "L"):
        raise FormatError(f"{where}: not a palette PNG (mode {image.mode}); DAVIS masks hold "
                          "object ids as palette indexes.")
    ids = np.asarray(image)
    height, width = ids.shape
    return [record(FMT, video, where, frame=frame, track_id=int(obj),
                   mask=rle.encode(ids == obj), mask_height=height, mask_width=width,
                   width=width, height=height)
            for obj in np.unique(ids) if obj not in (0, VOID)]


def palette() -> list[int]:
    """The PASCAL VOC colour map DAVIS uses: 1 (128, 0, 0), 2 (0, 128, 0), 3 (128, 128, 0)..."""
    colours = []
    for i in range(256):
        r = g = b = 0
        c = i
        for bit in range(7, -1, -1):
            r |= (c & 1) << bit
            g |= (c >> 1 & 1) << bit
            b |= (c >> 2 & 1) << bit
            c >>= 3
        colours += [r, g, b]
    return colours


def write_davis(records: list[RawRecord], out: Path, videos: dict[str, VideoInfo]) -> list[Path]:
    """``out/<video>/<frame:05d>.png`` for every frame of each video with records (frames
    without an object are all zero, so the sequence is complete). Where masks overlap, the later
    record wins. Masks must have the video's size; track ids must be 1 to 254."""
    for i, rec in enumerate(records):
        need(rec, i, FMT, "frame", "track_id", "mask")
        if not 1 <= rec.track_id < VOID:
            raise FormatError(f"records[{i}]: DAVIS object ids are 1 to 254, got "
                              f"{rec.track_id}.")
        if rec.frame < 0:
            raise FormatError(f"records[{i}]: frame {rec.frame} is before the first frame.")
    colours = palette()
    written = []
    for v, (video, recs) in enumerate(by_video(records).items()):
        info = videos[video]
        folder = out / safe_name(video, v)
        folder.mkdir(parents=True, exist_ok=True)
        n_frames = max(info.frames, 1 + max(r.frame for r in recs))
        by_frame: dict[int, list[RawRecord]] = {}
        for r in recs:
            by_frame.setdefault(r.frame, []).append(r)
        for frame in range(n_frames):
            ids = np.zeros((info.height, info.width), dtype=np.uint8)
            for r in by_frame.get(frame, []):
                h = r.mask_height if r.mask_height is not None else info.height
                w = r.mask_width if r.mask_width is not None else info.width
                if (h, w) != (info.height, info.width):
                    raise FormatError(f"davis: a {h} x {w} mask on a {info.height} x "
                                      f"{info.width} video; DAVIS masks have the frame's size.")
                ids[rle.decode(r.mask, h, w)] = r.track_id
            image = Image.frombytes("P", (info.width, info.height), ids.tobytes())
            image.putpalette(colours)
            target = folder / f"{frame:05d}.png"
            image.save(target, format="PNG")
            written.append(target)
    return written
