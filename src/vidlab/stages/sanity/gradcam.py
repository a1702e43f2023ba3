"""Grad-CAM of the trained models, and its figures (a PNG grid and a GIF per model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidlab.config import Params
from vidlab.core.fsutil import atomic_write_bytes
from vidlab.stages.sanity import common
from vidlab.stages.sanity.common import SanityError

# --- Grad-CAM ----------------------------------------------------------------------------------


def _alternating(labels: dict[str, int], count: int) -> list[str]:
    """``count`` video ids, classes taking turns, each class's videos in sorted order."""
    by_class: dict[int, list[str]] = {}
    for video in sorted(labels):
        by_class.setdefault(labels[video], []).append(video)
    queues = [by_class[k] for k in sorted(by_class)]
    chosen: list[str] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def target_layer(net):
    """The last convolutional stage: where Grad-CAM reads activations and gradients."""
    trunk = getattr(net, "trunk", None)
    if trunk is not None:
        return trunk.layer4
    if hasattr(net, "layer4"):
        return net.layer4
    raise ValueError(f"No Grad-CAM layer known for {type(net).__name__}.")


def gradcam(net, video, target: int):
    """Grad-CAM (Selvaraju et al. 2017) of class ``target`` for one clip.

    Args:
        net: a baseline network (see :func:`target_layer`).
        video: ``(3, T, H, W)`` float, normalised as in training.
        target: class index.

    Returns:
        ``(cam, probs)``: ``cam`` is ``(T, H, W)`` in [0, 1] (frames the network never sees are
        0); ``probs`` the softmax over classes.
    """
    import torch
    from torch.nn import functional as F

    net.eval()
    seen: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        seen["act"] = output

    hook = target_layer(net).register_forward_hook(keep)
    try:
        video = video.unsqueeze(0).detach().to(next(net.parameters()).device)
        net.zero_grad(set_to_none=True)
        logits = net(video)
        logits[0, target].backward()
    finally:
        hook.remove()
    act, grad = seen["act"].detach().float().cpu(), seen["act"].grad.detach().float().cpu()
    _, frames, height, width = video.shape[1:]
    if act.dim() == 5:  # (1, C, t, h, w): a 3D network
        weights = grad.mean(dim=(2, 3, 4), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=(frames, height, width), mode="trilinear",
                            align_corners=False)[0, 0]
    else:  # (N, C, h, w): N frames of a 2D trunk; weights over all of them, as one volume
        weights = grad.mean(dim=(0, 2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False)[:, 0]
        if cam.shape[0] != frames:  # center_frame: the middle frame only
            full = torch.zeros(frames, height, width)
            full[frames // 2] = cam[0]
            cam = full
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else cam
    return cam.clamp(0, 1), logits.detach().float().softmax(1)[0].cpu()


def _overlay(frames: np.ndarray, cam: np.ndarray, scale: int) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 blended with the heat map, upscaled ``scale`` times."""
    from matplotlib import colormaps

    heat = (colormaps["inferno"](cam)[..., :3] * 255).astype(np.float32)
    alpha = 0.6 * cam[..., None]
    mixed = frames.astype(np.float32) * (1 - alpha) + heat * alpha
    mixed = mixed.round().clip(0, 255).astype(np.uint8)
    return mixed.repeat(scale, axis=1).repeat(scale, axis=2)


def gradcam_figures(params: Params, model: str, *, weights: Path, splits: Path, clips: Path,
                    out: Path) -> dict:
    """Grad-CAM PNG grid and GIF of ``model`` on a few validation clips (classes alternating)."""
    import io

    import pandas as pd
    import torch
    from PIL import Image, ImageDraw

    from vidlab.data.transforms import EvalPreset
    from vidlab.models.registry import build_network

    s, c = params.sanity, params.clips
    data = common.data(params, splits, clips)
    chosen = _alternating(data.labels["val"], s.gradcam_clips)
    if not chosen:
        return {"clips": 0, "files": []}
    net = build_network(model, params, start_weights=False)
    if not Path(weights).is_file():
        raise SanityError(f"No trained weights at {weights}. Run `dvc repro train@{model}` first.")
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    index = pd.read_csv(Path(clips) / "index.csv", dtype={"video_id": str, "split": str})
    array = np.load(Path(clips) / "val.npy", mmap_mode="r")
    preset = EvalPreset(mean=c.mean, std=c.std)
    classes = list(params.base.classes)
    scale = max(1, 96 // c.size)
    rows, captions, shown = [], [], []
    for video in chosen:
        clip_rows = index[(index["split"] == "val") & (index["video_id"] == video)]
        middle = clip_rows.sort_values("clip_index").iloc[len(clip_rows) // 2]
        frames = np.array(array[int(middle["row"])])
        truth = data.labels["val"][video]
        cam, probs = gradcam(net, preset(torch.from_numpy(frames)), truth)
        rows.append(_overlay(frames, cam.numpy(), scale))
        predicted = int(probs.argmax())
        captions.append(f"{video}  true {classes[truth]}  pred {classes[predicted]} "
                        f"({float(probs[predicted]):.2f})")
        shown.append({"video_id": video, "clip_index": int(middle["clip_index"]),
                      "true": classes[truth], "predicted": classes[predicted],
                      "p_true": round(float(probs[truth]), 4)})
    frames_n, cell = rows[0].shape[0], rows[0].shape[1]
    caption_h, gap = 14, 2
    grid = Image.new("RGB", (frames_n * (cell + gap), len(rows) * (cell + caption_h + gap)),
                     "white")
    draw = ImageDraw.Draw(grid)
    for r, (row, caption) in enumerate(zip(rows, captions, strict=True)):
        top = r * (cell + caption_h + gap)
        draw.text((2, top + 1), caption, fill="black")
        for t in range(frames_n):
            grid.paste(Image.fromarray(row[t]), (t * (cell + gap), top + caption_h))
    png, gif = out / f"gradcam_{model}.png", out / f"gradcam_{model}.gif"
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG")
    atomic_write_bytes(png, buffer.getvalue())
    strip = [Image.fromarray(np.concatenate([row[t] for row in rows], axis=1))
             for t in range(frames_n)]
    buffer = io.BytesIO()
    strip[0].save(buffer, format="GIF", save_all=True, append_images=strip[1:], duration=250,
                  loop=0)
    atomic_write_bytes(gif, buffer.getvalue())
    return {"clips": len(rows), "files": [png.name, gif.name], "shown": shown}

