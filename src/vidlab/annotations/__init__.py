"""Annotations beyond one label per video: temporal segments, boxes, tracks, masks, captions.

``formats`` reads (and, for the demo, writes) the formats people export; ``schema`` is the one
table they all become; ``align`` resolves it against the decoded frames; ``rle`` codes masks.
"""
