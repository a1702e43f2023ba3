"""One package per DVC stage, named as in dvc.yaml and the CLI. Each exposes ``run(params, *,
paths...)``. Stages never import each other; what two stages share lives in a library (media,
data, models, tracking) or in core."""
