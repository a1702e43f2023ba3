"""Who was filmed, when, for which milestone: the demo's metadata, drawn from the seed.

Raw names look like a real collection's: the child's first name and the recording date are in the
file name, and the container carries creation time, GPS location, device and a title with the
child's name, so that de-identification has real work to do.
"""

from __future__ import annotations

import calendar
import colorsys
import datetime as dt
from dataclasses import dataclass

import numpy as np

from vidlab.synth.scene import DOMAIN_STYLE

FIRST_NAMES = (
    "Aarav", "Ananya", "Vihaan", "Diya", "Arjun", "Ishaan", "Saanvi", "Kabir", "Meera", "Reyansh",
    "Aditi", "Vivaan", "Kiara", "Rohan", "Zara", "Aryan", "Priya", "Dhruv", "Anika", "Sai",
    "Lakshmi", "Yusuf", "Fatima", "Noah", "Emma", "Liam", "Sofia", "Mateo", "Amara", "Kenji",
    "Chloé", "José", "Nikhil", "Tara", "Omar", "Leela", "Ravi", "Nisha", "Arnav", "Pooja",
)
DOMAIN_PREFIX = {"motor": "M", "language": "L", "social": "S", "cognitive": "C"}
MILESTONE_AGES = (2, 4, 6, 9, 12, 15, 18, 24, 30, 36)
DEVICES = (("Apple", "iPhone 12"), ("Apple", "iPhone 14 Pro"), ("samsung", "SM-A525F"),
           ("Xiaomi", "Redmi Note 10"), ("OnePlus", "CPH2413"))
# Around Hyderabad, where the researchers' current script comes from.
BASE_LAT, BASE_LON = 17.385, 78.4867


@dataclass(frozen=True)
class Child:
    """A synthetic subject."""

    child_id: str
    name: str
    birth: dt.date
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Recording:
    """One video of one child: its metadata row and what its container says."""

    child: Child
    filename: str
    age_months: int
    milestone_id: str
    domain: str
    label: str
    recorded_at: dt.datetime
    n_frames: int
    seed: int
    has_audio: bool
    device: tuple[str, str]
    location: str


def make_children(rng: np.random.Generator, n: int) -> list[Child]:
    """Draw ``n`` children with distinct ids, first names (suffixed when reused) and colours."""
    children = []
    for k in range(n):
        name = FIRST_NAMES[k % len(FIRST_NAMES)]
        if k >= len(FIRST_NAMES):
            name = f"{name}{k // len(FIRST_NAMES) + 1}"
        birth = dt.date(2021, 1, 1) + dt.timedelta(days=int(rng.integers(0, 900)))
        hue = float(rng.uniform(0, 1))
        rgb = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.95))
        children.append(Child(f"HYD-{1001 + k}", name, birth, rgb))
    return children


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the target month's length."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def months_between(birth: dt.date, day: dt.date) -> int:
    """Completed months of age on ``day``."""
    months = (day.year - birth.year) * 12 + day.month - birth.month
    return months - (day.day < birth.day)


def milestone_for(rng: np.random.Generator, domain: str, age: int) -> str:
    """A milestone of ``domain`` whose typical age is within six months of ``age``."""
    near = [m for m in MILESTONE_AGES if abs(m - age) <= 6] or [min(MILESTONE_AGES)]
    return f"{DOMAIN_PREFIX[domain]}_{int(rng.choice(near))}M_{int(rng.integers(1, 4)):03d}"


def make_recording(
    rng: np.random.Generator,
    child: Child,
    *,
    fps: int,
    seconds: tuple[float, float],
    achieved_fraction: float,
    audio_fraction: float,
    domain: str | None = None,
) -> Recording:
    """Draw one recording of ``child``: age 0-36 months, a matching milestone, a random label."""
    age = int(rng.integers(0, 37))
    day = add_months(child.birth, age) + dt.timedelta(days=int(rng.integers(0, 28)))
    age = months_between(child.birth, day)
    when = dt.datetime.combine(day, dt.time(int(rng.integers(8, 19)), int(rng.integers(0, 60)),
                                            int(rng.integers(0, 60))))
    domain = domain or str(rng.choice(list(DOMAIN_STYLE)))
    label = "achieved" if rng.uniform() < achieved_fraction else "not_achieved"
    lat = BASE_LAT + rng.uniform(-0.08, 0.08)
    lon = BASE_LON + rng.uniform(-0.08, 0.08)
    milestone = milestone_for(rng, domain, age)
    return Recording(
        child=child,
        filename=f"{child.name}_{day.isoformat()}_{milestone}.mp4",
        age_months=age,
        milestone_id=milestone,
        domain=domain,
        label=label,
        recorded_at=when,
        n_frames=int(round(rng.uniform(*seconds) * fps)),
        seed=int(rng.integers(0, 2**63 - 1)),
        has_audio=bool(rng.uniform() < audio_fraction),
        device=DEVICES[int(rng.integers(0, len(DEVICES)))],
        location=f"{lat:+08.4f}{lon:+09.4f}/",
    )


def container_tags(rec: Recording) -> dict[str, str]:
    """The identifying container metadata a phone would write."""
    make, model = rec.device
    stamp = rec.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return {
        "creation_time": stamp,
        "location": rec.location,
        "com.apple.quicktime.location.ISO6709": rec.location,
        "make": make,
        "model": model,
        "title": f"{rec.child.name} {rec.milestone_id} {rec.recorded_at.date().isoformat()}",
        "comment": f"child {rec.child.child_id}",
    }
