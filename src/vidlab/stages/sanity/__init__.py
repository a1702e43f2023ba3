"""The ``sanity`` stage: label-shuffle and overfit checks per model, Grad-CAM figures."""
