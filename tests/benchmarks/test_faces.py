"""The faces benchmark's smoke test: one short 720p video, every contender, deface included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "faces.py"


@pytest.mark.slow
def test_quick_faces_benchmark_measures_every_contender(tmp_path: Path) -> None:
    out = tmp_path / "faces.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "0.5", "--videos", "1",
                           "--repeats", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert set(result["frames_per_s"]) == {"detect", "blur", "verify", "deface"}
    assert all(v > 0 for v in result["frames_per_s"].values())
    assert result["blur_vs_deface"] > 0 and result["size"] == "1280x720"
    assert result["recall"] == 1.0  # the photograph's face, found on every frame
    assert result["frames_failing_verification"] == 0
