"""The quality benchmark's smoke test: one short video per size, every contender, the ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "quality.py"


@pytest.mark.slow
def test_quick_quality_benchmark_measures_every_contender(tmp_path: Path) -> None:
    out = tmp_path / "quality.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "1", "--videos", "1",
                           "--repeats", "1", "--sizes", "320x240,640x360", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["bound"] == 1.15 and set(result["sizes"]) == {"320x240", "640x360"}
    for size in result["sizes"].values():
        assert set(size["frames_per_s"]) == {"decode", "probe_without", "probe_with"}
        assert all(v > 0 for v in size["frames_per_s"].values()) and size["frames"] == 30
        assert size["with_over_without"] > 0  # timed, so not asserted against the bound
