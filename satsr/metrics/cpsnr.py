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

Implementation: the 49 masked sums are expanded (Σd = Σ M·HR − Σ M·SR, Σd² = Σ M·HR² −
2 Σ M·HR·SR + Σ M·SR², both images centred first); an estimate of every shift's cMSE with a
rigorous rounding bound selects the candidate shifts — usually one — and ``cpsnr`` evaluates
those exactly from the definition in float64, so it returns the exact minimum and matches a
per-shift reference loop to ~1e-13 dB, even when shifts are nearly tied. On the CPU the whole
computation runs in a compiled kernel (:mod:`satsr.metrics._shift_kernel`: float32 direct
cross-correlation, float64 box sums, sparse per-cloud corrections, threads over images); on
other devices the estimate is a float32 FFT grid over the batch (real FFTs plus a partial
inverse DFT, as only 49 lags are needed). ``cmse_per_shift`` returns the float64 FFT grid
(differentiable; relative error ~1e-12 on real images). The training losses
(:func:`corrected_error`) choose the shift the same way, then differentiate the error at that
shift only. A window with a single clear pixel has cMSE 0 (the bias absorbs it), hence cPSNR
``inf``, exactly as the definition gives.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Literal, overload

import numpy as np
import torch

from satsr.errors import InputValueError
from satsr.metrics import _shift_kernel
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


def _validate(sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None, border: int,
              name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
    """The pair as tensors, the bool clear mask ((N, 1|C, H, W) or None) and the border, each
    checked (shapes, devices, dtypes; not yet the values)."""
    sr, hr = check_pair(sr, hr, name)
    border = check_crop(border, sr.shape, name, name="border")
    m = None if hr_mask is None else check_mask(hr_mask, sr.shape, sr.device, name,
                                                name="hr_mask")
    return sr, hr, m, border


def _prepare(
    sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None, border: int, name: str,
    dtype: torch.dtype = _F64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
    """Validate; return cropped SR and HR (both in ``dtype``), the bool clear mask (None = all
    clear) and the border. HR is finite everywhere on return: NaN/inf under concealed pixels
    (allowed) are replaced by 0; every later use multiplies HR by the mask."""
    sr, hr, m, border = _validate(sr, hr, hr_mask, border, name)
    src = crop_hw(sr, border)
    check_finite(src, "SR", name, fix=SR_FIX, what="scored (border-cropped) ")
    hr_d = hr.to(dtype)
    if m is None:
        check_finite(hr_d, "HR", name, fix=HR_FIX, what="clear ")
        return src.to(dtype), hr_d, None, border
    if not bool(torch.isfinite(hr_d.sum())):  # one pass; the fill below is the rare case
        hr_d = hr_d.masked_fill(~m, 0.0)
        check_finite(hr_d, "HR", name, fix=HR_FIX, what="clear ")
    return src.to(dtype), hr_d, m, border


def _window_sums(x: torch.Tensor, count: int, *, square: bool = False) -> torch.Tensor:
    """Sums of ``x`` (or ``x²``) (..., L) over its ``count`` windows of length L − count + 1.

    Returns (..., count). Each window sum is the total minus the few values left out on either
    side; with ``square`` the total is a fused dot product (no squared copy of ``x``).
    """
    size = x.shape[-1]
    length = size - count + 1
    if square:
        total = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square()
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


@functools.lru_cache(maxsize=32)
def _dft_tables(hh: int, ww: int, su: int, sv: int, dtype: torch.dtype,
                device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column tables of the partial inverse real DFT (see :func:`_first_lags`)."""
    dev = torch.device(device)
    f = torch.arange(hh, dtype=torch.int64, device=dev)
    u = torch.arange(su, dtype=torch.int64, device=dev)
    eu = torch.polar(torch.ones((), dtype=_F64, device=dev),
                     (2 * torch.pi / hh) * ((u[:, None] * f[None, :]) % hh).to(_F64))
    g = torch.arange(ww // 2 + 1, dtype=torch.int64, device=dev)
    v = torch.arange(sv, dtype=torch.int64, device=dev)
    weight = torch.full(g.shape, 2.0, dtype=_F64, device=dev)
    weight[0] = 1.0
    if ww % 2 == 0:
        weight[-1] = 1.0  # the Nyquist column appears once in the full spectrum
    ev = torch.polar(weight[:, None],
                     (2 * torch.pi / ww) * ((g[:, None] * v[None, :]) % ww).to(_F64))
    return eu.to(dtype) / (hh * ww), ev.to(dtype)


def _first_lags(spectrum: torch.Tensor, size: tuple[int, int], su: int, sv: int) -> torch.Tensor:
    """The first su×sv values of ``irfft2(spectrum, s=size)`` (P, su, sv), by two small DFTs.

    Only 49 lags of each correlation are needed, so a partial inverse transform (two complex
    matrix products with cached tables) replaces the full one; in the spectrum's precision.
    """
    eu, ev = _dft_tables(*size, su, sv, spectrum.dtype, str(spectrum.device))
    return (eu @ spectrum @ ev).real


class _Workspace:
    """Buffers reused across the chunks of one call. Elementwise passes over fresh multi-MB
    tensors cost page faults that, on virtual machines, take several times the arithmetic;
    reusing buffers removes them (measured: 0.58 → 0.08 ms per 3-image HR plane)."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, key: str, shape: tuple[int, ...], dtype: torch.dtype,
            device: torch.device, *, zero: bool = False) -> torch.Tensor:
        """A (shape) tensor for ``key``, uninitialised unless ``zero``: then zero-filled when
        made, so regions a caller never writes (an FFT input's padding) stay zero."""
        size = math.prod(shape)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < size or buf.dtype != dtype or buf.device != device:
            make = torch.zeros if zero else torch.empty
            buf = make(size, dtype=dtype, device=device)
            self._buffers[key] = buf
        return buf[:size].view(shape)


def _centred(x: torch.Tensor, mean: torch.Tensor, dtype: torch.dtype, ws: _Workspace | None,
             key: str) -> torch.Tensor:
    """``x − mean`` (P, ...) in ``x``'s precision, then rounded to ``dtype``: rounding errors
    are then relative to the centred values, which the error bounds are relative to."""
    if ws is None:
        return (x - mean).to(dtype)
    centred = torch.sub(x, mean, out=ws.get(key + "-in", tuple(x.shape), x.dtype, x.device))
    return centred if dtype == x.dtype else ws.get(key, tuple(x.shape), dtype, x.device).copy_(
        centred)


def _spectra(sr_c: torch.Tensor, hr_c: torch.Tensor, mm: torch.Tensor | None,
             ws: _Workspace | None) -> list[torch.Tensor]:
    """Real FFTs on the HR grid: [HR, conj SR] (+ [M, conj SR²] with a mask); SR (P, h, w) is
    zero-padded to HR's size. With a workspace the padded inputs reuse buffers and the
    conjugations are in place (the transforms' outputs are fresh: see below)."""
    p, hh, ww = hr_c.shape
    h, w = sr_c.shape[-2:]
    dev = hr_c.device
    if ws is None:
        pad = torch.nn.functional.pad(sr_c, (0, ww - w, 0, hh - h))
        out = [torch.fft.rfft2(hr_c), torch.fft.rfft2(pad).conj_physical()]
        if mm is not None:
            out += [torch.fft.rfft2(mm), torch.fft.rfft2(pad.square()).conj_physical()]
        return out
    pad = ws.get("sr-pad", (p, hh, ww), hr_c.dtype, dev, zero=True)
    pad[:, :h, :w] = sr_c  # the rest of the buffer stays zero
    # FFT outputs are fresh tensors: rfft2(out=) computes into a temporary and copies
    out = [torch.fft.rfft2(hr_c), torch.fft.rfft2(pad).conj_physical_()]
    if mm is not None:
        square = torch.mul(pad, pad, out=ws.get("sr2-pad", (p, hh, ww), hr_c.dtype, dev))
        out += [torch.fft.rfft2(mm), torch.fft.rfft2(square).conj_physical_()]
    return out


def _clear_mean(hr0: torch.Tensor, mm: torch.Tensor, ws: _Workspace | None) -> torch.Tensor:
    """Per-band mean of the clear pixels (N, C, 1, 1), to float32 accuracy — a centring
    constant, so it only has to be close; it depends on clear pixels alone, so concealed
    values cannot change any result (not even its rounding)."""
    n_img, c, hh, ww = hr0.shape
    flat = (n_img * c, 1, hh * ww)
    if ws is None:
        low = hr0.to(mm.dtype, copy=True).reshape(flat)
    else:
        low = ws.get("hr-low", flat, mm.dtype, hr0.device).copy_(hr0.reshape(flat))
    total = low.mul_(mm.reshape(flat)).sum(dim=-1)  # a copy in either case: in place is safe
    count = mm.sum(dim=(-2, -1)).clamp(min=1.0)
    return (total.reshape(n_img * c) / count).to(hr0.dtype).reshape(n_img, c, 1, 1)


def _shift_stats(src: torch.Tensor, hr0: torch.Tensor, mf: torch.Tensor | None,
                 dtype: torch.dtype, ws: _Workspace | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per band and shift: clear count n, Σd, Σd² (d = HR − SR over clear pixels) and a scale.

    ``src`` (N, C, h, w) cropped SR, ``hr0`` (N, C, H, W) HR (finite; concealed pixels are
    masked here), ``mf`` (N, 1|C, H, W) 0/1 clear mask or None (all clear). Both images are
    centred per band first, in their own precision (any constant works: it leaves every
    bias-corrected cMSE unchanged and keeps the expanded sums well conditioned). The HR-only
    terms are box sums; Σ M·HR·SR,
    Σ M·SR and Σ M·SR² are cross-correlations, computed with real FFTs — only Σ HR·SR when
    every pixel is clear (2 transforms, else 4). ``ws`` (no autograd) reuses buffers and
    works in place.
    """
    n_img, c, hh, ww = hr0.shape
    h, w = src.shape[-2:]
    su, sv = hh - h + 1, ww - w + 1
    flat, size, dims = (n_img * c, hh, ww), (hh, ww), (-2, -1)
    mean_sr = src.mean(dim=dims, keepdim=True)
    sr_c = _centred(src, mean_sr, dtype, ws, "sr").reshape(n_img * c, h, w)
    mm = None if mf is None else mf.expand(n_img, c, hh, ww).to(dtype).reshape(flat)
    mean_hr = hr0.mean(dim=dims, keepdim=True) if mm is None else _clear_mean(hr0, mm, ws)
    hr_c = _centred(hr0, mean_hr, dtype, ws, "hr").reshape(flat)
    if mm is None:
        n = hr_c.new_full((n_img * c, su, sv), float(h * w))
    else:
        hr_c = hr_c.mul_(mm) if ws is not None else hr_c * mm
        n = _box_sums(mm, su, sv)
    s_hr = _box_sums(hr_c, su, sv)
    s_hr2 = _box_sums(hr_c, su, sv, square=True)
    spectra = _spectra(sr_c, hr_c, mm, ws)
    f_hr, f_sr = spectra[0], spectra[1]
    sum_sr2 = torch.linalg.vector_norm(sr_c, dim=dims, keepdim=True).square()
    if mm is None:  # every window is fully clear: the mask terms do not depend on the shift
        s1 = s_hr - sr_c.sum(dim=dims, keepdim=True)
        cross = f_hr * f_sr if ws is None else f_hr.mul_(f_sr)
        s2 = s_hr2 + sum_sr2 - 2.0 * _first_lags(cross, size, su, sv)
    else:
        f_m, f_sr2 = spectra[2], spectra[3]
        s1 = s_hr - _first_lags(f_m * f_sr, size, su, sv)  # Σ M·HR − Σ M·SR
        if ws is None:
            rest = f_m * f_sr2 - 2.0 * (f_hr * f_sr)
        else:
            rest = f_m.mul_(f_sr2).sub_(f_hr.mul_(f_sr), alpha=2.0)
        s2 = s_hr2 + _first_lags(rest, size, su, sv)  # Σ M·HR² + Σ M·SR² − 2 Σ M·HR·SR
    scale = s_hr2 + sum_sr2
    shape = (n_img, c, su, sv)
    return n.reshape(shape), s1.reshape(shape), s2.reshape(shape), scale.reshape(shape)


#: Error bound of the expanded per-shift sums, relative to the centred images' mean square:
#: far above the rounding of the FFT and box sums (~u·log2(H·W) relative for FFTs), so the
#: exact best shift is always among the shifts within the bound of the grid's minimum.
_REL_ERR = {torch.float64: 1e-11, torch.float32: 1e-4}


def _cmse_grid(
    src: torch.Tensor, hr0: torch.Tensor, mf: torch.Tensor | None, dtype: torch.dtype = _F64,
    ws: _Workspace | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S, S) bias-corrected MSE per shift (+inf where no pixel is clear) and its error
    bound, both in ``dtype`` (float64: the public grid; float32: a fast shift preselection)."""
    n, s1, s2, scale = _shift_stats(src, hr0, mf, dtype, ws)
    n = n.round()  # window sums of a 0/1 mask are integers
    per_band = (s2 - s1.square() / n.clamp(min=1.0)).clamp(min=0.0)
    per_band = torch.where(n > 1, per_band, torch.zeros_like(per_band))  # 1 px: bias absorbs it
    total_n = n.sum(1).clamp(min=1.0)
    grid = per_band.sum(1) / total_n
    tol = _REL_ERR[dtype] * scale.sum(1) / total_n
    empty = n.sum(1) == 0
    return torch.where(empty, torch.full_like(grid, torch.inf), grid), tol


_CHUNK_ELEMENTS = 2**19  # images are scored in chunks of ~4 MB per float64 plane (cache-sized)


def _chunk_size(hr: torch.Tensor) -> int:
    """Images per chunk: ~``_CHUNK_ELEMENTS`` values of ``hr`` each, at least one image."""
    return max(1, _CHUNK_ELEMENTS // max(1, hr[0].numel()))


def _chunks(hr: torch.Tensor) -> list[slice]:
    """Slices of the batch dimension, :func:`_chunk_size` images each."""
    step = _chunk_size(hr)
    return [slice(i, i + step) for i in range(0, hr.shape[0], step)]


def _part(m: torch.Tensor | None, chunk: slice) -> torch.Tensor | None:
    """The chunk's clear mask as float32 0/1 values, or None when every pixel in it is clear
    (the fast path). Through uint8: bool kernels are several times slower; a bool tensor
    made by a byte view may hold values other than 0/1, hence the clamp."""
    if m is None:
        return None
    part = m[chunk].view(torch.uint8)
    if bool(part.amin() > 0):
        return None
    return part.to(torch.float32).clamp_(max=1.0)


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
    ws = None if torch.is_grad_enabled() and src.requires_grad else _Workspace()
    return torch.cat([_cmse_grid(src[c], hr0[c], _part(m, c), ws=ws)[0] for c in _chunks(hr0)])


def _windows(x: torch.Tensor, size: tuple[int, int], img: torch.Tensor, u: torch.Tensor,
             v: torch.Tensor) -> torch.Tensor:
    """Copies of the h×w windows ``x[img[k], :, u[k]:u[k]+h, v[k]:v[k]+w]``: (K, C, h, w)."""
    return x.unfold(2, size[0], 1).unfold(3, size[1], 1)[img, :, u, v]


def _errors_at(src: torch.Tensor, hr0: torch.Tensor, mf: torch.Tensor | None, img: torch.Tensor,
               u: torch.Tensor, v: torch.Tensor, *, power: int = 2,
               detach_bias: bool = False) -> torch.Tensor:
    """Mean ``|HR − SR − b|**power`` over the clear pixels of image ``img[k]`` at shift
    (u[k], v[k]), straight from the definition: (K,), in the dtype of ``src``/``hr0``.

    ``mf`` None = all clear. ``b`` is the mean of HR − SR over those pixels (per band);
    ``detach_bias`` stops its gradient. Two passes, as the definition reads; all candidates at
    once. Differentiable in ``src`` (the training losses' path).
    """
    h, w = src.shape[-2:]
    dims = (-2, -1)
    same = img.numel() == src.shape[0] and bool((img == torch.arange(
        src.shape[0], device=img.device)).all())
    d = _windows(hr0, (h, w), img, u, v) - (src if same else src[img])
    if mf is None:
        n = torch.full((*d.shape[:2], 1, 1), float(h * w), dtype=d.dtype, device=d.device)
    else:
        mw = _windows(mf, (h, w), img, u, v)
        d = d * mw
        n = mw.expand(d.shape).sum(dim=dims, keepdim=True)
    bias = (d.detach() if detach_bias else d).sum(dim=dims, keepdim=True) / n.clamp(min=1.0)
    r = d - bias
    if mf is not None:
        r = r * mw
    flat = r.flatten(1)
    total = torch.linalg.vecdot(flat, flat) if power == 2 else flat.abs().sum(1)
    return total / n.sum(dim=(1, 2, 3)).clamp(min=1.0)


#: Σ(d − δ)² = Σd² − n·δ² (one pass) loses ~log10 of this many digits at most (n·δ² up to
#: this multiple of the result: a bias much larger than the residual); beyond it, a second
#: pass. float64 keeps ≥ 12 digits, float32 (training-loss shift choice) ≥ 5.
_ONE_PASS_LIMIT = {torch.float64: 1e3, torch.float32: 10.0}


def _cmse_at(src: torch.Tensor, hr0: torch.Tensor, mf: torch.Tensor | None,
             img: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """cMSE of image ``img[k]`` at shift (u[k], v[k]) (K,), no gradient, from the definition.

    d = HR − SR over the clear pixels of the windows (gathered at once); each band's Σd and
    Σd² give Σ(d − δ)² = Σd² − n·δ², δ = mean d; bands whose bias dwarfs the residual
    (:data:`_ONE_PASS_LIMIT`) are recomputed in two passes, as the definition reads.
    """
    h, w = src.shape[-2:]
    dims = (-2, -1)
    d = _windows(hr0, (h, w), img, u, v).sub_(src[img])
    mw = None if mf is None else _windows(mf, (h, w), img, u, v)
    if mw is None:
        n = torch.full(d.shape[:2], float(h * w), dtype=d.dtype, device=d.device)
    else:
        d.mul_(mw)
        n = mw.sum(dim=dims, dtype=d.dtype).expand(d.shape[:2])
    s1 = d.sum(dim=dims)
    delta = s1 / n.clamp(min=1.0)
    sq = torch.linalg.vector_norm(d, dim=dims).square() - s1 * delta
    limit = _ONE_PASS_LIMIT.get(d.dtype, 10.0)
    redo = torch.nonzero((s1 * delta > limit * sq.clamp(min=0.0)).any(1)).flatten()
    if redo.numel():
        r = d[redo] - delta[redo][..., None, None]
        if mw is not None:
            r.mul_(mw[redo])
        sq = sq.index_put((redo,), torch.linalg.vector_norm(r, dim=dims).square())
    sq = torch.where(n > 1, sq.clamp(min=0.0), torch.zeros_like(sq))  # 1 px: bias absorbs it
    return sq.sum(1) / n.sum(1).clamp(min=1.0)


def _candidates(grid: torch.Tensor, tol: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(image, flat shift) of every shift whose grid value may be its image's minimum."""
    n_img = grid.shape[0]
    flat, flat_tol = grid.reshape(n_img, -1), tol.reshape(n_img, -1)
    bound = (flat + flat_tol).amin(1, keepdim=True)
    img, pos = torch.nonzero(torch.isfinite(flat) & (flat - flat_tol <= bound), as_tuple=True)
    return img, pos


def _best_shift(src: torch.Tensor, hr0: torch.Tensor, mf: torch.Tensor | None, ws: _Workspace,
                *, power: int = 2,
                detach_bias: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact minimum cMSE shift of each image and its error there: ((N,) value, (N,) index).

    A float32 grid preselects the shifts within its error bound of the minimum (usually one
    per image); only those are evaluated exactly, without gradients (in ``src``'s dtype). Ties
    go to the first shift in (u, v) order, as the reference loop does. ``value`` is the mean
    ``|error|**power`` at that shift — evaluated again, differentiably, when ``src`` needs a
    gradient or ``power`` is 1; +inf and index 0 for images without a clear pixel.
    """
    n_img, s = src.shape[0], 2 * ((hr0.shape[-1] - src.shape[-1]) // 2) + 1
    with torch.no_grad():
        grid, tol = _cmse_grid(src, hr0, mf, torch.float32, ws)
        if not bool(torch.isfinite(tol).all()):  # values beyond float32's range: float64 grid
            grid, tol = _cmse_grid(src, hr0, mf, _F64, ws)
        img, pos = _candidates(grid, tol)
        values = _cmse_at(src.detach(), hr0, mf, img, pos // s, pos % s)
        best = torch.full((n_img,), torch.inf, dtype=values.dtype, device=src.device)
        best = best.scatter_reduce(0, img, values, reduce="amin")
        key = torch.where(values == best[img], pos, torch.full_like(pos, s * s))
        index = torch.full((n_img,), s * s, dtype=pos.dtype, device=src.device)
        index = index.scatter_reduce(0, img, key, reduce="amin")
        found = index < s * s
    value = best
    if (power != 2 or (torch.is_grad_enabled() and src.requires_grad)) and bool(found.any()):
        idx = torch.nonzero(found).flatten()
        at = index[idx]
        other = _errors_at(src, hr0, mf, idx, at // s, at % s, power=power,
                           detach_bias=detach_bias)
        value = best.to(other.dtype).index_put((idx,), other)
    return value, index.clamp(max=s * s - 1)


def _on_kernel(x: object) -> bool:
    """CPU tensors and arrays are scored by the compiled kernel
    (:mod:`satsr.metrics._shift_kernel`); other devices by the tensor code above (FFT grid +
    exact re-evaluation)."""
    return not isinstance(x, torch.Tensor) or x.device.type == "cpu"


_Arrays = tuple[np.ndarray, np.ndarray, "np.ndarray | None", int]


def _kernel_inputs(sr: torch.Tensor, hr: torch.Tensor, hr_mask: torch.Tensor | None,
                   border: int, name: str, dtype: torch.dtype) -> _Arrays:
    """Validated NumPy views for the kernel: SR and HR (N, C, H, W) in float32 when ``dtype``
    is float32, else float64; the uint8 mask (N, 1|C, H, W) or None; the border."""
    sr, hr, m, border = _validate(sr, hr, hr_mask, border, name)
    kind = torch.float32 if dtype == torch.float32 else _F64
    return (sr.detach().to(kind).contiguous().numpy(), hr.detach().to(kind).contiguous().numpy(),
            None if m is None else m.contiguous().view(torch.uint8).numpy(), border)


def _kernel_best(arrays: _Arrays, sr: torch.Tensor, hr: torch.Tensor,
                 hr_mask: torch.Tensor | None, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact minimum cMSE (N,) float64 and its flat shift index (N,) by the CPU kernel (the
    sums and the exact evaluation are float64 whatever the input precision). NaN/inf in the
    scored SR or in clear HR raise :func:`_prepare`'s one-line error, finite values whose
    squares overflow float64 one of their own."""
    a, b, mk, border = arrays
    value, index, finite = _shift_kernel.best_shifts(a, b, mk, border, torch.get_num_threads())
    if not finite.all():
        _prepare(sr, hr, hr_mask, border, name)  # raises for NaN/inf
        bad = np.flatnonzero(~finite).tolist()
        raise InputValueError(
            f"{name}: image(s) {bad} hold values so large that their squares overflow float64 "
            f"(largest |value| {max(float(np.abs(a).max()), float(np.abs(b).max())):.3g}); "
            "rescale the images (e.g. to reflectance, or uint16/65535 for PROBA-V)")
    return torch.from_numpy(value), torch.from_numpy(index)


class _KernelError(torch.autograd.Function):
    """Mean ``|HR − SR − b|**power`` at given shifts by the CPU kernel, with its gradient in
    SR (:func:`satsr.metrics._shift_kernel.error_grad`); HR and the mask get none."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, sr: torch.Tensor,  # type: ignore[override]
                arrays: _Arrays, index: torch.Tensor, power: int,
                detach_bias: bool) -> torch.Tensor:
        a, b, mk, border = arrays
        value, sums = _shift_kernel.errors_at(a, b, mk, border, index.numpy(), power)
        ctx.state = (arrays, index.numpy(), power, sums, detach_bias, sr.dtype)  # type: ignore[attr-defined]
        return torch.from_numpy(value).to(sr.dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,  # type: ignore[override]
                 grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (a, b, mk, border), index, power, sums, detach_bias, dtype = ctx.state  # type: ignore[attr-defined]
        weight = grad_out.detach().to(_F64).cpu().numpy()
        grad = _shift_kernel.error_grad(a, b, mk, border, index, power, sums, weight,
                                        detach_bias)
        return torch.from_numpy(grad).to(dtype), None, None, None, None


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
    name = "corrected_error"
    grad = torch.is_grad_enabled() and isinstance(sr, torch.Tensor) and sr.requires_grad
    hr_grad = torch.is_grad_enabled() and isinstance(hr, torch.Tensor) and hr.requires_grad
    if _on_kernel(sr) and not hr_grad:
        arrays = _kernel_inputs(sr, hr, hr_mask, border, name, dtype)
        value, index = _kernel_best(arrays, sr, hr, hr_mask, name)
        if power == 2 and not grad:
            return value.to(dtype)
        x = sr if isinstance(sr, torch.Tensor) else torch.from_numpy(arrays[0])
        out = _KernelError.apply(x, arrays, index, power, detach_bias)
        assert isinstance(out, torch.Tensor)
        return out
    src, hr0, m, _ = _prepare(sr, hr, hr_mask, border, name, dtype=dtype)
    ws = _Workspace()
    # split, not slices: each slice's backward would build a zero gradient of the whole batch
    parts = src.split(_chunk_size(hr0))
    return torch.cat([_best_shift(part, hr0[c], _part(m, c), ws, power=power,
                                  detach_bias=detach_bias)[0]
                      for part, c in zip(parts, _chunks(hr0), strict=True)])


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
    if _on_kernel(sr):
        found = _kernel_best(_kernel_inputs(sr, hr, hr_mask, border, name, _F64), sr, hr,
                             hr_mask, name)
    else:
        src, hr0, m, border = _prepare(sr, hr, hr_mask, border, name)
        ws = _Workspace()
        with torch.no_grad():
            parts = [_best_shift(src[c], hr0[c], _part(m, c), ws) for c in _chunks(hr0)]
        found = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    cmse, index = found
    s = 2 * border + 1
    # the few per-image values in NumPy: a tensor operation here would wake torch's OpenMP
    # threads, which then spin for milliseconds and slow the next call's kernel threads
    c, i = cmse.cpu().numpy(), index.cpu().numpy()
    empty = np.isinf(c)
    with np.errstate(divide="ignore"):
        value = np.where(empty, np.nan, 10.0 * np.log10(dr * dr / c))
    uv = np.where(empty[:, None], -1, np.stack([i // s, i % s], axis=1))
    if empty.any():
        bad = np.flatnonzero(empty).tolist()
        warnings.warn(
            f"{name}: image(s) {bad} have no clear HR pixel under any of the {s * s} shifts; "
            "their cPSNR is NaN (exclude them from averages)",
            RuntimeWarning,
            stacklevel=2,
        )
    out = torch.from_numpy(value).to(cmse.device)
    if return_shift:
        return out, torch.from_numpy(uv).to(cmse.device)
    return out


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
