"""The eda page: ``index.html`` showing every figure, with the numbers as tables."""

from __future__ import annotations

import html


def _table(rows: list[list], head: list[str]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def index_html(summary: dict) -> str:
    """One page showing every figure, with the numbers and outliers as tables."""
    d, s = summary["distributions"], summary
    parts = [f"<h1>Exploratory views: {html.escape(s['title'])}</h1>",
             f"<p>Dataset fingerprint <code>{html.escape(str(s['dataset_fingerprint']))}</code>; "
             f"{d['videos']} probed videos, {d['decodable']} decodable; target "
             f"<code>{html.escape(s['target'])}</code>. Made by <code>vidlab eda</code>; every "
             "id is a pseudonym.</p>",
             "<h2>Distributions</h2>", '<img src="distributions.png" alt="distributions">',
             _table([[k, v.get("min"), v.get("median"), v.get("max")]
                     for k, v in (("duration (s)", d["duration_s"]), ("fps", d["fps"]),
                                  ("bit rate (bit/s)", d["bit_rate"]))], ["", "min", "median",
                                                                          "max"]),
             "<h2>Classes</h2>", '<img src="class_counts.png" alt="class counts">',
             _table([[split, *counts.values()] for split, counts in
                     s["class_counts"]["per_split"].items()],
                    ["split", *s["class_counts"]["overall"]]),
             "<h2>Outliers</h2>", '<img src="outliers.png" alt="outliers">',
             _table([[category, item["video_id"], item["duration_s"], item["fps"], item["reason"]]
                     for category in ("shortest", "longest", "odd_fps", "flagged")
                     for item in s["outliers"][category]],
                    ["category", "video", "seconds", "fps", "why"])]
    ingest = s["outliers"]["quarantined_at_ingest"]
    if ingest:
        parts.append("<p>Quarantined at ingest (no de-identified file to show): "
                     + html.escape(", ".join(f"{k}: {v}" for k, v in ingest.items())) + ".</p>")
    parts.append("<h2>Per class</h2>")
    for name, shown in s["classes"].items():
        parts.append(f"<h3>{html.escape(name)}</h3>")
        if shown["sheet"]:
            parts.append(f'<img src="{shown["sheet"]}" alt="contact sheet {html.escape(name)}">')
        parts += [f'<img src="{g["file"]}" alt="{g["video_id"]}" title="{g["video_id"]}">'
                  for g in shown["gifs"]]
    checks = s["checks"]
    parts += ["<h2>Preprocessing</h2>", '<img src="preprocessing.png" alt="preprocessing">',
              f"<p>{checks['clips_redecoded']['identical']} of "
              f"{checks['clips_redecoded']['checked']} cached videos decoded again gave the "
              "same bytes.</p>",
              "<h2>Augmentation</h2>", '<img src="augmentation.png" alt="augmentation">',
              f"<p>The training preset drawn twice with the same seed gave "
              f"{'the same' if checks['augment_reproducible'] else 'DIFFERENT'} clips.</p>",
              "<h2>Embeddings (t-SNE)</h2>"]
    for name, info in s["embeddings"].items():
        parts += [f'<img src="tsne_{name}.png" alt="t-SNE {name}">',
                  f"<p>{html.escape(info['source'])}: {info['clips']} clips, "
                  f"{info['dimensions']} dimensions; among each clip's 5 nearest clips of other "
                  f"videos (before t-SNE) the majority has its label for "
                  f"{info['neighbour_label_agreement']} of clips.</p>"]
    style = ("body{font-family:sans-serif;max-width:1250px;margin:auto}img{max-width:100%;"
             "margin:4px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid "
             "#ccc;padding:2px 6px;font-size:13px}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>vidlab EDA</title>"
            f"<style>{style}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
