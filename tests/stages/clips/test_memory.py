"""The clips stage's memory: a worker holds one full-resolution frame (a few with decord) at a
time, no torch is imported, and the stage's process does not grow with the number of videos.

Peak memory is the whole process's peak resident set, measured in a fresh Python process so
nothing the test session loaded counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidlab.media.encode import write_video

pytest.importorskip("resource")  # peak memory as the OS counts it; not on Windows

ROOT = Path(__file__).resolve().parents[3]
WORKER_LIMIT_MB = 500

# The process's peak resident set. Linux adds to a process's ru_maxrss the peak of the process
# that exec'ed it (with vfork, this test session's, hundreds of MB), so there the same peak is
# read from the new process's own memory map (VmHWM); macOS reports ru_maxrss in bytes.
PEAK = """
import os, resource, sys
if os.path.exists("/proc/self/status"):
    with open("/proc/self/status") as status:
        PEAK_MB = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    PEAK_MB = peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)
"""

WORKER = """
import json, sys
import vidlab.stages.clips.stage  # what the stage's process imports before forking workers
from vidlab.config import load, replace
from vidlab.data.cache import decode_clips

params = load(sys.argv[1])
p = replace(params.clips, train_clips=4, clip_len=8, backend=sys.argv[3])
done = decode_clips(sys.argv[2], "train", "v0000000000000001", p, params.base.seed)
""" + PEAK + """
print(json.dumps({"peak_mb": PEAK_MB, "torch": "torch" in sys.modules,
                  "shape": list(done["arrays"].shape), "backend": done["backend"]}))
"""

STAGE = """
import json, sys
from pathlib import Path
from vidlab.config import load, replace
from vidlab.stages.clips import stage

params = load(sys.argv[1])
clips = replace(params.clips, clip_len=8, target_fps=None, size=256, train_clips=4, workers=1)
out = Path(sys.argv[3])
stage.run(replace(params, clips=clips), splits=Path(sys.argv[2]), out=out / "clips",
          reports=out / "reports")
""" + PEAK + """
print(json.dumps({"peak_mb": PEAK_MB, "torch": "torch" in sys.modules}))
"""


def python(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def full_hd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 1080p H.264 at 30 fps with B-frames: a coarse random texture drifting sideways."""
    import av

    rng = np.random.default_rng(3)
    texture = np.repeat(np.repeat(rng.integers(0, 256, (135, 255, 3), dtype=np.uint8), 8, 0),
                        8, 1)  # 1080 x 2040
    path = tmp_path_factory.mktemp("hd") / "hd.mp4"
    write_video(path, (np.ascontiguousarray(texture[:, 4 * i:4 * i + 1920]) for i in range(90)),
                fps=30, crf=23)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.frames) == (1920, 1080, 90)
        assert stream.codec_context.has_b_frames
    return path


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_a_1080p_clips_worker_stays_small_and_torch_free(full_hd: Path, backend: str) -> None:
    """The demo's clip settings (4 training clips of 8 frames, fitted to 64 x 64) on a 1080p
    video: before frames were fitted as decoded, a worker peaked at 1.4-1.75 GB."""
    done = python(WORKER, ROOT / "params.yaml", full_hd, backend)
    assert done["backend"] == backend
    assert done["shape"] == [4, 8, 64, 64, 3]
    assert not done["torch"]
    assert done["peak_mb"] < WORKER_LIMIT_MB, done


@pytest.mark.decord
def test_backends_fit_the_same_clips(full_hd: Path, params) -> None:
    """PyAV and decord decode the same frames of an H.264 MP4 with B-frames, and the fit is
    deterministic, so the cached clips are the same bytes whichever backend decoded them."""
    from vidlab.config import replace
    from vidlab.data.cache import read_clips, sample_video, video_rng

    def clips(backend: str, crop: str) -> np.ndarray:
        p = replace(params.clips, backend=backend, crop=crop, train_clips=3)
        rng = video_rng(params.base.seed, "v0000000000000001")
        _, arrays, _, used = read_clips(full_hd, p, lambda t: sample_video(t, "train", p, rng))
        assert used == backend
        return arrays

    for crop in ("center", "letterbox"):
        pyav = clips("pyav", crop)
        assert pyav.shape == (3, 8, 64, 64, 3)
        assert np.array_equal(pyav, clips("decord", crop)), crop
        assert np.array_equal(pyav, clips("pyav", crop))


def test_the_stage_process_does_not_grow_with_the_videos(tiny_video, tmp_path: Path) -> None:
    """The same stage on 5 and on 10 videos, each giving 6 MB of clips (4 clips of 8 frames at
    256 x 256): the stage's own process peaks at the same memory, and never imports torch."""
    from vidlab.data.cache import LABEL_COLUMNS

    def run(count: int) -> dict:
        lines = [",".join(["video_id", "path", *LABEL_COLUMNS, "split"])]
        for k in range(count):
            path = tiny_video(f"v{k:02d}.mp4", n_frames=16)
            lines.append(f"c{k:015d},{path},achieved,motor,7-12m,M_12M_001,train")
        splits = tmp_path / f"splits-{count}.csv"
        splits.write_text("\n".join(lines) + "\n")
        return python(STAGE, ROOT / "params.yaml", splits, tmp_path / f"out-{count}")

    few, many = run(5), run(10)
    assert not few["torch"] and not many["torch"]
    added_mb = 5 * 4 * 8 * 256 * 256 * 3 / 2 ** 20  # what holding the clips would add: 30 MB
    assert many["peak_mb"] - few["peak_mb"] < added_mb / 3, (few, many)
