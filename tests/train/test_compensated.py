"""The seed systems' compensated losses against plain per-shift transcriptions of their
definitions, and a check that each one trains (loss falls >= 5x when fitting one batch)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from satsr.errors import ConfigError
from satsr.train.losses import get_loss
from tests.train.test_losses import vgg_file  # noqa: F401  (fixture)

BORDER = 3


def _batch(seed: int, shape: tuple[int, ...] = (3, 1, 20, 22)) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(*shape, generator=g, dtype=torch.float64)
    sr = hr + 0.05 * torch.randn(*shape, generator=g, dtype=torch.float64) + 0.02
    mask = torch.rand(shape[0], *shape[2:], generator=g) > 0.2
    return sr, hr, mask


def _windows(sr: np.ndarray, hr: np.ndarray, m: np.ndarray):  # type: ignore[no-untyped-def]
    """Yield (u, v, SR crop, HR window, mask window) for one image (C, H, W), as the definition
    reads."""
    h, w = sr.shape[-2] - 2 * BORDER, sr.shape[-1] - 2 * BORDER
    src = sr[:, BORDER:BORDER + h, BORDER:BORDER + w]
    for u in range(2 * BORDER + 1):
        for v in range(2 * BORDER + 1):
            yield src, hr[:, u:u + h, v:v + w], m[u:u + h, v:v + w]


def _plain_ncpsnr(sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor, n: float) -> float:
    values = []
    for i in range(sr.shape[0]):
        best = math.inf
        for src, hw, mw in _windows(sr[i].numpy(), hr[i].numpy(), mask[i].numpy()):
            k = mw.sum()
            bias = ((hw - src)[:, mw]).sum() / k
            best = min(best, float((((hw - src - bias)[:, mw]) ** 2).sum() / k))
        values.append(n / (10 * math.log10(1.0 / best)))
    return float(np.mean(values))


def _sobel(x: np.ndarray) -> np.ndarray:
    """Both Sobel components of (C, H, W), reflection-padded (as tf.image.sobel_edges)."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    ky = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float)
    out = np.zeros((2, *x.shape))
    for k, kernel in enumerate((ky, ky.T)):
        for dy in range(3):
            for dx in range(3):
                out[k] += kernel[dy, dx] * p[:, dy:dy + x.shape[1], dx:dx + x.shape[2]]
    return out


def _plain_sobel_cl1(sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor, p: float) -> float:
    values = []
    for i in range(sr.shape[0]):
        best = math.inf
        for src, hw, mw in _windows(sr[i].numpy(), hr[i].numpy(), mask[i].numpy()):
            k = mw.sum() * src.shape[0]
            bias = ((hw - src)[:, mw]).sum() / mw.sum()
            corrected = src + bias
            l1 = np.abs((hw - corrected)[:, mw]).sum() / k
            edge = np.abs(_sobel(hw) - _sobel(corrected))[:, :, mw].sum() / k
            best = min(best, p * l1 + (1 - p) * edge)
        values.append(best)
    return float(np.mean(values))


@pytest.mark.parametrize("seed", [0, 1])
def test_ncpsnr_matches_the_definition(seed: int) -> None:
    sr, hr, mask = _batch(seed)
    got = get_loss("ncpsnr", n=46.5)(sr, hr, mask).item()
    assert got == pytest.approx(_plain_ncpsnr(sr, hr, mask, 46.5), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_sobel_cl1_matches_the_definition(seed: int) -> None:
    sr, hr, mask = _batch(seed)
    got = get_loss("sobel-cl1")(sr, hr, mask).item()
    assert got == pytest.approx(_plain_sobel_cl1(sr, hr, mask, 0.7), rel=1e-9)
    got_p = get_loss("sobel-cl1", p=0.25)(sr, hr, mask).item()
    assert got_p == pytest.approx(_plain_sobel_cl1(sr, hr, mask, 0.25), rel=1e-9)


def test_sobel_cl1_is_shift_and_bias_compensated() -> None:
    """A shifted, brightened copy of HR costs nothing (the loss finds the shift and the bias)."""
    _, hr, mask = _batch(2)
    sr = torch.roll(hr, shifts=(1, -2), dims=(-2, -1)) + 0.1
    assert get_loss("sobel-cl1")(sr, hr, mask).item() == pytest.approx(0.0, abs=1e-12)
    assert get_loss("ncpsnr", n=46.5)(sr, hr, mask).item() < 46.5 / 200


def _fit(name: str, steps: int = 150, **options: object) -> tuple[float, float]:
    """Optimise an SR image directly against one batch; (first loss, last loss)."""
    torch.manual_seed(0)
    _, hr, mask = _batch(3, (2, 1, 24, 24))
    hr, mask = hr.float(), mask
    x = torch.rand_like(hr).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.02)
    loss = get_loss(name, **options)
    first = last = math.nan
    for i in range(steps):
        opt.zero_grad()
        value = loss(x, hr, mask)
        value.backward()
        opt.step()
        first = value.item() if i == 0 else first
        last = value.item()
    return first, last


@pytest.mark.parametrize(("name", "options"), [("ncpsnr", {"n": 46.5}), ("sobel-cl1", {})])
def test_losses_train(name: str, options: dict[str, object]) -> None:
    first, last = _fit(name, **options)
    assert last <= first / 5


def test_pixel_content_texture(vgg_file: Path) -> None:  # noqa: F811
    sr, hr, mask = (t.float() if t.is_floating_point() else t for t in _batch(4, (2, 1, 24, 24)))
    loss = get_loss("pixel-content-texture", w_content=0.5, w_texture=0.25)
    parts = (get_loss("l1")(sr, hr, mask) + 0.5 * get_loss("perceptual")(sr, hr, mask)
             + 0.25 * get_loss("texture")(sr, hr, mask))
    assert loss(sr, hr, mask).item() == pytest.approx(parts.item(), rel=1e-6)
    first, last = _fit("pixel-content-texture", steps=150)
    assert last <= first / 5


def test_bad_options_are_one_line() -> None:
    with pytest.raises(ConfigError, match="N must be a positive"):
        get_loss("ncpsnr", n=-1.0)
    with pytest.raises(ConfigError, match="needs N"):
        sr, hr, mask = _batch(0)
        get_loss("ncpsnr")(sr, hr, mask)
    with pytest.raises(ConfigError, match="p must be in"):
        get_loss("sobel-cl1", p=1.5)
