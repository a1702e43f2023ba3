"""`ClipClassifier`: the one LightningModule every baseline trains in (the network is injected).

Per-epoch metrics are the training history and all start ``epoch/``: ``epoch/train_loss``,
``epoch/train_clip_acc``, ``epoch/val_loss``, ``epoch/val_clip_acc`` (clip level) and
``epoch/val_video_acc`` (softmax averaged over a video's clips, then argmax). The train stage logs
the best checkpoint's score once, without the prefix (``val_video_acc``), so the history and the
number a paper reports never look alike in MLflow.
"""

from __future__ import annotations

from collections import defaultdict

import pytorch_lightning as pl
import torch
from torch import nn


class ClipClassifier(pl.LightningModule):
    """Cross-entropy training of ``net`` on clip batches (dicts from VideoDataModule).

    Args:
        net: maps ``(B, 3, T, H, W)`` to logits ``(B, classes)``.
        classes: number of classes.
        lr: peak learning rate.
        weight_decay: AdamW / SGD weight decay.
        optimizer: ``adamw`` or ``sgd`` (momentum 0.9).
        schedule: ``onecycle``, ``cosine`` or ``none``.
        class_weights: per-class loss weights (imbalance), or None.
    """

    def __init__(self, net: nn.Module, *, classes: int, lr: float = 3e-3,
                 weight_decay: float = 1e-4, optimizer: str = "adamw",
                 schedule: str = "onecycle", class_weights: list[float] | None = None) -> None:
        super().__init__()
        self.net = net
        self.classes, self.lr, self.weight_decay = classes, lr, weight_decay
        self.optimizer_name, self.schedule = optimizer, schedule
        weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weight", weight, persistent=False)
        self._val: dict[str, list] = defaultdict(list)
        self.samples_seen = 0  # training clips this process saw (per rank under DDP)
        self.samples_per_rank: list[int] = []

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.net(video)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, labels, weight=self.class_weight)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self(batch["video"])
        loss = self._loss(logits, batch["label"])
        acc = (logits.argmax(1) == batch["label"]).float().mean()
        size = len(batch["label"])
        self.samples_seen += size
        self.log("epoch/train_loss", loss, on_epoch=True, on_step=False, batch_size=size,
                 sync_dist=True)
        self.log("epoch/train_clip_acc", acc, on_epoch=True, on_step=False, batch_size=size,
                 sync_dist=True)
        return loss

    def on_train_end(self) -> None:
        """Every rank's count of training clips (a collective: all ranks run it)."""
        seen = self.all_gather(torch.tensor(self.samples_seen, device=self.device))
        self.samples_per_rank = [int(n) for n in seen.reshape(-1).tolist()]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self(batch["video"])
        size = len(batch["label"])
        self.log("epoch/val_loss", self._loss(logits, batch["label"]), on_epoch=True,
                 batch_size=size, sync_dist=True)
        self.log("epoch/val_clip_acc", (logits.argmax(1) == batch["label"]).float().mean(),
                 on_epoch=True, batch_size=size, sync_dist=True)
        self._val["probs"].append(logits.softmax(1).detach().cpu())
        self._val["labels"].append(batch["label"].detach().cpu())
        self._val["videos"].extend(batch["video_id"])

    def on_validation_epoch_end(self) -> None:
        if not self._val["probs"]:
            return
        accuracy = video_accuracy(torch.cat(self._val["probs"]), torch.cat(self._val["labels"]),
                                  self._val["videos"])
        self.log("epoch/val_video_acc", accuracy, sync_dist=True, prog_bar=True)
        self._val.clear()

    def configure_optimizers(self):
        params = self.net.parameters()
        if self.optimizer_name == "sgd":
            optimizer = torch.optim.SGD(params, lr=self.lr, momentum=0.9,
                                        weight_decay=self.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.schedule == "none":
            return optimizer
        steps = int(self.trainer.estimated_stepping_batches)
        if self.schedule == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr,
                                                            total_steps=max(1, steps))
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def video_accuracy(probs: torch.Tensor, labels: torch.Tensor, videos: list[str]) -> float:
    """Accuracy after averaging each video's clip probabilities (torchvision's reference)."""
    by_video: dict[str, list[int]] = defaultdict(list)
    for row, video in enumerate(videos):
        by_video[video].append(row)
    correct = 0
    for rows in by_video.values():
        index = torch.tensor(rows)
        correct += int(probs[index].mean(0).argmax() == labels[index[0]])
    return correct / max(1, len(by_video))
