"""The ``eda`` stage: exploratory views on one HTML page."""
