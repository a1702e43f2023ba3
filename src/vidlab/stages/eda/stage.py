"""The `eda` stage: exploratory views of the dataset, on one page (``reports/eda/index.html``).

From the manifest, the splits, the quarantine, the duplicate clusters, the clips cache and a
trained 2D model it draws:

* ``distributions.png``: duration, fps, resolution, bit rate, codec and audio presence;
* ``class_counts.png``: the target's classes overall and per split;
* ``outliers.png``: the shortest and longest videos, odd frame rates (off the median by more
  than ``eda.odd_fps_tolerance``, or variable) and flagged files (probe warnings, near-duplicate
  clusters, validation quarantine), each with its first, middle and last frame;
* ``sheets/<class>.png`` (a contact sheet per class) and ``gifs/<class>_<k>.gif``;
* ``preprocessing.png``: each raw frame beside the cached model input made from it;
* ``augmentation.png``: one cached training clip under each augmentation on its own (at its
  configured strength, applied for sure) and under the whole training preset;
* ``tsne_model.png`` and ``tsne_classical.png``: t-SNE maps of every cached clip's embedding
  (the penultimate layer of ``eda.embedding_model``; the classical features of
  :mod:`vidlab.models.classical`) coloured by label, domain and split;
* ``summary.json``: the numbers behind the figures, the outliers, and two reproducibility checks
  the readiness checklist reads (the augmentation redrawn with the same seed gives the same
  clip; cached clips decoded again give the same bytes).

Every figure is labelled with pseudonymous ids only. Frames are decoded from the de-identified
videos (``data/interim``).
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import Params
from vidlab.core.errors import DataError
from vidlab.core.fsutil import atomic_dir
from vidlab.tracking.pipeline import inputs_hash

log = logging.getLogger(__name__)

MARKER = "summary.json"
COLOURS = ("label", "domain", "split")
SPLIT_ORDER = ("train", "val", "test")


# --- inputs ------------------------------------------------------------------------------------


def _read_inputs(manifest: Path, splits: Path, quarantine: Path, duplicates: Path):
    from vidlab.data.cache import resolve_paths

    for path in (manifest, splits):
        if not Path(path).is_file():
            raise DataError(f"{path} does not exist. Run `dvc repro split` first.")
    videos = pd.read_parquet(manifest)
    videos["path"] = resolve_paths(videos["path"].astype(str), Path(splits))
    table = pd.read_csv(splits, dtype=str, keep_default_na=False)
    table = table[table["split"].isin(SPLIT_ORDER)]
    flagged = pd.read_csv(quarantine, dtype=str, keep_default_na=False) if Path(
        quarantine).is_file() else pd.DataFrame(columns=["stage", "video_id", "reason"])
    clusters = json.loads(Path(duplicates).read_text(encoding="utf-8")).get(
        "clusters", []) if Path(duplicates).is_file() else []
    return videos, table, flagged, clusters


def _bins(values: pd.Series, most: int = 20) -> dict:
    """Histogram bins that work on any data: one value or values a rounding error apart (every
    video at 15 fps) get one bin around them instead of numpy's "too many bins" error."""
    finite = pd.to_numeric(values, errors="coerce").dropna()
    finite = finite[np.isfinite(finite)]
    if finite.empty:
        return {"bins": 1, "range": (0.0, 1.0)}
    low, high = float(finite.min()), float(finite.max())
    if high - low <= 1e-6 * max(1.0, abs(high)):
        return {"bins": 1, "range": (low - 0.5, high + 0.5)}
    return {"bins": most, "range": (low, high)}


def _frames(path: str, indices: list[int] | None = None, count: int = 3) -> list[np.ndarray]:
    """Frames of a video: ``indices``, or ``count`` evenly spaced. [] when it cannot be decoded."""
    from vidlab.media.decode import open_video

    try:
        reader = open_video(path, "pyav")
        try:
            total = len(reader.times)
            if indices is None:
                indices = sorted({round(k * (total - 1) / max(1, count - 1))
                                  for k in range(count)}) if total else []
            return list(reader.get_frames([min(i, total - 1) for i in indices]))
        finally:
            reader.close()
    except Exception as exc:  # an undecodable file is itself an outlier, shown without frames
        log.warning("eda: cannot decode %s (%s)", Path(path).name, exc)
        return []


def _spread(items: list, count: int) -> list:
    """``count`` items evenly over a sorted list (deterministic)."""
    if len(items) <= count:
        return list(items)
    return [items[round(k * (len(items) - 1) / max(1, count - 1))] for k in range(count)]


# --- figures -----------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    _plt().close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def _bars(ax, counts: dict, title: str, xlabel: str = "") -> None:
    names = [str(k) for k in counts]
    ax.bar(names, list(counts.values()), color="#4c72b0")
    for k, v in enumerate(counts.values()):
        ax.text(k, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel="videos")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)


def distributions(videos: pd.DataFrame, out: Path) -> dict:
    """The container facts of every probed video; returns their summary numbers."""
    plt = _plt()
    ok = videos[videos["status"] == "ok"]
    resolution = (ok["width"].astype(str) + "x" + ok["height"].astype(str)).value_counts()
    codecs = ok["codec"].fillna("none").value_counts()
    audio = {"with audio": int(ok["audio"].sum()), "without": int((~ok["audio"]).sum())}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    axes[0, 0].hist(ok["duration_s"], **_bins(ok["duration_s"]), color="#4c72b0")
    axes[0, 0].set(title="duration", xlabel="seconds", ylabel="videos")
    axes[0, 1].hist(ok["fps_avg"], **_bins(ok["fps_avg"]), color="#4c72b0")
    axes[0, 1].set(title="frame rate (decoded average)", xlabel="fps", ylabel="videos")
    _bars(axes[0, 2], resolution.to_dict(), "resolution", "width x height")
    rates = ok["bit_rate"].astype(float) / 1000
    axes[1, 0].hist(rates, **_bins(rates), color="#4c72b0")
    axes[1, 0].set(title="bit rate", xlabel="kbit/s", ylabel="videos")
    _bars(axes[1, 1], codecs.to_dict(), "video codec")
    _bars(axes[1, 2], audio, "audio track")
    fig.suptitle(f"{len(ok)} decodable videos of {len(videos)} probed")
    fig.tight_layout()
    _save(fig, out / "distributions.png")

    def stats(column: str) -> dict:
        values = ok[column].astype(float)
        return {"min": round(float(values.min()), 3), "median": round(float(values.median()), 3),
                "max": round(float(values.max()), 3)} if len(values) else {}

    return {"videos": len(videos), "decodable": len(ok), "duration_s": stats("duration_s"),
            "fps": stats("fps_avg"), "bit_rate": stats("bit_rate"),
            "resolutions": {str(k): int(v) for k, v in resolution.items()},
            "codecs": {str(k): int(v) for k, v in codecs.items()}, "audio": audio}


def class_counts(table: pd.DataFrame, params: Params, out: Path) -> dict:
    plt = _plt()
    target, classes = params.base.target, list(params.base.classes)
    overall = {c: int((table[target] == c).sum()) for c in classes}
    per_split = {s: {c: int(((table["split"] == s) & (table[target] == c)).sum())
                     for c in classes} for s in SPLIT_ORDER}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _bars(axes[0], overall, f"{target}: all splits")
    width = 0.8 / len(classes)
    for k, name in enumerate(classes):
        xs = np.arange(len(SPLIT_ORDER)) + (k - (len(classes) - 1) / 2) * width
        axes[1].bar(xs, [per_split[s][name] for s in SPLIT_ORDER], width, label=name)
    axes[1].set_xticks(range(len(SPLIT_ORDER)), SPLIT_ORDER)
    axes[1].set(title=f"{target} per split", ylabel="videos")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out / "class_counts.png")
    return {"overall": overall, "per_split": per_split}


def outliers(videos: pd.DataFrame, flagged: pd.DataFrame, clusters: list[dict], params: Params,
             out: Path) -> dict:
    """The outlier gallery; returns each category's video ids and reasons."""
    from vidlab.media.sheets import contact_sheet

    e = params.eda
    ok = videos[videos["status"] == "ok"].sort_values(["duration_s", "video_id"])
    median_fps = float(ok["fps_avg"].median()) if len(ok) else 0.0
    found: dict[str, list[dict]] = {"shortest": [], "longest": [], "odd_fps": [], "flagged": []}

    def entry(row, reason: str) -> dict:
        return {"video_id": row.video_id, "reason": reason,
                "duration_s": None if pd.isna(row.duration_s) else round(float(row.duration_s), 2),
                "fps": None if pd.isna(row.fps_avg) else round(float(row.fps_avg), 2)}

    for row in ok.head(e.outliers).itertuples():
        found["shortest"].append(entry(row, "among the shortest"))
    for row in ok.tail(e.outliers).iloc[::-1].itertuples():
        found["longest"].append(entry(row, "among the longest"))
    for row in videos.sort_values("video_id").itertuples():
        fps = float(row.fps_avg) if not pd.isna(row.fps_avg) else None
        off = fps is not None and median_fps and abs(fps - median_fps) / median_fps > \
            e.odd_fps_tolerance
        if off or bool(row.vfr):
            why = [f"{fps:.2f} fps vs median {median_fps:.2f}"] if off else []
            found["odd_fps"].append(entry(row, ", ".join(why + (["variable frame rate"]
                                                                 if row.vfr else []))))
    reasons: dict[str, list[str]] = {}
    for row in videos.itertuples():
        if row.status != "ok":
            reasons.setdefault(row.video_id, []).append(f"probe status {row.status}")
        for warning in filter(None, str(row.warnings).split(",")):
            reasons.setdefault(row.video_id, []).append(f"probe: {warning}")
    for cluster in clusters:
        for video in cluster["video_ids"]:
            reasons.setdefault(video, []).append(f"{cluster['kind']}-duplicate {cluster['id']}")
    for row in flagged.itertuples():
        if row.stage != "ingest" and row.video_id:
            reasons.setdefault(row.video_id, []).append(f"quarantined: {row.reason}")
    for row in videos[videos["video_id"].isin(reasons)].sort_values("video_id").itertuples():
        found["flagged"].append(entry(row, "; ".join(reasons[row.video_id])))
    paths = videos.set_index("video_id")["path"]
    rows = []
    for category, entries in found.items():
        for item in entries:
            frames = _frames(paths[item["video_id"]], count=3)
            label = (f"{category}: {item['video_id']}\n{item['duration_s']} s, "
                     f"{item['fps']} fps\n{item['reason'][:36]}")
            rows.append((label, frames or [np.full((72, 96, 3), 200, np.uint8)]))
    if rows:
        contact_sheet(rows, out / "outliers.png",
                      title="Outliers: first, middle and last frame (grey: not decodable)")
    ingest_only = flagged[flagged["stage"] == "ingest"]["reason"].value_counts()
    return found | {"quarantined_at_ingest": {str(k): int(v) for k, v in ingest_only.items()},
                    "median_fps": round(median_fps, 3)}


def class_sheets(table: pd.DataFrame, videos: pd.DataFrame, params: Params, out: Path) -> dict:
    """A contact sheet and a few GIFs per class of the target."""
    from PIL import Image

    from vidlab.media.sheets import contact_sheet

    e, target = params.eda, params.base.target
    info = videos.set_index("video_id")
    split_of = table.set_index("video_id")["split"]
    shown: dict[str, dict] = {}
    for name in params.base.classes:
        members = sorted(table.loc[table[target] == name, "video_id"])
        if not members:
            continue
        picked = _spread(members, e.sheet_videos)
        rows = [(f"{v}\n{split_of[v]}", _frames(info.loc[v, "path"], count=e.sheet_frames))
                for v in picked]
        rows = [(label, frames) for label, frames in rows if frames]
        if rows:
            contact_sheet(rows, out / "sheets" / f"{_slug(name)}.png",
                          title=f"{target} = {name}: {len(rows)} of {len(members)} videos")
        gifs = []
        for k, video in enumerate(_spread(members, e.gifs_per_class) if e.gifs_per_class else []):
            frames = _frames(info.loc[video, "path"], count=e.gif_frames)
            if not frames:
                continue
            duration = float(info.loc[video, "duration_s"])
            step_ms = max(20, round(1000 * duration / max(1, len(frames))))
            images = [Image.fromarray(f) for f in frames]
            target_path = out / "gifs" / f"{_slug(name)}_{k + 1}.gif"
            target_path.parent.mkdir(parents=True, exist_ok=True)
            images[0].save(target_path, format="GIF", save_all=True, append_images=images[1:],
                           duration=step_ms, loop=0)
            gifs.append({"file": f"gifs/{target_path.name}", "video_id": video})
        shown[name] = {"sheet": f"sheets/{_slug(name)}.png" if rows else None,
                       "videos": picked, "gifs": gifs}
    return shown


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(text))


def _cached(clips: Path, split: str) -> tuple[pd.DataFrame, np.ndarray]:
    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str})
    array = np.load(Path(clips) / f"{split}.npy", mmap_mode="r")
    return index[index["split"] == split], array


def preprocessing(table: pd.DataFrame, videos: pd.DataFrame, params: Params, clips: Path,
                  out: Path) -> dict:
    """Raw frame beside the cached model input made from it (one val/test video per class);
    ``eda.redecode`` val/test videos decoded again and compared with the cache byte for byte."""
    from vidlab.media.sheets import contact_sheet

    c, target = params.clips, params.base.target
    paths = videos.set_index("video_id")["path"]
    rows, shown = [], set()
    cached = {split: _cached(clips, split) for split in ("val", "test")}
    for split, (index, array) in cached.items():
        for name in params.base.classes:
            members = sorted(set(index["video_id"]) & set(
                table.loc[table[target] == name, "video_id"]))
            if not members or name in shown:
                continue
            video = members[0]
            clip = index[(index["video_id"] == video) & (index["clip_index"] == 0)].iloc[0]
            positions = [int(i) for i in str(clip["frames"]).split()]
            raw = _frames(paths[video], [positions[len(positions) // 2]])
            fitted = np.asarray(array[int(clip["row"])])[len(positions) // 2]
            if raw:
                height, width = raw[0].shape[:2]
                rows.append((f"{video} ({split}, {name})\nraw {width}x{height} -> {c.crop}\n"
                             f"{c.size}x{c.size} @ {c.target_fps or 'native'} fps", [raw[0],
                                                                                  fitted]))
                shown.add(name)
    if rows:
        contact_sheet(rows, out / "preprocessing.png",
                      title="Preprocessing: raw frame (left), cached model input (right)")
    candidates = sorted((video, split) for split, (index, _) in cached.items()
                        for video in set(index["video_id"]))
    checked = _spread(candidates, params.eda.redecode) if params.eda.redecode else []
    identical = sum(_redecoded_identical(paths[video], split, params, cached[split][1],
                                         cached[split][0], video) for video, split in checked)
    return {"checked": len(checked), "identical": int(identical)}


def _redecoded_identical(path: str, split: str, params: Params, array: np.ndarray,
                         index: pd.DataFrame, video: str) -> bool:
    """Decode a cached video's eval clips again: the same bytes as the cache?"""
    from vidlab.data.cache import read_clips, sample_video

    try:
        _, arrays, _, _ = read_clips(path, params.clips,
                                     lambda times: sample_video(times, split, params.clips, None))
    except Exception:
        return False
    rows = index[index["video_id"] == video].sort_values("clip_index")["row"].astype(int)
    cached = np.stack([np.asarray(array[r]) for r in rows])
    return cached.shape == arrays.shape and bool(np.array_equal(cached, arrays))


def _single(params: Params, group: str, **changes) -> object:
    """AugmentParams with every transform off except ``changes`` (in ``group``)."""
    off = dict(hflip=0.0, crop_scale=1.0, rotate=0.0, translate=0.0, color=0.0, grayscale=0.0,
               noise=0.0, blur=0.0, frame_drop=0.0, jitter=0, time_warp=0.0, reverse=0.0)
    return dataclasses.replace(params.augment, use=(group,), **(off | changes))


def augmentation_rows(params: Params) -> list[tuple[str, object]]:
    """(label, AugmentParams) per augmentation at its configured strength, applied for sure."""
    a = params.augment
    rows = [("none (eval preset)", None)]
    candidates = [
        ("spatial: horizontal flip", a.hflip > 0, "spatial", {"hflip": 1.0}),
        (f"spatial: resized crop >= {a.crop_scale:.0%}", a.crop_scale < 1, "spatial",
         {"crop_scale": a.crop_scale}),
        (f"spatial: rotate {a.rotate:g} deg, shift {a.translate:.0%}", a.rotate or a.translate,
         "spatial", {"rotate": a.rotate, "translate": a.translate}),
        (f"spatial: colour jitter {a.color:g}", a.color > 0, "spatial", {"color": a.color}),
        ("spatial: grayscale", a.grayscale > 0, "spatial", {"grayscale": 1.0}),
        ("spatial: blur", a.blur > 0, "spatial", {"blur": 1.0}),
        (f"spatial: noise sigma {a.noise:g}", a.noise > 0, "spatial", {"noise": a.noise}),
        (f"temporal: time warp {a.time_warp:g}", a.time_warp > 0, "temporal",
         {"time_warp": a.time_warp}),
        (f"temporal: jitter {a.jitter}", a.jitter > 0, "temporal", {"jitter": a.jitter}),
        (f"temporal: frame drop {a.frame_drop:g}", a.frame_drop > 0, "temporal",
         {"frame_drop": max(a.frame_drop, 0.5)}),
        ("temporal: reverse", a.reverse > 0, "temporal", {"reverse": 1.0}),
        (f"compression: JPEG q{a.jpeg[0]}", True, "compression", {}),
    ]
    for label, on, group, changes in candidates:
        if on:
            label += "" if group in a.use else " (off: not in augment.use)"
            rows.append((label, _single(params, group, **changes)
                         if group != "compression" else dataclasses.replace(
                             _single(params, "compression"), jpeg=(a.jpeg[0], a.jpeg[0]))))
    rows.append((f"train preset: {', '.join(a.use) or 'none'}", a))
    return rows


def _to_uint8(video, params: Params) -> np.ndarray:
    """A normalised (3, T, H, W) tensor back to uint8 (T, H, W, 3)."""
    mean = np.asarray(params.clips.mean).reshape(3, 1, 1, 1)
    std = np.asarray(params.clips.std).reshape(3, 1, 1, 1)
    pixels = np.clip(video.numpy() * std + mean, 0, 1)
    return (pixels * 255).round().astype(np.uint8).transpose(1, 2, 3, 0)


def augmentation(params: Params, clips: Path, out: Path) -> dict:
    """One training clip under each augmentation; returns the reproducibility check."""
    import torch

    from vidlab.data.transforms import EvalPreset, TrainPreset
    from vidlab.media.sheets import contact_sheet

    c = params.clips
    index, array = _cached(clips, "train")
    if index.empty:
        return {"reproducible": None, "shown": []}
    clip = torch.from_numpy(np.array(array[int(index.sort_values(["video_id", "clip_index"])
                                               .iloc[0]["row"])]))
    video_id = index.sort_values(["video_id", "clip_index"]).iloc[0]["video_id"]
    frames = _spread(list(range(clip.shape[0])), 4)
    rows = []
    for k, (label, augment) in enumerate(augmentation_rows(params)):
        torch.manual_seed(params.base.seed + k)
        preset = EvalPreset(mean=c.mean, std=c.std) if augment is None else TrainPreset(
            size=c.size, mean=c.mean, std=c.std, augment=augment)
        shown = _to_uint8(preset(clip), params)
        rows.append((label, [shown[f] for f in frames]))
    contact_sheet(rows, out / "augmentation.png",
                  title=f"Augmentation of one training clip ({video_id}), frames {frames}")
    full = TrainPreset(size=c.size, mean=c.mean, std=c.std, augment=params.augment)
    draws = []
    for _ in range(2):
        torch.manual_seed(params.base.seed)
        draws.append(full(clip))
    return {"reproducible": bool(torch.equal(*draws)), "shown": [label for label, _ in rows],
            "video_id": video_id}


# --- embeddings --------------------------------------------------------------------------------


def _all_clips(params: Params, clips: Path, table: pd.DataFrame):
    """Every cached clip of the three splits as an eval-preset loader, with its video's info."""
    from torch.utils.data import ConcatDataset, DataLoader

    from vidlab.data.datasets import CachedClips
    from vidlab.data.transforms import EvalPreset

    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str})
    index = index[index["video_id"].isin(table["video_id"])]
    preset = EvalPreset(mean=params.clips.mean, std=params.clips.std)
    labels = {v: 0 for v in index["video_id"]}
    parts = [CachedClips(Path(clips), s, index[index["split"] == s], labels, preset, train=False)
             for s in SPLIT_ORDER if (index["split"] == s).any()]
    return DataLoader(ConcatDataset(parts), batch_size=params.loader.batch_size, shuffle=False)


def _penultimate(net, video):
    """The input of the network's last linear layer (its embedding of the clip)."""
    from torch import nn

    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    captured = {}
    handle = last.register_forward_hook(lambda _m, args, _o: captured.setdefault("x", args[0]))
    try:
        net(video)
    finally:
        handle.remove()
    return captured["x"]


def embeddings(params: Params, clips: Path, table: pd.DataFrame, weights: Path | None,
               out: Path) -> dict:
    """t-SNE maps of the model's and the classical features; 5-NN label agreement of each."""
    import torch
    from sklearn.manifold import TSNE
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    from vidlab.models.registry import CLASSICAL, build_network

    loader = _all_clips(params, clips, table)
    sources = {"classical": build_network(CLASSICAL, params)}
    model = params.eda.embedding_model
    if weights is not None and Path(weights).is_file():
        net = build_network(model, params)
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        sources["model"] = net.eval()
    else:
        log.warning("eda: no trained %s at %s; the t-SNE map of model embeddings is skipped",
                    model, weights)
    vectors: dict[str, list] = {name: [] for name in sources}
    ids: list[str] = []
    with torch.no_grad():
        for batch in loader:
            ids += list(batch["video_id"])
            for name, net in sources.items():
                feats = net.features(batch["video"]) if name == "classical" else _penultimate(
                    net, batch["video"])
                vectors[name].append(feats.double().numpy())
    info = table.set_index("video_id")
    target = params.base.target
    result = {}
    for name, parts in vectors.items():
        if len(ids) < 5:
            break
        x = StandardScaler().fit_transform(np.concatenate(parts))
        x = np.nan_to_num(x)
        perplexity = min(params.eda.perplexity, (len(ids) - 1) / 3)
        points = TSNE(n_components=2, perplexity=perplexity, init="pca",
                      random_state=params.base.seed).fit_transform(x)
        labels = info.loc[ids, target].to_numpy()
        agreement = _neighbour_agreement(x, labels, np.asarray(ids), NearestNeighbors)
        title = (f"{model} penultimate layer" if name == "model"
                 else "classical features (colour histograms, motion energy)")
        _tsne_figure(points, info.loc[ids], target, title, out / f"tsne_{name}.png")
        result[name] = {"source": model if name == "model" else CLASSICAL, "clips": len(ids),
                        "dimensions": int(x.shape[1]), "perplexity": round(perplexity, 2),
                        "neighbour_label_agreement": agreement}
    return result


def _neighbour_agreement(x: np.ndarray, labels: np.ndarray, videos: np.ndarray,
                         neighbours_cls) -> float | None:
    """Share of clips whose 5 nearest clips of *other* videos mostly have the same label."""
    k = 5
    if len(set(videos)) <= k:
        return None
    finder = neighbours_cls(n_neighbors=min(len(x), k + 16)).fit(x)
    _, found = finder.kneighbors(x)
    agree = []
    for row, near in enumerate(found):
        others = [j for j in near if videos[j] != videos[row]][:k]
        if others:
            votes = pd.Series(labels[others]).value_counts()
            agree.append(votes.index[0] == labels[row])
    return round(float(np.mean(agree)), 4) if agree else None


def _tsne_figure(points: np.ndarray, info: pd.DataFrame, target: str, title: str,
                 path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, column in zip(axes, (target, "domain", "split"), strict=True):
        values = info[column].to_numpy()
        for k, value in enumerate(sorted(set(values))):
            chosen = values == value
            ax.scatter(points[chosen, 0], points[chosen, 1], s=10, label=str(value),
                       color=plt.get_cmap("tab10")(k % 10))
        ax.set(title=f"coloured by {column}", xticks=[], yticks=[])
        ax.legend(fontsize=7, markerscale=1.5)
    fig.suptitle(f"t-SNE of every cached clip: {title}")
    fig.tight_layout()
    _save(fig, path)


# --- the page ----------------------------------------------------------------------------------


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


def run(params: Params, *, manifest: Path, splits: Path, quarantine: Path, duplicates: Path,
        clips: Path, weights: Path | None, out: Path, metadata: Path | None = None) -> dict:
    """Write every view into ``out`` (atomically) and return the summary."""
    from vidlab import tracking

    videos, table, flagged, clusters = _read_inputs(manifest, splits, quarantine, duplicates)
    with atomic_dir(Path(out), marker=MARKER) as tmp:
        summary = {"title": params.card.title, "target": params.base.target,
                   "dataset_fingerprint": tracking.data_version_of(metadata),
                   "inputs_hash": inputs_hash(manifest, splits)}
        summary["distributions"] = distributions(videos, tmp)
        summary["class_counts"] = class_counts(table, params, tmp)
        summary["outliers"] = outliers(videos, flagged, clusters, params, tmp)
        summary["classes"] = class_sheets(table, videos, params, tmp)
        redecoded = preprocessing(table, videos, params, clips, tmp)
        augmented = augmentation(params, clips, tmp)
        summary["checks"] = {"clips_redecoded": redecoded,
                             "augment_reproducible": augmented["reproducible"]}
        summary["augmentations"] = augmented["shown"]
        summary["embeddings"] = embeddings(params, clips, table, weights, tmp)
        summary["figures"] = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*")
                                    if p.suffix in (".png", ".gif"))
        (tmp / "index.html").write_text(index_html(summary), encoding="utf-8")
        (tmp / MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
