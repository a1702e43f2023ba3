"""Helpers shared by the format modules: records, JSON and number parsing, number writing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vidlab.annotations.schema import FORMATS, FormatError, RawRecord


def record(fmt: str, video: str, where: str, **fields: Any) -> RawRecord:
    """A raw record of format ``fmt`` (task and source filled in)."""
    return RawRecord(video=video, task=FORMATS[fmt], source=fmt, where=where, **fields)


def load_json(path: Path, prefix: str = "") -> Any:
    """The parsed JSON of a file; invalid JSON or text raises FormatError with its line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{prefix}byte {exc.start}: not UTF-8 text (is it JSON?)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{prefix}line {exc.lineno}, column {exc.colno}: invalid JSON "
                          f"({exc.msg}).") from None


def dump_json(data: Any, out: Path) -> Path:
    """Write JSON in a fixed layout (key order as built, no timestamps); return ``out``."""
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    """``value`` if it is an instance of ``kind`` (bools are not numbers), else FormatError."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return value
    names = dict.fromkeys(_NAMES.get(k, k.__name__) for k in kinds)
    raise FormatError(f"{where}: {what} must be a {' or '.join(names)}, "
                      f"got {_NAMES.get(type(value), type(value).__name__)}.")


_NAMES = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string",
          list: "list", dict: "JSON object"}


def key(obj: dict, name: str, where: str) -> Any:
    """``obj[name]``, or FormatError saying the key is missing at ``where``."""
    if name not in obj:
        raise FormatError(f"{where}: the required key {name!r} is missing.")
    return obj[name]


def number(value: Any, where: str, what: str) -> float:
    """A JSON number as a float (strings and bools refused)."""
    return float(expect(value, (int, float), where, what))


def integer(value: Any, where: str, what: str) -> int:
    """A JSON integer (a float with no fraction is accepted)."""
    x = number(value, where, what)
    if not x.is_integer():
        raise FormatError(f"{where}: {what} must be an integer, got a fraction.")
    return int(x)


def parse_number(text: str, where: str, what: str) -> float:
    """A number written as text (CSV, XML attribute), or FormatError naming the field."""
    try:
        return float(text)
    except (TypeError, ValueError):
        # the value itself is not quoted: a shifted row could put a private name here
        raise FormatError(f"{where}: {what} must be a number.") from None


def parse_int(text: str, where: str, what: str) -> int:
    """An integer written as text ("12" or "12.0"), or FormatError naming the field."""
    try:
        x = float(text)
    except (TypeError, ValueError):
        x = math.nan
    if not x.is_integer():
        raise FormatError(f"{where}: {what} must be an integer.")
    return int(x)


def fmt_number(x: float) -> str:
    """The shortest text that reads back as exactly ``x`` ("3" for 3.0, repr otherwise)."""
    x = float(x)
    if x.is_integer() and math.isfinite(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def by_video(records: list[RawRecord]) -> dict[str, list[RawRecord]]:
    """Records grouped by video, videos in order of first appearance (deterministic)."""
    groups: dict[str, list[RawRecord]] = {}
    for rec in records:
        groups.setdefault(rec.video, []).append(rec)
    return groups


def safe_name(video: str, i: int) -> str:
    """``video`` when it can name a file or folder inside ``out``; else FormatError."""
    if not video or video in (".", "..") or "/" in video or "\\" in video:
        raise FormatError(f"video {i}: its name cannot name a file or folder (empty, '.', '..' "
                          "or a path separator).")
    return video


def need(rec: RawRecord, i: int, fmt: str, *names: str) -> None:
    """FormatError unless every named field of ``rec`` is set (for writers)."""
    missing = [n for n in names if getattr(rec, n) is None]
    if missing:
        raise FormatError(f"records[{i}]: the {fmt} format needs {', '.join(missing)}.")
