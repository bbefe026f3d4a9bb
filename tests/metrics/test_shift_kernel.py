"""The compiled CPU kernel behind cpsnr and the corrected losses: every path of the kernel
against the plain definition and against the tensor implementation (what other devices run)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from satsr.errors import InputValueError
from satsr.metrics import _shift_kernel, cpsnr
from satsr.metrics.cpsnr import corrected_error

CPSNR = importlib.import_module("satsr.metrics.cpsnr")


def reference_cmse_at(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray, border: int, u: int,
                      v: int) -> float:
    """Bias-corrected masked MSE of (C, H, W) images at shift (u, v), one bias per band,
    straight from the definition (two passes, float64); inf when nothing is clear."""
    c, size_h, size_w = hr.shape
    h, w = size_h - 2 * border, size_w - 2 * border
    crop = sr[:, border:border + h, border:border + w].astype(np.float64)
    total, count = 0.0, 0
    for band in range(c):
        clear = sm[band if sm.shape[0] > 1 else 0, u:u + h, v:v + w]
        d = hr[band, u:u + h, v:v + w].astype(np.float64)[clear] - crop[band][clear]
        count += d.size
        if d.size:
            total += np.sum((d - d.mean()) ** 2)
    return total / count if count else np.inf


def reference_min_cmse(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray, border: int) -> float:
    """Minimum over the (2·border + 1)² shifts of :func:`reference_cmse_at`."""
    s = 2 * border + 1
    return min(reference_cmse_at(sr, hr, sm, border, u, v) for u in range(s) for v in range(s))


def images(n: int, c: int, size: tuple[int, int], clear: float, *, cm: int = 1,
           scale: float = 1.0, offset: float = 0.0, seed: int = 0,
           dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(SR, HR, mask): HR random, SR = HR displaced by one pixel + bias + noise."""
    rng = np.random.default_rng(seed)
    hr = rng.random((n, c, *size)) * scale + offset
    sr = np.roll(hr, (1, -1), axis=(2, 3)) + scale * (0.01 + 0.02 * rng.standard_normal(hr.shape))
    sm = rng.random((n, cm, *size)) < clear
    return sr.astype(dtype), hr.astype(dtype), sm


@contextmanager
def tensor_path() -> Iterator[None]:
    """Score CPU tensors with the tensor implementation instead of the kernel."""
    original = CPSNR._on_kernel
    CPSNR._on_kernel = lambda x: False
    try:
        yield
    finally:
        CPSNR._on_kernel = original


CASES = {
    "sparse clouds": dict(n=3, c=1, size=(64, 64), clear=0.95),
    "dense clouds": dict(n=3, c=1, size=(64, 64), clear=0.5),
    "all clear": dict(n=3, c=1, size=(64, 64), clear=1.0),
    "nearly all cloudy": dict(n=3, c=1, size=(40, 40), clear=0.03),
    "bands, one mask": dict(n=2, c=3, size=(48, 40), clear=0.9),
    "bands, own masks": dict(n=2, c=3, cm=3, size=(40, 48), clear=0.7),
    "float32": dict(n=3, c=1, size=(64, 64), clear=0.9, dtype=np.float32),
    "DN scale, offset": dict(n=2, c=1, size=(50, 50), clear=0.9, scale=100.0, offset=5000.0),
    "beyond float32, huge: every shift exact": dict(n=2, c=1, size=(40, 40), clear=0.9, scale=1e19),
    "beyond float32, tiny: every shift exact": dict(n=2, c=1, size=(40, 40), clear=0.9, scale=1e-36),
}


@pytest.mark.parametrize("border", [3, 1, 5, 0])
@pytest.mark.parametrize("case", list(CASES))
def test_kernel_matches_the_definition(case: str, border: int) -> None:
    sr, hr, sm = images(**CASES[case], seed=border)  # type: ignore[arg-type]
    mask = sm.astype(np.uint8) if sm.mean() < 1 else None
    value, index, finite = _shift_kernel.best_shifts(sr, hr, mask, border, 1)
    assert finite.all()
    s = 2 * border + 1
    for i in range(len(hr)):
        want = reference_min_cmse(sr[i], hr[i], sm[i], border)
        if not np.isfinite(want):
            assert np.isinf(value[i])
            continue
        # the kernel's value is the reference minimum, and its shift is a minimiser
        assert value[i] == pytest.approx(want, rel=1e-12, abs=1e-300)
        u, v = divmod(int(index[i]), s)
        assert reference_cmse_at(sr[i], hr[i], sm[i], border, u, v) == pytest.approx(
            want, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_and_tensor_path_agree(case: str) -> None:
    sr, hr, sm = images(**CASES[case])  # type: ignore[arg-type]
    args = (torch.from_numpy(sr), torch.from_numpy(hr), torch.from_numpy(sm))
    kernel = cpsnr(*args, return_shift=True)
    with tensor_path():
        tensor = cpsnr(*args, return_shift=True)
    assert torch.equal(kernel[1], tensor[1])
    np.testing.assert_allclose(kernel[0].numpy(), tensor[0].numpy(), rtol=0, atol=1e-9)


def test_threads_change_no_bit() -> None:
    sr, hr, sm = images(7, 1, (48, 48), 0.9)
    one = _shift_kernel.best_shifts(sr, hr, sm.astype(np.uint8), 3, 1)
    two = _shift_kernel.best_shifts(sr, hr, sm.astype(np.uint8), 3, 2)
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a, b)


def test_concurrent_callers_get_their_own_results() -> None:
    """The scratch planes are shared: callers in parallel threads must not see each other's."""
    batches = [images(4, 1, (56, 56), 0.9, seed=s) for s in range(4)]
    tensors = [tuple(torch.from_numpy(x) for x in b) for b in batches]
    want = [cpsnr(*t) for t in tensors]
    got: dict[int, torch.Tensor] = {}

    def score(k: int) -> None:
        for _ in range(5):
            got[k] = cpsnr(*tensors[k])

    workers = [threading.Thread(target=score, args=(k,)) for k in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for k in range(4):
        assert torch.equal(got[k], want[k])


def test_non_finite_inputs_raise_one_line_errors() -> None:
    sr, hr, sm = images(2, 1, (32, 32), 0.9)
    sr[1, 0, 10, 10] = np.nan
    with pytest.raises(InputValueError, match="SR contains NaN"):
        cpsnr(torch.from_numpy(sr), torch.from_numpy(hr), torch.from_numpy(sm))
    sr, hr, sm = images(2, 1, (32, 32), 0.9)
    hr[0, 0, 5, 5] = np.inf
    sm[0, 0, 5, 5] = True
    with pytest.raises(InputValueError, match="HR contains inf"):
        cpsnr(torch.from_numpy(sr), torch.from_numpy(hr), torch.from_numpy(sm))


def test_values_whose_squares_overflow_get_one_line() -> None:
    sr, hr, sm = images(2, 1, (24, 24), 0.9, scale=1e200)
    _, _, finite = _shift_kernel.best_shifts(sr, hr, sm.astype(np.uint8), 3, 1)
    assert not finite.any()
    with pytest.raises(InputValueError, match=r"squares overflow float64 .*rescale the images"):
        cpsnr(torch.from_numpy(sr), torch.from_numpy(hr), torch.from_numpy(sm))


@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("detach_bias", [False, True])
@pytest.mark.parametrize(("c", "cm", "dtype"), [(1, 1, torch.float64), (3, 3, torch.float64),
                                                (3, 1, torch.float32), (1, 1, torch.float32)])
def test_loss_value_and_gradient_match_autograd(power: int, detach_bias: bool, c: int, cm: int,
                                                dtype: torch.dtype) -> None:
    """The kernel's value and hand-written gradient equal autograd through the definition."""
    sr_np, hr_np, sm = images(3, c, (36, 36), 0.8, cm=cm, seed=power + 2 * c)
    hr, mask = torch.from_numpy(hr_np).to(dtype), torch.from_numpy(sm)
    weight = torch.tensor([0.3, 1.0, 2.0], dtype=dtype)
    results = []
    for kernel in (True, False):
        x = torch.from_numpy(sr_np).to(dtype).requires_grad_(True)
        if kernel:
            value = corrected_error(x, hr, mask, power=power, detach_bias=detach_bias)
        else:
            with tensor_path():
                value = corrected_error(x, hr, mask, power=power, detach_bias=detach_bias)
        (value * weight).sum().backward()
        assert x.grad is not None
        results.append((value.detach(), x.grad))
    rtol = 1e-5 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(results[0][0].numpy(), results[1][0].numpy(), rtol=rtol)
    scale = float(results[1][1].abs().max())
    np.testing.assert_allclose(results[0][1].numpy(), results[1][1].numpy(), rtol=0,
                               atol=rtol * scale)
    assert float(results[0][1][:, :, :3].abs().max()) == 0.0  # the border gets no gradient


def test_hr_needing_a_gradient_uses_autograd() -> None:
    sr_np, hr_np, sm = images(2, 1, (24, 24), 0.9)
    x = torch.from_numpy(sr_np).requires_grad_(True)
    hr = torch.from_numpy(hr_np).requires_grad_(True)
    corrected_error(x, hr, torch.from_numpy(sm)).sum().backward()
    assert hr.grad is not None and float(hr.grad.abs().sum()) > 0
