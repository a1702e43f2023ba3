"""Synthetic demo dataset: motion-only labels, real-world naming and metadata, planted faults."""
