"""Makes decord unavailable, as on a platform without its wheels (Linux aarch64, macOS with
Python 3.12): with this folder first on PYTHONPATH, `import decord` fails as if it were not
installed, in the test process and in every process it starts (vidlab, dvc repro's stages)."""

raise ModuleNotFoundError("No module named 'decord' (made unavailable by tests/no_decord)",
                          name="decord")
