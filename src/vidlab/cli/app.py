"""The `vidlab` application, its shared options and the error boundary every command runs in.

Commands only parse options, load params, call the stage's ``run`` and turn domain errors into a
clear message and exit code 2. Heavy libraries (torch, Lightning, MLflow, Great Expectations) are
imported inside the commands that need them, so `vidlab --help` starts fast.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from vidlab.core import paths
from vidlab.core.version import VERSION as __version__

log = logging.getLogger("vidlab")

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="vidlab",
    help="Data-versioned experiments on annotated video datasets. Each command is one DVC stage; "
    "run the whole pipeline with `dvc repro`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ParamsOption = Annotated[
    Path, typer.Option("--params", help="The params file to read.", dir_okay=False)
]
# Inputs several stages read, declared once (the option name comes from the parameter's name).
MetadataOption = Annotated[Path, typer.Option(help="De-identified metadata CSV (from ingest).")]
ManifestOption = Annotated[Path, typer.Option(help="The probe manifest.")]
FramesOption = Annotated[
    Path, typer.Option(help="The probe's side table of dedup signatures and sheet thumbnails.")
]
MergedQuarantineOption = Annotated[
    Path, typer.Option(help="Merged quarantine CSV (from validate).")
]
SplitsOption = Annotated[Path, typer.Option(help="splits.csv (from split).")]
ClipsOption = Annotated[Path, typer.Option(help="The clips cache (from clips).")]
DuplicatesOption = Annotated[Path, typer.Option(help="duplicates.json (from dedup).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vidlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and errors; no progress bars.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Data-versioned experiments on annotated video datasets."""
    from vidlab.core import progress
    from vidlab.core.quiet import quiet_libraries

    if not verbose:
        quiet_libraries()
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    # vidlab's own INFO lines; libraries (Great Expectations alone logs 200 INFO lines on
    # import) only from WARNING up, unless --verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("vidlab").setLevel(level)
    if not verbose:  # libraries that set their own loggers' levels still stay quiet
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda record: record.levelno >= logging.WARNING
                              or record.name.split(".")[0] == "vidlab")
    progress.set_quiet(quiet)


def stage_command(func: F) -> F:
    """Run a command inside the error boundary (:mod:`vidlab.core.boundary`): every failure becomes
    `Error: ...` on stderr and exit code 2 (130 on Ctrl-C), never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from vidlab.core import boundary, fsutil

        with boundary.guard(func.__name__.removesuffix("_cmd"),
                            lambda text: typer.echo(text, err=True)):
            # a stage killed while publishing its outputs left a journal: finish it first, so
            # this command reads one run's outputs, never a mix
            fsutil.finish_pending(paths.project_root())
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
