"""Masks as COCO run-length strings (the ``counts`` of a compressed RLE), as pycocotools codes them.

A mask is flattened in column-major (Fortran) order; runs alternate 0s and 1s starting with 0s;
each run length after the second is stored as its difference from the run two before, and every
number as 5-bit groups, least significant first, offset by 48 into printable characters (0x20:
more groups follow; 0x10 in the last group: negative). The same string pycocotools'
``mask.encode`` gives, so YouTube-VIS and COCO files read and write unchanged.
"""

from __future__ import annotations

import numpy as np

from vidlab.core.errors import DataError


def runs(mask: np.ndarray) -> list[int]:
    """Uncompressed RLE counts of a 2-D mask (column-major, starting with a run of 0s)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if not flat.size:
        return []
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    lengths = np.diff(bounds).tolist()
    return [0, *lengths] if flat[0] else lengths


def encode(mask: np.ndarray) -> str:
    """The compressed RLE string of a 2-D boolean mask (height, width)."""
    return compress(runs(mask))


def compress(counts: list[int]) -> str:
    """Uncompressed RLE counts (a list of ints) as the compressed string."""
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def decompress(text: str) -> list[int]:
    """The run lengths a compressed string holds.

    Raises:
        DataError: on a character outside the code's range or a string cut inside a number.
    """
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise DataError("a mask's RLE string ends inside a number (cut short?)")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise DataError(f"a mask's RLE string has a character ({text[p]!r}) that the "
                                "COCO run-length code does not use")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode(counts: str | list[int], height: int, width: int) -> np.ndarray:
    """The (height, width) boolean mask of compressed (str) or uncompressed (list) RLE counts.

    Raises:
        DataError: when the runs are negative or do not add up to height x width pixels.
    """
    lengths = decompress(counts) if isinstance(counts, str) else [int(c) for c in counts]
    total = height * width
    if any(c < 0 for c in lengths) or sum(lengths) != total:
        raise DataError(f"a mask's runs cover {sum(lengths)} pixels, not the {height} x {width} "
                        f"= {total} of its frame")
    values = np.zeros(len(lengths), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, lengths)
    return flat.reshape((height, width), order="F")


def area(counts: str | list[int]) -> int:
    """Pixels set in a mask, from its runs alone."""
    lengths = decompress(counts) if isinstance(counts, str) else list(counts)
    return int(sum(lengths[1::2]))


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x1, y1, x2, y2) of the set pixels, x2/y2 exclusive; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
