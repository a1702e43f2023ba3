"""The ``clips`` stage: sample clips once, decode at the model's size, cache as arrays, shards."""
