"""The `eda` stage: exploratory views of the dataset, on one page (``reports/eda/index.html``).

From the manifest, the splits, the quarantine, the duplicate clusters, the clips cache and a
trained 2D model it draws:

* ``distributions.png``: duration, fps, resolution, bit rate, codec and audio presence;
* ``class_counts.png``: the target's classes overall and per split;
* ``outliers.png``: videos far out on the dataset's own distribution of duration, fps, frame
  size, brightness or motion (robust z-score over ``eda.outlier_z``: see
  :mod:`vidlab.stages.eda.outliers`), odd frame rates (off the median by more than
  ``eda.odd_fps_tolerance``, or variable) and flagged files (probe warnings, near-duplicate
  clusters, validation quarantine), each with its first, middle and last frame;
* ``quality.png``, ``quality_outliers.png`` and ``quality_series.png``: the probe's quality
  measures against their warning thresholds, the videos past one (with the reason) and their
  per-frame series (see :mod:`vidlab.stages.eda.quality`);
* ``sheets/<class>.png`` (a contact sheet per class) and ``gifs/<class>_<k>.gif``;
* ``preprocessing.png``: each raw frame beside the cached model input made from it;
* ``augmentation.png``: one cached training clip under each augmentation on its own (at its
  configured strength, applied for sure) and under the whole training preset;
* ``tsne_model.png`` and ``tsne_classical.png``: t-SNE maps of every cached clip's embedding
  (the penultimate layer of ``eda.embedding_model``; the classical features of
  :mod:`vidlab.models.classical`) coloured by label, domain and split;
* ``annotations/<task>_stats.png``, ``<task>_sheet.png`` and ``<task>.gif`` for each annotation
  task in the aligned annotations table (segments, boxes, tracks, masks, captions): its
  statistics, and its annotations drawn on frames (see :mod:`vidlab.stages.eda.annotations`);
* ``summary.json``: the numbers behind the figures, the outliers, and two reproducibility checks
  the readiness checklist reads (the augmentation redrawn with the same seed gives the same
  clip; cached clips decoded again give the same bytes).

Every figure is labelled with pseudonymous ids only, and captioned on the page; its text is
sized in one place (:mod:`vidlab.stages.eda.common`) to stay readable at the size the page shows
it. Frames are decoded from the de-identified videos (``data/interim``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vidlab import contracts
from vidlab.config import Params, quality_thresholds
from vidlab.config.declare import LOADING, Declaration
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir
from vidlab.stages.eda.annotations import annotation_views
from vidlab.stages.eda.common import SPLIT_ORDER
from vidlab.stages.eda.embeddings import embeddings
from vidlab.stages.eda.outliers import outliers
from vidlab.stages.eda.page import index_html
from vidlab.stages.eda.preprocess import augmentation, preprocessing
from vidlab.stages.eda.quality import quality_views
from vidlab.stages.eda.views import class_counts, class_sheets, distributions
from vidlab.tracking.pipeline import inputs_hash

PARAMS = Declaration(
    "eda",
    outputs=("base", "clips", "augment", "loader.batch_size", "train.depth", "train.width",
             "train.pool", "train.r2plus1d_variant", "train.r2plus1d_width", "classical", "eda",
             "card.title", "validate.quality", "probe.max_combing"),
    runtime=LOADING,
)


MARKER = "summary.json"
COLOURS = ("label", "domain", "split")


# --- inputs ------------------------------------------------------------------------------------


def _read_inputs(manifest: Path, splits: Path, quarantine: Path, duplicates: Path):
    from vidlab.data.cache import resolve_paths

    for path in (manifest, splits):
        if not Path(path).is_file():
            raise DataError(f"{path} does not exist. Run `dvc repro split` first.")
    videos = pd.read_parquet(manifest)
    videos["path"] = resolve_paths(videos["path"].astype(str), Path(splits))
    table = pd.read_csv(splits, dtype=str, keep_default_na=False)
    table = table[table["split"].isin(SPLIT_ORDER)]
    flagged = pd.read_csv(quarantine, dtype=str, keep_default_na=False) if Path(
        quarantine).is_file() else pd.DataFrame(columns=["stage", "video_id", "reason"])
    clusters = contracts.read(Path(duplicates), contracts.Duplicates).clusters if Path(
        duplicates).is_file() else []
    return videos, table, flagged, clusters


def run(params: Params, *, manifest: Path, splits: Path, quarantine: Path, duplicates: Path,
        clips: Path, weights: Path | None, out: Path, metadata: Path | None = None,
        annotations: Path | None = None, series: Path | None = None) -> dict:
    """Write every view into ``out`` (atomically) and return the summary.

    ``annotations`` (the aligned table) adds a section per annotation task; without it, or when
    the file is missing or empty, ``summary["annotations"]`` is ``{}``.
    """
    params = PARAMS.view(params)
    from vidlab import tracking

    videos, table, flagged, clusters = _read_inputs(manifest, splits, quarantine, duplicates)
    with atomic_dir(Path(out), marker=MARKER) as tmp:
        summary = {"title": params.card.title, "target": params.base.target,
                   "dataset_fingerprint": tracking.data_version_of(metadata),
                   "inputs_hash": inputs_hash(manifest, splits)}
        summary["distributions"] = distributions(videos, tmp)
        summary["class_counts"] = class_counts(table, params, tmp)
        summary["outliers"] = outliers(videos, flagged, clusters, params, clips, tmp)
        summary["quality"] = quality_views(videos, quality_thresholds(params), series,
                                           params.eda.outliers, tmp)
        summary["classes"] = class_sheets(table, videos, params, tmp)
        redecoded = preprocessing(table, videos, params, clips, tmp)
        augmented = augmentation(params, clips, tmp)
        summary["checks"] = {"clips_redecoded": redecoded,
                             "augment_reproducible": augmented["reproducible"]}
        summary["augmentations"] = augmented["shown"]
        summary["augmentation_clip"] = {"video_id": augmented["video_id"],
                                        "frames": augmented["frames"]}
        summary["embeddings"] = embeddings(params, clips, table, weights, tmp)
        summary["annotations"] = _annotations(annotations, videos, params, tmp)
        summary["figures"] = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*")
                                    if p.suffix in (".png", ".gif"))
        (tmp / "index.html").write_text(index_html(summary, _sizes(tmp, summary["figures"])),
                                        encoding="utf-8")
        contracts.write(tmp / MARKER, contracts.EdaSummary, summary, atomic=False, indent=2)
    return summary


def _annotations(path: Path | None, videos: pd.DataFrame, params: Params, out: Path) -> dict:
    """The annotation views, when the aligned table exists and has rows; else ``{}``."""
    if path is None or not Path(path).is_file():
        return {}
    table = pd.read_parquet(path)
    if table.empty:
        return {}
    usable = videos[videos["status"] == "ok"] if "status" in videos.columns else videos
    return annotation_views(table, usable, params, out)


def _sizes(folder: Path, figures: list[str]) -> dict[str, tuple[int, int]]:
    """Each figure's (width, height) in pixels: the page sets the width it is shown at."""
    from PIL import Image

    sizes = {}
    for name in figures:
        with Image.open(folder / name) as image:
            sizes[name] = image.size
    return sizes
