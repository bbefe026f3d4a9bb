"""cPSNR, the PROBA-V challenge metric, and the challenge score — batched, exact, masked.

Definition (Kelvins PROBA-V Super Resolution, Märtens et al. 2019), for an SR image and its HR
target of the same size H×W, values on the uint16/65535 scale (``data_range = 1``):

1. crop ``border`` (3) px from every side of SR → h×w = (H − 2·border)×(W − 2·border);
2. for every shift (u, v) ∈ {0, …, 2·border}² (49 shifts) take the HR window
   ``HR[u:u+h, v:v+w]`` and the status-map window ``SM[u:u+h, v:v+w]`` (True = clear);
3. bias ``b = mean(HR − SR)`` over the clear pixels of the window;
4. ``cMSE = mean((HR − SR − b)²)`` over the same pixels;
5. ``cPSNR = −10·log10(min over shifts of cMSE / data_range²)``.

Multi-band images (C > 1) share one shift (co-registration is geometric) but each band gets its
own bias (as if each band were scored as its own PROBA-V image); the cMSE of a shift is the mean
over all bands' clear pixels. For C = 1 this is exactly the definition above.

A shift whose window holds no clear pixel is ignored; when no shift has one the image's cPSNR
is NaN and a :class:`RuntimeWarning` is issued (PSNR/SSIM raise instead, since they have no
shift to fall back on).

Implementation: the 49 masked sums are cross-correlations of the (zero-filled, centred) HR,
mask and SR planes, computed for the whole batch at once in float64 with real FFTs (plus a
partial inverse DFT, as only 49 lags are needed) and window sums. ``cmse_per_shift`` returns
that grid (differentiable; relative error ~1e-12 on real images, bounded by ~1e-11 of the
images' mean square). ``cpsnr`` then re-evaluates, straight from the definition (two-pass
masked mean), every shift whose grid value lies within that bound of the grid's minimum —
usually just one — so it returns the exact minimum and matches a per-shift reference loop to
~1e-12 dB, even when shifts are nearly tied. A window with a single clear pixel has cMSE 0
(the bias absorbs it), hence cPSNR ``inf``, exactly as the definition gives.
"""

from __future__ import annotations

import warnings
from typing import Literal, overload

import torch

from satsr.errors import InputValueError
from satsr.metrics._checks import (
    as_tensor,
    check_crop,
    check_data_range,
    check_finite,
    check_mask,
    check_pair,
    crop_hw,
    to_float64,
)
from satsr.metrics.psnr import HR_FIX, SR_FIX

_F64 = torch.float64


def _prepare(
    sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None, border: int, name: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Validate; return cropped SR, zero-filled HR (float64), the bool mask and ``border``."""
    sr, hr = check_pair(sr, hr, name)
    border = check_crop(border, sr.shape, name, name="border")
    if hr_mask is None:
        m = torch.ones((sr.shape[0], 1, *sr.shape[-2:]), dtype=torch.bool, device=sr.device)
    else:
        m = check_mask(hr_mask, sr.shape, sr.device, name, name="hr_mask")
    src = crop_hw(sr, border)
    check_finite(src, "SR", name, fix=SR_FIX, what="scored (border-cropped) ")
    hr0 = torch.where(m, to_float64(hr), torch.zeros((), dtype=_F64, device=sr.device))
    check_finite(hr0, "HR", name, fix=HR_FIX, what="clear ")  # concealed pixels are 0 now
    return to_float64(src), hr0, m, border


def _window_sums(x: torch.Tensor, count: int, *, square: bool = False) -> torch.Tensor:
    """Sums of ``x`` (or ``x²``) (..., L) over its ``count`` windows of length L − count + 1.

    Returns (..., count). Each window sum is the total minus the few values left out on either
    side; with ``square`` the total is a fused dot product (no squared copy of ``x``).
    """
    size = x.shape[-1]
    length = size - count + 1
    if square:
        flat = x.reshape(-1, 1, size)
        total = torch.bmm(flat, flat.transpose(1, 2)).reshape(*x.shape[:-1], 1)
        head, tail = x[..., :count - 1].square(), x[..., length:].square()
    else:
        total = x.sum(-1, keepdim=True)
        head, tail = x[..., :count - 1], x[..., length:]
    zero = x.new_zeros((*x.shape[:-1], 1))
    left = torch.cat([zero, head.cumsum(-1)], dim=-1)
    right = torch.cat([tail.flip(-1).cumsum(-1).flip(-1), zero], dim=-1)
    return total - left - right


def _box_sums(x: torch.Tensor, su: int, sv: int, *, square: bool = False) -> torch.Tensor:
    """Sums of ``x`` (or ``x²``) (P, H, W) over its (H−su+1)×(W−sv+1) windows: (P, su, sv)."""
    rows = _window_sums(x, sv, square=square)  # (P, H, sv)
    return _window_sums(rows.transpose(1, 2), su).transpose(1, 2)


def _first_lags(spectrum: torch.Tensor, size: tuple[int, int], su: int, sv: int) -> torch.Tensor:
    """The first su×sv values of ``irfft2(spectrum, s=size)`` (P, su, sv), by two small DFTs.

    Only 49 lags of each correlation are needed, so a partial inverse transform (two complex
    matrix products) replaces the full one.
    """
    hh, ww = size
    dev = spectrum.device
    f = torch.arange(hh, dtype=torch.int64, device=dev)
    u = torch.arange(su, dtype=torch.int64, device=dev)
    eu = torch.polar(torch.ones((), dtype=_F64, device=dev),
                     (2 * torch.pi / hh) * ((u[:, None] * f[None, :]) % hh).to(_F64))
    g = torch.arange(spectrum.shape[-1], dtype=torch.int64, device=dev)
    v = torch.arange(sv, dtype=torch.int64, device=dev)
    weight = torch.full(g.shape, 2.0, dtype=_F64, device=dev)
    weight[0] = 1.0
    if ww % 2 == 0:
        weight[-1] = 1.0  # the Nyquist column appears once in the full spectrum
    ev = torch.polar(weight[:, None],
                     (2 * torch.pi / ww) * ((g[:, None] * v[None, :]) % ww).to(_F64))
    return (eu @ spectrum @ ev).real / (hh * ww)


def _shift_stats(
    src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per band and shift: clear count n, Σd, Σd² (d = HR − SR over clear pixels) and a scale.

    ``src`` (N, C, h, w) cropped SR, ``hr0`` (N, C, H, W) HR with concealed pixels zeroed,
    ``m`` (N, 1|C, H, W) bool. Returns four (N, C, S, S) float64 tensors, S = H − h + 1; the
    last, Σ HR² + Σ SR², bounds the magnitude of the expanded terms (for error estimates).
    Both images are centred per band first, which leaves every bias-corrected cMSE unchanged
    and keeps the expanded sums well conditioned. Σ M·HR·SR, Σ M·SR and Σ M·SR² are
    cross-correlations, computed with real FFTs.
    """
    n_img, c, hh, ww = hr0.shape
    h, w = src.shape[-2:]
    su, sv = hh - h + 1, ww - w + 1
    flat, size = (n_img * c, hh, ww), (hh, ww)
    mf = m.expand(n_img, c, hh, ww).to(_F64).reshape(flat)
    hr0 = hr0.reshape(flat)
    sr = src.reshape(n_img * c, h, w)
    mean_hr = hr0.sum(dim=(1, 2), keepdim=True) / mf.sum(dim=(1, 2), keepdim=True).clamp(min=1.0)
    hr_c = torch.addcmul(hr0, mf, mean_hr, value=-1.0)  # centred, still 0 where concealed
    sr_c = sr - sr.mean(dim=(1, 2), keepdim=True)
    sr_c2 = sr_c.square()

    n = _box_sums(mf, su, sv)
    s_hr = _box_sums(hr_c, su, sv)
    s_hr2 = _box_sums(hr_c, su, sv, square=True)
    f_hr = torch.fft.rfft2(hr_c)
    f_sr = torch.fft.rfft2(sr_c, s=size).conj()
    sum_sr2 = sr_c2.sum(dim=(1, 2), keepdim=True)
    if bool(m.all()):  # every window is fully clear: the mask terms do not depend on the shift
        s1 = s_hr - sr_c.sum(dim=(1, 2), keepdim=True)
        s2 = s_hr2 + sum_sr2 - 2.0 * _first_lags(f_hr * f_sr, size, su, sv)
    else:
        f_m = torch.fft.rfft2(mf)
        f_sr2 = torch.fft.rfft2(sr_c2, s=size).conj()
        s1 = s_hr - _first_lags(f_m * f_sr, size, su, sv)  # Σ M·HR − Σ M·SR
        s2 = s_hr2 + _first_lags((f_m * f_sr2).sub_(f_hr * f_sr, alpha=2.0), size, su, sv)
    scale = s_hr2 + sum_sr2
    shape = (n_img, c, su, sv)
    return n.reshape(shape), s1.reshape(shape), s2.reshape(shape), scale.reshape(shape)


def _cmse_grid(
    src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S, S) bias-corrected MSE per shift (+inf where no pixel is clear) and its error bound.

    The bound (``_REL_ERR`` times the mean of the expanded terms) is far above the float64
    rounding of the FFT/integral-image sums, so the exact best shift is always among the
    shifts within the bound of the grid's minimum.
    """
    n, s1, s2, scale = _shift_stats(src, hr0, m)
    n = n.round()  # window sums of a 0/1 mask are integers
    per_band = (s2 - s1.square() / n.clamp(min=1.0)).clamp(min=0.0)
    per_band = torch.where(n > 1, per_band, torch.zeros_like(per_band))  # 1 px: bias absorbs it
    total_n = n.sum(1).clamp(min=1.0)
    grid = per_band.sum(1) / total_n
    tol = _REL_ERR * scale.sum(1) / total_n
    empty = n.sum(1) == 0
    return torch.where(empty, torch.full_like(grid, torch.inf), grid), tol


_REL_ERR = 1e-11
_CHUNK_ELEMENTS = 2**19  # images are scored in chunks of ~4 MB per float64 plane (cache-sized)


def _chunks(hr: torch.Tensor) -> list[slice]:
    """Slices of the batch dimension holding ~``_CHUNK_ELEMENTS`` values each."""
    per_image = max(1, hr[0].numel())
    step = max(1, _CHUNK_ELEMENTS // per_image)
    return [slice(i, i + step) for i in range(0, hr.shape[0], step)]
_CHUNK_PIXELS = 2**24  # exact re-evaluation works on at most this many window pixels at once


def cmse_per_shift(
    sr: torch.Tensor,
    hr: torch.Tensor,
    hr_mask: torch.Tensor | None = None,
    *,
    border: int = 3,
) -> torch.Tensor:
    """Bias-corrected MSE of every shift: (N, 2·border+1, 2·border+1), float64.

    Entry ``[i, u, v]`` is the cMSE of image ``i`` against ``HR[u:u+h, v:v+w]`` (see the module
    docstring), to ~1e-12 relative (see the module docstring); shifts with no clear pixel are
    ``+inf`` so ``amin`` ignores them. Differentiable in ``sr`` (a cMSE training loss is
    ``cmse_per_shift(...).flatten(1).amin(1)``). Inputs are validated as in :func:`cpsnr`.
    """
    src, hr0, m, _ = _prepare(sr, hr, hr_mask, border, "cmse_per_shift")
    return torch.cat([_cmse_grid(src[c], hr0[c], m[c])[0] for c in _chunks(hr0)])


def _cmse_at(src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor, img: torch.Tensor,
             u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Two-pass cMSE of image ``img[k]`` at shift (u[k], v[k]), straight from the definition."""
    h, w = src.shape[-2:]
    d = hr0.unfold(2, h, 1).unfold(3, w, 1)[img, :, u, v]  # (K, C, h, w), a fresh copy
    m_win = m.unfold(2, h, 1).unfold(3, w, 1)[img, :, u, v]
    same = img.numel() == src.shape[0] and bool((img == torch.arange(
        src.shape[0], device=img.device)).all())
    d = d.sub_(src if same else src[img])
    zero = torch.zeros((), dtype=_F64, device=src.device)
    d = torch.where(m_win, d, zero)
    n = m_win.expand(d.shape).sum(dim=(2, 3), keepdim=True).to(_F64)
    bias = d.sum(dim=(2, 3), keepdim=True) / n.clamp(min=1.0)
    r = torch.where(m_win, d.sub_(bias), zero).flatten(1)
    sq = torch.bmm(r[:, None, :], r[:, :, None]).flatten()  # Σ r², one fused pass
    return sq / n.sum(dim=(1, 2, 3)).clamp(min=1.0)


def _best_exact(src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor, grid: torch.Tensor,
                tol: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact minimum cMSE (N,) and its flat shift index (N,), re-evaluating only candidates.

    Candidates are the shifts whose grid value is within the error bound of the grid minimum
    (usually one per image); images without a finite grid value get +inf and index 0.
    """
    n_img, s = grid.shape[0], grid.shape[-1]
    flat, flat_tol = grid.reshape(n_img, -1), tol.reshape(n_img, -1)
    with torch.no_grad():
        bound = (flat + flat_tol).amin(1, keepdim=True)
        img, pos = torch.nonzero(torch.isfinite(flat) & (flat - flat_tol <= bound), as_tuple=True)
    per_pair = src[0].numel()
    step = max(1, _CHUNK_PIXELS // per_pair)
    values = torch.cat([
        _cmse_at(src, hr0, m, img[k:k + step], pos[k:k + step] // s, pos[k:k + step] % s)
        for k in range(0, int(img.numel()), step)
    ]) if img.numel() else torch.zeros(0, dtype=_F64, device=src.device)
    best = torch.full((n_img,), torch.inf, dtype=_F64, device=src.device)
    best = best.scatter_reduce(0, img, values, reduce="amin")
    with torch.no_grad():
        # among tied candidates take the first in (u, v) order, as the reference loop does
        winner = values == best[img]
        key = torch.where(winner, pos, torch.full_like(pos, s * s))
        index = torch.full((n_img,), s * s, dtype=pos.dtype, device=src.device)
        index = index.scatter_reduce(0, img, key, reduce="amin")
    return best, index.clamp(max=s * s - 1)


@overload
def cpsnr(sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None = None, *,
          border: int = 3, data_range: float = 1.0,
          return_shift: Literal[False] = False) -> torch.Tensor: ...


@overload
def cpsnr(sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None = None, *,
          border: int = 3, data_range: float = 1.0,
          return_shift: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...


def cpsnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    hr_mask: torch.Tensor | None = None,
    *,
    border: int = 3,
    data_range: float = 1.0,
    return_shift: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """cPSNR in dB of each image (N,), float64, as the PROBA-V challenge defines it.

    ``sr``, ``hr``: (N, C, H, W), same size, same value scale (PROBA-V: uint16/65535, so
    ``data_range = 1``); any real dtype, computed in float64. ``hr_mask``: (N, H, W),
    (N, 1, H, W) or (N, C, H, W) bool, True = clear (PROBA-V's SM.png); None = all clear.
    Shifts u, v run over 0..2·border. ``return_shift=True`` also returns the best shift as an
    (N, 2) int64 tensor of (u, v) — (border, border) means no displacement; (-1, -1) for NaN
    images; ties go to the first shift in (u, v) order.

    Images with no clear pixel under any shift get NaN plus a ``RuntimeWarning``. Raises
    :class:`~satsr.errors.InputValueError` for mismatched or non-4-D shapes, NaN/inf in the
    border-cropped SR or in clear HR pixels, ``data_range <= 0`` and a border that leaves no
    pixel.
    """
    name = "cpsnr"
    dr = check_data_range(data_range, name)
    src, hr0, m, _ = _prepare(sr, hr, hr_mask, border, name)
    parts = []
    for c in _chunks(hr0):
        grid, tol = _cmse_grid(src[c], hr0[c], m[c])
        parts.append(_best_exact(src[c], hr0[c], m[c], grid, tol))
    cmse, index = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    s = 2 * border + 1
    value = 10.0 * torch.log10(dr * dr / cmse)
    u, v = index // s, index % s
    empty = torch.isinf(cmse)
    if bool(empty.any()):
        bad = torch.nonzero(empty).flatten().tolist()
        warnings.warn(
            f"{name}: image(s) {bad} have no clear HR pixel under any of the {s * s} shifts; "
            "their cPSNR is NaN (exclude them from averages)",
            RuntimeWarning,
            stacklevel=2,
        )
        value = torch.where(empty, torch.full_like(value, torch.nan), value)
        u = torch.where(empty, torch.full_like(u, -1), u)
        v = torch.where(empty, torch.full_like(v, -1), v)
    if return_shift:
        return value, torch.stack([u, v], dim=1)
    return value


def probav_score(cpsnr: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """Per-scene PROBA-V score ``norm / cPSNR`` (lower is better; 1.0 = the baseline).

    ``cpsnr`` and ``norm`` (the scene's ``norm.csv`` value, dB) have the same shape; a NaN cPSNR
    gives a NaN score and ``inf`` (a perfect SR) gives 0.
    """
    c = to_float64(as_tensor(cpsnr, "cpsnr", "probav_score"))
    nv = to_float64(as_tensor(norm, "norm", "probav_score")).to(c.device)
    if c.shape != nv.shape:
        raise InputValueError(
            f"probav_score: cpsnr shape {tuple(c.shape)} differs from norm shape "
            f"{tuple(nv.shape)}; pass one norm.csv value per scene, in the same order"
        )
    if not bool((torch.isfinite(nv) & (nv > 0)).all()):
        raise InputValueError(
            "probav_score: norm values must be finite and > 0 (the dB values of norm.csv); "
            "check the scene ids you looked up"
        )
    if bool((c <= 0).any()):
        raise InputValueError(
            "probav_score: cPSNR values must be > 0 dB; a non-positive cPSNR means the SR is "
            "on the wrong value scale (PROBA-V values are uint16/65535)"
        )
    return nv / c


def dataset_score(cpsnr: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """The challenge score of a set of scenes: the mean of :func:`probav_score` (0-D float64).

    Raises :class:`~satsr.errors.InputValueError` when a scene's cPSNR is NaN (no clear pixel)
    or the set is empty, rather than returning a NaN score.
    """
    scores = probav_score(cpsnr, norm).flatten()
    if scores.numel() == 0:
        raise InputValueError("dataset_score: no scenes given; pass at least one cPSNR value")
    nan = torch.isnan(scores)
    if bool(nan.any()):
        bad = torch.nonzero(nan).flatten().tolist()
        raise InputValueError(
            f"dataset_score: scene(s) {bad} have a NaN cPSNR (no clear HR pixel); drop them "
            "from the set before averaging"
        )
    return scores.mean()
