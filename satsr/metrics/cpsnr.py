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
    sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None, border: int, name: str,
    dtype: torch.dtype = _F64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Validate; return cropped SR and zero-filled HR (in ``dtype``), the bool mask, border."""
    sr, hr = check_pair(sr, hr, name)
    border = check_crop(border, sr.shape, name, name="border")
    if hr_mask is None:
        m = torch.ones((sr.shape[0], 1, *sr.shape[-2:]), dtype=torch.bool, device=sr.device)
    else:
        m = check_mask(hr_mask, sr.shape, sr.device, name, name="hr_mask")
    src = crop_hw(sr, border)
    check_finite(src, "SR", name, fix=SR_FIX, what="scored (border-cropped) ")
    hr0 = hr.to(dtype) if hr_mask is None else torch.where(
        m, hr.to(dtype), torch.zeros((), dtype=dtype, device=sr.device))
    check_finite(hr0, "HR", name, fix=HR_FIX, what="clear ")  # concealed pixels are 0 now
    return src.to(dtype), hr0, m, border


def _window_sums(x: torch.Tensor, count: int, *, square: bool = False) -> torch.Tensor:
    """Sums of ``x`` (or ``x²``) (..., L) over its ``count`` windows of length L − count + 1.

    Returns (..., count). Each window sum is the total minus the few values left out on either
    side; with ``square`` the total is a fused dot product (no squared copy of ``x``).
    """
    size = x.shape[-1]
    length = size - count + 1
    if square:
        total = torch.linalg.vecdot(x, x).unsqueeze(-1)
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
    matrix products) replaces the full one. Works in the spectrum's precision.
    """
    hh, ww = size
    dev, real = spectrum.device, spectrum.real.dtype
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
    cdt = spectrum.dtype
    return (eu.to(cdt) @ spectrum @ ev.to(cdt)).real.to(real) / (hh * ww)


def _shift_stats(
    src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per band and shift: clear count n, Σd, Σd² (d = HR − SR over clear pixels) and a scale.

    ``src`` (N, C, h, w) cropped SR, ``hr0`` (N, C, H, W) HR with concealed pixels zeroed,
    ``m`` (N, 1|C, H, W) bool. Returns four (N, C, S, S) tensors in ``dtype``, S = H − h + 1;
    the last, Σ HR² + Σ SR² of the centred images, bounds the magnitude of the expanded terms
    (for error estimates). Both images are centred per band first, in their own precision
    (any constant works: it leaves every bias-corrected cMSE unchanged and keeps the expanded
    sums well conditioned).
    The HR-only terms are box sums; Σ M·HR·SR, Σ M·SR and Σ M·SR² are cross-correlations,
    computed with real FFTs — only Σ HR·SR when every pixel is clear.
    """
    n_img, c, hh, ww = hr0.shape
    h, w = src.shape[-2:]
    su, sv = hh - h + 1, ww - w + 1
    flat, size = (n_img * c, hh, ww), (hh, ww)
    hr_t = hr0.reshape(flat)
    sr_t = src.reshape(n_img * c, h, w)
    clear = bool(m.all())
    # centre in the inputs' precision, then round to ``dtype``: the rounding error is then
    # relative to the centred values, which the error bound (``_REL_ERR``) is relative to
    sr_c = (sr_t - sr_t.mean(dim=(1, 2), keepdim=True)).to(dtype)
    if clear:
        hr_c = (hr_t - hr_t.mean(dim=(1, 2), keepdim=True)).to(dtype)
        n = hr_c.new_full((n_img * c, su, sv), float(h * w))
    else:
        mb = m.expand(n_img, c, hh, ww).reshape(flat)
        mean_hr = hr_t.sum(dim=(1, 2), keepdim=True) / mb.sum(dim=(1, 2), keepdim=True).clamp(
            min=1).to(hr_t.dtype)
        hr_c = torch.where(mb, hr_t - mean_hr, torch.zeros((), dtype=hr_t.dtype,
                                                           device=hr_t.device)).to(dtype)
        mf = mb.to(dtype)
        n = _box_sums(mf, su, sv)
    s_hr = _box_sums(hr_c, su, sv)
    s_hr2 = _box_sums(hr_c, su, sv, square=True)
    f_hr = torch.fft.rfft2(hr_c)
    f_sr = torch.fft.rfft2(sr_c, s=size).conj()
    sum_sr2 = torch.linalg.vector_norm(sr_c, dim=(1, 2), keepdim=True).square()
    if clear:  # every window is fully clear: the mask terms do not depend on the shift
        s1 = s_hr - sr_c.sum(dim=(1, 2), keepdim=True)
        s2 = s_hr2 + sum_sr2 - 2.0 * _first_lags(f_hr * f_sr, size, su, sv)
    else:
        f_m = torch.fft.rfft2(mf)
        f_sr2 = torch.fft.rfft2(sr_c.square(), s=size).conj()
        s1 = s_hr - _first_lags(f_m * f_sr, size, su, sv)  # Σ M·HR − Σ M·SR
        s2 = s_hr2 + _first_lags((f_m * f_sr2).sub_(f_hr * f_sr, alpha=2.0), size, su, sv)
    scale = s_hr2 + sum_sr2
    shape = (n_img, c, su, sv)
    return n.reshape(shape), s1.reshape(shape), s2.reshape(shape), scale.reshape(shape)


#: Error bound of the expanded per-shift sums, relative to the centred images' mean square:
#: far above the rounding of the FFT and box sums (~u·log2(H·W) relative for FFTs), so the
#: exact best shift is always among the shifts within the bound of the grid's minimum.
_REL_ERR = {torch.float64: 1e-11, torch.float32: 1e-4}


def _cmse_grid(
    src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor, dtype: torch.dtype = _F64
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S, S) bias-corrected MSE per shift (+inf where no pixel is clear) and its error
    bound, both in ``dtype`` (float64: the public grid; float32: a fast shift preselection)."""
    n, s1, s2, scale = _shift_stats(src, hr0, m, dtype)
    n = n.round()  # window sums of a 0/1 mask are integers
    per_band = (s2 - s1.square() / n.clamp(min=1.0)).clamp(min=0.0)
    per_band = torch.where(n > 1, per_band, torch.zeros_like(per_band))  # 1 px: bias absorbs it
    total_n = n.sum(1).clamp(min=1.0)
    grid = per_band.sum(1) / total_n
    tol = _REL_ERR[dtype] * scale.sum(1) / total_n
    empty = n.sum(1) == 0
    return torch.where(empty, torch.full_like(grid, torch.inf), grid), tol


_CHUNK_ELEMENTS = 2**19  # images are scored in chunks of ~4 MB per float64 plane (cache-sized)


def _chunks(hr: torch.Tensor) -> list[slice]:
    """Slices of the batch dimension holding ~``_CHUNK_ELEMENTS`` values each."""
    per_image = max(1, hr[0].numel())
    step = max(1, _CHUNK_ELEMENTS // per_image)
    return [slice(i, i + step) for i in range(0, hr.shape[0], step)]


def cmse_per_shift(
    sr: torch.Tensor,
    hr: torch.Tensor,
    hr_mask: torch.Tensor | None = None,
    *,
    border: int = 3,
) -> torch.Tensor:
    """Bias-corrected MSE of every shift: (N, 2·border+1, 2·border+1), float64.

    Entry ``[i, u, v]`` is the cMSE of image ``i`` against ``HR[u:u+h, v:v+w]`` (see the module
    docstring), to ~1e-12 relative; shifts with no clear pixel are ``+inf`` so ``amin`` ignores
    them. Differentiable in ``sr``; for a training loss use :func:`corrected_error` (the best
    shift only, much cheaper). Inputs are validated as in :func:`cpsnr`.
    """
    src, hr0, m, _ = _prepare(sr, hr, hr_mask, border, "cmse_per_shift")
    return torch.cat([_cmse_grid(src[c], hr0[c], m[c])[0] for c in _chunks(hr0)])


def _errors_at(src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor | None, img: torch.Tensor,
               u: torch.Tensor, v: torch.Tensor, *, power: int = 2,
               detach_bias: bool = False) -> torch.Tensor:
    """Mean ``|HR − SR − b|**power`` over the clear pixels of image ``img[k]`` at shift
    (u[k], v[k]), straight from the definition: (K,), in the dtype of ``src``/``hr0``.

    ``m`` None = all clear. ``b`` is the mean of HR − SR over those pixels (per band);
    ``detach_bias`` stops its gradient. Two passes, as the definition reads (a one-pass
    Σd² − (Σd)²/n loses ~u·b²/cMSE relative, too much for nearly identical images); all
    candidates at once (a Python loop per candidate costs more than the copy it saves).
    """
    h, w = src.shape[-2:]
    dims = (-2, -1)
    same = img.numel() == src.shape[0] and bool((img == torch.arange(
        src.shape[0], device=img.device)).all())
    d = hr0.unfold(2, h, 1).unfold(3, w, 1)[img, :, u, v] - (src if same else src[img])
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    if m is None:
        n = torch.full((*d.shape[:2], 1, 1), float(h * w), dtype=d.dtype, device=d.device)
    else:
        mw = m.unfold(2, h, 1).unfold(3, w, 1)[img, :, u, v]
        d = torch.where(mw, d, zero)
        n = mw.expand(d.shape).sum(dim=dims, keepdim=True).to(d.dtype)
    bias = (d.detach() if detach_bias else d).sum(dim=dims, keepdim=True) / n.clamp(min=1.0)
    r = d - bias
    if m is not None:
        r = torch.where(mw, r, zero)
    flat = r.flatten(1)
    total = torch.linalg.vecdot(flat, flat) if power == 2 else flat.abs().sum(1)
    return total / n.sum(dim=(1, 2, 3)).clamp(min=1.0)


def _candidates(grid: torch.Tensor, tol: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(image, flat shift) of every shift whose grid value may be its image's minimum."""
    n_img = grid.shape[0]
    flat, flat_tol = grid.reshape(n_img, -1), tol.reshape(n_img, -1)
    bound = (flat + flat_tol).amin(1, keepdim=True)
    img, pos = torch.nonzero(torch.isfinite(flat) & (flat - flat_tol <= bound), as_tuple=True)
    return img, pos


def _best_shift(src: torch.Tensor, hr0: torch.Tensor, m: torch.Tensor, *, power: int = 2,
                detach_bias: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact minimum cMSE shift of each image and its error there: ((N,) value, (N,) index).

    A float32 grid preselects the shifts within its error bound of the minimum (usually one
    per image); only those are evaluated exactly (:func:`_errors_at`, in ``src``'s dtype).
    Ties go to the first shift in (u, v) order, as the reference loop does. ``value`` is the
    mean ``|error|**power`` at that shift (differentiable); +inf and index 0 for images
    without a clear pixel.
    """
    n_img, s = src.shape[0], 2 * ((hr0.shape[-1] - src.shape[-1]) // 2) + 1
    all_clear = bool(m.all())
    with torch.no_grad():
        img, pos = _candidates(*_cmse_grid(src, hr0, m, torch.float32))
    mm = None if all_clear else m
    values = _errors_at(src, hr0, mm, img, pos // s, pos % s, detach_bias=detach_bias)
    with torch.no_grad():
        best = torch.full((n_img,), torch.inf, dtype=values.dtype, device=src.device)
        best = best.scatter_reduce(0, img, values, reduce="amin")
        key = torch.where(values == best[img], pos, torch.full_like(pos, s * s))
        index = torch.full((n_img,), s * s, dtype=pos.dtype, device=src.device)
        index = index.scatter_reduce(0, img, key, reduce="amin")
        found = index < s * s
        chosen = torch.full((n_img,), -1, dtype=torch.int64, device=src.device)
        hit = torch.nonzero(pos == index[img]).flatten()
        chosen[img[hit]] = hit
    value = torch.where(found, values[chosen.clamp(min=0)] if values.numel() else best, best)
    if power != 2 and bool(found.any()):
        idx = torch.nonzero(found).flatten()
        at = index[idx]
        other = _errors_at(src, hr0, mm, idx, at // s, at % s, power=power,
                           detach_bias=detach_bias)
        value = value.index_put((idx,), other)
    return value, index.clamp(max=s * s - 1)


def corrected_error(
    sr: torch.Tensor,
    hr: torch.Tensor,
    hr_mask: torch.Tensor | None = None,
    *,
    border: int = 3,
    power: int = 2,
    detach_bias: bool = False,
) -> torch.Tensor:
    """Bias-corrected error of each image at its best shift, (N,), differentiable in ``sr``.

    The shift is the one :func:`cpsnr` scores (minimum cMSE, first in (u, v) order on ties);
    the value is the mean of ``|HR − SR − b|**power`` over its clear pixels: ``power=2`` is
    the cMSE that ``cpsnr`` turns into dB, ``power=1`` the cL1. Computed in ``sr``'s floating
    dtype (float32 for training, float64 for scoring); images without any clear pixel give
    ``+inf``. This is the training losses' implementation (:mod:`satsr.train.losses`): the
    gradient is that of the selected shift only, as for a min over the full grid.
    """
    if power not in (1, 2):
        raise InputValueError(f"corrected_error: power must be 1 or 2, got {power!r}")
    dtype = sr.dtype if isinstance(sr, torch.Tensor) and sr.is_floating_point() else _F64
    src, hr0, m, _ = _prepare(sr, hr, hr_mask, border, "corrected_error", dtype=dtype)
    return torch.cat([_best_shift(src[c], hr0[c], m[c], power=power,
                                  detach_bias=detach_bias)[0] for c in _chunks(hr0)])


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
    with torch.no_grad():
        parts = [_best_shift(src[c], hr0[c], m[c]) for c in _chunks(hr0)]
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
