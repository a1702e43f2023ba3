"""The ``compare`` stage: one Markdown table of the evaluated baselines."""
