"""The ``classical`` stage: colour-histogram and motion-energy features, logistic regression."""
