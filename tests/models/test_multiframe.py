"""Frame selection and concealed-pixel filling shared by the multi-frame networks."""

from __future__ import annotations

import torch

from satsr.models._multiframe import masked_median, prepare_frames, select_frames


def test_select_frames_orders_by_clearness_and_pads() -> None:
    lr = torch.arange(5.0).view(1, 5, 1, 1, 1).expand(1, 5, 1, 2, 2).clone()
    mask = torch.zeros(1, 5, 2, 2, dtype=torch.bool)
    mask[0, 3] = True
    mask[0, 1, 0] = True
    valid = torch.tensor([[True, True, True, True, False]])
    frames, masks, ok = select_frames(lr, mask, valid, 6, repeat=False)
    assert frames[0, :4, 0, 0, 0].tolist() == [3.0, 1.0, 0.0, 2.0]
    assert ok.tolist() == [[True] * 4 + [False] * 2]
    assert (frames[0, 4:] == 0).all() and not masks[0, 4:].any()
    frames, _, ok = select_frames(lr, mask, valid, 6, repeat=True)
    assert frames[0, :, 0, 0, 0].tolist() == [3.0, 1.0, 0.0, 2.0, 3.0, 1.0]
    assert ok.all()


def test_masked_median_uses_clear_pixels_then_falls_back() -> None:
    frames = torch.tensor([1.0, 2.0, 3.0, 100.0]).view(1, 4, 1, 1, 1).expand(1, 4, 1, 1, 2)
    frames = frames.clone()
    masks = torch.ones(1, 4, 1, 2, dtype=torch.bool)
    masks[0, 3, 0, 0] = False  # pixel 0: the outlier is concealed
    masks[0, :, 0, 1] = False  # pixel 1: nothing clear -> median of all valid frames
    valid = torch.ones(1, 4, dtype=torch.bool)
    med = masked_median(frames, masks, valid)
    assert med[0, 0, 0].tolist() == [2.0, 2.0]


def test_prepare_frames_fills_concealed_pixels() -> None:
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 1, 4, 4)
    mask = torch.ones(1, 3, 4, 4, dtype=torch.bool)
    mask[0, 2, 1, 1] = False
    lr[0, 2, 0, 1, 1] = 1e6
    frames, ref, valid = prepare_frames(lr, mask, torch.ones(1, 3, dtype=torch.bool), 3)
    assert frames.max() < 2 and valid.all()
    assert frames[0, 2, 0, 1, 1] == ref[0, 0, 1, 1]
