"""The ``split`` stage: leakage-free train/val/test splits and k-fold, with their report."""
