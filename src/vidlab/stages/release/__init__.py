"""``vidlab release``: pin a checked dataset version (git tag, citation, instructions)."""
