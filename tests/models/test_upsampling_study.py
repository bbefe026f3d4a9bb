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


def test_pre_upsampling_is_learned_not_srcnn_ex() -> None:
    """``srcnn-pre`` starts with a learned ×s transposed conv, so it is not SRCNN-Ex."""
    from satsr.models import count_parameters

    model = create_model("srcnn-pre", scale=3)
    deconvs = [m for m in model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(deconvs) == 1 and deconvs[0].stride == (3, 3)
    assert count_parameters(model) == count_parameters(create_model("srcnn-ex")) + 81 + 1
    assert model(torch.rand(2, 4, 1, 7, 5)).shape == (2, 1, 21, 15)


def test_inception_uses_the_study_kernels() -> None:
    model = create_model("srcnn-inception", scale=2)
    assert isinstance(model, UpsamplingSRCNN)
    kernels = [c.kernel_size[0] for c in model.map[0].branches]
    assert kernels == [9, 5, 3, 1]
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())


def test_edge_enhancement_filter() -> None:
    """Flat images pass unchanged (unit-sum kernel); a step gets over/undershoot; the filter
    runs before and/or after the network as asked."""
    from satsr.models.upsampling_study import edge_enhance

    flat = torch.full((1, 2, 5, 5), 0.3, dtype=torch.float64)
    torch.testing.assert_close(edge_enhance(flat), flat)
    step = torch.zeros(1, 1, 5, 6, dtype=torch.float64)
    step[..., 3:] = 1.0
    out = edge_enhance(step)
    # by hand at the step: left of it 0 - 3·(1/2) = -1.5; right of it 5·1 - 5·(1/2) = 2.5
    assert out[0, 0, 2, 2].item() == pytest.approx(-1.5)
    assert out[0, 0, 2, 3].item() == pytest.approx(2.5)
    base = UpsamplingSRCNN(2, 1, edge="none").eval()
    post = UpsamplingSRCNN(2, 1, edge="post").eval()
    post.load_state_dict(base.state_dict())
    x = torch.rand(1, 1, 1, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(post(x), edge_enhance(base(x)))
    with pytest.raises(ValueError, match="edge"):
        UpsamplingSRCNN(2, 1, edge="sharp")  # type: ignore[arg-type]
