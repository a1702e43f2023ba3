"""The annotations stage: exports read, aligned to the decoded frames, checked."""
