"""Captions: MSR-VTT and ActivityNet Captions JSON.

* ``msrvtt``: ``{"videos": [{"video_id", ...}], "sentences": [{"video_id", "caption",
  "sen_id"}]}``, or a bare list of ``{"video_id", "caption"}`` (MSR-VTT's test JSONs and many
  repositories). ``sentences`` is required, ``videos`` is not read. A numeric ``video_id`` is
  kept as text.
* ``activitynet_captions``: ``{video: {"duration", "timestamps": [[t0, t1], ...],
  "sentences": [...]}}``; ``timestamps`` and ``sentences`` are required and of equal length,
  ``duration`` is optional but a number where present.

Empty captions are content, not format: they are read as is.
"""

from __future__ import annotations

from pathlib import Path

from vidlab.annotations.formats.common import (
    by_video,
    dump_json,
    expect,
    key,
    load_json,
    need,
    number,
    record,
)
from vidlab.annotations.schema import FormatError, RawRecord, VideoInfo


def read_msrvtt(path: Path) -> list[RawRecord]:
    """One record per sentence, in file order."""
    data = load_json(path)
    if isinstance(data, list):
        sentences, at = data, ""
    else:
        data = expect(data, dict, "top level", "the file")
        sentences = expect(key(data, "sentences", "top level"), list, "sentences", "sentences")
        at = "sentences"
    records = []
    for s, sentence in enumerate(sentences):
        where = f"{at}[{s}]"
        expect(sentence, dict, where, "a sentence")
        video = expect(key(sentence, "video_id", where), (str, int), where, "video_id")
        text = expect(key(sentence, "caption", where), str, where, "caption")
        records.append(record("msrvtt", str(video), where, text=text))
    return records


def write_msrvtt(records: list[RawRecord], out: Path, videos: dict[str, VideoInfo]) -> list[Path]:
    """The ``{"videos", "sentences"}`` layout; sentences in record order, ``sen_id`` 0.."""
    data = {
        "videos": [{"video_id": video, "id": v} for v, video in enumerate(by_video(records))],
        "sentences": [{"video_id": r.video, "caption": r.text, "sen_id": s}
                      for s, r in enumerate(records)],
    }
    return [dump_json(data, out)]


def read_activitynet_captions(path: Path) -> list[RawRecord]:
    """One record per (timestamp, sentence) pair, videos and pairs in file order."""
    data = expect(load_json(path), dict, "top level", "the file")
    records = []
    for v, (video, entry) in enumerate(data.items()):
        at = f"video[{v}]"
        expect(entry, dict, at, "a video's entry")
        if "duration" in entry:
            number(entry["duration"], at, "duration")
        stamps = expect(key(entry, "timestamps", at), list, at, "timestamps")
        sentences = expect(key(entry, "sentences", at), list, at, "sentences")
        if len(stamps) != len(sentences):
            raise FormatError(f"{at}: {len(stamps)} timestamps but {len(sentences)} sentences; "
                              "each sentence needs its [start, end].")
        for s, (stamp, text) in enumerate(zip(stamps, sentences, strict=True)):
            where = f"{at}/sentences[{s}]"
            stamp = expect(stamp, list, f"{at}/timestamps[{s}]", "a timestamp")
            if len(stamp) != 2:
                raise FormatError(f"{at}/timestamps[{s}]: a timestamp must be [start, end], got "
                                  f"{len(stamp)} numbers.")
            records.append(record(
                "activitynet_captions", video, where,
                t0=number(stamp[0], f"{at}/timestamps[{s}]", "start"),
                t1=number(stamp[1], f"{at}/timestamps[{s}]", "end"),
                text=expect(text, str, where, "a sentence")))
    return records


def write_activitynet_captions(records: list[RawRecord], out: Path,
                               videos: dict[str, VideoInfo]) -> list[Path]:
    """Videos in order of first appearance, each with its duration; pairs in record order."""
    for i, rec in enumerate(records):
        need(rec, i, "activitynet_captions", "t0", "t1")
    data = {video: {"duration": videos[video].duration_s,
                    "timestamps": [[r.t0, r.t1] for r in recs],
                    "sentences": [r.text for r in recs]}
            for video, recs in by_video(records).items()}
    return [dump_json(data, out)]
