"""Benchmark: training and eval throughput (clips/s) of the three baselines, side by side.

Each model of ``vidlab.models.registry.MODELS`` is built exactly as the demo trains it
(``registry.build_network`` from params.yaml's train section: widths, depth, variant, pool)
and wrapped in ``ClipClassifier``. On batches of the configured shape (``loader.batch_size`` clips
of 3 x ``clips.clip_len`` x ``clips.size`` x ``clips.size``):

1. Train: full steps in train mode: forward, the module's cross-entropy (class-weighted as with
   ``train.balance: weights``), backward, optimizer step (``train.optimizer``: AdamW in the demo,
   at ``train.lr`` and ``train.weight_decay``; no LR schedule).
2. Eval: forward passes in eval mode under ``torch.inference_mode`` (what validation costs).

Inputs are synthetic (``torch.randn`` / ``torch.randint`` after ``torch.manual_seed(--seed)``, made
on the CPU, so every device sees the same numbers; the cost does not depend on the values) and
made once, so loading is not measured here (benchmarks/loader.py measures the data wait), nor is
Lightning's per-step overhead (logging, hooks). Fair on a shared, noisy machine: ``--warmup``
untimed steps per model first, then ``--repeats`` rounds that each time ``--steps`` steps of every
model in turn (train, then eval; the order rotates each round); medians over the rounds. torch's
thread count is left at its default and recorded. Ratios are relative to center_frame in the same
run. Each round's ms/step is kept, with the minimum and the spread (max / min): on a small
shared machine another process's burst slows torch's threads many times over, and a spread far
above 1 says the median may be hit too. Forward GFLOPs per clip (torch's FlopCounterMode:
convolutions and matmuls) explain the ratios. With CUDA, the same again on the GPU (bf16
autocast where supported); otherwise "gpu": null and "gpu_reason". Writes
reports/bench/train.json.

    uv run python benchmarks/train.py [--repeats 7] [--steps 10] [--warmup 3] [--seed 0] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from vidlab import config as params_mod
from vidlab.config import Params
from vidlab.core.fsutil import atomic_write_text
from vidlab.models import trainer
from vidlab.models.module import ClipClassifier
from vidlab.models.registry import MODELS, build_network

ROOT = Path(__file__).resolve().parents[1]
BASE = "center_frame"  # the ratios' reference: the cheapest model, which cannot see motion
QUICK = {"repeats": 2, "steps": 3, "warmup": 1}


def classifier(model: str, params: Params, seed: int) -> ClipClassifier:
    """``model`` as the train stage builds it (seeded init), in the module the stage trains."""
    t = params.train
    classes = len(params.base.classes)
    torch.manual_seed(seed)
    weights = [1.0] * classes if t.balance == "weights" else None  # the weighted-loss code path
    return trainer.classifier(build_network(model, params), params, schedule="none",
                              class_weights=weights)


def inputs(params: Params, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of the configured shape: seeded, on the CPU (identical for every device)."""
    c, batch = params.clips, params.loader.batch_size
    generator = torch.Generator().manual_seed(seed)
    video = torch.randn(batch, 3, c.clip_len, c.size, c.size, generator=generator)
    label = torch.randint(0, len(params.base.classes), (batch,), generator=generator)
    return video, label


def forward_gflops(module: ClipClassifier, video: torch.Tensor) -> float:
    """Forward GFLOPs per clip (eval mode, CPU): convolutions and matmuls as torch counts them."""
    module.eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module(video)
    return counter.get_total_flops() / len(video) / 1e9


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds per step over ``steps`` consecutive steps (the device drained before and after)."""
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def steppers(module: ClipClassifier, video: torch.Tensor, label: torch.Tensor,
             amp: bool) -> dict[str, Callable[[], None]]:
    """The train step and the eval step of ``module`` on one batch, as closures."""
    optimizer = module.configure_optimizers()  # schedule "none": the bare optimizer
    autocast = torch.autocast(video.device.type, dtype=torch.bfloat16, enabled=amp)

    def train() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            logits = module(video)
            loss = torch.nn.functional.cross_entropy(logits, label, weight=module.class_weight)
        loss.backward()
        optimizer.step()

    def evaluate() -> None:
        with torch.inference_mode(), autocast:
            module(video).softmax(1)

    return {"train": train, "eval": evaluate}


def measure(params: Params, device: torch.device, amp: bool, *, seed: int, repeats: int,
            steps: int, warmup: int) -> dict:
    """ms/step and clips/s per model and phase (medians of interleaved rounds); the ratios."""
    video, label = inputs(params, seed)
    modules = {m: classifier(m, params, seed) for m in MODELS}
    result: dict = {"models": {}}
    for model, module in modules.items():
        result["models"][model] = {
            "params": sum(p.numel() for p in module.parameters()),
            "gflops_forward_per_clip": round(forward_gflops(module, video), 4)}
    video, label = video.to(device), label.to(device)
    step = {m: steppers(module.to(device), video, label, amp) for m, module in modules.items()}
    phases = ("train", "eval")
    for model, module in modules.items():  # warm-up: allocator, kernels, optimizer state
        for phase in phases:
            module.train(phase == "train")
            timed(step[model][phase], warmup, device)
    times: dict = {phase: {m: [] for m in MODELS} for phase in phases}
    for round_index in range(repeats):
        k = round_index % len(MODELS)
        order = MODELS[k:] + MODELS[:k]  # no model always runs first (or right after another)
        for phase in phases:
            for model in order:
                modules[model].train(phase == "train")
                times[phase][model].append(timed(step[model][phase], steps, device))
    batch = len(label)
    for model in MODELS:
        for phase in phases:
            rounds = times[phase][model]
            seconds = statistics.median(rounds)
            result["models"][model][phase] = {
                "ms_per_step": round(1000 * seconds, 2),
                "clips_per_s": round(batch / seconds, 1),
                "ms_per_step_min": round(1000 * min(rounds), 2),
                "spread_max_over_min": round(max(rounds) / min(rounds), 2),
                "ms_per_step_rounds": [round(1000 * s, 2) for s in rounds]}
    result["clips_per_s_over_center_frame"] = {
        phase: {m: round(result["models"][m][phase]["clips_per_s"]
                         / result["models"][BASE][phase]["clips_per_s"], 3) for m in MODELS}
        for phase in phases}
    return result


def setup(params: Params, args: argparse.Namespace) -> dict:
    """What was measured: the configured networks, the batch shape, the protocol."""
    t, c = params.train, params.clips
    return {"batch_shape": [params.loader.batch_size, 3, c.clip_len, c.size, c.size],
            "classes": len(params.base.classes),
            "networks": {"width_2d": t.width, "depth": t.depth, "pool": t.pool,
                         "r2plus1d_variant": t.r2plus1d_variant,
                         "r2plus1d_width": t.r2plus1d_width, "weights": t.weights},
            "optimizer": t.optimizer, "lr": t.lr, "weight_decay": t.weight_decay,
            "loss": "cross_entropy" + (" (class-weighted)" if t.balance == "weights" else ""),
            "seed": args.seed, "inputs": "torch.randn / torch.randint from a CPU generator "
                                         "seeded with seed; one batch reused",
            "repeats": args.repeats, "steps_per_round": args.steps, "warmup_steps": args.warmup,
            "quick": args.quick}


def gpu(params: Params, args: argparse.Namespace) -> tuple[dict | None, str | None]:
    """The same measurement on the GPU, or None and why not."""
    if not torch.cuda.is_available():
        return None, "torch.cuda.is_available() is False (no CUDA device on this machine)"
    device = torch.device("cuda")
    amp = torch.cuda.is_bf16_supported()
    result = measure(params, device, amp, seed=args.seed, repeats=args.repeats,
                     steps=args.steps, warmup=args.warmup)
    result.update({"device": torch.cuda.get_device_name(device),
                   "autocast": "bf16" if amp else None, "cuda": torch.version.cuda,
                   "cudnn_benchmark": torch.backends.cudnn.benchmark,
                   "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)})
    return result, None


def machine() -> dict:
    """Cores, versions, threads and the load at start (numbers are only comparable within a run)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0],
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def table(result: dict) -> str:
    """One row per model and device: params, GFLOPs, train and eval speed, ratios."""
    header = (f"{'device':<7}{'model':<13}{'params':>10}{'GFLOP/clip':>11}  "
              f"{'train ms/step':>13}{'clips/s':>9}{'vs cf':>7}  "
              f"{'eval ms/step':>12}{'clips/s':>9}{'vs cf':>7}")
    lines = [header, "-" * len(header)]
    for name in ("cpu", "gpu"):
        run = result[name]
        if run is None:
            lines.append(f"{name:<7}none: {result['gpu_reason']}")
            continue
        ratios = run["clips_per_s_over_center_frame"]
        for model in MODELS:
            r = run["models"][model]
            row = f"{name:<7}{model:<13}{r['params']:>10,}{r['gflops_forward_per_clip']:>11.3f}  "
            for phase in ("train", "eval"):
                width = 13 if phase == "train" else 12
                row += (f"{r[phase]['ms_per_step']:>{width}.1f}{r[phase]['clips_per_s']:>9.1f}"
                        f"{ratios[phase][model]:>6.2f}x  ")
            lines.append(row.rstrip())
    noisy = [f"{name} {m} {phase} {r[phase]['spread_max_over_min']:.1f}x"
             for name in ("cpu", "gpu") if result[name] for m, r in result[name]["models"].items()
             for phase in ("train", "eval") if r[phase]["spread_max_over_min"] > 1.5]
    if noisy:
        lines.append(f"noisy rounds (max/min > 1.5): {', '.join(noisy)}; see ms_per_step_rounds")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (median)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model and round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    parser.add_argument("--seed", type=int, default=0, help="network init and inputs")
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run: {', '.join(f'--{k} {v}' for k, v in QUICK.items())}")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "train.json")
    args = parser.parse_args()
    if args.quick:
        vars(args).update(QUICK)
    params = params_mod.load(ROOT / "params.yaml")
    began = time.perf_counter()
    result: dict = {"machine": machine(), "setup": setup(params, args)}
    result["cpu"] = measure(params, torch.device("cpu"), False, seed=args.seed,
                            repeats=args.repeats, steps=args.steps, warmup=args.warmup)
    result["gpu"], result["gpu_reason"] = gpu(params, args)
    result["seconds_total"] = round(time.perf_counter() - began, 1)
    result["machine"]["load_average_1min_end"] = round(os.getloadavg()[0], 2)  # noisy neighbours
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"batch {'x'.join(map(str, result['setup']['batch_shape']))}, seed {args.seed}, "
          f"{result['machine']['torch_threads']} torch threads on {os.cpu_count()} cores; medians "
          f"of {args.repeats} interleaved rounds of {args.steps} steps; vs cf: clips/s over "
          f"center_frame's")
    print(f"total {result['seconds_total']:.0f} s (load average "
          f"{result['machine']['load_average_1min']} at start, "
          f"{result['machine']['load_average_1min_end']} at end); wrote {args.out}")


if __name__ == "__main__":
    main()
