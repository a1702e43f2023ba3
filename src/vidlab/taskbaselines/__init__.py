"""Classical floor baselines for the annotation tasks of video datasets, on decoded RGB frames.

One simple, deterministic baseline per annotation kind, a floor for models to beat rather than a
model to tune. Every function is pure: it takes a video's frames (an (n, h, w, 3) uint8 array,
usually already shrunk) or what an earlier function made of them, and returns arrays or plain
values in the frames' pixels, frame indices and seconds; the caller scales them back and writes
the prediction files.

==================  ===========================================================================
module              gives
==================  ===========================================================================
``foreground``      per-frame foreground masks by median background subtraction (masks task)
``objects``         boxes as foreground blobs (boxes task); tracks by Hungarian IoU matching
                    between consecutive frames (tracks task)
``temporal``        per-frame motion-energy features, a logistic-regression frame classifier
                    and runs of frames as labelled segments in seconds (temporal task)
``retrieval``       a colour-and-motion video descriptor and nearest-neighbour retrieval from
                    the training split (captions, and a box's class)
==================  ===========================================================================

Conventions: boxes ``(x1, y1, x2, y2)`` in pixels with ``x2``/``y2`` exclusive; frames are
0-based; ``t0``/``t1`` in seconds with ``t1`` the end of the last frame. Only numpy, scipy and
scikit-learn are used; the one source of randomness is an explicit ``seed``.
"""
