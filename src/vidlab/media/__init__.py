"""Reading real media: the reference decode, displayed pictures and per-frame digests."""
