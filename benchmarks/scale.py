"""Benchmark: vidlab's per-video stages at phone-like scale, side by side with a plain decode.

What it measures, in ONE run on the SAME files (each contender a separate subprocess, so its
resources are its own):

- ``containers``: open every file and read its stream headers (PyAV), no packets;
- ``packets``: demux every packet of every file, no decoding;
- ``floor``: one threaded full decode (PyAV, ``thread_type = "AUTO"``) of every frame of every
  file, files one after another, frames not converted: what every stage is compared to;
- the real stages as a user runs them on their own data (``data.source: custom``) in a fresh
  project folder: ``vidlab ingest``, ``probe``, ``validate`` (split needs its quarantine.csv),
  ``dedup``, ``split``, ``clips``, with the repository's params.yaml except what the project
  requires (listed under ``overrides`` in the JSON) and every ``workers`` at 0 (all cores);
  again with ``probe.integrity: fast`` where that param exists (the stages it changes and
  everything downstream of the manifest are run again in a copy of the project);
- the peak memory of one clips worker (:func:`vidlab.data.cache.decode_clips`) on a 1080p file.

For each: wall time, CPU-seconds (user + sys of the process and of all its descendants, from
``os.wait4``), cores used (CPU-s / wall), the peak RSS of the largest process in the tree
(``ru_maxrss``), CPU-s per second of video, and the ratios of CPU-s and wall to the floor's.
Totals of ingest -> clips in each mode as ratios to the floor (the project's targets: full
<= 1.3x, fast <= 0.3x), measured and without start-up costs: the same processes are run once
more on 3 tiny files (interpreter, imports, params, outputs: a cost paid once per run, not per
video), and that is taken off. From the CPU-s per megapixel-second above start-up, at the cores
each stage used, an extrapolation to 2,000 one-minute 1080p videos on this machine. The machine
is shared and noisy: read ratios, not absolute times.

The videos (generated once into ``.bench-cache/scale/`` and reused while the spec is the same):
30 fps, 720p and 1080p (half each), 10-60 s, H.264 High with B-frames (2-3), one slice, no
sliced threads, a keyframe every second, phone-like bitrates (ABR, ~10-14 Mbit/s at 1080p and
5-7 at 720p: the achieved rates are printed), some HEVC (libx265, in .MOV, no wavefronts)
where PyAV's FFmpeg has it, AAC audio on half, some portrait (a 90 degree display matrix, as
phones store it); moving, textured content (panning background, a moving foreground patch,
sensor-like noise); and the metadata CSV vidlab ingests beside them.

Writes reports/bench/scale.json and prints a Markdown table.

    uv run python benchmarks/scale.py [--videos N] [--max-seconds S]
    uv run python benchmarks/scale.py --quick          # 3 tiny videos: a smoke test
    uv run python benchmarks/scale.py --videos 40 --max-seconds 60   # scale up
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / ".bench-cache" / "scale"
GEN_VERSION = 3  # bump when the content or encoding of the generated videos changes
FPS = 30
# seconds of each video in turn (capped by --max-seconds); 8 videos: 200 s in all
DURATIONS = (20, 35, 15, 30, 25, 45, 10, 20, 60, 40, 12, 50)
TARGET = {"videos": 2000, "seconds": 60, "width": 1920, "height": 1080}
STAGES = ("ingest", "probe", "validate", "dedup", "split", "clips")
PER_VIDEO = ("ingest", "probe", "dedup", "clips")  # validate and split work on table rows
# the side-by-side contenders: reading, the floor, and the least decoding each mode implies
DECODERS = ("containers", "packets", "floor", "keyframes", "clip_gops")
TARGETS = {"full": 1.3, "fast": 0.3}  # the project's targets: chain CPU-s / floor CPU-s


# ----------------------------------------------------------------------------- video spec


@dataclasses.dataclass(frozen=True)
class VideoSpec:
    """One generated file."""

    name: str
    width: int
    height: int
    seconds: float
    codec: str  # h264 | hevc
    bframes: int
    bitrate: int  # target video bits per second (ABR)
    audio: bool
    rotation: int  # display matrix, counter-clockwise degrees (270 = a phone's "rotate=90")
    seed: int

    @property
    def frames(self) -> int:
        return round(self.seconds * FPS)


def plan(videos: int, max_seconds: float, small: bool, hevc: bool) -> list[VideoSpec]:
    """The videos of a run: alternately 1080p and 720p (or tiny with ``small``)."""
    specs = []
    for i in range(videos):
        full_hd = i % 2 == 0
        width, height = (1920, 1080) if full_hd else (1280, 720)
        if small:  # a fifth of the side; heights stay divisible by 4 (4:2:0 planes)
            width, height = (384, 216) if full_hd else (256, 144)
        mbps = (10 + 4 * (i // 2 % 2)) if full_hd else (5 + 2 * (i // 2 % 2))
        bitrate = round(mbps * 1e6 * width * height / ((1920 * 1080) if full_hd else (1280 * 720)))
        codec = "hevc" if hevc and i % 8 in (2, 5) else "h264"
        rotation = 270 if i % 3 == 1 else 0
        stamp = f"2024{1 + i % 12:02d}{1 + (7 * i) % 28:02d}_{9 + i % 10:02d}{(13 * i) % 60:02d}07"
        name = f"IMG_{4100 + i}.MOV" if codec == "hevc" else f"VID_{stamp}.mp4"
        specs.append(VideoSpec(name=name, width=width, height=height,
                               seconds=float(min(max_seconds, DURATIONS[i % len(DURATIONS)])),
                               codec=codec, bframes=2 + (i % 2), bitrate=bitrate,
                               audio=i % 4 in (0, 3), rotation=rotation, seed=1000 + i))
    return specs


# ----------------------------------------------------------------------------- generation


def _texture(rng, height: int, width: int, unit: float):
    """Natural-looking multi-scale texture (uint8), features ``unit`` x 3..48 pixels."""
    import numpy as np
    from PIL import Image

    acc = np.zeros((height, width), np.float32)
    for scale, weight in ((3, 0.3), (12, 0.4), (48, 0.3)):
        side = max(1.0, scale * unit)
        small = rng.random((max(2, int(height / side)), max(2, int(width / side))),
                           dtype=np.float32)
        image = Image.fromarray(small * 255.0, mode="F").resize((width, height),
                                                               Image.Resampling.BICUBIC)
        acc += weight * np.asarray(image)
    low, high = np.percentile(acc, (1, 99))
    return np.clip((acc - low) / max(high - low, 1e-3) * 219 + 16, 16, 235).astype(np.uint8)


def _frames(spec: VideoSpec):
    """yuv420p frames (H * 3 / 2, W): a panning, shaking background, a moving foreground patch
    and sensor-like noise, so the encoder has real work and the bitrate is a phone's."""
    import numpy as np

    rng = np.random.default_rng(spec.seed)
    w, h = spec.width, spec.height
    unit = h / 1080
    amp = max(8, (h // 8) // 2 * 2)  # pan amplitude, even
    bg_y = _texture(rng, h + 2 * amp + 16, w + 2 * amp + 16, unit)
    bg_u = _texture(rng, (h + 2 * amp + 16) // 2, (w + 2 * amp + 16) // 2, unit) // 4 + 96
    bg_v = _texture(rng, (h + 2 * amp + 16) // 2, (w + 2 * amp + 16) // 2, unit) // 4 + 96
    ph, pw = (h // 3) // 2 * 2, (w // 4) // 2 * 2
    fg_y = _texture(rng, ph, pw, unit * 0.5)
    fg_u = _texture(rng, ph // 2, pw // 2, unit) // 3 + 40
    fg_v = _texture(rng, ph // 2, pw // 2, unit) // 3 + 150
    noise = rng.integers(0, 4, (5, h, w), dtype=np.uint8)  # flips the 2 low bits: +-3 levels
    shake = np.clip(np.cumsum(rng.normal(0, 1.2, (spec.frames, 2)), axis=0), -6, 6)
    phase = rng.random(4) * 2 * math.pi
    buf = np.empty((h * 3 // 2, w), np.uint8)
    for i in range(spec.frames):
        t = i / FPS
        ox = int(amp + 8 + (amp - 2) * math.sin(2 * math.pi * t / 6.3 + phase[0]) + shake[i, 0])
        oy = int(amp + 8 + (amp - 2) * math.sin(2 * math.pi * t / 4.7 + phase[1]) + shake[i, 1])
        ox, oy = ox // 2 * 2, oy // 2 * 2
        px = int((w - pw) / 2 * (1 + math.sin(2 * math.pi * t / 5.0 + phase[2]))) // 2 * 2
        py = int((h - ph) / 2 * (1 + math.sin(2 * math.pi * t / 3.7 + phase[3]))) // 2 * 2
        y = buf[:h]
        y[:] = bg_y[oy:oy + h, ox:ox + w]
        y[py:py + ph, px:px + pw] = fg_y
        np.bitwise_xor(y, noise[i % len(noise)], out=y)
        for k, (bg, fg) in enumerate(((bg_u, fg_u), (bg_v, fg_v))):
            plane = buf[h + k * h // 4: h + (k + 1) * h // 4].reshape(h // 2, w // 2)
            plane[:] = bg[oy // 2:oy // 2 + h // 2, ox // 2:ox // 2 + w // 2]
            plane[py // 2:py // 2 + ph // 2, px // 2:px // 2 + pw // 2] = fg
        yield buf


def _video_stream(out, spec: VideoSpec):
    kbps = spec.bitrate // 1000
    vbv = f"vbv-maxrate={kbps * 3 // 2}:vbv-bufsize={kbps * 2}"
    gop = f"keyint={FPS}:min-keyint={FPS}:scenecut=0"
    if spec.codec == "hevc":
        options = {"preset": "ultrafast",
                   "x265-params": f"log-level=error:bframes={spec.bframes}:wpp=0:{gop}:{vbv}"}
        # no wavefronts (WPP): like one slice, nothing a phone's file gives a decoder to split
        stream = out.add_stream("libx265", rate=FPS, options=options)
        try:
            stream.codec_tag = "hvc1"  # as iPhones write it (FFmpeg's default is hev1)
        except (AttributeError, ValueError, TypeError):
            pass
    else:
        params = (f"bframes={spec.bframes}:b-adapt=1:slices=1:sliced-threads=0:{gop}:{vbv}")
        options = {"preset": "veryfast", "profile": "high", "x264-params": params}
        stream = out.add_stream("libx264", rate=FPS, options=options)
    stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
    stream.bit_rate = spec.bitrate
    stream.codec_context.gop_size = FPS
    stream.codec_context.thread_type = "FRAME"  # frame threads: x264 writes one slice
    if spec.rotation:
        stream.set_display_rotation(spec.rotation)
    return stream


def generate(spec: VideoSpec, path: Path) -> None:
    """Encode ``spec`` to ``path`` (video and audio interleaved, index at the end, as phones)."""
    import av
    import numpy as np

    rate, chunk = 48_000, 1024
    fmt = "mov" if path.suffix.lower() == ".mov" else "mp4"
    tmp = path.with_name(path.name + ".part")
    with av.open(str(tmp), "w", format=fmt) as out:
        stream = _video_stream(out, spec)
        audio = None
        if spec.audio:
            audio = out.add_stream("aac", rate=rate, layout="stereo")
            audio.bit_rate = 128_000
        rng = np.random.default_rng(spec.seed + 1)
        written = 0
        for i, buf in enumerate(_frames(spec)):
            frame = av.VideoFrame.from_ndarray(buf, format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
            while audio is not None and written < (i + 1) * rate // FPS:
                t = (written + np.arange(chunk)) / rate
                tone = 0.1 * np.sin(2 * np.pi * (220 + 40 * np.sin(t)) * t)
                samples = (tone + 0.02 * rng.standard_normal((2, chunk))).astype(np.float32)
                aframe = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
                aframe.sample_rate, aframe.pts = rate, written
                out.mux(audio.encode(aframe))
                written += chunk
        out.mux(stream.encode())
        if audio is not None:
            out.mux(audio.encode())
    tmp.replace(path)


def analyse(path: Path) -> dict:
    """What the file really is: frames, keyframe interval, B-frames, bitrates, rotation,
    and the encoder's own option string (slices, sliced threads, bframes)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        sizes, keys, b_frames, audio_bytes = 0, 0, 0, 0
        frames, latest = 0, -1
        for packet in container.demux():
            if packet.size == 0:
                continue
            if packet.stream.type == "audio":
                audio_bytes += packet.size
                continue
            if packet.stream.index != stream.index:
                continue
            frames += 1
            sizes += packet.size
            keys += bool(packet.is_keyframe)
            if packet.pts is not None:  # shown before a frame decoded earlier: a B-frame
                b_frames += packet.pts < latest
                latest = max(latest, packet.pts)
        codec = stream.codec_context.name
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
        rotation = getattr(first, "rotation", None)
    data = path.read_bytes()  # x264's SEI is in the first packet, x265's in hvcC (the moov)
    at = data.find(b"options: ")
    encoder = data[at + 9: data.find(b"\0", at)].decode("ascii", "replace") if at >= 0 else ""
    opts = dict(part.split("=", 1) for part in encoder.split() if "=" in part)
    seconds = frames / FPS
    return {"frames": frames, "seconds": seconds, "codec": codec,
            "video_mbps": round(sizes * 8 / seconds / 1e6, 2),
            "file_mbps": round(path.stat().st_size * 8 / seconds / 1e6, 2),
            "audio_kbps": round(audio_bytes * 8 / seconds / 1e3, 1),
            "keyframe_interval_s": round(seconds / max(keys, 1), 2),
            "b_frames": int(b_frames), "rotation": rotation,
            "encoder": {k: opts[k] for k in ("bframes", "slices", "sliced_threads", "threads",
                                             "keyint") if k in opts}
            | {k: True for k in ("wpp", "no-wpp") if k in encoder.split()}}


def write_csv(specs: list[VideoSpec], csv_path: Path) -> None:
    """The metadata CSV in the format `vidlab ingest` reads (the demo's columns)."""
    milestones = (("M_12M_001", 12), ("L_12M_002", 12), ("S_6M_001", 6), ("C_18M_003", 18))
    lines = ["filename,child_age,milestone_id,label,child_id,recorded_on"]
    for i, spec in enumerate(specs):
        milestone, age = milestones[i % len(milestones)]
        label = ("achieved", "not_achieved")[i % 2]
        lines.append(f"{spec.name},{age + i % 3},{milestone},{label},P{100 + i},"
                     f"2024-{1 + i % 12:02d}-{1 + (7 * i) % 28:02d}")
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ensure_videos(cache: Path, specs: list[VideoSpec]) -> dict:
    """Generate the videos into ``cache`` unless the same spec is there; returns the record."""
    key = {"version": GEN_VERSION, "fps": FPS, "videos": [dataclasses.asdict(s) for s in specs]}
    record_path = cache / "spec.json"
    videos = cache / "videos"
    cache.mkdir(parents=True, exist_ok=True)
    # the repository's .gitignore does not list the cache: keep it out of git (and test copies)
    (cache / ".gitignore").write_text("*\n")
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        if record.get("key") == key and all((videos / s.name).is_file() for s in specs):
            return record | {"reused": True}
        for old in record.get("key", {}).get("videos", []):  # only files this script made
            (videos / old["name"]).unlink(missing_ok=True)
        record_path.unlink()
    videos.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    files = {}
    for spec in specs:
        t0 = time.perf_counter()
        generate(spec, videos / spec.name)
        files[spec.name] = analyse(videos / spec.name) | {
            "encode_s": round(time.perf_counter() - t0, 1)}
        print(f"  generated {spec.name}: {spec.width}x{spec.height} {spec.codec} "
              f"{files[spec.name]['seconds']:.0f} s, {files[spec.name]['video_mbps']} Mbit/s",
              flush=True)
    write_csv(specs, cache / "metadata.csv")
    record = {"key": key, "files": files, "generation_s": round(time.perf_counter() - start, 1)}
    _atomic_json(record_path, record)
    return record | {"reused": False}


# ----------------------------------------------------------------------------- inner workers


def inner(kind: str, args: list[str]) -> None:
    """Runs in the measured subprocess; prints one JSON line."""
    import av

    if kind == "clipmem":
        _clip_memory(Path(args[0]), args[1])
        return
    paths = [Path(p) for p in args]
    result: dict = {"files": len(paths)}
    if kind == "containers":
        streams = 0
        for path in paths:
            with av.open(str(path)) as container:
                for stream in container.streams:
                    streams += 1
                    _ = (stream.type, stream.codec_context.name, stream.frames, stream.duration,
                         stream.time_base, getattr(stream, "average_rate", None))
        result["streams"] = streams
    elif kind == "packets":
        packets = size = 0
        for path in paths:
            with av.open(str(path)) as container:
                for packet in container.demux():
                    packets += 1
                    size += packet.size
        result |= {"packets": packets, "bytes": size}
    elif kind == "floor":
        per_file = []
        for path in paths:
            before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            frames = 0
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for _ in container.decode(stream):
                    frames += 1
            after = resource.getrusage(resource.RUSAGE_SELF)
            per_file.append({"name": path.name, "frames": frames,
                             "wall_s": time.perf_counter() - t0,
                             "cpu_s": after.ru_utime + after.ru_stime
                             - before.ru_utime - before.ru_stime})
        result["per_file"] = per_file
    elif kind == "keyframes":  # the least decoding fast mode's check prescribes
        frames = 0
        for path in paths:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                stream.codec_context.skip_frame = "NONKEY"
                frames += sum(1 for _ in container.decode(stream))
        result["frames"] = frames
    elif kind == "clip_gops":
        result |= _clip_gops(paths)
    print(json.dumps(result))


def _clip_gops(paths: list[Path]) -> dict:
    """The least decoding a clips stage that decodes on its own must do: for each of the
    default ``clips.eval_clips`` evenly spaced clips of every file (fewer than the training
    videos' ``train_clips``), decode from the keyframe at or before its first frame to its last
    frame, threaded; nothing converted, nothing kept. Clips that share decoded frames decode
    them once, as the clips stage's reader does."""
    import av

    from vidlab import config as params_mod
    from vidlab.data.cache import sample_video, video_rng
    from vidlab.media.decode import FrameTable

    p = params_mod.load(ROOT / "params.yaml").clips
    decoded = wanted = 0
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            table = FrameTable(container, stream)
            clips = sample_video(table.times, "test", p, video_rng(0, path.name))
            index_of = {int(t): i for i, t in enumerate(table.pts)}
            position = -1
            for clip in sorted(clips, key=lambda c: c.indices[0]):
                first, last = min(clip.indices), max(clip.indices)
                wanted += len(clip.indices)
                keyframe = int(table.keyframe_of[first])
                if keyframe > position or first <= position:  # else decode on through the gap
                    container.seek(int(table.pts[keyframe]), stream=stream, backward=True)
                    frames, position = container.decode(stream), -1
                while position < last:
                    frame = next(frames, None)
                    if frame is None:
                        break
                    decoded += 1
                    position = index_of.get(int(frame.pts), position + 1)
    return {"frames_decoded": decoded, "frames_wanted": wanted,
            "clips_params": {"eval_clips": p.eval_clips, "clip_len": p.clip_len,
                             "target_fps": p.target_fps, "stride": p.stride}}


def _clip_memory(path: Path, params_file: str) -> None:
    from vidlab import config as params_mod
    from vidlab.config import replace
    from vidlab.data.cache import decode_clips

    params = params_mod.load(Path(params_file))
    p = replace(params.clips, train_clips=4)
    imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = decode_clips(str(path), "train", "x", p, params.base.seed)
    arrays = out.get("arrays")
    shapes = [list(getattr(a, "shape", ())) for a in arrays] if isinstance(arrays, list | tuple) \
        else list(getattr(arrays, "shape", []))
    print(json.dumps({"rss_after_imports_mb": imported / 1024, "backend": out.get("backend"),
                      "clips": len(out.get("clips", [])), "shapes": shapes,
                      "clips_params": {"train_clips": p.train_clips, "clip_len": p.clip_len,
                                       "size": p.size, "target_fps": p.target_fps,
                                       "backend": p.backend}}))


# ----------------------------------------------------------------------------- measuring


def measure(cmd: list[str], cwd: Path, env: dict, log: Path) -> dict:
    """Run ``cmd``; wall, CPU-s and peak RSS of it and every descendant it waited for."""
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    text = log.read_text(errors="replace")
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": cpu, "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime, "cores": cpu / wall if wall > 0 else 0.0,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "output_tail": text.strip().splitlines()[-6:] if text.strip() else []}


def _env(keys: Path) -> dict:
    return os.environ | {
        "VIDLAB_KEY_DIR": str(keys),  # a private key made by ingest, outside the project
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
    }


def _inner_cmd(kind: str, args: list[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--inner", kind, *args]


def _last_json(lines: list[str]) -> dict:
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


# ----------------------------------------------------------------------------- the project


def fast_mode_available() -> tuple[bool, str]:
    """Whether probe.integrity (full | fast) exists in the config or params.yaml."""
    import yaml

    from vidlab.config.data import ProbeParams

    in_yaml = "integrity" in (yaml.safe_load((ROOT / "params.yaml").read_text()).get("probe")
                              or {})
    if "integrity" in ProbeParams.model_fields or in_yaml:
        return True, "probe.integrity exists"
    return False, "fast mode not available: no probe.integrity in params.yaml or the config"


def stages_reading_integrity() -> list[str]:
    """dvc.yaml's stages whose params name probe.integrity (or the whole probe section)."""
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [name for name, stage in stages.items()
            if any(str(p).split(":")[0] in ("probe", "probe.integrity")
                   for p in (stage.get("params") or []))]


def project_params(cache: Path, n_videos: int, integrity: str | None) -> tuple[dict, dict]:
    """params.yaml for a user's project on the cached videos; and the overrides made."""
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    overrides = {"data.source": "custom", "data.csv": str(cache / "metadata.csv"),
                 "data.videos": str(cache / "videos")}
    for section in ("ingest", "probe", "dedup", "clips", "demo"):
        if "workers" in params.get(section, {}):
            overrides[f"{section}.workers"] = 0
    if n_videos < params["validate"]["min_videos"]:
        overrides["validate.min_videos"] = n_videos  # a run of N videos is a dataset of N
    if n_videos < 30:  # val and test of 15 % hold one or two videos: not every class in each
        overrides["split.require_all_classes"] = False
    split = params["split"]
    if min(split["val"], split["test"]) * n_videos < 1:  # too few for one video in each split
        share = round(1 / n_videos, 4)
        overrides |= {"split.val": share, "split.test": share,
                      "split.train": round(1 - 2 * share, 4)}
    if integrity is not None:
        overrides["probe.integrity"] = integrity
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        params[section][key] = value
    return params, overrides


def make_project(folder: Path, params: dict) -> Path:
    import yaml

    from vidlab import config as params_mod

    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(ROOT / "expectations", folder / "expectations")
    params_mod.load(folder / "params.yaml")  # refuse a params file vidlab would refuse
    return folder


def _link_copy(src: Path, dst: Path) -> None:
    """Copy a project; ingest's video copies (never written again) as hard links."""
    videos = str(src / "data" / "interim" / "videos")

    def link(a: str, b: str) -> None:
        try:
            if not a.startswith(videos + os.sep):
                raise OSError
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link, symlinks=True)


def run_stage(stage: str, project: Path, env: dict, logs: Path, label: str) -> dict:
    row = measure(["vidlab", stage], project, env, logs / f"{label}.log")
    row["ok"] = row["rc"] == 0
    return row


def run_chain(project: Path, stages: list[str], env: dict, logs: Path, mode: str,
              after_ingest=None) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    failed = None
    for stage in stages:
        if failed:
            rows[stage] = {"ok": False, "skipped": f"{failed} failed"}
            continue
        print(f"  {mode}: vidlab {stage} ...", flush=True)
        rows[stage] = run_stage(stage, project, env, logs, f"{mode}-{stage}")
        if not rows[stage]["ok"]:
            failed = stage
            print(f"  {mode}: vidlab {stage} FAILED (exit {rows[stage]['rc']}):\n    "
                  + "\n    ".join(rows[stage]["output_tail"]), flush=True)
        if stage == "ingest" and after_ingest is not None and rows[stage]["ok"]:
            after_ingest()
    return rows


def manifest_check(project: Path) -> dict:
    """Statuses, codecs and rotations the probe recorded (a sanity check of the videos)."""
    import pandas as pd

    path = project / "data" / "interim" / "manifest.parquet"
    if not path.is_file():
        return {}
    frame = pd.read_parquet(path)
    out = {"status": frame["status"].value_counts().to_dict()}
    for column in ("codec", "rotation"):
        if column in frame:
            out[column] = {str(k): int(v) for k, v in frame[column].value_counts().items()}
    return out


# ----------------------------------------------------------------------------- report


def _ratios(row: dict, floor: dict, video_s: float, mps: float) -> dict:
    if "cpu_s" not in row:
        return row
    return row | {"cpu_per_video_s": row["cpu_s"] / video_s,
                  "cpu_per_megapixel_s": row["cpu_s"] / mps,
                  "x_floor_cpu": row["cpu_s"] / floor["cpu_s"],
                  "x_floor_wall": row["wall_s"] / floor["wall_s"]}


def net(row: dict, startup: dict | None) -> dict:
    """A row's CPU-s and wall less the same process's cost on 3 tiny files (interpreter start,
    imports, params, writing the outputs): what grows with the videos."""
    if "cpu_s" not in row:
        return {}
    if not startup or "cpu_s" not in startup:
        return {"cpu_s": row["cpu_s"], "wall_s": row["wall_s"], "cores": row["cores"],
                "startup_cpu_s": 0.0, "startup_wall_s": 0.0}
    cpu = max(row["cpu_s"] - startup["cpu_s"], 0.0)
    wall = max(row["wall_s"] - startup["wall_s"], 1e-3)
    return {"cpu_s": cpu, "wall_s": wall, "cores": cpu / wall,
            "startup_cpu_s": startup["cpu_s"], "startup_wall_s": startup["wall_s"]}


def extrapolate(row: dict, startup: dict | None, mps: float, target_mps: float,
                per_video: bool, cores: int) -> dict:
    """Hours for the target dataset on this machine: the CPU-s per megapixel-second above the
    start-up cost, scaled to it, at the cores this stage used here; plus the start-up once.
    Stages that work on table rows (validate, split) count once, as measured."""
    if "cpu_s" not in row:
        return {}
    if not per_video:
        return {"cpu_h": row["cpu_s"] / 3600, "wall_h": row["wall_s"] / 3600,
                "basis": "measured once (works on table rows, not per video)"}
    grown = net(row, startup)
    used = min(max(grown["cores"], 0.05), cores)
    cpu_s = grown["cpu_s"] / mps * target_mps
    return {"cpu_h": (cpu_s + grown["startup_cpu_s"]) / 3600,
            "wall_h": (cpu_s / used + grown["startup_wall_s"]) / 3600,
            "cpu_per_megapixel_s": grown["cpu_s"] / mps, "cores": used,
            "basis": "CPU-s per megapixel-second above start-up, at the cores used here"}


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[tuple[str, dict]]) -> str:
    head = ("| stage | wall s | CPU-s | cores | CPU-s per video-s | x floor (CPU) | "
            "x floor (wall) | peak RSS MB |")
    lines = [head, "|" + "---|" * 8]
    for name, r in rows:
        if "cpu_s" not in r:
            lines.append(f"| {name} | {r.get('skipped') or 'failed'} |  |  |  |  |  |  |")
            continue
        lines.append(f"| {name} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['cores']:.2f} | "
                     f"{r['cpu_per_video_s']:.3f} | {_fmt(r.get('x_floor_cpu'))} | "
                     f"{_fmt(r.get('x_floor_wall'))} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def machine() -> dict:
    import av

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cores": os.cpu_count(), "cpu_model": model or platform.processor(),
            "python": platform.python_version(), "platform": platform.platform(),
            "pyav": av.__version__,
            "ffmpeg": getattr(av, "ffmpeg_version_info", None),
            "libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
    try:
        import decord

        info["decord"] = decord.__version__
    except ImportError:
        info["decord"] = None
    return info


def _atomic_json(path: Path, data: dict) -> None:
    from vidlab.core.fsutil import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


# ----------------------------------------------------------------------------- main


def measure_decoders(paths: list[str], tmp: Path, env: dict, logs: Path, tag: str = "") -> dict:
    rows = {}
    for kind in DECODERS:
        print(f"  {kind}{tag} ...", flush=True)
        row = measure(_inner_cmd(kind, paths), tmp, env, logs / f"{kind}{tag}.log")
        row["ok"] = row["rc"] == 0
        row["result"] = _last_json(row["output_tail"])
        if not row["ok"]:
            raise SystemExit(f"{kind} failed:\n" + "\n".join(row["output_tail"]))
        rows[kind] = row
    return rows


def measure_stages(cache: Path, n_videos: int, tmp: Path, env: dict, logs: Path,
                   fast: bool, rerun: list[str], tag: str = "",
                   modes: tuple[str, ...] = ("full", "fast")) -> dict:
    """The chain in each mode, in project folders under ``tmp``; {mode: {stage: row}}, the
    overrides, the projects and what their manifests say."""
    chains: dict[str, dict[str, dict]] = {}
    overrides: dict[str, dict] = {}
    projects: dict[str, Path] = {}
    checks: dict[str, dict] = {}
    for mode in modes if fast else ("full",):
        label = f"{mode}{tag}"
        params, overrides[mode] = project_params(cache, n_videos, mode if fast else None)
        if mode == "fast" and "ingest" not in rerun and "fast" in projects:
            # ingest does not read probe.integrity: its outputs are the full run's
            project = projects["fast"]
            (project / "params.yaml").unlink()
            (project / "params.yaml").write_text(yaml_dump(params))
            chain = run_chain(project, list(STAGES[1:]), env, logs, label)
            chain = {"ingest": chains["full"]["ingest"] | {"shared_with": "full"}} | chain
        else:
            project = make_project(tmp / label, params)
            projects[mode] = project
            hook = None
            if mode == "full" and fast and "fast" in modes and "ingest" not in rerun:
                def hook(src=project, dst=tmp / f"fast{tag}"):
                    _link_copy(src, dst)
                    projects["fast"] = dst
            chain = run_chain(project, list(STAGES), env, logs, label, after_ingest=hook)
        chains[mode] = chain
        checks[mode] = manifest_check(project)
    return {"chains": chains, "overrides": overrides, "projects": projects, "checks": checks}


def yaml_dump(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def clip_memory(specs: list[VideoSpec], cache: Path, params_file: Path, tmp: Path, env: dict,
                logs: Path) -> dict:
    """One clips worker on one file of the largest size (H.264), in a fresh process."""
    top = max(s.height for s in specs)
    big = next((s for s in specs if s.height == top and s.codec == "h264"), specs[0])
    print("  clips worker memory ...", flush=True)
    row = measure(_inner_cmd("clipmem", [str(cache / "videos" / big.name), str(params_file)]),
                  tmp, env, logs / "clipmem.log")
    row["result"] = _last_json(row["output_tail"])
    row["file"] = {"name": big.name, "width": big.width, "height": big.height,
                   "seconds": big.seconds, "codec": big.codec}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--small", action="store_true", help="tiny frames (a smoke test)")
    parser.add_argument("--quick", action="store_true",
                        help="--videos 3 --max-seconds 3 --small --no-startup (a smoke test; "
                             "split needs 3 groups)")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the start-up run (the chain on 3 tiny files, whose cost is "
                             "taken off before extrapolating)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "scale.json")
    parser.add_argument("--keep", action="store_true", help="keep the project folders")
    parser.add_argument("--inner", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner[0], args.inner[1:])
        return
    if args.quick:
        args.videos, args.max_seconds, args.small, args.no_startup = 3, 3.0, True, True
    import av

    cores = os.cpu_count() or 1
    started = time.perf_counter()
    hevc = "libx265" in av.codecs_available
    notes = [] if hevc else ["libx265 is not in PyAV's FFmpeg: every video is H.264"]
    if not hevc:
        print("HEVC: libx265 is not available in PyAV's FFmpeg; using H.264 for all videos")
    specs = plan(args.videos, args.max_seconds, args.small, hevc)
    cache = args.cache.resolve()
    print(f"videos: {len(specs)} into {cache} ...", flush=True)
    record = ensure_videos(cache, specs)
    tiny_specs = plan(3, 3.0, True, hevc)
    tiny_cache = cache / "startup"
    if not args.no_startup:
        ensure_videos(tiny_cache, tiny_specs)
    generation_s = time.perf_counter() - started
    files = record["files"]
    video_s = sum(files[s.name]["seconds"] for s in specs)
    mps = sum(files[s.name]["seconds"] * s.width * s.height for s in specs) / 1e6
    for s in specs:
        f = files[s.name]
        print(f"  {s.name}: {s.width}x{s.height} {f['codec']} {f['seconds']:.0f} s, "
              f"video {f['video_mbps']} Mbit/s (target {s.bitrate / 1e6:.1f}), "
              f"keyframe every {f['keyframe_interval_s']} s, B-frames "
              f"{f['b_frames']}/{f['frames']}, audio {'AAC' if s.audio else 'none'}, rotation "
              f"{f['rotation']}, encoder {f['encoder']}")
    print(f"generation: {'reused' if record['reused'] else 'made'} in {generation_s:.1f} s "
          f"(first made in {record['generation_s']} s); {video_s:.0f} s of video, "
          f"{mps:.1f} megapixel-seconds", flush=True)

    measure_start = time.perf_counter()
    load_before = os.getloadavg()
    fast, fast_note = fast_mode_available()
    print(fast_note if not fast else "probe.integrity exists: full and fast modes", flush=True)
    rerun = stages_reading_integrity()
    with tempfile.TemporaryDirectory(prefix="vidlab-scale-") as tmp_name:
        tmp = Path(tmp_name)
        logs = tmp / "logs"
        logs.mkdir()
        env = _env(tmp / "keys")
        rows = measure_decoders([str(cache / "videos" / s.name) for s in specs], tmp, env, logs)
        staged = measure_stages(cache, len(specs), tmp, env, logs, fast, rerun)
        clipmem = clip_memory(specs, cache, staged["projects"]["full"] / "params.yaml", tmp,
                              env, logs)
        startup: dict[str, dict] = {}
        if not args.no_startup:
            print("start-up cost: the same processes on 3 tiny files ...", flush=True)
            tiny = measure_decoders([str(tiny_cache / "videos" / s.name) for s in tiny_specs],
                                    tmp, env, logs, tag="-startup")
            tiny_staged = measure_stages(tiny_cache, len(tiny_specs), tmp, env, logs, fast,
                                         rerun, tag="-startup", modes=("full",))
            startup = {k: tiny[k] for k in DECODERS if k in tiny} | {
                s: r for s, r in tiny_staged["chains"]["full"].items() if "cpu_s" in r}
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="vidlab-scale-kept-"))
            shutil.copytree(tmp, kept, dirs_exist_ok=True, symlinks=True)
            print(f"projects kept in {kept}")
    measurement_s = time.perf_counter() - measure_start
    result = report(specs, files, video_s, mps, rows, staged, startup, clipmem, fast, cores)
    failures = {f"{m}:{s}": c[s]["output_tail"] for m, c in staged["chains"].items()
                for s in STAGES if "rc" in c[s] and c[s]["rc"] != 0}
    load_after = os.getloadavg()
    print(f"time: generation {generation_s:.1f} s, measurement {measurement_s:.1f} s; load "
          f"average {load_before[0]:.2f} before, {load_after[0]:.2f} after (others share the "
          "machine: read the ratios)")
    result = {
        "machine": machine(),
        "spec": {"videos": [dataclasses.asdict(s) for s in specs], "files": files,
                 "fps": FPS, "video_seconds": video_s, "megapixel_seconds": mps,
                 "hevc": hevc, "generation_version": GEN_VERSION, "cache": str(cache),
                 "reused": record["reused"]},
        "args": {"videos": args.videos, "max_seconds": args.max_seconds, "small": args.small,
                 "startup_run": not args.no_startup},
        "notes": notes + [fast_note],
        "fast_mode": fast, "integrity_rerun_stages": rerun if fast else [],
        "overrides": staged["overrides"],
        **result,
        "clips_worker_memory": clipmem,
        "manifest": staged["checks"],
        "failures": failures,
        "time_s": {"generation": generation_s, "generation_first": record["generation_s"],
                   "measurement": measurement_s},
        "load_average": {"before": load_before, "after": load_after},
    }
    _atomic_json(args.out, result)
    print(f"-> {args.out}")
    if failures:
        raise SystemExit(f"{len(failures)} stage(s) failed: {sorted(failures)}")


def report(specs: list[VideoSpec], files: dict, video_s: float, mps: float, rows: dict,
           staged: dict, startup: dict, clipmem: dict, fast: bool, cores: int) -> dict:
    """Print the table and the extrapolation; return their numbers for the JSON."""
    chains = staged["chains"]
    target_mps = TARGET["videos"] * TARGET["seconds"] * TARGET["width"] * TARGET["height"] / 1e6
    floor = rows["floor"] = _ratios(rows["floor"], rows["floor"], video_s, mps)
    result_rows: list[tuple[str, dict]] = []
    for kind in DECODERS:
        rows[kind] = _ratios(rows[kind], floor, video_s, mps)
        result_rows.append((kind, rows[kind]))
    totals: dict[str, dict] = {}
    extrap = {"floor": extrapolate(floor, startup.get("floor"), mps, target_mps, True, cores)}
    floor_net = net(floor, startup.get("floor"))
    for mode, chain in chains.items():
        suffix = f" [{mode}]" if fast else ""
        for stage in STAGES:
            chain[stage] = _ratios(chain[stage], floor, video_s, mps)
            if stage in startup:
                chain[stage]["startup"] = {k: startup[stage][k]
                                           for k in ("cpu_s", "wall_s", "peak_rss_mb")}
            shared = " (= the full run's)" if "shared_with" in chain[stage] else ""
            result_rows.append((f"vidlab {stage}{suffix}{shared}", chain[stage]))
            extrap[f"{mode}:{stage}"] = extrapolate(chain[stage], startup.get(stage), mps,
                                                    target_mps, stage in PER_VIDEO, cores)
        for label, members in (("ingest -> clips", STAGES), ("per-video stages", PER_VIDEO)):
            measured = [chain[s] for s in members if "cpu_s" in chain[s]]
            if len(measured) != len(members):
                totals[f"{mode}: {label}"] = {"skipped": "a stage failed"}
                continue
            cpu, wall = sum(r["cpu_s"] for r in measured), sum(r["wall_s"] for r in measured)
            total = _ratios({"wall_s": wall, "cpu_s": cpu, "cores": cpu / wall,
                             "peak_rss_mb": max(r["peak_rss_mb"] for r in measured),
                             "stages": list(members)}, floor, video_s, mps)
            if startup and all(s in startup for s in members):
                grown = [net(chain[s], startup[s]) for s in members]
                total["without_startup"] = {
                    "cpu_s": sum(g["cpu_s"] for g in grown),
                    "x_floor_cpu": sum(g["cpu_s"] for g in grown) / floor_net["cpu_s"],
                    "x_floor_wall": sum(g["wall_s"] for g in grown) / floor_net["wall_s"]}
            totals[f"{mode}: {label}"] = total
            result_rows.append((f"**total {label}{suffix}**", total))
        hours = [extrap[f"{mode}:{s}"] for s in STAGES if extrap.get(f"{mode}:{s}")]
        if len(hours) == len(STAGES):
            extrap[f"{mode}: total"] = {"cpu_h": sum(h["cpu_h"] for h in hours),
                                        "wall_h": sum(h["wall_h"] for h in hours)}

    print()
    print(f"## vidlab scale benchmark: {len(specs)} videos, {video_s:.0f} s of video "
          f"({mps:.1f} megapixel-s), {cores} cores ({machine()['cpu_model']})")
    print()
    print(table(result_rows))
    print()
    per_file = floor.get("result", {}).get("per_file", [])
    print(f"floor: {sum(f['frames'] for f in per_file)} frames decoded, "
          f"{floor['cpu_s'] / mps:.3f} CPU-s per megapixel-second overall"
          + _floor_1080(per_file, specs, files))
    if startup:
        print("start-up (the same process on 3 tiny files: interpreter, imports, params, "
              "outputs), CPU-s: " + ", ".join(f"{k} {v['cpu_s']:.1f}" for k, v in startup.items()))
    for mode in chains:
        t = totals.get(f"{mode}: ingest -> clips", {})
        if "cpu_s" not in t:
            print(f"{mode} mode ingest -> clips: not measured (a stage failed)")
            continue
        goal = TARGETS[mode]
        line = (f"{mode} mode ingest -> clips: {t['x_floor_cpu']:.2f}x the floor's CPU-s, "
                f"{t['x_floor_wall']:.2f}x its wall "
                f"({'meets' if t['x_floor_cpu'] <= goal else 'misses'} the target <= {goal}x)")
        if "without_startup" in t:
            w = t["without_startup"]
            line += (f"; without start-up costs: {w['x_floor_cpu']:.2f}x CPU, "
                     f"{w['x_floor_wall']:.2f}x wall "
                     f"({'meets' if w['x_floor_cpu'] <= goal else 'misses'})")
        print(line)
    if not fast:
        print("fast mode not available")
    print(bound_line(rows, startup))
    print()
    floor_x = extrap["floor"]
    print(f"Extrapolation to {TARGET['videos']} videos x {TARGET['seconds']} s at "
          f"{TARGET['width']}x{TARGET['height']} ({target_mps:,.0f} megapixel-s) on this machine "
          f"({cores} cores): per-video stages from their CPU-s per megapixel-second (all files, "
          "both sizes"
          + (", start-up cost taken off and added once" if startup else ", start-up included")
          + ") at the cores each used here; validate and split counted once as measured:")
    print(f"- floor: {floor_x['wall_h']:.1f} h wall ({floor_x['cpu_h']:.1f} CPU-h)")
    for mode in chains:
        parts = ", ".join(f"{s} {extrap[f'{mode}:{s}']['wall_h']:.2f} h"
                          for s in STAGES if extrap.get(f"{mode}:{s}"))
        total = extrap.get(f"{mode}: total")
        line = f"- {mode} mode: {parts}"
        if total:
            line += (f"; total {total['wall_h']:.1f} h wall ({total['cpu_h']:.1f} CPU-h), "
                     f"{total['wall_h'] / floor_x['wall_h']:.2f}x the floor's wall")
        print(line)
    print()
    r = clipmem.get("result", {})
    f = clipmem["file"]
    print(f"clips worker memory at {f['width']}x{f['height']} ({f['name']}, {f['seconds']:.0f} s, "
          f"4 train clips, backend {r.get('backend', '?')}): peak RSS "
          f"{clipmem['peak_rss_mb']:.0f} MB ({r.get('rss_after_imports_mb', 0):.0f} MB after "
          "imports)" + ("" if clipmem["rc"] == 0 else f"; FAILED: {clipmem['output_tail']}"))
    for mode, check in staged["checks"].items():
        if check:
            print(f"manifest ({mode}): {check}")
    return {"rows": {k: rows[k] for k in DECODERS}
            | {f"{m}:{s}": chains[m][s] for m in chains for s in STAGES},
            "totals": totals, "targets_x_floor_cpu": TARGETS,
            "least_decoding_x_floor_cpu": bounds(rows, startup),
            "startup": startup,
            "extrapolation": {"target": TARGET | {"megapixel_seconds": target_mps}, **extrap}}


def bounds(rows: dict, startup: dict) -> dict:
    """The least each mode's ingest -> clips can cost, as a ratio to the floor's CPU-s (start-up
    taken off where measured): ``full`` decodes every frame (the floor itself) and then the
    clips' groups of pictures; ``fast`` decodes every keyframe and then those groups. Neither
    counts ingest, the last group of pictures, or any conversion."""
    floor = net(rows["floor"], startup.get("floor"))["cpu_s"]
    part = {k: net(rows[k], startup.get(k))["cpu_s"] / floor for k in ("keyframes", "clip_gops")}
    return {"full": 1.0 + part["clip_gops"], "fast": part["keyframes"] + part["clip_gops"],
            "keyframes": part["keyframes"], "clip_gops": part["clip_gops"]}


def bound_line(rows: dict, startup: dict) -> str:
    b = bounds(rows, startup)
    return ("least decoding the modes imply, x the floor's CPU-s: every keyframe "
            f"{b['keyframes']:.2f}, the eval clips' groups of pictures {b['clip_gops']:.2f}; "
            f"so ingest -> clips costs at least {b['full']:.2f}x in full mode "
            f"(target {TARGETS['full']}) and {b['fast']:.2f}x in fast mode "
            f"(target {TARGETS['fast']}) while clips decode on their own")


def _floor_1080(per_file: list[dict], specs: list[VideoSpec], files: dict) -> str:
    by_name = {s.name: s for s in specs}
    top = max(s.height for s in specs)
    chosen = [f for f in per_file if by_name[f["name"]].height == top]
    if not chosen:
        return ""
    spec_of = [by_name[f["name"]] for f in chosen]
    mps = sum(files[s.name]["seconds"] * s.width * s.height for s in spec_of) / 1e6
    seconds = sum(files[s.name]["seconds"] for s in spec_of)
    cpu = sum(f["cpu_s"] for f in chosen)
    return (f"; {spec_of[0].width}x{top} files alone: {cpu / seconds:.3f} CPU-s per video-s, "
            f"{cpu / mps:.3f} per megapixel-s")


if __name__ == "__main__":
    main()
