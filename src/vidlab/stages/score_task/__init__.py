"""The `score_task@<task>` stages: a task's classical baseline scored, with intervals and
robustness."""
