"""Losses: values against hand computations and the metrics package, masks, errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from satsr.errors import ConfigError, CorruptFileError, InputValueError, WeightsNotFoundError
from satsr.metrics import cmse_per_shift, cpsnr, ssim
from satsr.metrics.cpsnr import corrected_error
from satsr.train.losses import (
    get_loss,
    gram_matrix,
    list_losses,
    ms_ssim_value,
    sobel_magnitude,
    ssim_value,
)
from satsr.train.vgg import build_vgg19_features


def _pair(seed: int = 0, shape: tuple[int, ...] = (2, 1, 16, 16)) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(shape, generator=g, dtype=torch.float64)
    sr = hr + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    mask = torch.rand(shape[0], *shape[2:], generator=g) > 0.2
    return sr, hr, mask


def test_l1_mse_masked_by_hand() -> None:
    sr = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    hr = torch.zeros_like(sr)
    mask = torch.tensor([[[True, False], [True, True]]])
    assert get_loss("l1")(sr, hr, mask).item() == pytest.approx((1 + 3 + 4) / 3)
    assert get_loss("mse")(sr, hr, mask).item() == pytest.approx((1 + 9 + 16) / 3)
    assert get_loss("l1")(sr, hr).item() == pytest.approx(2.5)


def test_cmse_equals_metrics_best_shift() -> None:
    """The loss is the metric's cMSE: min of the metric's grid, 10^(-cPSNR/10) per image."""
    sr, hr, mask = _pair(shape=(3, 1, 20, 20))
    grid_min = cmse_per_shift(sr, hr, mask).flatten(1).amin(1)
    got = get_loss("cmse")(sr, hr, mask)
    assert got.item() == pytest.approx(grid_min.mean().item(), rel=1e-9)
    per_image = corrected_error(sr, hr, mask)
    assert torch.allclose(per_image, 10 ** (-cpsnr(sr, hr, mask) / 10), rtol=1e-12)


def test_cmse_gradient_is_the_best_shifts() -> None:
    """Backward through the loss equals backward through the metric's grid minimum."""
    sr, hr, mask = _pair(7, (2, 1, 18, 18))
    a = sr.clone().requires_grad_(True)
    get_loss("cmse")(a, hr, mask).backward()
    b = sr.clone().requires_grad_(True)
    cmse_per_shift(b, hr, mask).flatten(1).amin(1).mean().backward()
    assert a.grad is not None and b.grad is not None
    assert torch.allclose(a.grad, b.grad, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", ["cmse", "cl1"])
def test_chunked_gradient_equals_whole_batch(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Batches are processed in chunks (split, so backward stays linear in the batch):
    chunk boundaries change neither the loss nor its gradient."""
    import sys

    sr, hr, mask = _pair(9, (5, 1, 20, 20))
    whole = sr.clone().requires_grad_(True)
    value = get_loss(name)(whole, hr, mask)
    value.backward()
    monkeypatch.setattr(sys.modules["satsr.metrics.cpsnr"], "_CHUNK_ELEMENTS", 2 * 400)
    chunked = sr.clone().requires_grad_(True)
    again = get_loss(name)(chunked, hr, mask)
    again.backward()
    assert again.item() == pytest.approx(value.item(), rel=1e-12)
    assert whole.grad is not None and chunked.grad is not None
    assert torch.allclose(chunked.grad, whole.grad, rtol=1e-10, atol=1e-15)


def test_float32_loss_matches_float64() -> None:
    sr, hr, mask = _pair(8, (2, 1, 24, 24))
    value64 = get_loss("cmse")(sr, hr, mask)
    value32 = get_loss("cmse")(sr.float(), hr.float(), mask)
    assert value32.dtype == torch.float32
    assert value32.item() == pytest.approx(value64.item(), rel=1e-4)


def test_cmse_ignores_brightness_bias_and_finds_shift() -> None:
    hr = torch.rand(1, 1, 24, 24, dtype=torch.float64)
    mask = torch.ones(1, 24, 24, dtype=torch.bool)
    sr = torch.roll(hr, shifts=(1, -2), dims=(2, 3)) + 0.05  # shifted and brighter
    assert get_loss("cmse")(sr, hr, mask).item() < 1e-20
    assert get_loss("cl1")(sr, hr, mask).item() < 1e-10
    assert get_loss("mse")(sr, hr, mask).item() > 1e-3


def test_cl1_by_hand_at_the_cmse_shift() -> None:
    """cL1 is the bias-corrected L1 at the shift the metric registers with (minimum cMSE)."""
    sr, hr, mask = _pair(1, (1, 1, 8, 8))
    grid = cmse_per_shift(sr, hr, mask, border=1)[0]
    u, v = divmod(int(grid.argmin()), 3)
    s, h, m = sr[0, 0, 1:7, 1:7], hr[0, 0, u:u + 6, v:v + 6], mask[0, u:u + 6, v:v + 6]
    bias = (h - s)[m].mean()
    got = corrected_error(sr, hr, mask, border=1, power=1)
    assert got.item() == pytest.approx((h - s - bias)[m].abs().mean().item(), rel=1e-12)


def test_detach_bias_changes_gradient_not_value() -> None:
    """For cMSE the bias's gradient term vanishes (sum of centred errors is 0); for cL1 not."""
    sr, hr, mask = _pair(2)
    grads = {}
    for name in ("cmse", "cl1"):
        for detach in (False, True):
            x = sr.clone().requires_grad_(True)
            value = get_loss(name, detach_bias=detach)(x, hr, mask)
            value.backward()
            assert x.grad is not None
            grads[name, detach] = (value.item(), x.grad)
        assert grads[name, False][0] == pytest.approx(grads[name, True][0])
    assert torch.allclose(grads["cmse", False][1], grads["cmse", True][1])
    assert not torch.allclose(grads["cl1", False][1], grads["cl1", True][1])


def test_mask_losses_need_masks() -> None:
    sr, hr, _ = _pair()
    for name in ("cmse", "cl1"):
        with pytest.raises(ConfigError, match="needs clear masks"):
            get_loss(name)(sr, hr)


def test_bad_inputs() -> None:
    sr, hr, mask = _pair()
    with pytest.raises(ConfigError, match="unknown loss"):
        get_loss("l7")
    with pytest.raises(InputValueError, match="same shape"):
        get_loss("l1")(sr, hr[..., :8])
    with pytest.raises(InputValueError, match="hr_mask"):
        get_loss("l1")(sr, hr, mask[:, :4])
    assert "cmse" in list_losses() and "l1-msssim" in list_losses()


def test_sobel_magnitude_of_ramp() -> None:
    x = torch.arange(10, dtype=torch.float64).view(1, 1, 1, 10).expand(1, 1, 10, 10)
    mag = sobel_magnitude(x, eps=0.0)
    assert torch.allclose(mag[..., 1:-1, 1:-1], torch.full((1, 1, 8, 8), 8.0, dtype=x.dtype))
    sr, hr, mask = _pair()
    l1 = get_loss("l1")(sr, hr, mask)
    assert get_loss("sobel-l1", weight=0.0)(sr, hr, mask).item() == pytest.approx(l1.item())
    assert get_loss("sobel-l1")(sr, hr, mask).item() > l1.item()


def test_ssim_matches_metric() -> None:
    sr, hr, mask = _pair(3, (2, 1, 32, 32))
    ours = ssim_value(sr, hr, data_range=1.0)
    ref = ssim(sr, hr, data_range=1.0).mean()
    assert ours.item() == pytest.approx(ref.item(), abs=1e-12)
    # same mask rule as the metric; float32 (conv2d filter) agrees with float64 (band matrices)
    masked = ssim(sr, hr, data_range=1.0, mask=mask).mean()
    assert ssim_value(sr, hr, mask).item() == pytest.approx(masked.item(), abs=1e-12)
    assert ssim_value(sr.float(), hr.float(), mask).item() == pytest.approx(masked.item(),
                                                                            abs=1e-5)
    assert get_loss("l1-ssim")(hr, hr).item() == pytest.approx(0.0, abs=1e-9)
    loss = get_loss("l1-ssim", alpha=0.5)(sr, hr)
    l1 = (sr - hr).abs().mean()
    assert loss.item() == pytest.approx(0.5 * (1 - ref.item()) + 0.5 * l1.item(), abs=1e-9)


def test_ms_ssim() -> None:
    sr, hr, mask = _pair(4, (2, 1, 48, 48))
    assert ms_ssim_value(hr, hr).item() == pytest.approx(1.0, abs=1e-9)
    noisy = ms_ssim_value(sr, hr, mask)
    assert 0 < noisy.item() < 1
    assert get_loss("l1-msssim")(sr, hr, mask).item() > 0
    with pytest.raises(InputValueError, match="at least 11"):
        ms_ssim_value(sr[..., :8, :8], hr[..., :8, :8])


@pytest.fixture
def vgg_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VGG19 file in torchvision's key layout with random weights (exercises loading only)."""
    torch.manual_seed(0)
    features, _ = build_vgg19_features()
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    monkeypatch.setenv("SATSR_VGG19_WEIGHTS", str(path))
    return path


def test_perceptual_without_weights_says_where(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SATSR_VGG19_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsNotFoundError) as err:
        get_loss("perceptual")
    msg = str(err.value)
    assert "vgg19-dcbb9e9d.pth" in msg and str(tmp_path / "torch") in msg
    assert "SATSR_VGG19_WEIGHTS" in msg


def test_perceptual_and_texture(vgg_file: Path) -> None:
    sr, hr, _ = _pair(5, (2, 1, 24, 24))
    sr, hr = sr.float(), hr.float()
    for name in ("perceptual", "texture"):
        loss = get_loss(name)
        assert loss(hr, hr).item() == pytest.approx(0.0, abs=1e-7)
        x = sr.clone().requires_grad_(True)
        value = loss(x, hr)
        assert value.item() > 0
        value.backward()
        assert x.grad is not None and x.grad.abs().sum() > 0
        assert all(p.grad is None for p in loss.parameters())
    with pytest.raises(ConfigError, match="unknown VGG19 layer"):
        get_loss("perceptual", layers={"conv9_9": 1.0})


def test_corrupt_vgg_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "vgg.pth"
    bad.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("SATSR_VGG19_WEIGHTS", str(bad))
    with pytest.raises(CorruptFileError):
        get_loss("perceptual")


def test_gram_matrix_by_hand() -> None:
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    assert torch.allclose(gram_matrix(f), expected)


def test_adversarial_losses() -> None:
    from satsr.train.gan import AdversarialLoss, SmallDiscriminator

    zero = torch.zeros(4)
    bce = AdversarialLoss("bce")
    assert bce.generator_loss(zero).item() == pytest.approx(math.log(2))
    assert bce.discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    rel = AdversarialLoss("relativistic")
    assert rel.generator_loss(zero, zero).item() == pytest.approx(math.log(2))
    with pytest.raises(ConfigError):
        rel.generator_loss(zero)
    w = AdversarialLoss("wgan-gp")
    assert w.discriminator_loss(torch.ones(3), torch.zeros(3)).item() == -1.0

    class Linear(torch.nn.Module):
        def __init__(self, norm: float) -> None:
            super().__init__()
            self.w = torch.full((1, 1, 2, 2), norm / 2)  # ||w||_2 = norm

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x * self.w).flatten(1).sum(1)

    real, fake = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    assert w.gradient_penalty(Linear(1.0), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert w.gradient_penalty(Linear(2.0), real, fake).item() == pytest.approx(10.0)
    assert bce.gradient_penalty(Linear(2.0), real, fake).item() == 0.0
    assert SmallDiscriminator(1)(torch.rand(2, 1, 24, 24)).shape == (2,)
    with pytest.raises(ConfigError, match="unknown GAN loss"):
        AdversarialLoss("lsgan")
