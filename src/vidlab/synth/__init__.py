"""Synthetic scenes: the procedural videos the demo stage and the duplicate calibration are built
from."""
