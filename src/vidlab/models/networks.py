"""The three baselines, built from torchvision parts. Every network maps a clip batch
``(B, 3, T, H, W)`` to class logits ``(B, classes)``.

* ``center_frame``: a 2D ResNet on the clip's middle frame. It cannot see motion, so on data
  whose label lives in motion it should stay at chance: the control.
* ``pool2d``: the same 2D ResNet on every frame, then mean, max or attention pooling over time
  and a small MLP head (a hidden layer lets it compare pooled statistics, such as how often a
  feature fired, which linear pooling alone cannot threshold).
* ``r2plus1d``: torchvision's VideoResNet with (2+1)D blocks: ``r2plus1d_18`` as published, or
  ``small`` (one block per stage, reduced widths) that trains on a 2-core CPU in minutes.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import ResNet
from torchvision.models.resnet import BasicBlock as BasicBlock2d
from torchvision.models.video import r2plus1d_18
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, VideoResNet

NETWORKS = ("center_frame", "pool2d", "r2plus1d")
POOLS = ("mean", "max", "attention")


def resnet2d(depth: int, width: int) -> tuple[nn.Module, int]:
    """A torchvision ResNet (BasicBlock) trunk with ``depth`` blocks per stage; its feature size.

    Stages are ``width``, 2x, 4x and 8x wide (torchvision's 64 .. 512 at ``width`` 64), built
    with ResNet's own layer maker, so small demo inputs train fast on a CPU.
    """
    net = ResNet(BasicBlock2d, [depth] * 4, num_classes=1)
    if width != 64:  # rebuild the stages at another width with torchvision's own layer maker
        net.inplanes = width
        net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        net.bn1 = nn.BatchNorm2d(width)
        net.layer1 = net._make_layer(BasicBlock2d, width, depth)
        net.layer2 = net._make_layer(BasicBlock2d, width * 2, depth, stride=2)
        net.layer3 = net._make_layer(BasicBlock2d, width * 4, depth, stride=2)
        net.layer4 = net._make_layer(BasicBlock2d, width * 8, depth, stride=2)
    net.fc = nn.Identity()
    return net, width * 8


class CenterFrame(nn.Module):
    """A 2D ResNet on the middle frame of the clip."""

    def __init__(self, classes: int, *, depth: int = 1, width: int = 32) -> None:
        super().__init__()
        self.trunk, features = resnet2d(depth, width)
        self.fc = nn.Linear(features, classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(video[:, :, video.shape[2] // 2]))


class Pool2d(nn.Module):
    """A 2D ResNet per frame, pooled over time (mean, max or attention), then an MLP head."""

    def __init__(self, classes: int, *, depth: int = 1, width: int = 32, pool: str = "mean",
                 hidden: int = 128) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"Unknown pool {pool!r}; expected one of {', '.join(POOLS)}.")
        self.trunk, features = resnet2d(depth, width)
        self.pool = pool
        self.attention = nn.Linear(features, 1) if pool == "attention" else None
        self.head = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, classes))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        batch, _, frames = video.shape[:3]
        flat = video.transpose(1, 2).flatten(0, 1)  # (B*T, 3, H, W)
        features = self.trunk(flat).view(batch, frames, -1)
        if self.pool == "mean":
            pooled = features.mean(1)
        elif self.pool == "max":
            pooled = features.amax(1)
        else:
            weights = torch.softmax(self.attention(features), dim=1)
            pooled = (weights * features).sum(1)
        return self.head(pooled)


class _Stem(nn.Sequential):
    """torchvision's R2Plus1dStem (spatial 1x7x7, then temporal 3x1x1) at a chosen width."""

    def __init__(self, width: int) -> None:
        mid = width * 45 // 64  # the published stem's 45 mid channels for 64 out, scaled
        super().__init__(
            nn.Conv3d(3, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
            nn.Conv3d(mid, width, (3, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(width), nn.ReLU(inplace=True))


class SmallR2Plus1d(VideoResNet):
    """VideoResNet with (2+1)D BasicBlocks, ``depth`` blocks per stage, stages ``width`` ..
    ``8 * width`` wide; torchvision's forward, blocks and layer maker, only narrower."""

    def __init__(self, classes: int, *, depth: int = 1, width: int = 16) -> None:
        nn.Module.__init__(self)
        self.inplanes = width
        self.stem = _Stem(width)
        self.layer1 = self._make_layer(BasicBlock, Conv2Plus1D, width, depth, stride=1)
        self.layer2 = self._make_layer(BasicBlock, Conv2Plus1D, width * 2, depth, stride=2)
        self.layer3 = self._make_layer(BasicBlock, Conv2Plus1D, width * 4, depth, stride=2)
        self.layer4 = self._make_layer(BasicBlock, Conv2Plus1D, width * 8, depth, stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(width * 8, classes)
        for m in self.modules():  # VideoResNet's initialisation
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def build(name: str, classes: int, *, variant: str = "small", depth: int = 1, width: int = 32,
          pool: str = "mean") -> nn.Module:
    """A baseline network by name.

    Args:
        name: center_frame, pool2d or r2plus1d.
        classes: number of output classes.
        variant: r2plus1d only: ``small`` (``depth``, ``width``) or ``r2plus1d_18``.
        depth: blocks per ResNet stage.
        width: channels of the first stage (doubling per stage).
        pool: pool2d only: mean, max or attention.
    """
    if name == "center_frame":
        return CenterFrame(classes, depth=depth, width=width)
    if name == "pool2d":
        return Pool2d(classes, depth=depth, width=width, pool=pool)
    if name == "r2plus1d":
        if variant == "r2plus1d_18":
            return r2plus1d_18(weights=None, num_classes=classes)
        return SmallR2Plus1d(classes, depth=depth, width=width)
    raise ValueError(f"Unknown network {name!r}; expected one of {', '.join(NETWORKS)}.")
