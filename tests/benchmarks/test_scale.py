"""The scale benchmark's smoke test: its quick variant end to end (2 tiny videos)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scale.py"
STAGES = ("ingest", "probe", "validate", "dedup", "split", "clips")


@pytest.mark.slow
def test_quick_scale_benchmark_measures_every_row(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--cache",
                           str(tmp_path / "cache"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "| floor |" in done.stdout
    result = json.loads(out.read_text())
    modes = ("full", "fast") if result["fast_mode"] else ("full",)
    expected = ({"containers", "packets", "floor", "keyframes", "clip_gops"}
                | {f"{m}:{s}" for m in modes for s in STAGES})
    assert set(result["rows"]) == expected
    for name, row in result["rows"].items():
        for key in ("wall_s", "cpu_s", "cores", "peak_rss_mb", "cpu_per_video_s",
                    "x_floor_cpu", "x_floor_wall"):
            assert row[key] > 0, (name, key, row)
    for mode in modes:
        total = result["totals"][f"{mode}: ingest -> clips"]
        assert total["cpu_s"] > 0 and total["x_floor_cpu"] > 0, total
        assert result["extrapolation"][f"{mode}: total"]["wall_h"] > 0
    assert result["extrapolation"]["floor"]["cpu_h"] > 0
    gops = result["rows"]["clip_gops"]["result"]
    assert gops["frames_decoded"] >= 1 and gops["frames_wanted"] >= 1, gops
    least = result["least_decoding_x_floor_cpu"]
    assert least["full"] == pytest.approx(1 + least["clip_gops"])
    assert least["fast"] == pytest.approx(least["keyframes"] + least["clip_gops"])
    assert "least decoding the modes imply" in done.stdout
    assert result["clips_worker_memory"]["peak_rss_mb"] > 0
    assert result["clips_worker_memory"]["result"]["clips"] == 4
    assert result["spec"]["video_seconds"] > 0 and result["machine"]["cores"] >= 1
