"""Quality: probing, integrity, validation, duplicates."""
