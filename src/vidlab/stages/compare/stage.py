"""The ``compare`` stage: the evaluated baselines side by side in one Markdown table, and the
annotation tasks' classical baselines, one table per task (``reports/tasks/<task>.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from vidlab import contracts
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_write_text
from vidlab.core.render import markdown_table
from vidlab.models.scoring import PERTURBATIONS, cell
from vidlab.taskmetrics import HEADLINE, MAIN

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


def tasks_section(scored: dict[str, dict]) -> list[str]:
    """Markdown lines: per annotation task, its classical baseline's headline metrics per split
    (with intervals where they were drawn), the metrics it cannot give and why, and the
    robustness changes on test."""
    lines = ["", "# Annotation tasks: classical baselines", "",
             "Floors to beat, not models to tune (`vidlab task-baselines`), scored like a "
             "user's predictions (`vidlab score`); intervals resample subjects. From "
             "`reports/tasks/<task>.json`."]
    for task, result in scored.items():
        lines += ["", f"## {task}", ""]
        if not result.get("scored"):
            lines.append(f"Not scored: {result.get('reason', 'no result')}.")
            continue
        names = HEADLINE[task]
        rows, unavailable = [], {}
        for split, entry in result["splits"].items():
            if not entry.get("scored"):
                rows.append([split, *(["n/a"] * len(names))])
                continue
            metrics, intervals = entry["metrics"], entry.get("intervals", {})
            unavailable |= {name: metrics.get("undefined", {}).get(name, "undefined")
                            for name in names if metrics.get(name) is None}
            rows.append([f"{split} ({entry['videos']} videos)",
                         *(_task_cell(metrics.get(name), intervals.get(name))
                           for name in names)])
        lines.append(f"Truth: the `{result['truth_format']}` export; predictions written as "
                     f"`{result['format']}`.")
        lines += ["", *markdown_table(["split", *names], rows)]
        for name, why in unavailable.items():
            lines.append(f"\n`{name}` unavailable: {why}.")
        if result.get("robustness"):
            main = MAIN[task]
            lines += ["", f"Robustness on test (change of `{main}` from clean): " + ", ".join(
                f"{condition} {_signed(changes[main]['change'])}"
                for condition, changes in result["robustness"].items()) + "."]
    return lines


def _task_cell(value, interval: dict | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return cell(interval) if interval and interval.get("low") is not None else f"{value:.3f}"


def _signed(change) -> str:
    return "n/a" if change is None else f"{change:+.3f}"


def run(metrics: Path, models: list[str], out: Path, tasks: Path | None = None) -> str:
    """Read ``<metrics>/<model>.json`` for each model (and ``<tasks>/<task>.json`` for each
    annotation task there) and write the tables to ``out``."""
    results = {}
    for model in models:
        path = Path(metrics) / f"{model}.json"
        if not path.is_file():
            raise DataError(f"No metrics at {path}. Run `dvc repro evaluate@{model}` first.")
        results[model] = contracts.read(path, contracts.Metrics)
    text = compare(results, out)
    if tasks is not None:
        scored = {task: json.loads((Path(tasks) / f"{task}.json").read_text())
                  for task in HEADLINE if (Path(tasks) / f"{task}.json").is_file()}
        if scored:
            text += "\n".join(tasks_section(scored)) + "\n"
            atomic_write_text(Path(out), text)
    return text
