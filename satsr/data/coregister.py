"""Batched sub-pixel co-registration of LR chips against the HR image degraded to LR.

For a stack of chips (B, h, w), all at once (torch, CPU or GPU):

1. **Masked phase correlation.** Each image is normalised over its clear pixels (mean 0, std 1),
   cloudy/invalid pixels are set to 0 (the mean), a Tukey window tapers the edges, and the
   normalised cross-power spectrum ``G·F* / |G·F*|`` is inverted; the integer peak is refined by a
   matrix-multiply upsampled DFT around it (Guizar-Sicairos et al., Opt. Lett. 33, 2008),
   giving the shift to ~1/``upsample`` px. The peak height and the ratio to the highest peak
   outside a 5×5 neighbourhood grade the match.
   Whitening gives every frequency the same weight, so on band-limited content (smooth scenes,
   Landsat's soft MTF: most of the spectrum is noise) or with a clear-mask edge inside the chip
   its peak is pulled towards zero or lands on the wrong integer. Hence a second coarse
   estimate: an exhaustive **masked NCC over integer shifts** (FFT moment sums over the clear
   pixels of both, sampled from the margin-padded moving chip) with a parabolic sub-pixel fit.
2. **Masked Gauss–Newton refinement.** Starting from each coarse estimate, the shift
   ``(dy, dx)`` and a linear radiometric gain/bias are fitted by weighted least squares of ``ref ≈ g·mov(y+dy, x+dx) + b``
   over pixels clear in both images, where ``mov`` is resampled by separable Keys cubic
   convolution (a = −0.5, batched matrix products) from a chip read with a margin, so no
   border effects enter the fit. Of the two refined shifts, the one with the higher masked NCC
   after alignment is kept.
3. **Outlier rejection.** A shift larger than ``max_shift`` LR px, a peak ratio below
   ``min_peak_ratio``, or a masked NCC after alignment below the NCC before it marks the chip;
   the pipeline drops ``too_large`` chips and keeps the others unshifted (``status`` records why).

Convention: ``shift = (dy, dx)`` in LR pixels with ``mov(y + dy, x + dx) ≈ ref(y, x)``, i.e. the
LR content is displaced by ``(+dy, +dx)`` (down, right) relative to the reference;
:func:`apply_shift` resamples it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from satsr.resample import keys_kernel

STATUS_OK = "ok"
STATUS_LOW_PEAK = "low_peak"
STATUS_NO_IMPROVEMENT = "no_improvement"
STATUS_TOO_LARGE = "too_large"
STATUS_TOO_FEW = "too_few_clear"


@dataclass
class ShiftResult:
    """Per-chip results, arrays of shape (B,): shift (LR px), match quality, NCC, status."""

    dy: np.ndarray
    dx: np.ndarray
    peak: np.ndarray
    peak_ratio: np.ndarray
    ncc_before: np.ndarray
    ncc_after: np.ndarray
    status: np.ndarray  # str

    @property
    def magnitude(self) -> np.ndarray:
        """Shift length (LR px)."""
        return np.hypot(self.dy, self.dx)

    @property
    def accepted(self) -> np.ndarray:
        """True where the shift is trustworthy (status ``ok``)."""
        return np.asarray(self.status == STATUS_OK)


def _tukey(n: int, alpha: float, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(n, dtype=torch.float64) / max(n - 1, 1)
    w = torch.ones(n, dtype=torch.float64)
    edge = alpha / 2
    lo, hi = x < edge, x > 1 - edge
    w[lo] = 0.5 * (1 + torch.cos(math.pi * (2 * x[lo] / alpha - 1)))
    w[hi] = 0.5 * (1 + torch.cos(math.pi * (2 * x[hi] / alpha - 2 / alpha + 1)))
    return w.to(dtype)


def _normalise(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-std over mask ``m`` (per image), 0 outside the mask."""
    w = m.to(x.dtype)
    n = w.sum(dim=(-2, -1), keepdim=True).clamp_min(1)
    xz = torch.where(m, x, torch.zeros_like(x))
    mean = xz.sum(dim=(-2, -1), keepdim=True) / n
    var = (((xz - mean) * w) ** 2).sum(dim=(-2, -1), keepdim=True) / n
    return torch.where(m, (x - mean) / var.sqrt().clamp_min(1e-12), torch.zeros_like(x))


def masked_ncc(a: torch.Tensor, b: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Normalised cross-correlation of ``a`` and ``b`` over mask ``m`` per image → (B,)."""
    w = m.to(a.dtype)
    n = w.sum(dim=(-2, -1)).clamp_min(1)
    az = torch.where(m, a, torch.zeros_like(a))
    bz = torch.where(m, b, torch.zeros_like(b))
    ma = az.sum(dim=(-2, -1)) / n
    mb = bz.sum(dim=(-2, -1)) / n
    da = (az - ma[:, None, None]) * w
    db = (bz - mb[:, None, None]) * w
    num = (da * db).sum(dim=(-2, -1))
    den = (da.pow(2).sum(dim=(-2, -1)) * db.pow(2).sum(dim=(-2, -1))).sqrt().clamp_min(1e-12)
    return num / den


def phase_correlation(ref: torch.Tensor, mov: torch.Tensor, ref_mask: torch.Tensor,
                      mov_mask: torch.Tensor, *, upsample: int = 20, window: float = 0.3
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masked, windowed phase correlation of same-size stacks (B, h, w).

    Returns ``(shift (B, 2) as (dy, dx), peak (B,), peak_ratio (B,))`` with the convention of the
    module docstring, refined by an upsampled DFT to 1/``upsample`` px.
    """
    b, h, w = ref.shape
    dt = torch.float64
    win = _tukey(h, window, dt)[:, None] * _tukey(w, window, dt)[None, :]
    fa = torch.fft.fft2(_normalise(ref.to(dt), ref_mask) * win)
    fb = torch.fft.fft2(_normalise(mov.to(dt), mov_mask) * win)
    cross = fb * fa.conj()
    cross = cross / cross.abs().clamp_min(1e-12)
    surf = torch.fft.ifft2(cross).real  # peak at +shift
    flat = surf.reshape(b, -1)
    peak, idx = flat.max(dim=1)
    py, px = idx // w, idx % w
    # second peak outside a 5x5 neighbourhood (circular)
    yy = torch.arange(h)[None, :, None]
    xx = torch.arange(w)[None, None, :]
    dy_c = torch.remainder(yy - py[:, None, None] + h // 2, h) - h // 2
    dx_c = torch.remainder(xx - px[:, None, None] + w // 2, w) - w // 2
    near = (dy_c.abs() <= 2) & (dx_c.abs() <= 2)
    second = torch.where(near, torch.full_like(surf, -math.inf), surf).reshape(b, -1).max(dim=1).values
    ratio = peak / second.clamp_min(1e-12)
    sy = torch.where(py > h // 2, py - h, py).to(dt)
    sx = torch.where(px > w // 2, px - w, px).to(dt)
    # upsampled DFT around the integer peak, +-0.75 px at 1/upsample spacing
    n_up = math.ceil(upsample * 0.75) * 2 + 1
    offs = (torch.arange(n_up, dtype=dt) - n_up // 2) / upsample
    ky = torch.fft.fftfreq(h, dtype=dt)  # cycles / px
    kx = torch.fft.fftfreq(w, dtype=dt)
    pos_y = sy[:, None] + offs[None, :]  # (B, n_up)
    pos_x = sx[:, None] + offs[None, :]
    ey = torch.exp(2j * math.pi * pos_y[:, :, None] * ky[None, None, :])  # (B, n_up, h)
    ex = torch.exp(2j * math.pi * pos_x[:, :, None] * kx[None, None, :])  # (B, n_up, w)
    up = (ey @ cross @ ex.transpose(1, 2)).real / (h * w)
    uidx = up.reshape(b, -1).argmax(dim=1)
    uy, ux = uidx // n_up, uidx % n_up
    shift = torch.stack([pos_y[torch.arange(b), uy], pos_x[torch.arange(b), ux]], dim=1)
    return shift, peak, ratio


def integer_search(ref: torch.Tensor, mov_pad: torch.Tensor, ref_mask: torch.Tensor,
                   mov_mask_pad: torch.Tensor, margin: int, radius: int, *,
                   min_overlap: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Exhaustive masked NCC over integer shifts within ±``radius`` LR px, sampled from the
    margin-padded moving chip (so no content leaves the window and no zero-filled mask edge or
    taper enters the score), with a parabolic sub-pixel fit per axis around the best one.

    ``ref`` (B, h, w), ``mov_pad`` (B, h+2·margin, w+2·margin), masks True where clear;
    ``radius <= margin``. Shifts whose overlap of clear pixels is below ``min_overlap`` of the
    zero-shift overlap are not considered. Returns ``(shift (B, 2) as (dy, dx), best NCC (B,))``.
    """
    b, h, w = ref.shape
    rad = min(radius, margin)
    dt = torch.float64
    crop = (slice(None), slice(margin - rad, margin + rad + h), slice(margin - rad, margin + rad + w))
    rmf = ref_mask.to(dt)
    mmf = mov_mask_pad[crop].to(dt)
    # standardise first (over each image's clear pixels) so the moment sums below do not cancel
    r = _normalise(ref.to(dt), ref_mask)
    mv = _normalise(mov_pad[crop].to(dt), mov_mask_pad[crop])

    size = (h + 2 * rad, w + 2 * rad)  # no wrap-around for shifts 0 .. 2·rad of the crop
    big = [torch.fft.rfft2(v, s=size) for v in (mmf, mv * mmf, mv * mv * mmf)]
    ker = [torch.fft.rfft2(v, s=size).conj() for v in (rmf, r * rmf, r * r * rmf)]

    def xcorr(i: int, k: int) -> torch.Tensor:
        """Σ_{y,x} ker_k(y, x)·big_i(y + sy, x + sx), shift ``s`` at index ``s + rad``."""
        return torch.fft.irfft2(big[i] * ker[k], s=size)[:, :2 * rad + 1, :2 * rad + 1]

    n, sr, srr = xcorr(0, 0), xcorr(0, 1), xcorr(0, 2)
    sm, smm, srm = xcorr(1, 0), xcorr(2, 0), xcorr(1, 1)
    nn = n.clamp_min(1)
    cov = srm - sr * sm / nn
    var_r = (srr - sr * sr / nn).clamp_min(0)
    var_m = (smm - sm * sm / nn).clamp_min(0)
    ncc = cov / (var_r * var_m).sqrt().clamp_min(1e-12)
    n0 = n[:, rad, rad]
    enough = n >= min_overlap * n0[:, None, None].clamp_min(1)
    scores = torch.where(enough & (n > 1.5), ncc, torch.full_like(ncc, -math.inf))
    best, idx = scores.reshape(b, -1).max(dim=1)
    iy, ix = idx // (2 * rad + 1), idx % (2 * rad + 1)
    ar = torch.arange(b)

    def vertex(lo: torch.Tensor, mid: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        den = lo - 2 * mid + hi
        ok = torch.isfinite(lo) & torch.isfinite(hi) & (den < -1e-12)
        off = torch.where(ok, 0.5 * (lo - hi) / torch.where(ok, den, torch.ones_like(den)),
                          torch.zeros_like(den))
        return off.clamp(-0.5, 0.5)

    edge = 2 * rad
    fy = vertex(scores[ar, (iy - 1).clamp(0, edge), ix], best, scores[ar, (iy + 1).clamp(0, edge), ix])
    fx = vertex(scores[ar, iy, (ix - 1).clamp(0, edge)], best, scores[ar, iy, (ix + 1).clamp(0, edge)])
    fy = torch.where((iy > 0) & (iy < edge), fy, torch.zeros_like(fy))
    fx = torch.where((ix > 0) & (ix < edge), fx, torch.zeros_like(fx))
    shift = torch.stack([iy.to(torch.float64) - rad + fy, ix.to(torch.float64) - rad + fx], dim=1)
    return shift, best


def _keys_deriv(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    s = torch.sign(t)
    u = t.abs()
    near = 3 * (a + 2) * u * u - 2 * (a + 3) * u
    far = 3 * a * u * u - 10 * a * u + 8 * a
    return s * torch.where(u <= 1, near, torch.where(u < 2, far, torch.zeros_like(u)))


def shift_matrices(n: int, n_src: int, margin: int, d: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keys cubic matrices (B, n, n_src) sampling a margin-padded 1-D signal at ``i + margin + d``,
    their derivative with respect to ``d``, and the per-row validity (all taps inside)."""
    pos = torch.arange(n, dtype=d.dtype)[None, :] + margin + d[:, None]  # (B, n)
    base = torch.floor(pos)
    frac = (pos - base)[:, :, None]
    taps = torch.arange(-1, 3, dtype=d.dtype)[None, None, :]
    t = frac - taps  # (B, n, 4): distance to taps base-1 .. base+2
    idx = (base[:, :, None] + taps).long()
    inside = (idx[:, :, 0] >= 0) & (idx[:, :, 3] <= n_src - 1)
    idx = idx.clamp(0, n_src - 1)
    shape = (d.shape[0], n, n_src)
    mat = torch.zeros(shape, dtype=d.dtype).scatter_add_(2, idx, keys_kernel(t))
    der = torch.zeros(shape, dtype=d.dtype).scatter_add_(2, idx, _keys_deriv(t))
    return mat, der, inside


def _warp(mov_pad: torch.Tensor, n_y: int, n_x: int, margin: int, dy: torch.Tensor,
          dx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    my, dmy, in_y = shift_matrices(n_y, mov_pad.shape[-2], margin, dy)
    mx, dmx, in_x = shift_matrices(n_x, mov_pad.shape[-1], margin, dx)
    rows = my @ mov_pad
    mxt = mx.transpose(1, 2)
    out = rows @ mxt
    gy = (dmy @ mov_pad) @ mxt
    gx = rows @ dmx.transpose(1, 2)
    inside = in_y[:, :, None] & in_x[:, None, :]
    return out, gy, gx, inside


def _warp_mask(mask_pad: torch.Tensor, n_y: int, n_x: int, margin: int, dy: torch.Tensor,
               dx: torch.Tensor) -> torch.Tensor:
    """A pixel of the shifted image is clear only if every cubic tap is clear and inside."""
    b = mask_pad.shape[0]
    bad = (~mask_pad).to(dy.dtype)
    pos_y = torch.arange(n_y, dtype=dy.dtype)[None, :] + margin + dy[:, None]
    pos_x = torch.arange(n_x, dtype=dx.dtype)[None, :] + margin + dx[:, None]
    fy = torch.floor(pos_y).long()
    fx = torch.floor(pos_x).long()
    ky = torch.arange(mask_pad.shape[-2])[None, None, :]
    kx = torch.arange(mask_pad.shape[-1])[None, None, :]
    sel_y = ((ky >= fy[:, :, None] - 1) & (ky <= fy[:, :, None] + 2)).to(dy.dtype)
    sel_x = ((kx >= fx[:, :, None] - 1) & (kx <= fx[:, :, None] + 2)).to(dx.dtype)
    hits = sel_y @ bad @ sel_x.transpose(1, 2)
    inside = ((fy - 1 >= 0) & (fy + 2 < mask_pad.shape[-2]))[:, :, None] & \
             ((fx - 1 >= 0) & (fx + 2 < mask_pad.shape[-1]))[:, None, :]
    return (hits < 0.5) & inside.expand(b, n_y, n_x)


def _blur(x: torch.Tensor, m: torch.Tensor, sigma: float) -> torch.Tensor:
    """Normalised (mask-aware) separable Gaussian blur of (B, H, W) over clear pixels."""
    if sigma <= 0:
        return x
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).reshape(1, 1, -1)
    w = m.to(x.dtype)

    def conv(img: torch.Tensor) -> torch.Tensor:
        b, h, wd = img.shape
        y = torch.nn.functional.conv1d(img.reshape(b * h, 1, wd), k, padding=r).reshape(b, h, wd)
        y = y.transpose(1, 2).reshape(b * wd, 1, h)
        return torch.nn.functional.conv1d(y, k, padding=r).reshape(b, wd, h).transpose(1, 2)

    num = conv(torch.where(m, x, torch.zeros_like(x)))
    den = conv(w).clamp_min(1e-12)
    return torch.where(m, num / den, torch.zeros_like(x))


def refine(ref: torch.Tensor, mov_pad: torch.Tensor, weight: torch.Tensor, mov_mask_pad: torch.Tensor,
           margin: int, init: torch.Tensor, *, iters: int = 8, reach: float = 0.3,
           sigma: float = 0.0) -> torch.Tensor:
    """Masked Gauss–Newton fit of the shift (B, 2) from ``init``, with the gain and bias of
    ``ref ≈ g·mov(y+dy, x+dx) + b`` re-solved in closed form at every step (variable projection).
    ``sigma > 0`` blurs both images by a Gaussian first (off by default: it biased the fit on
    the real-image tests). The shift stays within ``reach`` px of ``init`` and ``margin - 2`` px
    of zero; a chip whose fit hits that box, or whose masked NCC does not improve, keeps
    ``init``. Runs in float32 on the chips that still move (active set)."""
    b, h, w = ref.shape
    dt = torch.float32  # ample for 1e-3 px steps; halves the cost of the batched products
    if sigma > 0:  # ignore the border the blur could not see past
        rad = math.ceil(3 * sigma)
        inner = torch.zeros_like(weight)
        inner[:, rad:h - rad, rad:w - rad] = True
        weight = weight & inner
    ref_n = _normalise(_blur(ref.to(dt), weight, sigma), weight)
    mov_pad = _blur(mov_pad.to(dt), mov_mask_pad, sigma)
    init = init.to(dt)
    ref = ref.to(dt)
    shift = init.clone()
    lim = float(margin) - 2.0

    def ncc_at(sh: torch.Tensor) -> torch.Tensor:
        out, _, _, inside = _warp(mov_pad, h, w, margin, sh[:, 0], sh[:, 1])
        mm = _warp_mask(mov_mask_pad, h, w, margin, sh[:, 0], sh[:, 1])
        return masked_ncc(ref_n, out, weight & inside & mm)

    # pixels usable for every shift within reach of init: clear taps at init, eroded by one px
    mm0 = _warp_mask(mov_mask_pad, h, w, margin, init[:, 0], init[:, 1])
    span = math.ceil(reach)
    mm0 = -torch.nn.functional.max_pool2d(-(mm0.to(dt))[:, None], 2 * span + 1, 1, span)[:, 0] > 0.5
    active = torch.ones(b, dtype=torch.bool)
    for _ in range(iters):  # only chips that still move are iterated (active set)
        idx = active.nonzero()[:, 0]
        if len(idx) == 0:
            break
        k = len(idx)
        sh = shift[idx]
        out, gy, gx, inside = _warp(mov_pad[idx], h, w, margin, sh[:, 0], sh[:, 1])
        m = (weight[idx] & inside & mm0[idx]).to(dt)
        rn = ref_n[idx]
        n = m.sum(dim=(1, 2)).clamp_min(1)
        mo = (out * m).sum(dim=(1, 2)) / n
        mr = (rn * m).sum(dim=(1, 2)) / n
        oc = (out - mo[:, None, None]) * m
        var = (oc * oc).sum(dim=(1, 2)).clamp_min(1e-12)
        gain = (oc * (rn - mr[:, None, None])).sum(dim=(1, 2)) / var
        bias = mr - gain * mo
        res = (rn - gain[:, None, None] * out - bias[:, None, None]) * m
        # derivatives, centred so the step is orthogonal to the bias term
        jy = gain[:, None, None] * gy
        jx = gain[:, None, None] * gx
        jy = (jy - ((jy * m).sum(dim=(1, 2)) / n)[:, None, None]) * m
        jx = (jx - ((jx * m).sum(dim=(1, 2)) / n)[:, None, None]) * m
        jf = torch.stack([jy, jx], dim=-1).reshape(k, -1, 2)
        jtj = jf.transpose(1, 2) @ jf + 1e-9 * torch.eye(2, dtype=dt)
        jtr = jf.transpose(1, 2) @ res.reshape(k, -1, 1)
        step = torch.linalg.solve(jtj, jtr)[..., 0].clamp(-0.5, 0.5)
        ini = init[idx]
        new = torch.minimum(torch.maximum(sh + step, ini - reach), ini + reach)
        shift[idx] = new.clamp(-lim, lim)
        active[idx] = step.abs().amax(dim=1) >= 1e-3
    # a fit that runs to the edge of its box slid along an edge (aperture problem): keep init
    free = ((shift - init).abs() < reach - 1e-3).all(dim=1)
    better = (ncc_at(shift) >= ncc_at(init.clamp(-lim, lim))) & free
    return torch.where(better[:, None], shift, init).to(torch.float64)


def estimate_shifts(
    ref: np.ndarray | torch.Tensor,
    mov_pad: np.ndarray | torch.Tensor,
    ref_mask: np.ndarray | torch.Tensor | None = None,
    mov_mask_pad: np.ndarray | torch.Tensor | None = None,
    *,
    margin: int = 0,
    upsample: int = 20,
    refine_iters: int = 8,
    max_shift: float = 3.0,
    min_peak_ratio: float = 1.1,
    min_clear: float = 0.25,
) -> ShiftResult:
    """Estimate per-chip shifts of ``mov_pad`` (B, h+2·margin, w+2·margin) against ``ref`` (B, h, w).

    Both are single-band float stacks (any radiometric scale); masks are True where clear.
    ``margin`` LR pixels around the moving chip let the refinement and :func:`apply_shift`
    sample beyond the chip's edges; with ``margin=0`` the refinement step is skipped.
    """
    ref_t = torch.as_tensor(np.asarray(ref) if not isinstance(ref, torch.Tensor) else ref).to(torch.float64)
    mov_t = torch.as_tensor(np.asarray(mov_pad) if not isinstance(mov_pad, torch.Tensor) else mov_pad
                            ).to(torch.float64)
    b, h, w = ref_t.shape
    if b == 0:
        e = np.zeros(0)
        return ShiftResult(e, e, e, e, e, e, np.zeros(0, dtype=object))
    rm = (torch.ones_like(ref_t, dtype=torch.bool) if ref_mask is None
          else torch.as_tensor(np.asarray(ref_mask, dtype=bool)))
    mm = (torch.ones_like(mov_t, dtype=torch.bool) if mov_mask_pad is None
          else torch.as_tensor(np.asarray(mov_mask_pad, dtype=bool)))
    rm = rm & torch.isfinite(ref_t)
    mm = mm & torch.isfinite(mov_t)
    ref_t = torch.nan_to_num(ref_t)
    mov_t = torch.nan_to_num(mov_t)
    core = (slice(None), slice(margin, margin + h), slice(margin, margin + w))
    shift, peak, ratio = phase_correlation(ref_t, mov_t[core], rm, mm[core], upsample=upsample)
    both = rm & mm[core]
    clear_frac = both.to(torch.float64).mean(dim=(1, 2))
    ncc_before = masked_ncc(ref_t, mov_t[core], both)
    if margin >= 3 and refine_iters > 0:
        lim = margin - 2.0
        mov_z = torch.where(mm, mov_t, torch.zeros((), dtype=torch.float64))

        def ncc_at(sh: torch.Tensor) -> torch.Tensor:
            warped, _, _, inside = _warp(mov_z, h, w, margin, sh[:, 0], sh[:, 1])
            wm = _warp_mask(mm, h, w, margin, sh[:, 0], sh[:, 1])
            return masked_ncc(ref_t, warped, rm & wm & inside)

        # two starts: the phase-correlation peak, and the exhaustive masked-NCC integer search
        # (robust where whitening is not: band-limited content, clear-mask edges inside the chip)
        from_pc = refine(ref_t, mov_t, rm, mm, margin, shift.clamp(-lim, lim), iters=refine_iters)
        coarse, _ = integer_search(ref_t, mov_t, rm, mm, margin, math.ceil(max_shift) + 1)
        from_ncc = refine(ref_t, mov_t, rm, mm, margin, coarse.clamp(-lim, lim),
                          iters=refine_iters, reach=0.6)
        n_pc, n_ncc = ncc_at(from_pc), ncc_at(from_ncc)
        use_ncc = n_ncc > n_pc
        shift = torch.where(use_ncc[:, None], from_ncc, from_pc)
        ncc_after = torch.where(use_ncc, n_ncc, n_pc)
    else:
        ncc_after = ncc_before.clone()
    dy = shift[:, 0].numpy()
    dx = shift[:, 1].numpy()
    status = np.full(b, STATUS_OK, dtype=object)
    status[ratio.numpy() < min_peak_ratio] = STATUS_LOW_PEAK
    status[ncc_after.numpy() < ncc_before.numpy() - 1e-6] = STATUS_NO_IMPROVEMENT
    status[np.hypot(dy, dx) > max_shift] = STATUS_TOO_LARGE
    status[clear_frac.numpy() < min_clear] = STATUS_TOO_FEW
    return ShiftResult(dy=dy, dx=dx, peak=peak.numpy(), peak_ratio=ratio.numpy(),
                       ncc_before=ncc_before.numpy(), ncc_after=ncc_after.numpy(), status=status)


def apply_shift(images_pad: np.ndarray, mask_pad: np.ndarray, dy: np.ndarray, dx: np.ndarray,
                margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample margin-padded chips (B, C, h+2m, w+2m) at ``(y + dy, x + dx)`` by Keys cubic
    convolution → (B, C, h, w) float32 and a clear mask (B, h, w) (clear only where every tap
    was clear and inside the padded chip)."""
    x = torch.as_tensor(np.asarray(images_pad, dtype=np.float64))
    m = torch.as_tensor(np.asarray(mask_pad, dtype=bool)) & torch.isfinite(x).all(dim=1)
    _bsz, _c, hp, wp = x.shape
    h, w = hp - 2 * margin, wp - 2 * margin
    ty = torch.as_tensor(np.asarray(dy, dtype=np.float64))
    tx = torch.as_tensor(np.asarray(dx, dtype=np.float64))
    my, _, _ = shift_matrices(h, hp, margin, ty)
    mx, _, _ = shift_matrices(w, wp, margin, tx)
    xz = torch.where(m[:, None], x, torch.zeros((), dtype=torch.float64))
    out = my[:, None] @ xz @ mx[:, None].transpose(-1, -2)
    om = _warp_mask(m, h, w, margin, ty, tx)
    out = torch.where(om[:, None], out, torch.full((), math.nan, dtype=torch.float64))
    return out.to(torch.float32).numpy(), om.numpy()


def degrade(hr: np.ndarray, factor: int = 3) -> np.ndarray:
    """Area-average (…, H, W) by ``factor`` (NaN propagates) → (…, H/factor, W/factor)."""
    *lead, hh, ww = hr.shape
    blocks = hr.reshape(*lead, hh // factor, factor, ww // factor, factor)
    return np.asarray(blocks.mean(axis=(-3, -1)))


__all__ = ["STATUS_LOW_PEAK", "STATUS_NO_IMPROVEMENT", "STATUS_OK", "STATUS_TOO_FEW",
           "STATUS_TOO_LARGE", "ShiftResult", "apply_shift", "degrade", "estimate_shifts",
           "integer_search", "masked_ncc", "phase_correlation", "refine"]
