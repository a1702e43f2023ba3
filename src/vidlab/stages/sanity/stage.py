"""The `sanity` stage: can training fail, can it succeed, and where do the models look?

Three checks per model in ``sanity.models``, written to ``reports/sanity.json`` (and a sanity run
in MLflow under the pipeline's parent run):

* **Label shuffle** ("should fail to learn"). Before training, the check asks whether it can
  fail at all: with ``n`` validation videos and the largest class share ``pi`` (the most a
  label-blind predictor scores), the upper end of the binomial (1 - alpha) range of ``pi`` must
  lie below ``sanity.learning_accuracy``, or a model that clearly learned could not be told from
  chance; the check is then **not proven**, says how many validation videos it needs, and is
  not run. Otherwise the training videos' labels are permuted (seeded)
  and the model trains ``sanity.shuffle_epochs`` epochs as ``train`` params say. Its validation
  accuracy (softmax averaged per video) must then stay inside the two-sided binomial range of
  chance at level ``sanity.alpha``. Chance is what a predictor independent of the labels scores
  in expectation: ``sum_c q_c * pi_c`` with ``q`` the model's own predicted-class shares and ``pi``
  the validation class shares. Above the range, the input carries the label some other way (a
  label leak in the loader, validation videos that are copies of training videos): the check
  fails loudly.
* **Overfit a tiny subset** ("can learn at all"). ``sanity.overfit_clips`` training clips, one
  fixed clip per video and no augmentation, chosen in pairs of different classes whose trivial
  statistics (each clip's mean and spread per colour channel) are as alike as possible, so the
  subset cannot be fitted by memorising brightness or colour. A leave-one-out nearest-centroid
  classifier on those statistics is scored on the subset and reported; if it alone reaches
  ``sanity.overfit_target``, the check is **not proven**. The model trains on the subset as one
  full batch for at most ``sanity.overfit_epochs`` steps; the training accuracy, measured in eval
  mode (every 5 steps, and at the end), must reach ``sanity.overfit_target``.
* **Grad-CAM** of each trained model (``models/<model>/model.pt``) on ``sanity.gradcam_clips``
  validation clips: a PNG grid (clip per row, frame per column) and a GIF, so a person sees what
  the model looks at. ``center_frame`` only sees the middle frame, so only that frame has heat.

Each check has a ``status``: ``passed``, ``failed`` or ``not_proven``. A failed check fails the
stage after the report is written (``sanity.fail: false`` only reports); a check that is not
proven never counts as passed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from vidlab import contracts
from vidlab.config import Params
from vidlab.config.declare import Declaration
from vidlab.contracts.headline import headline_path, write_headline
from vidlab.core.fsutil import atomic_dir, atomic_write_text
from vidlab.stages.sanity.checks import label_shuffle, overfit_subset
from vidlab.stages.sanity.common import SanityError
from vidlab.stages.sanity.gradcam import gradcam_figures

PARAMS = Declaration(
    "sanity",
    outputs=("base", "clips.size", "clips.mean", "clips.std", "augment", "loader", "train",
             "sanity"),
    runtime=("tracking",),
)


log = logging.getLogger(__name__)

FIGURES = "figures.json"  # in the figures folder: which clips each Grad-CAM shows
CHECKS = ("label_shuffle", "overfit")


# --- the stage ---------------------------------------------------------------------------------


def run(params: Params, *, splits: Path, clips: Path, models: Path, report: Path, out: Path,
        root: Path | None = None, metadata: Path | None = None) -> dict:
    """Run every check for every model in ``sanity.models``; write the report and figures.

    Raises:
        SanityError: when a check failed and ``sanity.fail`` is true (after writing the report).
    """
    params = PARAMS.view(params)
    from vidlab import tracking
    from vidlab.core.paths import project_root
    from vidlab.tracking.pipeline import pipeline_run

    root = Path(root) if root is not None else project_root()
    s = params.sanity
    results: dict[str, dict] = {}
    with atomic_dir(Path(out), marker=FIGURES) as folder:
        for model in s.models:
            log.info("sanity %s: label shuffle (%d epochs)", model, s.shuffle_epochs)
            shuffle = label_shuffle(params, model, splits=splits, clips=clips)
            log.info("sanity %s: overfit %d clips", model, s.overfit_clips)
            overfit = overfit_subset(params, model, splits=splits, clips=clips)
            entry = {"label_shuffle": shuffle, "overfit": overfit}
            if s.gradcam_clips:
                entry["gradcam"] = gradcam_figures(
                    params, model, weights=Path(models) / model / "model.pt", splits=splits,
                    clips=clips, out=folder)
            results[model] = entry
        figures = {model: entry.get("gradcam", {}) for model, entry in results.items()}
        atomic_write_text(folder / FIGURES, json.dumps(figures, indent=2) + "\n")
    failures = [f"{model} {check}: {entry[check]['reason']}" for model, entry in results.items()
                for check in CHECKS if entry[check]["status"] == "failed"]
    unproven = [f"{model} {check}: {entry[check]['reason']}" for model, entry in results.items()
                for check in CHECKS if entry[check]["status"] == "not_proven"]
    summary = {"passed": not failures and not unproven, "failures": failures,
               "not_proven": unproven, "models": results}
    contracts.write(Path(report), contracts.SanityReport, summary, indent=2)
    write_headline(headline_path(report), {"flagged": len(failures) + len(unproven)})

    pipe = pipeline_run(params, root, splits, clips, metadata)
    with tracking.start_run(params.tracking, run_name="sanity", fingerprint=pipe.dataset,
                            processed=pipe.processed, root=root, parent_run_id=pipe.parent,
                            tags={"vidlab.stage": "sanity", tracking.NOTE: tracking.describe(
                                "Sanity checks per model: labels shuffled must not be learned, "
                                "a small subset must be overfitted; Grad-CAM figures.",
                                "All passed." if summary["passed"] else
                                f"{len(failures)} failed, {len(unproven)} not proven: see "
                                "sanity/sanity.json.")}):
        import mlflow

        mlflow.log_params({f"sanity.{k}": str(v) for k, v in s.model_dump().items()})
        metrics = {"sanity/passed": float(not failures)}
        for model, entry in results.items():
            if "val_video_acc" in entry["label_shuffle"]:
                metrics[f"sanity/{model}/shuffle_val_video_acc"] = entry["label_shuffle"][
                    "val_video_acc"]
            metrics[f"sanity/{model}/overfit_train_acc"] = entry["overfit"]["train_acc"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(report), artifact_path="sanity")
        for path in sorted(Path(out).iterdir()):
            mlflow.log_artifact(str(path), artifact_path="sanity")
        if failures and s.fail:
            raise SanityError(
                f"{len(failures)} sanity check(s) failed (details in {report}):\n  - "
                + "\n  - ".join(failures))
    return summary
