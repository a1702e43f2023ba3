"""The `task_baselines` stage: a classical baseline per annotation task, clean and perturbed."""
