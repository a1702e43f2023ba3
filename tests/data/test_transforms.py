"""Preprocessing (fit), train/eval presets and augmentation switches."""

from __future__ import annotations

import pytest
import torch

from vidlab.config import AugmentParams, replace
from vidlab.data.transforms import EvalPreset, TemporalAugment, TrainPreset, fit

MEAN, STD = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)


def clip(frames: int = 8, height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    """A random RGB uint8 clip (T, H, W, 3) whose frames all differ."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (frames, height, width, 3), dtype=torch.uint8,
                         generator=generator)


def still(frames: int = 8, size: int = 32) -> torch.Tensor:
    """A clip whose frames are all the same structured image."""
    return clip(1, size, size).expand(frames, -1, -1, -1).clone()


def train(**augment) -> TrainPreset:
    return TrainPreset(size=32, mean=MEAN, std=STD, augment=AugmentParams(**augment))


def test_center_fit_resizes_the_short_side_and_takes_the_middle() -> None:
    video = torch.zeros(2, 60, 120, 3, dtype=torch.uint8)
    video[:, :, 30:90] = 200  # the middle 60 columns
    out = fit(video, size=30)
    assert out.shape == (2, 30, 30, 3) and out.dtype == torch.uint8
    # only the middle survives a center crop (the edge columns blend in a little dark)
    assert int(out[:, :, 1:-1].min()) == 200 and int(out.min()) > 150


def test_letterbox_fit_keeps_everything_and_pads_black() -> None:
    video = torch.full((2, 60, 120, 3), 200, dtype=torch.uint8)
    out = fit(video, size=30, crop="letterbox")
    assert out.shape == (2, 30, 30, 3)
    assert int(out[:, :7].max()) == 0 and int(out[:, -7:].max()) == 0  # bars top and bottom
    assert int(out[:, 8:22].min()) == 200  # the whole frame, scaled to 30 x 15
    with pytest.raises(ValueError, match="Unknown crop 'zoom'"):
        fit(video, size=30, crop="zoom")


def test_eval_preset_normalises_to_channels_first() -> None:
    out = EvalPreset(mean=MEAN, std=STD)(torch.full((4, 8, 8, 3), 255, dtype=torch.uint8))
    assert out.shape == (3, 4, 8, 8) and out.dtype == torch.float32
    assert torch.allclose(out, torch.full_like(out, (1 - 0.45) / 0.225))


def test_all_augmentation_off_equals_the_eval_preset() -> None:
    torch.manual_seed(0)
    off = train(use=())
    evaluate = EvalPreset(mean=MEAN, std=STD)
    for seed in range(5):
        video = clip(seed=seed)
        assert torch.equal(off(video), evaluate(video))


@pytest.mark.parametrize("use", [("spatial",), ("compression",), ("spatial", "compression")])
def test_spatial_parameters_are_the_same_for_every_frame(use: tuple) -> None:
    """Identical input frames stay identical: crop, flip, angle, colours and JPEG quality are
    drawn once per clip. (Noise is per pixel and frame by design, so it is off here.)"""
    torch.manual_seed(1)
    preset = train(use=use, noise=0.0, hflip=0.5, grayscale=0.5, blur=0.5)
    plain = EvalPreset(mean=MEAN, std=STD)(still())
    changed = 0
    for _ in range(25):
        out = preset(still())
        assert torch.equal(out, out[:, :1].expand_as(out))  # every frame equals the first
        changed += not torch.allclose(out, plain, atol=1e-3)
    assert changed >= 20  # and the augmentation did do something


def test_spatial_draws_differ_between_clips() -> None:
    torch.manual_seed(2)
    preset = train(use=("spatial",), noise=0.0)
    outs = [preset(still()) for _ in range(6)]
    assert len({round(float(o.sum()), 3) for o in outs}) > 3


def test_noise_is_drawn_per_frame() -> None:
    torch.manual_seed(3)
    out = train(use=("spatial",), noise=0.1, crop_scale=1.0, hflip=0.0, rotate=0.0,
                translate=0.0, color=0.0, grayscale=0.0, blur=0.0)(still())
    assert not torch.equal(out[:, 0], out[:, 1])


def test_each_group_is_switchable() -> None:
    video = clip()
    plain = EvalPreset(mean=MEAN, std=STD)(video)
    torch.manual_seed(4)
    for use in (("spatial",), ("compression",), ("temporal",)):
        outs = [train(use=use, reverse=1.0)(video) for _ in range(4)]
        assert any(not torch.equal(o, plain) for o in outs), use


def test_temporal_augmentation_plays_input_frames_in_a_new_order() -> None:
    video = clip()
    frames = EvalPreset(mean=MEAN, std=STD)(video)
    torch.manual_seed(5)
    out = train(use=("temporal",), frame_drop=0.3, jitter=1, time_warp=0.5)(video)
    for t in range(out.shape[1]):  # every output frame is one of the input frames, untouched
        assert any(torch.equal(out[:, t], frames[:, s]) for s in range(frames.shape[1]))


def test_temporal_index_maps() -> None:
    torch.manual_seed(6)
    forward = TemporalAugment(AugmentParams(frame_drop=0.3, jitter=2, time_warp=0.5))
    maps = [forward(16) for _ in range(50)]
    for index in maps:
        assert index.min() >= 0 and index.max() <= 15
        assert torch.all(index[1:] >= index[:-1])  # order kept without reversal
    assert any(not torch.equal(m, torch.arange(16)) for m in maps)
    backward = TemporalAugment(AugmentParams(reverse=1.0, frame_drop=0.0, jitter=0,
                                             time_warp=0.0))
    assert torch.equal(backward(8), torch.arange(7, -1, -1))
    identity = TemporalAugment(AugmentParams(frame_drop=0.0, jitter=0, time_warp=0.0))
    assert torch.equal(identity(8), torch.arange(8))


def test_temporal_and_reversal_are_off_by_default() -> None:
    defaults = AugmentParams()
    assert "temporal" not in defaults.use and defaults.reverse == 0.0
    assert train().temporal is None


def test_shapes_and_range_with_every_group_on() -> None:
    torch.manual_seed(7)
    preset = train(use=("spatial", "temporal", "compression"))
    out = preset(clip(height=32, width=32))
    assert out.shape == (3, 8, 32, 32) and torch.isfinite(out).all()


def test_replace_keeps_params_valid() -> None:
    # ablations are one param change: the dataclass accepts an empty group list
    assert replace(AugmentParams(), use=()).use == ()


def test_fit_is_fit_frame_on_every_frame_and_needs_no_torch() -> None:
    """The clips stage fits each frame as it is decoded with fit_frame (Pillow, no torch);
    fit on a clip tensor is the same, frame by frame, and gives the same bytes every time."""
    import numpy as np

    from vidlab.data.cache import fit_frame

    video = clip(3, 90, 160, seed=4)
    for crop in ("center", "letterbox"):
        out = fit(video, size=32, crop=crop)
        frames = [fit_frame(f, 32, crop) for f in video.numpy()]
        assert np.array_equal(out.numpy(), np.stack(frames))
        assert torch.equal(out, fit(video, size=32, crop=crop))
        assert frames[0].dtype == np.uint8 and frames[0].flags.c_contiguous


@pytest.mark.parametrize(("height", "width"), [(60, 120), (120, 60), (61, 97), (97, 61)])
def test_fit_frame_geometry(height: int, width: int) -> None:
    """center: the short side becomes size and the middle is kept; letterbox: the long side
    becomes size, the rest is black, centred."""
    import numpy as np

    from vidlab.data.cache import fit_frame

    frame = np.full((height, width, 3), 200, np.uint8)
    landscape = width > height
    # black bands at both ends of the long side, ending 4 pixels (twice the filter's reach at
    # this scale) before the middle square starts
    band = (max(height, width) - min(height, width)) // 2 - 4
    if landscape:
        frame[:, :band] = frame[:, -band:] = 0
    else:
        frame[:band] = frame[-band:] = 0
    center = fit_frame(frame, 30, "center")
    assert center.shape == (30, 30, 3)
    assert int(center.min()) == 200  # the bands lie outside the middle square
    boxed = fit_frame(np.full((height, width, 3), 200, np.uint8), 30, "letterbox")
    inner = max(1, round(min(height, width) * 30 / max(height, width)))
    bars = boxed[:, :, 0].max(axis=1 if landscape else 0)  # per row (landscape) or column
    assert (bars == 200).sum() == inner and bars[0] == bars[-1] == 0
    lead = int(np.argmax(bars == 200))
    assert lead == (30 - inner) // 2


def test_fit_frame_refuses_what_is_not_an_rgb_frame() -> None:
    import numpy as np

    from vidlab.data.cache import fit_frame

    with pytest.raises(ValueError, match="Unknown crop 'zoom'"):
        fit_frame(np.zeros((4, 4, 3), np.uint8), 2, "zoom")
    with pytest.raises(ValueError, match="RGB uint8"):
        fit_frame(np.zeros((4, 4), np.uint8), 2)
    with pytest.raises(ValueError, match="RGB uint8"):
        fit_frame(np.zeros((4, 4, 3), np.float32), 2)
