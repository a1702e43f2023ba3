"""The ``evaluate`` stage: task metrics with bootstrap intervals, subgroups, robustness, plots."""
