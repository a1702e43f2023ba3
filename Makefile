# Two commands do all set-up on a machine that has only Python:
#   make repro   install (uv + locked environment), then `dvc repro` on the bundled demo
#   make test    install, then the whole test suite and a strict docs build (what .ci/run calls)
#   make ui      the MLflow UI on 127.0.0.1 (PORT=5000), to compare the runs
#   make docs    the documentation site (docs/*.md) into site/; open site/index.html, no network
#                needed; --strict: a broken link or anchor fails the build
#   make serve-docs  the same site with live reload on 127.0.0.1 (DOCS_PORT=8000)
SHELL := /bin/bash
PYTHON ?= python3
# A uv on PATH is used as is; otherwise one is bootstrapped into .tools/ (a venv, so it also works
# where the system Python refuses pip installs).
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PORT ?= 5000
DOCS_PORT ?= 8000

export UV_PYTHON_DOWNLOADS := never
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := False
# Material for MkDocs' end-of-life banner on every build
export NO_MKDOCS_2_WARNING := 1

.PHONY: install repro test lint ui docs serve-docs clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

install: $(UV)  ## Create .venv exactly as uv.lock pins it
	$(UV) sync --locked

repro: install  ## Run the whole pipeline (dvc repro)
	$(UV) run dvc repro

# The decoding, sampling, clips and real-media pipeline tests once more with decord made
# unavailable (tests/no_decord first on PYTHONPATH), as on a platform without its wheels.
PYAV_ONLY_TESTS := tests/media/test_decode.py tests/data/test_sampling.py \
	tests/stages/clips/test_cache.py tests/data/test_datamodule.py tests/media/test_media_matrix.py \
	tests/test_media_pipeline.py

test: install  ## Run every test, slow ones included; then the decoding tests on PyAV alone; then the docs
	$(UV) run pytest
	PYTHONPATH=tests/no_decord $(UV) run pytest -p no:cacheprovider $(PYAV_ONLY_TESTS)
	$(UV) run mkdocs build --strict --quiet

docs: install  ## Build the documentation site into site/ (strict: broken links and anchors fail)
	$(UV) run mkdocs build --strict

serve-docs: install  ## Serve the documentation with live reload on http://127.0.0.1:$(DOCS_PORT)
	$(UV) run mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

ui: install  ## The MLflow UI on http://127.0.0.1:$(PORT) against the project's store
	$(UV) run vidlab ui --port $(PORT)

lint: install  ## Static checks
	$(UV) run ruff check src tests benchmarks
	$(UV) run lint-imports

clean:  ## Remove the environment, caches and the built docs (never data/ or the DVC cache)
	rm -rf .venv .tools .pytest_cache .ruff_cache site
