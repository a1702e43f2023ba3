"""The eda page: ``index.html`` showing every figure with a caption saying what it shows and how
to read it, and the numbers as tables."""

from __future__ import annotations

import html

from vidlab.stages.eda import common
from vidlab.stages.eda.annotations import MATCH_IOU
from vidlab.stages.eda.outliers import MEAN_AD_SCALE, MEASURES
from vidlab.stages.eda.overlay import TRAIL

STYLE = (f"body{{font-family:sans-serif;max-width:{common.PAGE_WIDTH}px;margin:auto;"
         "padding:0 16px;line-height:1.4}figure{margin:14px 0 22px}img{max-width:100%;"
         "height:auto;display:block}figcaption{font-size:14px;color:#333;max-width:900px;"
         "margin-top:4px}.gifs{display:flex;flex-wrap:wrap;gap:16px}.gifs figure{margin:6px 0;"
         f"max-width:{common.GIF_WIDTH}px}}table{{border-collapse:collapse;margin:8px 0}}"
         "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}")


def _esc(value: object) -> str:
    return html.escape(str(value))


def _table(rows: list[list], head: list[str]) -> str:
    cells = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _figure(src: str, alt: str, caption: str, size: tuple[int, int]) -> str:
    """An image at the width the page shows it (see :mod:`common`), with its caption."""
    gif = src.endswith(".gif")
    width = common.display_width(size[0], gif)
    height = round(size[1] * width / max(1, size[0]))
    return (f'<figure><img src="{_esc(src)}" alt="{_esc(alt)}" width="{width}" '
            f'height="{height}"><figcaption>{_esc(caption)}</figcaption></figure>')


def _fingerprints(s: dict) -> str:
    fingerprint = s["dataset_fingerprint"]
    data = (f"Dataset fingerprint <code>{_esc(fingerprint)}</code>: a short hash of the "
            "de-identified metadata table ingest writes, which lists every video's content hash "
            "with its labels. It names this version of the data: it changes when any video, "
            "label or age changes or a video is added or removed, and stays the same when only "
            "params or derived data (splits, clips) change. The dataset card, the summary "
            "report, the release and every MLflow run show the same fingerprint when they "
            "describe the same data." if fingerprint else
            "No dataset fingerprint: the stage was run without ingest's metadata table "
            "(<code>--metadata</code>), so this page names no data version.")
    inputs = (f" Inputs hash <code>{_esc(s['inputs_hash'])}</code>: a hash of the exact "
              "manifest and splits files this page was drawn from; it changes when either "
              "changes, and the dataset card compares it with the current files to tell whether "
              "this page is out of date.")
    return f"<p>{data}{inputs}</p>"


def _outliers(s: dict, sizes: dict) -> list[str]:
    o = s["outliers"]
    z = o["threshold"]
    parts = ["<h2>Outliers</h2>",
             "<p>Each video is compared with this dataset's own spread, one measure at a time: "
             "its robust z-score is (value &minus; median) / (1.4826 &times; MAD), where MAD is "
             "the median distance of the videos from the median. That is the usual z-score "
             "with the median for the mean and MAD for the standard deviation, which the "
             f"outliers themselves barely move. A video with |z| above {z:g} "
             "(<code>eda.outlier_z</code>) is an outlier on that measure. When more than half "
             "the videos share the median value exactly, MAD is 0 and the scale is "
             f"{MEAN_AD_SCALE} &times; the mean distance from the median instead; when every "
             "video has the same value, nothing is flagged. Brightness and motion are measured "
             "on the cached clips (0 to 255; motion is the mean change of a pixel from one "
             "cached frame to the next).</p>",
             _figure("outliers.png", "Outlier gallery: first, middle and last frame of each "
                     "unusual or flagged video, with the reasons beside it",
                     "One row per video that stands out: its first, middle and last frame "
                     "(grey: the file cannot be decoded), with every reason it is shown for. "
                     f"Statistical outliers show at most {o['gallery_per_measure']} "
                     "per measure here (the furthest out first); the tables below list them "
                     "all. Look for what makes each video different: a cut, a black screen, "
                     "a different camera, something that does not belong in the dataset.",
                     sizes["outliers.png"]),
             _table([[m["name"], m["videos"], _value(k, m["median"]), _value(k, m["mad"]),
                      m["basis"], m["outliers"]] for k, m in o["measures"].items()],
                    ["measure", "videos measured", "median", "MAD", "scale from",
                     "outliers"])]
    if o["unusual"]:
        parts.append(_table([[u["video_id"], MEASURES[u["measure"]][0], u["z"], u["reason"]]
                             for u in o["unusual"]], ["video", "measure", "robust z", "why"]))
    else:
        names = ", ".join(m["name"] for m in o["measures"].values())
        parts.append(f"<p>No video is an outlier: every video's robust z-score is within "
                     f"&plusmn;{z:g} on {_esc(names)}.</p>")
    rows = [[category, item["video_id"], item["duration_s"], item["fps"], item["reason"]]
            for category, key in (("odd frame rate", "odd_fps"), ("flagged", "flagged"))
            for item in o[key]]
    parts.append(_table(rows, ["category", "video", "seconds", "fps", "why"]) if rows else
                 "<p>No video has an odd frame rate or is flagged.</p>")
    ingest = o["quarantined_at_ingest"]
    if ingest:
        parts.append("<p>Quarantined at ingest (no de-identified file to show): "
                     + _esc(", ".join(f"{k}: {v}" for k, v in ingest.items())) + ".</p>")
    return parts


def _quality(s: dict, sizes: dict) -> list[str]:
    q = s.get("quality") or {}
    parts = ["<h2>Video quality</h2>"]
    if not q.get("measured"):
        return parts + ["<p>No quality measures: the probe ran with <code>probe.quality: "
                        "false</code>, or no video decodes.</p>"]
    parts += [
        "<p>Measured by the probe in its one decode of each video (units and methods: the "
        "README's quality section). A video past a threshold gets a warning from the manifest "
        "suite (<code>validate.quality</code>, <code>probe.max_combing</code>); nothing is "
        "quarantined for quality. These are the same videos the validation summary and the "
        "dataset card count.</p>",
        _figure("quality.png", "Histograms of each quality measure with its threshold",
                "One panel per measure over the decodable videos; the dashed line is the "
                "warning threshold and the title counts the videos past it. A long tail past "
                "the line is a group of recordings to look at (one phone, one room, one "
                "messenger app).", sizes["quality.png"]),
        _table([[m["name"], f"{'≥' if m['side'] == 'below' else '≤'} {m['threshold']:g}"
                 if m["side"] != "apart" else f"|x| ≤ {m['threshold']:g}",
                 m["measured"], m["past"],
                 "" if m["share"] is None else f"{m['share']:.1%}",
                 *("" if m[k] is None else f"{m[k]:.4g}" for k in ("p05", "median", "p95"))]
                for m in q["measures"].values()],
               ["measure", "expected", "videos measured", "past it", "share", "5 %", "median",
                "95 %"]),
        _figure("quality_outliers.png", "Gallery of the videos past a quality threshold",
                "Each video past a threshold: its first, middle and last frame with every "
                "reason (value and threshold). Check that the picture agrees: a blurred or "
                "dark video should look so.", sizes["quality_outliers.png"]),
        _figure("quality_series.png", "Per-frame brightness and sharpness of those videos",
                "Per frame of each of those videos: mean brightness (blue; a regular saw is "
                "flicker), the sampled frames' sharpness (orange dots) and dotted red lines "
                "where the timestamps jump (dropped frames).", sizes["quality_series.png"]),
    ]
    if q["flagged"]:
        parts.append(_table([[f["video_id"], "; ".join(f["reasons"])] for f in q["flagged"]],
                            ["video", "why"]))
    return parts


def _value(measure: str, value: float | None) -> str:
    return "" if value is None else MEASURES[measure][1](float(value))


def _classes(s: dict, sizes: dict) -> list[str]:
    target, parts = s["target"], ["<h2>Per class</h2>"]
    for name, shown in s["classes"].items():
        parts.append(f"<h3>{_esc(name)}</h3>")
        if shown["sheet"]:
            parts.append(_figure(
                shown["sheet"], f"Contact sheet of {target} = {name}",
                f"{shown['shown']} of the {shown['members']} videos with {target} = {name}, "
                "picked evenly from the sorted list; each row is one video, its "
                f"{shown['frames']} frames evenly spaced from start to end. Check that the "
                "videos look like what the label says and that nothing unexpected (another "
                "scene, a black screen) slipped in.", sizes[shown["sheet"]]))
        parts.append('<div class="gifs">')
        for g in shown["gifs"]:
            parts.append(_figure(
                g["file"], f"Animation of video {g['video_id']} ({target} = {name})",
                f"Video {g['video_id']} ({g['split']}), {target} = {name}: {g['frames']} "
                f"frames spread over its {g['duration_s']} s, looping at about real speed.",
                sizes[g["file"]]))
        parts.append("</div>")
    return parts


def _models(s: dict, sizes: dict) -> list[str]:
    checks, clip = s["checks"], s["augmentation_clip"]
    parts = ["<h2>Preprocessing</h2>"]
    if "preprocessing.png" in sizes:
        parts.append(_figure(
            "preprocessing.png", "Raw frame beside the model input made from it",
            "Left: a raw frame of one validation or test video per class. Right: the same "
            "frame as the model receives it, taken from the clips cache (resized and cropped "
            "as the text beside it says). Check that nothing important is cropped away and "
            "that the picture is not squashed.", sizes["preprocessing.png"]))
    parts.append(f"<p>{checks['clips_redecoded']['identical']} of "
                 f"{checks['clips_redecoded']['checked']} cached videos decoded again gave the "
                 "same bytes.</p>")
    parts.append("<h2>Augmentation</h2>")
    if "augmentation.png" in sizes:
        frames = ", ".join(map(str, clip["frames"]))
        parts.append(_figure(
            "augmentation.png", "One training clip under each augmentation",
            f"The same training clip (video {clip['video_id']}, frames {frames}) in every "
            "row. First row: as evaluation sees it. Then each augmentation on its own, at its "
            "configured strength and applied for sure (in training each is applied only with "
            "its probability). A row marked \"(off: not in augment.use)\" is a transform whose "
            "group training does not use; it is shown so you can judge whether to switch it "
            "on. Last row: the whole training preset, as one training step draws it. Check "
            "that the label is still visible after each transform.",
            sizes["augmentation.png"]))
    parts.append(f"<p>The training preset drawn twice with the same seed gave "
                 f"{'the same' if checks['augment_reproducible'] else 'DIFFERENT'} clips.</p>")
    parts.append("<h2>Embeddings (t-SNE)</h2>")
    for name, info in s["embeddings"].items():
        parts.append(_figure(
            f"tsne_{name}.png", f"t-SNE map of every cached clip's {name} features",
            f"Each dot is one cached clip, placed so that clips with similar features "
            f"({info['source']}) lie close together; the distances between groups and the "
            "axes have no meaning. The three panels show the same map coloured by "
            f"{s['target']}, domain and split. Groups of one colour in the first panel mean "
            "the features tell the classes apart; groups by domain or split mean they pick up "
            "recording conditions or a difference between the splits.",
            sizes[f"tsne_{name}.png"]))
        parts.append(f"<p>{_esc(info['source'])}: {info['clips']} clips, "
                     f"{info['dimensions']} dimensions; among each clip's 5 nearest clips of "
                     "other videos (before t-SNE) the majority has its label for "
                     f"{info['neighbour_label_agreement']} of clips.</p>")
    return parts


ANNOTATION_CAPTIONS = {
    "segments": ("How many segments each annotated video has, how long they are (t1 - t0) and "
                 "how often each label occurs. Very short or very long segments, or a label "
                 "much rarer than the rest, are worth a look."),
    "boxes": ("How many boxes each annotated frame has, how big they are (pixels of the "
              "displayed frame) and how often each label occurs. Tiny boxes or a crowd of "
              "boxes on one frame are worth a look."),
    "masks": ("How many masks each annotated frame has, their area in pixels of the displayed "
              "frame, and how often each label occurs. Empty or tiny masks are worth a look."),
    "tracks": ("How many frames each track (video, id) spans, how many ids each video has, and "
               "id switches per video: between consecutive annotated frames, the box that best "
               f"overlaps an id's previous box (IoU at least {MATCH_IOU}) carries another id (a "
               "swap of two ids counts once for each). A switch where objects cross or meet is "
               "often an annotation error."),
    "captions": ("How many words each caption has, how many captions each video has, and the "
                 "most frequent words (lower-cased) with the vocabulary size."),
}
OVERLAY_CAPTIONS = {
    "segments": "The bar under each frame is the video's timeline: each segment in its label's "
                "colour, the black mark the frame shown.",
    "boxes": "Each box is outlined in its label's colour (its id's where it has one), named "
             "above.",
    "masks": "Each mask is filled semi-transparently in its id's colour, named at its top "
             "left.",
    "tracks": "Each id's box in its own colour with its id above and a trail through its last "
              f"{TRAIL} frames.",
    "captions": "The row's text lists the video's captions.",
}


def _key_numbers(task: str, a: dict) -> str:
    """The one line of numbers above a task's figures."""
    def m(part: str) -> object:
        return a[part].get("median", "-")

    if task == "segments":
        line = (f"{a['rows']} segments in {a['videos']} videos; median {m('per_video')} per "
                f"video, median length {m('length_s')} s")
    elif task == "tracks":
        line = (f"{a['tracks']} tracks in {a['videos']} videos; median length "
                f"{m('length_frames')} frames, median {m('ids_per_video')} ids per video; "
                f"{a['id_switches']} id switches")
    elif task == "captions":
        line = (f"{a['rows']} captions of {a['videos']} videos; median {m('words')} words; "
                f"vocabulary {a['vocabulary']} words")
    else:
        line = (f"{a['rows']} {task} on {a['annotated_frames']} frames of {a['videos']} "
                f"videos; median {m('per_frame')} per frame, median area {m('area_px')} px")
    return f"{line}; labels: {len(a['labels'])}."


def _annotations(s: dict, sizes: dict) -> list[str]:
    parts = []
    for task, a in s.get("annotations", {}).items():
        f = a["figures"]
        parts += [f"<h2>Annotations: {_esc(task)}</h2>", f"<p>{_esc(_key_numbers(task, a))}</p>",
                  _figure(f["stats"], f"Statistics of the {task} annotations",
                          ANNOTATION_CAPTIONS[task], sizes[f["stats"]])]
        if f["sheet"]:
            parts.append(_figure(
                f["sheet"], f"Frames of {len(a['videos_shown'])} videos with their {task} drawn",
                f"The first {len(a['videos_shown'])} video ids with {task} (sorted), one row "
                f"each, its frames evenly spread. {OVERLAY_CAPTIONS[task]} Check that the "
                "annotations sit on what they describe.", sizes[f["sheet"]]))
        if f["gif"]:
            parts += ['<div class="gifs">', _figure(
                f["gif"], f"Animation of video {a['gif_video']} with its {task} drawn",
                f"Video {a['gif_video']}: {len(a['gif_frames'])} frames with their {task} "
                f"drawn, one every {a['gif_frame_ms']} ms.", sizes[f["gif"]]), "</div>"]
    return parts


def index_html(summary: dict, sizes: dict[str, tuple[int, int]]) -> str:
    """One page showing every figure (each at the width ``sizes`` gives, with a caption), with
    the numbers and outliers as tables."""
    d, s = summary["distributions"], summary
    target = s["target"]
    parts = [f"<h1>Exploratory views: {_esc(s['title'])}</h1>",
             f"<p>{d['videos']} probed videos, {d['decodable']} decodable; target "
             f"<code>{_esc(target)}</code>. Made by <code>vidlab eda</code>; every id is a "
             "pseudonym.</p>", _fingerprints(s),
             "<h2>Distributions</h2>",
             _figure("distributions.png", "Histograms of duration, frame rate and bit rate; "
                     "bar charts of resolution, codec and audio track",
                     "What the files are, from probing each decodable video. Top: duration, "
                     "average decoded frame rate and frame size (width x height). Bottom: bit "
                     "rate, video codec and whether there is an audio track. Each bar counts "
                     "videos. One tall bar means the videos agree; a bar far from the rest is "
                     "worth a look (see Outliers).", sizes["distributions.png"]),
             _table([[k, v.get("min"), v.get("median"), v.get("max")]
                     for k, v in (("duration (s)", d["duration_s"]), ("fps", d["fps"]),
                                  ("bit rate (bit/s)", d["bit_rate"]))],
                    ["", "min", "median", "max"]),
             "<h2>Classes</h2>",
             _figure("class_counts.png", f"Bar charts of videos per {target} value, overall "
                     "and per split",
                     f"How many videos have each value of {target}: left over all splits, right "
                     "per split (train, val, test). A class much smaller than the others means "
                     "the classes are imbalanced; a split whose bars are in other proportions "
                     "than the rest was split unevenly.", sizes["class_counts.png"]),
             _table([[split, *counts.values()] for split, counts in
                     s["class_counts"]["per_split"].items()],
                    ["split", *s["class_counts"]["overall"]]),
             *_outliers(s, sizes), *_quality(s, sizes), *_classes(s, sizes),
             *_annotations(s, sizes), *_models(s, sizes)]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>vidlab EDA</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
