"""Contract tests parametrised over every registered model (a new model is tested as soon as
it is registered in ``satsr.models._catalog``). Learned models use their ``small`` preset and
8×8 LR inputs so the suite stays fast on 2 CPU cores."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

from satsr.models import SingleImageSR, SRModel, create_model, list_models, model_info

# only satsr's own catalog (test suites may register throw-away models of their own)
MODELS = list_models(module="satsr.*")
LEARNED = [n for n in MODELS if model_info(n).learned]
SINGLE = [n for n in MODELS if model_info(n).kind == "single"]
MULTI = [n for n in MODELS if model_info(n).kind == "multi"]
H = W = 8


def make(name: str, *, scale: int, in_channels: int, num_frames: int | None = None,
         **hparams: Any) -> SRModel:
    """The model's CPU configuration (``small`` preset when it has one)."""
    preset = "small" if "small" in model_info(name).presets else None
    return create_model(name, preset=preset, scale=scale, in_channels=in_channels,
                        num_frames=num_frames, **hparams)


def inputs(b: int, t: int, c: int, *, seed: int = 0, clear: float = 0.8
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random LR frames in [0, 1], masks with about ``clear`` clear pixels, all frames valid."""
    g = torch.Generator().manual_seed(seed)
    lr = torch.rand(b, t, c, H, W, generator=g)
    mask = torch.rand(b, t, H, W, generator=g) < clear
    return lr, mask, torch.ones(b, t, dtype=torch.bool)


def test_catalog_is_complete() -> None:
    expected = {"srcnn", "srcnn-ex", "fsrcnn", "srcnn-pre", "srcnn-post", "srcnn-progressive",
                "srcnn-iterative", "srcnn-residual", "srcnn-inception", "edsr", "edsr-baseline",
                "rdn", "rdn-paper", "rrdn", "rrdbnet", "srgan", "wdsr", "highres-net", "rams",
                "wdsr3d", "wdsr3d-dorr", "bicubic", "bilinear", "mean-bicubic"}
    assert expected <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_metadata(name: str) -> None:
    info = model_info(name)
    assert info.paper and info.year >= 1980 and info.description
    assert info.url.startswith("https://")
    if info.learned:
        assert "small" in info.presets, "learned models need a CPU-sized 'small' preset"


SHAPES = [(2, 1), (3, 3), (4, 4)]  # (scale, channels)
CASES = [(n, s, c, t) for n in MODELS for s, c in SHAPES
         for t in ((9, 16) if model_info(n).multi_frame else (9,))]


@pytest.mark.parametrize(("name", "scale", "channels", "t"), CASES)
def test_forward_shape(name: str, scale: int, channels: int, t: int) -> None:
    """Every model maps (B, T, C, h, w) to (B, C, s·h, s·w); multi-frame ones for T = 9 and 16."""
    torch.manual_seed(0)
    model = make(name, scale=scale, in_channels=channels).eval()
    lr, mask, valid = inputs(2, t, channels)
    with torch.no_grad():
        sr = model(lr, mask, valid)
    assert sr.shape == (2, channels, scale * H, scale * W)
    assert sr.dtype == lr.dtype and torch.isfinite(sr).all()
    assert model.multi_frame == model_info(name).multi_frame


@pytest.mark.parametrize("name", SINGLE)
@pytest.mark.parametrize(("adapter", "k", "with_masks"),
                         [("clearest", 1, False), ("mean", 3, False), ("stack", 3, False),
                          ("stack", 4, True)])
def test_single_image_adapters(name: str, adapter: str, k: int, with_masks: bool) -> None:
    torch.manual_seed(0)
    model = make(name, scale=2, in_channels=3, adapter=adapter, k=k, with_masks=with_masks)
    assert isinstance(model, SingleImageSR)
    expected_in = 3 * k + (k if with_masks else 0) if adapter == "stack" else 3
    assert model.net_in_channels == expected_in
    lr, mask, valid = inputs(2, 9, 3)
    with torch.no_grad():
        sr = model.eval()(lr, mask, valid)
    assert sr.shape == (2, 3, 2 * H, 2 * W) and torch.isfinite(sr).all()


@pytest.mark.parametrize("name", MODELS)
def test_defaults_for_missing_masks(name: str) -> None:
    """No mask / no frame_valid means all clear, all valid."""
    torch.manual_seed(0)
    model = make(name, scale=2, in_channels=1).eval()
    lr, _, _ = inputs(1, 9, 1)
    clear = torch.ones(1, 9, H, W, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(model(lr), model(lr, clear, torch.ones(1, 9, dtype=torch.bool)))


@pytest.mark.parametrize("name", MODELS)
def test_padding_frames_are_ignored(name: str) -> None:
    """Appending padding frames (frame_valid False, garbage content) changes nothing."""
    torch.manual_seed(0)
    model = make(name, scale=3, in_channels=2).eval()
    lr, mask, valid = inputs(2, 9, 2, seed=1)
    junk = torch.full((2, 7, 2, H, W), 1e3)
    lr16 = torch.cat([lr, junk], 1)
    mask16 = torch.cat([mask, torch.ones(2, 7, H, W, dtype=torch.bool)], 1)
    valid16 = torch.cat([valid, torch.zeros(2, 7, dtype=torch.bool)], 1)
    with torch.no_grad():
        torch.testing.assert_close(model(lr16, mask16, valid16), model(lr, mask, valid),
                                   atol=1e-5, rtol=1e-5)


#: multi-frame models whose reference feeds concealed pixels with the masks beside them
#: (SR-VGG16 "concat"); their "combine" input (LR × QM) must ignore concealed values instead
SEES_CONCEALED = {"srvgg16": {"inputs": "combine"}}


@pytest.mark.parametrize("name", MULTI)
def test_concealed_pixels_are_ignored(name: str) -> None:
    """Multi-frame models never look at concealed pixels (they are replaced by the clear median,
    or zeroed by the LR × QM input of models that otherwise see them with their masks).

    Frame 0 is fully clear, so every pixel has a clear value among the selected frames.
    """
    torch.manual_seed(0)
    model = make(name, scale=3, in_channels=1, **SEES_CONCEALED.get(name, {})).eval()
    lr, mask, valid = inputs(2, 9, 1, seed=2, clear=0.6)
    mask[:, 0] = True
    lr2 = torch.where(mask.unsqueeze(2), lr, torch.rand_like(lr) * 50)
    with torch.no_grad():
        torch.testing.assert_close(model(lr2, mask, valid), model(lr, mask, valid))


@pytest.mark.parametrize("name", MULTI)
def test_multi_frame_uses_several_frames(name: str) -> None:
    """Changing a frame other than the clearest one changes a multi-frame model's output."""
    torch.manual_seed(0)
    model = make(name, scale=3, in_channels=1).eval()
    lr, _, valid = inputs(1, 9, 1, seed=3)
    mask = torch.ones(1, 9, H, W, dtype=torch.bool)
    lr2 = lr.clone()
    lr2[:, 5] = torch.rand(1, 1, H, W)
    with torch.no_grad():
        assert not torch.allclose(model(lr2, mask, valid), model(lr, mask, valid))


@pytest.mark.parametrize("name", LEARNED)
def test_backward(name: str) -> None:
    torch.manual_seed(0)
    model = make(name, scale=2, in_channels=3).train()
    lr, mask, valid = inputs(2, 9, 3)
    sr = model(lr, mask, valid)
    loss = (sr - torch.rand_like(sr)).square().mean()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.mark.parametrize("name", LEARNED)
def test_state_dict_round_trip(name: str) -> None:
    torch.manual_seed(0)
    model = make(name, scale=3, in_channels=1).eval()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(1)
    other = make(name, scale=3, in_channels=1).eval()
    lr, mask, valid = inputs(1, 9, 1)
    with torch.no_grad():
        assert not torch.allclose(other(lr, mask, valid), model(lr, mask, valid))
        other.load_state_dict(torch.load(buf, weights_only=True))
        torch.testing.assert_close(other(lr, mask, valid), model(lr, mask, valid))


# small frame counts keep the overfit test cheap (RAMS needs an odd count >= 3)
FEW_FRAMES = {"highres-net": 4, "rams": 3, "wdsr3d": 7, "wdsr3d-dorr": 3}


@pytest.mark.parametrize("name", LEARNED)
def test_overfits_one_batch(name: str) -> None:
    """The small preset drives the MSE on one fixed batch down at least 5× within 200 steps.

    The target is a zero-mean pattern unrelated to the (random) input, so learning a bias is not
    enough: the network has to fit the structure (R² >= 0.8 on the batch).
    """
    torch.manual_seed(0)
    model = make(name, scale=2, in_channels=1, num_frames=FEW_FRAMES.get(name)).train()
    g = torch.Generator().manual_seed(4)
    lr = torch.rand(1, 4, 1, 6, 6, generator=g)
    mask = torch.rand(1, 4, 6, 6, generator=g) < 0.8
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 12), torch.linspace(0, 1, 12), indexing="ij")
    pattern = torch.sin(6 * xx) * torch.cos(4 * yy)
    hr = ((pattern - pattern.mean()) / pattern.std() * 0.2).expand(1, 1, -1, -1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = last = float("nan")
    for step in range(200):
        opt.zero_grad()
        loss = (model(lr, mask) - hr).square().mean()
        loss.backward()
        opt.step()
        last = loss.item()
        if step == 0:
            first = last
        elif last * 5 <= first:
            break
    assert last * 5 <= first, f"{name}: loss {first:.4g} -> {last:.4g} after {step + 1} steps"
