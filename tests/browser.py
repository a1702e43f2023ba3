"""Headless Chromium without a network, to look at pages as a person on an offline lab machine
would: every host name but 127.0.0.1 fails to resolve, so a page that needs a CDN shows it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = ("Chromium is not installed, so the pages were not looked at in a browser "
           "(Debian: apt-get install chromium)")
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def need_chromium() -> str:
    """The browser's path; skips the test, saying why, where there is none."""
    if BROWSER is None:
        print(MISSING)
        pytest.skip(MISSING)
    return BROWSER


def look(url: str, profile: Path, *, screenshot: Path | None = None, wait_ms: int = 15_000,
         size: str = "1400,900") -> str:
    """The page's DOM after its scripts ran (``wait_ms`` of virtual time); with ``screenshot``,
    also a PNG of it at ``size``."""
    browser = need_chromium()
    common = [browser, *OFFLINE, f"--user-data-dir={profile}", f"--window-size={size}",
              f"--virtual-time-budget={wait_ms}"]
    if screenshot is not None:
        subprocess.run([*common, f"--screenshot={screenshot}", url], check=True,
                       capture_output=True, timeout=180)
    return subprocess.run([*common, "--dump-dom", url], check=True, capture_output=True,
                          text=True, timeout=180).stdout
