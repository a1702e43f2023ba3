"""The eda t-SNE maps of every cached clip's embedding (model and classical features)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from vidlab.config import Params
from vidlab.stages.eda import common
from vidlab.stages.eda.common import SPLIT_ORDER

log = logging.getLogger(__name__)


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
        net = build_network(model, params, start_weights=False)
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
    with common.style() as plt:
        fig, axes = plt.subplots(1, 3, figsize=(common.FIGURE_INCHES, 5.2))
        for ax, column in zip(axes, (target, "domain", "split"), strict=True):
            values = info[column].to_numpy()
            for k, value in enumerate(sorted(set(values))):
                chosen = values == value
                ax.scatter(points[chosen, 0], points[chosen, 1], s=10, label=str(value),
                           color=plt.get_cmap("tab10")(k % 10))
            ax.set(title=f"coloured by {column}", xticks=[], yticks=[])
            # below the map, not over its points
            ax.legend(markerscale=1.5, loc="upper center", bbox_to_anchor=(0.5, -0.02),
                      ncol=min(3, len(set(values))), frameon=False)
        fig.suptitle(f"t-SNE of every cached clip: {title}")
        fig.tight_layout()
        common.save(fig, path)
