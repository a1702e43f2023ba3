"""Video data for training: decoding, clip sampling, transforms, cache, DataModule."""
