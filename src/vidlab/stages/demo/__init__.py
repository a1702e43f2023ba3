"""The ``demo`` stage: the bundled synthetic dataset (motion-only labels, real-world naming and
metadata, planted faults)."""
