"""Great Expectations suites kept as JSON in ``expectations/``, run on pandas batches.

Each expectation's ``meta`` says its ``severity`` (blocking or warning) and ``scope`` (row or
table); thresholds are ``{"$PARAMETER": name}`` placeholders filled at run time. The validate and
annotations stages run their suites through here, in an ephemeral context (nothing written but
the Data Docs they ask for).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import pandas as pd

from vidlab.core.errors import DataError


def load_suite(path: Path):
    """An ExpectationSuite from JSON; refuses expectations GX would silently drop."""
    import great_expectations as gx

    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**raw)
    if len(suite.expectations) != len(raw["expectations"]):
        known = {e.expectation_type for e in suite.expectations}
        unknown = [e["type"] for e in raw["expectations"] if e["type"] not in known]
        raise DataError(f"{path}: unknown expectation type(s) {unknown}. Check the spelling.")
    for item in raw["expectations"]:
        meta = item.get("meta", {})
        if meta.get("severity") not in ("blocking", "warning") or meta.get("scope") not in (
                "row", "table"):
            raise DataError(f"{path}: {item['type']} needs meta.severity blocking|warning and "
                            f"meta.scope row|table. Got {meta}.")
    return suite


def context(docs: Path | None = None):
    """An ephemeral GX context, quiet, with a local Data Docs site in ``docs`` if given."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    for name in list(ctx.list_data_docs_sites()):  # the default site is a random temp dir
        ctx.delete_data_docs_site(name)
    if docs is not None:
        ctx.add_data_docs_site(site_name="local_site", site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "show_how_to_buttons": False,  # GX tutorials and a walkthrough pop-up
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs).resolve())},
        })
    return ctx


def run(ctx, batches: dict[str, pd.DataFrame], suites: dict[str, Path], parameters: dict,
        result_format: dict, run_time: dt.datetime | None = None) -> dict:
    """Validate each batch with the suite of the same name. Returns name -> GX result."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    run_time = run_time or dt.datetime.now(dt.UTC)
    source = ctx.data_sources.add_pandas("vidlab")
    results = {}
    for name, batch_frame in batches.items():
        batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("all")
        suite = ctx.suites.add(load_suite(suites[name]))
        definition = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        results[name] = definition.run(
            batch_parameters={"dataframe": batch_frame}, expectation_parameters=parameters,
            result_format=result_format, run_id=RunIdentifier(run_name=name, run_time=run_time))
    return results
