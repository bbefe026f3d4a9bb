"""Single-image adapters: the ``tied`` frame policy and the ``combine`` (LR × QM) input."""

from __future__ import annotations

import pytest
import torch

from satsr.errors import ConfigError
from satsr.models import create_model
from satsr.models.base import SingleImageSR


def _model(**hparams: object) -> SingleImageSR:
    torch.manual_seed(0)
    model = create_model("srcnn-post", scale=2, in_channels=1, preset="small", **hparams)
    assert isinstance(model, SingleImageSR)
    return model.eval()


def test_tied_averages_exactly_the_tied_frames() -> None:
    """Scene 0: frames 0, 2, 4 tie for the most clear pixels; scene 1: all five tie; scene 2:
    one frame wins. The output is the plain mean of those frames' predictions."""
    model = _model(adapter="tied")
    g = torch.Generator().manual_seed(3)
    lr = torch.rand(3, 5, 1, 6, 6, generator=g)
    mask = torch.ones(3, 5, 6, 6, dtype=torch.bool)
    mask[0, 1, 0, 0] = mask[0, 3, 0, 0] = False
    mask[2, :, 1, 1] = False
    mask[2, 3, 1, 1] = True
    tied = {0: [0, 2, 4], 1: [0, 1, 2, 3, 4], 2: [3]}
    with torch.no_grad():
        out = model(lr, mask)
        for scene, frames in tied.items():
            want = torch.stack([model.forward_image(lr[scene, f:f + 1]) for f in frames]).mean(0)
            torch.testing.assert_close(out[scene:scene + 1], want, rtol=0, atol=1e-6)


def test_tied_ignores_padding_frames() -> None:
    model = _model(adapter="tied")
    lr = torch.rand(1, 4, 1, 6, 6)
    valid = torch.tensor([[True, True, False, False]])
    junk = lr.clone()
    junk[:, 2:] = 1e3
    with torch.no_grad():
        torch.testing.assert_close(model(junk, None, valid), model(lr[:, :2]))


def test_combine_multiplies_frames_by_their_mask() -> None:
    combined = _model(adapter="mean", k=3, combine=True)
    plain = _model(adapter="mean", k=3)
    plain.load_state_dict(combined.state_dict())
    lr = torch.rand(2, 4, 1, 6, 6)
    mask = torch.rand(2, 4, 6, 6) > 0.3
    with torch.no_grad():
        torch.testing.assert_close(combined(lr, mask), plain(lr * mask.unsqueeze(2), mask))


def test_bad_adapter_settings() -> None:
    with pytest.raises(ConfigError, match="adapter"):
        _model(adapter="median")
    with pytest.raises(ConfigError, match="k >= 1"):
        _model(adapter="mean", k=0)
