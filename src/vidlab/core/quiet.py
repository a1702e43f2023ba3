"""Library chatter a researcher should not have to read: MLflow's table-creation INFO lines,
Lightning's tips and hardware banner, and deprecation warnings raised inside libraries that
vidlab pins (not its own). ``--verbose`` shows them all again."""

from __future__ import annotations

import logging
import os
import re
import warnings

# logger names whose INFO lines are banners, tips and housekeeping, not results
LIBRARY_LOGGERS = ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric",
                   "mlflow", "great_expectations", "alembic")
# deprecations raised by one pinned library about another, which a user cannot act on, and
# warnings about what vidlab does on purpose
KNOWN_WARNINGS = (
    "`isinstance(treespec, LeafSpec)` is deprecated",  # pytorch_lightning 2.x on torch 2.x
    # the sanity stage's overfit check trains on a subset with no validation on purpose
    "You defined a `validation_step` but have no `val_dataloader`",
)


def quiet_libraries() -> None:
    """Keep library loggers at WARNING and ignore the known library deprecations, here and in
    the processes this one starts (DDP workers, isolated decoders)."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    inherited = [w for w in os.environ.get("PYTHONWARNINGS", "").split(",") if w]
    for message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message))
        # PYTHONWARNINGS splits entries on commas and matches a message by its start, so the
        # entry keeps the message up to its first comma (a comma would make Python print
        # "Invalid -W option ignored" in every process started with it)
        entry = f"ignore:{message.split(',')[0]}"
        if entry not in inherited:
            inherited.append(entry)
    os.environ["PYTHONWARNINGS"] = ",".join(inherited)
