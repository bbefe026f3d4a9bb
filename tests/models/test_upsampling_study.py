"""The SRCNN up-sampling study variants: where the up-sampling happens."""

from __future__ import annotations

import pytest
import torch

from satsr.models import create_model
from satsr.models.upsampling_study import UpsamplingSRCNN


def _convs(model: torch.nn.Module) -> list[torch.nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]


def test_post_upsampling_emits_subpixel_channels() -> None:
    model = create_model("srcnn-post", scale=3, in_channels=2)
    assert _convs(model)[-1].out_channels == 2 * 9
    assert not any(isinstance(m, torch.nn.PixelShuffle) for m in model.modules())  # functional


def test_progressive_has_one_stage_per_prime_factor() -> None:
    for scale, n in ((2, 1), (3, 1), (4, 2)):
        model = create_model("srcnn-progressive", scale=scale)
        shuffles = [m for m in model.modules() if isinstance(m, torch.nn.PixelShuffle)]
        assert len(shuffles) == n


def test_residual_variant_starts_near_cubic() -> None:
    """With a zeroed reconstruction layer the residual variant returns Keys cubic exactly."""
    from satsr.resample import upscale_cubic

    model = create_model("srcnn-residual", scale=2, preset="small")
    assert isinstance(model, UpsamplingSRCNN)
    conv = model.reconstruct
    assert conv.bias is not None
    torch.nn.init.zeros_(conv.weight)
    torch.nn.init.zeros_(conv.bias)
    lr = torch.rand(1, 3, 1, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(lr), upscale_cubic(lr[:, 0], 2))


def test_bad_framework_or_mapping() -> None:
    with pytest.raises(ValueError, match="framework"):
        UpsamplingSRCNN(2, 1, framework="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mapping"):
        UpsamplingSRCNN(2, 1, mapping="dense")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iterative"):
        UpsamplingSRCNN(2, 1, framework="iterative", mapping="residual")
