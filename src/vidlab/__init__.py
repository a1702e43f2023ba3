"""vidlab: a data-versioned experiment repository for annotated video datasets."""

__version__ = "0.1.0"
