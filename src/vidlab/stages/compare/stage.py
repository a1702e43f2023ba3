"""The ``compare`` stage: the evaluated baselines side by side in one Markdown table."""

from __future__ import annotations

from pathlib import Path

from vidlab import contracts
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text
from vidlab.core.render import markdown_table
from vidlab.models.scoring import PERTURBATIONS, cell

TABLE = (("acc", "accuracy"), ("macro_f1", "macro F1"), ("balanced_acc", "balanced acc."),
         ("auroc", "AUROC"), ("ap", "AP"), ("ece", "ECE"))


def compare(results: dict[str, contracts.Metrics], out: Path) -> str:
    """A Markdown table of the models side by side (video level, each evaluated split), with the
    robustness changes on test."""
    lines = ["# Baselines compared", ""]
    first = next(iter(results.values()))
    lines.append(f"Target `{first.target}` ({', '.join(first.classes)}); video level "
                 f"(softmax averaged over a video's clips); {first.bootstrap.level:.0%} "
                 f"bootstrap intervals over {first.bootstrap.n} resamples of "
                 f"{first.bootstrap.unit}s. From `reports/metrics/<model>.json`.")
    for split in ("test", "val"):
        if not all(r.split(split) for r in results.values()):
            continue
        n = first.split(split).video.n
        lines += ["", f"## {split} ({n} videos)", ""]
        lines += markdown_table(["model", *(title for _, title in TABLE)],
                                [[f"`{model}`", *(cell(getattr(r.split(split).video, key))
                                                  for key, _ in TABLE)]
                                 for model, r in results.items()])
    if all(r.robustness for r in results.values()):
        lines += ["", "## Robustness (test accuracy change from clean)", ""]
        rows = []
        for model, r in results.items():
            cells = []
            for name in PERTURBATIONS:
                change = getattr(r.robustness, name).acc_change
                cells.append("n/a" if change is None else f"{change:+.3f}")
            rows.append([f"`{model}`", *cells])
        lines += markdown_table(["model", *PERTURBATIONS], rows)
        settings = first.robustness.settings
        lines += ["", f"fps x{settings.fps_factors[0]} / x{settings.fps_factors[1]}, "
                  f"JPEG quality {settings.jpeg_quality}, blur sigma "
                  f"{settings.blur_sigma}, central occlusion {settings.occlusion:.0%} of "
                  "the side."]
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(out), text)
    return text


def run(metrics: Path, models: list[str], out: Path) -> str:
    """Read ``<metrics>/<model>.json`` for each model and write the table to ``out``."""
    results = {}
    for model in models:
        path = Path(metrics) / f"{model}.json"
        if not path.is_file():
            raise DataError(f"No metrics at {path}. Run `dvc repro evaluate@{model}` first.")
        results[model] = contracts.read(path, contracts.Metrics)
    return compare(results, out)
