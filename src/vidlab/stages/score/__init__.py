"""`vidlab score`: task metrics for a predictions file."""
