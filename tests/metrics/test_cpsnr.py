"""cPSNR against a plain per-shift transcription of the PROBA-V definition and norm.csv."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from satsr.errors import InputValueError
from satsr.metrics import cmse_per_shift, cpsnr, dataset_score, probav_score, psnr

# ---------------------------------------------------------------- the reference, verbatim


def reference_cmse(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray, border: int = 3) -> np.ndarray:
    """cMSE per shift of 2-D ``sr``/``hr``/``sm`` exactly as the challenge defines it.

    Crop SR by ``border``; for u, v in 0..2·border compare it with HR[u:u+h, v:v+w] on the clear
    pixels of SM[u:u+h, v:v+w]; remove the mean bias; +inf where a window has no clear pixel.
    """
    size_h, size_w = hr.shape
    h, w = size_h - 2 * border, size_w - 2 * border
    cropped = sr[border:border + h, border:border + w]
    out = np.full((2 * border + 1, 2 * border + 1), np.inf)
    for u in range(2 * border + 1):
        for v in range(2 * border + 1):
            clear = sm[u:u + h, v:v + w]
            if not clear.any():
                continue
            diff = hr[u:u + h, v:v + w][clear] - cropped[clear]
            bias = diff.mean()
            out[u, v] = np.mean((diff - bias) ** 2)
    return out


def reference_cpsnr(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray, border: int = 3) -> float:
    """−10·log10 of the best shift's cMSE (data_range 1); inf when that cMSE is 0."""
    with np.errstate(divide="ignore"):
        return float(-10 * np.log10(reference_cmse(sr, hr, sm, border).min()))


# ---------------------------------------------------------------- both implementations


@pytest.fixture(autouse=True, params=["kernel", "tensor"])
def backend(request, monkeypatch):
    """Run every test here on the compiled CPU kernel and on the tensor implementation (what
    other devices run), by choosing the dispatch for CPU tensors."""
    module = importlib.import_module("satsr.metrics.cpsnr")
    monkeypatch.setattr(module, "_on_kernel", lambda x: request.param == "kernel")
    return request.param


# ---------------------------------------------------------------- helpers


def t4(*images: np.ndarray) -> torch.Tensor:
    """Stack (H, W) arrays into an (N, 1, H, W) tensor."""
    return torch.from_numpy(np.stack(images)[:, None].copy())


def masks(*images: np.ndarray) -> torch.Tensor:
    """Stack (H, W) bool arrays into an (N, H, W) tensor."""
    return torch.from_numpy(np.stack(images).copy())


def shifted(hr: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``hr`` displaced by (dy, dx) px with edge padding (an SR that is off by a known shift)."""
    padded = np.pad(hr, 8, mode="edge")
    return padded[8 - dy:8 - dy + hr.shape[0], 8 - dx:8 - dx + hr.shape[1]]


# ---------------------------------------------------------------- real PROBA-V data


def test_baseline_reproduces_norm_csv(scenes):
    sr = t4(*(s.sr for s in scenes))
    hr = t4(*(s.hr for s in scenes))
    sm = masks(*(s.sm for s in scenes))
    got = cpsnr(sr, hr, sm)
    norm = [s.norm for s in scenes]
    assert norm == [52.352172662454414, 50.073866247779925]
    np.testing.assert_allclose(got.numpy(), norm, rtol=0, atol=1e-6)
    assert float(dataset_score(got, torch.tensor(norm, dtype=torch.float64))) == pytest.approx(1.0, abs=1e-8)


def test_real_scenes_match_the_reference(scenes):
    rng = np.random.default_rng(0)
    cases = []
    for s in scenes:
        cases.append((s.sr, s.hr, s.sm))
        cases.append((s.sr, s.hr, np.ones_like(s.sm)))
        degraded = shifted(s.hr, 2, -1) + 0.01 + rng.normal(0, 1e-3, s.hr.shape)
        cases.append((degraded, s.hr, s.sm))
    sr, hr, sm = (np.stack(x) for x in zip(*cases, strict=True))
    got, shift = cpsnr(t4(*sr), t4(*hr), masks(*sm), return_shift=True)
    grids = [reference_cmse(*case) for case in cases]
    want = [float(-10 * np.log10(g.min())) for g in grids]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        cmse_per_shift(t4(*sr), t4(*hr), masks(*sm)).numpy(), np.stack(grids), rtol=1e-9
    )
    for i, g in enumerate(grids):
        assert tuple(shift[i].tolist()) == np.unravel_index(g.argmin(), g.shape)
    # the displaced SR is found at its displacement: SR[y, x] = HR[y-2, x+1] → u = 3-2, v = 3+1
    assert shift[2].tolist() == [1, 4] and shift[5].tolist() == [1, 4]


def test_no_mask_equals_all_clear_mask(scenes):
    s = scenes[1]
    a = cpsnr(t4(s.sr), t4(s.hr))
    b = cpsnr(t4(s.sr), t4(s.hr), torch.ones(1, 384, 384, dtype=torch.bool))
    assert torch.equal(a, b)
    assert float(a[0]) == pytest.approx(reference_cpsnr(s.sr, s.hr, np.ones_like(s.sm)),
                                        abs=1e-9)


def test_batch_equals_single_images(scenes):
    """Scoring in a batch changes nothing (imgset0000's SM is fully clear, imgset0594's not)."""
    assert scenes[0].sm.all() and not scenes[1].sm.all()
    sr, hr = t4(*(s.sr for s in scenes)), t4(*(s.hr for s in scenes))
    sm = masks(*(s.sm for s in scenes))
    batch = cpsnr(sr, hr, sm)
    grid = cmse_per_shift(sr, hr, sm)
    for i in range(2):
        one = slice(i, i + 1)
        assert float(cpsnr(sr[one], hr[one], sm[one])[0]) == pytest.approx(float(batch[i]),
                                                                           abs=1e-12)
        np.testing.assert_allclose(cmse_per_shift(sr[one], hr[one], sm[one]).numpy(),
                                   grid[one].numpy(), rtol=1e-10)


def test_float32_inputs(scenes):
    """float32 inputs are scored in float64: only their own rounding error remains (<1e-5 dB)."""
    sr, hr = t4(*(s.sr for s in scenes)), t4(*(s.hr for s in scenes))
    sm = masks(*(s.sm for s in scenes))
    got = cpsnr(sr.float(), hr.float(), sm)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), [s.norm for s in scenes], rtol=0, atol=1e-5)


def test_concealed_hr_may_hold_nan(scenes):
    s = scenes[1]
    hr = s.hr.copy()
    hr[~s.sm] = np.nan
    got = cpsnr(t4(s.sr), t4(hr), masks(s.sm))
    assert float(got[0]) == pytest.approx(s.norm, abs=1e-6)


# ---------------------------------------------------------------- random data


@pytest.mark.parametrize(("border", "size", "clear"), [
    (3, (40, 40), 0.95), (0, (9, 9), 0.7), (2, (13, 13), 0.3), (4, (25, 25), 1.0),
    (3, (21, 30), 0.9), (1, (16, 11), 1.0), (3, (33, 27), 0.6),  # rectangular, odd widths
])
def test_random_images_match_the_reference(border, size, clear):
    rng = np.random.default_rng(border * 100 + size[0] + size[1])
    n = 5
    hr = rng.random((n, *size))
    sr = hr + rng.normal(0.05, 0.1, hr.shape)
    sm = rng.random((n, *size)) < clear
    got = cpsnr(t4(*sr), t4(*hr), masks(*sm), border=border)
    want = [reference_cpsnr(sr[i], hr[i], sm[i], border) for i in range(n)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-9)
    grid = cmse_per_shift(t4(*sr), t4(*hr), masks(*sm), border=border).numpy()
    assert grid.shape == (n, 2 * border + 1, 2 * border + 1)
    np.testing.assert_allclose(grid, [reference_cmse(sr[i], hr[i], sm[i], border)
                                      for i in range(n)], rtol=1e-9)


def test_chunking_changes_nothing(monkeypatch):
    """Batches are scored in cache-sized chunks; chunk boundaries must not matter."""
    import sys

    rng = np.random.default_rng(9)
    hr = rng.random((7, 20, 20))
    sr = hr + rng.normal(0.0, 0.1, hr.shape)
    sm = rng.random((7, 20, 20)) < 0.8
    sm[2:4] = True  # a fully clear chunk (images 2-3) takes the all-clear path
    whole = cpsnr(t4(*sr), t4(*hr), masks(*sm), return_shift=True)
    grid = cmse_per_shift(t4(*sr), t4(*hr), masks(*sm))
    monkeypatch.setattr(sys.modules["satsr.metrics.cpsnr"], "_CHUNK_ELEMENTS", 2 * 400)
    chunked = cpsnr(t4(*sr), t4(*hr), masks(*sm), return_shift=True)
    assert torch.equal(whole[1], chunked[1])
    np.testing.assert_allclose(chunked[0].numpy(), whole[0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(cmse_per_shift(t4(*sr), t4(*hr), masks(*sm)).numpy(),
                               grid.numpy(), rtol=1e-10)


def test_shifts_without_clear_pixels_are_ignored():
    rng = np.random.default_rng(3)
    hr, sr = rng.random((1, 20, 20)), rng.random((1, 20, 20))
    sm = np.zeros((1, 20, 20), dtype=bool)
    sm[0, 15:, :] = True  # 14-row windows starting at u = 0, 1 see no clear row
    grid = cmse_per_shift(t4(*sr), t4(*hr), masks(*sm)).numpy()[0]
    ref = reference_cmse(sr[0], hr[0], sm[0])
    assert np.isinf(grid[:2]).all() and np.isfinite(grid[2:]).all()
    np.testing.assert_allclose(grid, ref, rtol=1e-9)
    got = cpsnr(t4(*sr), t4(*hr), masks(*sm))
    assert float(got[0]) == pytest.approx(reference_cpsnr(sr[0], hr[0], sm[0]), abs=1e-9)


def test_single_clear_pixel_has_zero_cmse():
    """One clear pixel is absorbed entirely by the bias: cMSE 0, cPSNR inf (as defined)."""
    rng = np.random.default_rng(3)
    hr, sr = rng.random((1, 20, 20)), rng.random((1, 20, 20))
    sm = np.zeros((1, 20, 20), dtype=bool)
    sm[0, :3, :2] = True  # shift (2, 1) sees exactly one clear pixel; u > 2 or v > 1 none
    grid = cmse_per_shift(t4(*sr), t4(*hr), masks(*sm)).numpy()[0]
    ref = reference_cmse(sr[0], hr[0], sm[0])
    assert np.isinf(grid[3:, :]).all() and np.isinf(grid[:, 2:]).all()
    assert grid[2, 1] == 0.0 == ref[2, 1]
    np.testing.assert_allclose(grid, ref, rtol=1e-9)
    assert torch.isinf(cpsnr(t4(*sr), t4(*hr), masks(*sm))).all()


def test_no_clear_pixel_gives_nan_and_a_warning():
    rng = np.random.default_rng(4)
    hr, sr = rng.random((3, 16, 16)), rng.random((3, 16, 16))
    sm = rng.random((3, 16, 16)) > 0.1
    sm[1] = False
    with pytest.warns(RuntimeWarning, match=r"image\(s\) \[1\] have no clear HR pixel"):
        got, shift = cpsnr(t4(*sr), t4(*hr), masks(*sm), return_shift=True)
    assert torch.isnan(got[1]) and shift[1].tolist() == [-1, -1]
    for i in (0, 2):
        assert float(got[i]) == pytest.approx(reference_cpsnr(sr[i], hr[i], sm[i]), abs=1e-9)
    with pytest.raises(InputValueError, match=r"scene\(s\) \[1\] have a NaN cPSNR"):
        dataset_score(got, torch.full((3,), 50.0))


def test_multiband_shares_the_shift_with_a_bias_per_band():
    rng = np.random.default_rng(5)
    hr = rng.random((2, 2, 24, 24))
    sr = hr + rng.normal(0, 0.05, hr.shape)
    sm = rng.random((2, 24, 24)) > 0.2
    got = cpsnr(torch.from_numpy(sr), torch.from_numpy(hr), masks(*sm))
    # transcription for C bands: one shift, one bias per band, mean over all bands' pixels
    for i in range(2):
        best = np.inf
        for u in range(7):
            for v in range(7):
                clear = sm[i, u:u + 18, v:v + 18]
                sq = []
                for c in range(2):
                    d = hr[i, c, u:u + 18, v:v + 18][clear] - sr[i, c, 3:21, 3:21][clear]
                    sq.append((d - d.mean()) ** 2)
                best = min(best, float(np.concatenate(sq).mean()))
        assert float(got[i]) == pytest.approx(-10 * np.log10(best), abs=1e-9)
    # a constant offset in one band is removed by that band's bias
    offset = sr.copy()
    offset[:, 1] += 0.3
    moved = cpsnr(torch.from_numpy(offset), torch.from_numpy(hr), masks(*sm))
    np.testing.assert_allclose(moved.numpy(), got.numpy(), atol=1e-9)
    # identical bands score like the single band
    twin = np.repeat(sr[:, :1], 2, 1), np.repeat(hr[:, :1], 2, 1)
    single = cpsnr(torch.from_numpy(sr[:, :1]), torch.from_numpy(hr[:, :1]), masks(*sm))
    double = cpsnr(torch.from_numpy(twin[0]), torch.from_numpy(twin[1]), masks(*sm))
    np.testing.assert_allclose(double.numpy(), single.numpy(), atol=1e-9)


def test_data_range_rescales():
    rng = np.random.default_rng(6)
    hr = rng.random((2, 1, 15, 15))
    sr = hr + rng.normal(0, 0.05, hr.shape)
    unit = cpsnr(torch.from_numpy(sr), torch.from_numpy(hr))
    dn = cpsnr(torch.from_numpy(sr * 65535), torch.from_numpy(hr * 65535), data_range=65535)
    np.testing.assert_allclose(dn.numpy(), unit.numpy(), atol=1e-9)


def test_cmse_per_shift_gradient():
    gen = torch.Generator().manual_seed(0)
    hr = torch.rand(2, 1, 9, 9, dtype=torch.float64, generator=gen)
    sr = torch.rand(2, 1, 9, 9, dtype=torch.float64, generator=gen, requires_grad=True)
    mask = torch.rand(2, 9, 9, generator=gen) > 0.2
    assert torch.autograd.gradcheck(lambda x: cmse_per_shift(x, hr, mask, border=1), (sr,),
                                     fast_mode=True)


images = arrays(np.float64, (1, 1, 10, 10),
                elements=st.integers(0, 4095).map(lambda k: k / 4095))


@settings(max_examples=30, deadline=None)
@given(a=images, b=images, offset=st.floats(-0.5, 0.5))
def test_properties(a, b, offset):
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    value = float(cpsnr(ta, tb)[0])
    assert value == pytest.approx(reference_cpsnr(a[0, 0], b[0, 0], np.ones((10, 10), bool)),
                                  abs=1e-9)
    # bias correction and the best shift can only help: cPSNR >= PSNR of the centred crop
    plain = float(psnr(ta[..., 3:-3, 3:-3], tb[..., 3:-3, 3:-3], data_range=1.0)[0])
    assert value >= plain - 1e-9
    # the bias correction removes any constant offset of SR (up to its rounding)
    moved = float(cpsnr(ta + offset, tb)[0])
    if np.isinf(value):
        assert moved > 250
    else:
        assert moved == pytest.approx(value, abs=1e-6)


# ---------------------------------------------------------------- the challenge score


def test_probav_score():
    c = torch.tensor([50.0, 40.0, float("inf")], dtype=torch.float64)
    norm = torch.tensor([50.0, 44.0, 48.0], dtype=torch.float64)
    np.testing.assert_allclose(probav_score(c, norm).numpy(), [1.0, 1.1, 0.0])
    assert float(dataset_score(c, norm)) == pytest.approx(0.7)
    with pytest.raises(InputValueError, match="differs from norm shape"):
        probav_score(c, norm[:2])
    with pytest.raises(InputValueError, match="norm values must be finite and > 0"):
        probav_score(c, torch.tensor([50.0, 0.0, 1.0]))
    with pytest.raises(InputValueError, match="wrong value scale"):
        probav_score(torch.tensor([-3.0]), torch.tensor([50.0]))
    with pytest.raises(InputValueError, match="no scenes"):
        dataset_score(torch.zeros(0), torch.zeros(0))


# ---------------------------------------------------------------- near-tied shifts


@pytest.mark.parametrize("eps", [0.0, 1e-13, 1e-9, 1e-6])
def test_near_tied_shifts_match_the_reference(eps):
    """SR halfway between two shifts of HR: the float32 preselection keeps both candidates and
    the exact float64 evaluation picks the reference's value (and a shift holding it)."""
    rng = np.random.default_rng(11)
    big = rng.random((3, 30, 31))
    hr = big[:, :, :30]
    # SR window = mean of HR at shifts (3, 3) and (3, 4), tilted towards one by eps
    sr = np.zeros_like(hr)
    sr[:, 3:27, 3:27] = (0.5 + eps) * hr[:, 3:27, 3:27] + (0.5 - eps) * hr[:, 3:27, 4:28]
    sm = rng.random(hr.shape) < 0.9
    sm[0] = True
    got, shift = cpsnr(t4(*sr), t4(*hr), masks(*sm), return_shift=True)
    for i in range(3):
        grid = reference_cmse(sr[i], hr[i], sm[i])
        assert float(got[i]) == pytest.approx(-10 * np.log10(grid.min()), abs=1e-9)
        u, v = shift[i].tolist()
        assert grid[u, v] == pytest.approx(grid.min(), rel=1e-12)
        assert (u, v) in ((3, 3), (3, 4))


def test_float32_preselection_covers_the_exact_minimum():
    """Many random batches: the shift cpsnr reports holds the reference grid's minimum."""
    rng = np.random.default_rng(12)
    for clear in (1.0, 0.97, 0.5, 0.05):
        hr = rng.random((6, 24, 24))
        sr = np.roll(hr, (1, 0), axis=(1, 2)) + rng.normal(0, 1e-4, hr.shape)
        sm = rng.random(hr.shape) < clear
        got, shift = cpsnr(t4(*sr), t4(*hr), masks(*sm), return_shift=True)
        for i in range(6):
            grid = reference_cmse(sr[i], hr[i], sm[i])
            if not np.isfinite(grid).any():
                continue
            u, v = shift[i].tolist()
            assert grid[u, v] == pytest.approx(grid.min(), rel=1e-12)
            assert float(got[i]) == pytest.approx(-10 * np.log10(grid.min()), abs=1e-9)


def test_large_offset_small_contrast_images():
    """Values far from zero with little contrast (e.g. DN scale, flat scenes): the float32
    preselection works on centred images, so its error bound still holds."""
    rng = np.random.default_rng(13)
    hr = 5000.0 + rng.random((4, 30, 30)) * 0.5
    sr = np.roll(hr, (1, 1), axis=(1, 2)) + rng.normal(0, 0.01, hr.shape) + 3.0
    sr[1] = hr[1] + rng.normal(0, 1e-4, hr[1].shape)  # best shift is the centre, nearly exact
    sm = rng.random(hr.shape) < 0.9
    got, shift = cpsnr(t4(*sr), t4(*hr), masks(*sm), data_range=65535.0, return_shift=True)
    for i in range(4):
        grid = reference_cmse(sr[i], hr[i], sm[i])
        want = 10 * np.log10(65535.0**2 / grid.min())
        assert float(got[i]) == pytest.approx(want, abs=1e-9)
        u, v = shift[i].tolist()
        assert grid[u, v] == pytest.approx(grid.min(), rel=1e-12)


def test_near_ties_on_a_large_offset():
    """Near-tied shifts of images far from zero (DN scale): float32 rounding of uncentred
    values would exceed the preselection's bound and pick a wrong shift (seen: 4e-3 dB)."""
    rng = np.random.default_rng(11)
    for trial in range(20):
        big = 5000 + rng.random((3, 30, 31)) * 0.05
        hr = big[:, :, :30]
        eps = (0.0, 1e-7, 1e-5)[trial % 3]
        sr = np.full_like(hr, 5000.0)
        sr[:, 3:27, 3:27] = (0.5 + eps) * hr[:, 3:27, 3:27] + (0.5 - eps) * hr[:, 3:27, 4:28]
        sm = rng.random(hr.shape) < 0.9
        got = cpsnr(t4(*sr), t4(*hr), masks(*sm), data_range=65535.0)
        for i in range(3):
            grid = reference_cmse(sr[i], hr[i], sm[i])
            want = 10 * np.log10(65535.0**2 / grid.min())
            assert float(got[i]) == pytest.approx(want, abs=1e-9), (trial, i)
