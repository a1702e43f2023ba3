"""The ``probe`` stage: one manifest row per video from its container and a full decode, in
isolated workers."""
