"""The `vidlab` command line: one thin command per pipeline stage.

Commands only parse options, load params, call the stage's ``run`` and turn domain errors into a
clear message and exit code 2. Heavy libraries (torch, Lightning, MLflow, Great Expectations) are
imported inside the commands that need them, so `vidlab --help` starts fast. The application and
its shared options are in :mod:`vidlab.cli.app`; the commands in :mod:`~vidlab.cli.data`,
:mod:`~vidlab.cli.models` and :mod:`~vidlab.cli.outputs`; :mod:`vidlab.cli.main` puts them
together.
"""
