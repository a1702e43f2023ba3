"""Task metrics for every annotation kind, on plain tables (no files, no stages).

One module per task, each a pure function from ground truth and predictions to a dict of
numbers. Where the field has an implementation that installs from the package registry and needs
neither a network nor Java at run time, it is used; the rest are written here from their
published definitions (each module's docstring says which):

==============  ====================================================  ============================
module          metrics                                               implementation
==============  ====================================================  ============================
``temporal``    mAP at temporal-IoU thresholds 0.5:0.05:0.95          own (ActivityNet's definition)
``boxes``       COCO mAP@[.5:.95], mAP@.5, mAP@.75; frame mAP@.5      pycocotools (COCO evaluator)
``tracks``      MOTA, MOTP, IDF1, ID switches, ...; HOTA, DetA, AssA  motmetrics; HOTA own
``masks``       J (region), F (boundary), J&F; mIoU                   own (DAVIS's definitions)
``captions``    BLEU-1..4, ROUGE-L; CIDEr-D; METEOR, SPICE            torchmetrics; own; need Java
==============  ====================================================  ============================

Conventions shared by every module:

* tables are pandas DataFrames with the aligned annotation table's column names
  (:data:`vidlab.annotations.schema.ALIGNED_COLUMNS`): ``video_id``, ``frame`` (0-based decoded
  frame), ``label``, ``track_id``, boxes ``x1, y1, x2, y2`` in pixels with ``x2``/``y2``
  exclusive (width = ``x2 - x1``), ``t0``/``t1`` in seconds, ``mask`` (COCO compressed RLE of
  the displayed frame), ``text``, and ``score`` on predictions;
* a metric that the data cannot define (no ground truth of a class, no frames) is ``None``, with
  the reason under ``"undefined"``: never 0 and never 1;
* input that cannot be scored raises :class:`vidlab.core.errors.DataError` saying what, where
  (row position, video id) and what was expected; no file name.
"""

# per task: the metrics the roadmap lists for it, in the order reports show them
HEADLINE = {
    "segments": ("map", "map_50", "map_75"),
    "boxes": ("map", "map_50", "map_75", "frame_map_50"),
    "tracks": ("mota", "motp", "idf1", "id_switches", "hota"),
    "masks": ("j_and_f", "j_mean", "f_mean", "miou"),
    "captions": ("bleu_1", "bleu_4", "rouge_l", "cider", "meteor", "spice"),
}
# per task: its main metric, the one a single number reports (the first of HEADLINE but for
# tracks, where HOTA, which weighs detection and association alike, leads today's benchmarks)
MAIN = {"segments": "map", "boxes": "map", "tracks": "hota", "masks": "j_and_f",
        "captions": "cider"}
