"""Compiled (numba) kernel for the best PROBA-V shift of each image, on the CPU.

For every image and band it forms the per-shift clear count n, Σd and Σd² (d = HR − SR over
the clear pixels of the shifted window) from the expansion

    Σd  = Σ M·HR − Σ M·SR,      Σd² = Σ M·HR² − 2 Σ M·HR·SR + Σ M·SR²,

with both images centred first (SR by a mean of its scored pixels, HR by a mean of its clear
pixels, so concealed values never enter). The HR-only terms are float64 box sums read straight
from the inputs. Σ M·HR·SR is one direct correlation of float32 planes (eight lags and two SR
rows per pass, vectorised; for values outside float32's safe range there is no estimate and
every shift is evaluated exactly).
Σ M·SR and Σ M·SR² are the all-clear totals, minus what each cloudy pixel hides when few are
cloudy, or two more correlations when many are. These sums only *select*: every shift whose
estimate lies within its rounding bound (derived from the planes' precision, relative to
Σ M·HR² + Σ SR²) of the minimum is evaluated exactly from the definition in float64, and the
first minimum in (u, v) order wins — the choice of a per-shift reference loop.

About one pass of arithmetic per image instead of ~30 tensor operations (see
``benchmarks/bench_cpsnr.py``); images are split into contiguous blocks, one per thread (the
kernels release the GIL). :mod:`satsr.metrics.cpsnr` validates the inputs; the scratch planes
(:class:`Scratch`) are reused across calls. :func:`errors_at` and :func:`error_grad` give the
training losses their value and gradient at the chosen shifts.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

#: reassociation (vectorised sums) and fused multiply-add; NaN/inf semantics are kept
_FAST = {"reassoc", "contract"}
#: lags per pass of a correlation (accumulators kept in registers)
_LAGS = 8
#: rounding bound of the float64 expanded sums relative to the centred images' mean square
#: (row dot products summed over rows: ~(w + h)·2⁻⁵³ ≈ 1e-13; generous)
_REL_ERR = 1e-11
#: the exact evaluation's one-pass Σ(d − δ)² = Σd² − n·δ² loses at most log10 of this many
#: of float64's ~16 digits (n·δ² up to this multiple of the result); beyond, a second pass
_ONE_PASS_LIMIT = 1e3
#: cloudy pixels up to this fraction of a window: sparse corrections, else correlations
_SPARSE_FRACTION = 0.125
#: float32 correlation only when Σ SR² + Σ M·HR² of the centred planes is in this range: no
#: value or row sum of products can overflow, and subnormal rounding stays far below the bound
_F32_RANGE = (1e-60, 1e34)


def _pad(sv: int) -> int:
    """Zero columns either side of the cropped SR planes: ≥ 16 (:func:`_corr`'s row tail)
    and ≥ sv rounded up to the lags (:func:`_sparse`)."""
    return max(16, _LAGS * ((sv + _LAGS - 1) // _LAGS))


@numba.njit(fastmath=_FAST, cache=True, nogil=True, inline="always")
def _dots(ar: np.ndarray, br: np.ndarray, wl: int, v0: int) -> tuple:
    """Σ_x ar[x + v0 + e]·br[x] for e < 8 (x < wl), in the inputs' precision."""
    a0, a1 = ar[v0:v0 + wl], ar[v0 + 1:v0 + 1 + wl]
    a2, a3 = ar[v0 + 2:v0 + 2 + wl], ar[v0 + 3:v0 + 3 + wl]
    a4, a5 = ar[v0 + 4:v0 + 4 + wl], ar[v0 + 5:v0 + 5 + wl]
    a6, a7 = ar[v0 + 6:v0 + 6 + wl], ar[v0 + 7:v0 + 7 + wl]
    r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = br[0] * np.float32(0.0)  # b's precision
    for x in range(wl):
        bv = br[x]
        r0 += a0[x] * bv
        r1 += a1[x] * bv
        r2 += a2[x] * bv
        r3 += a3[x] * bv
        r4 += a4[x] * bv
        r5 += a5[x] * bv
        r6 += a6[x] * bv
        r7 += a7[x] * bv
    return (r0, r1, r2, r3, r4, r5, r6, r7)


@numba.njit(fastmath=_FAST, cache=True, nogil=True, inline="always")
def _dots2(ar: np.ndarray, br: np.ndarray, bs: np.ndarray, wl: int, v0: int) -> tuple:
    """:func:`_dots` of ``ar`` with two rows at once (each ``ar`` value loaded once)."""
    a0, a1 = ar[v0:v0 + wl], ar[v0 + 1:v0 + 1 + wl]
    a2, a3 = ar[v0 + 2:v0 + 2 + wl], ar[v0 + 3:v0 + 3 + wl]
    a4, a5 = ar[v0 + 4:v0 + 4 + wl], ar[v0 + 5:v0 + 5 + wl]
    a6, a7 = ar[v0 + 6:v0 + 6 + wl], ar[v0 + 7:v0 + 7 + wl]
    r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = br[0] * np.float32(0.0)
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = br[0] * np.float32(0.0)
    for x in range(wl):
        bv = br[x]
        cv = bs[x]
        x0, x1, x2, x3 = a0[x], a1[x], a2[x], a3[x]
        x4, x5, x6, x7 = a4[x], a5[x], a6[x], a7[x]
        r0 += x0 * bv
        r1 += x1 * bv
        r2 += x2 * bv
        r3 += x3 * bv
        r4 += x4 * bv
        r5 += x5 * bv
        r6 += x6 * bv
        r7 += x7 * bv
        s0 += x0 * cv
        s1 += x1 * cv
        s2 += x2 * cv
        s3 += x3 * cv
        s4 += x4 * cv
        s5 += x5 * cv
        s6 += x6 * cv
        s7 += x7 * cv
    return (r0, r1, r2, r3, r4, r5, r6, r7), (s0, s1, s2, s3, s4, s5, s6, s7)


@numba.njit(fastmath=_FAST, cache=True, nogil=True, inline="always")
def _add(out: np.ndarray, u: int, v0: int, rs: tuple) -> None:
    """``out[u, v0 + e] += rs[e]`` (float64) for the lags that exist."""
    for e in range(8):
        if v0 + e < out.shape[1]:
            out[u, v0 + e] += np.float64(rs[e])


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _corr(a: np.ndarray, b: np.ndarray, off: int, out: np.ndarray, h: int, w: int) -> None:
    """``out[u, v] += Σ_{y<h, x<w} a[y+u, x+v]·b[y, off+x]`` for every (u, v) of ``out``.

    Eight lags per pass and two ``b`` rows per ``a`` row (16 accumulators in registers, each
    loaded ``a`` value used twice); rows run to a multiple of 16 values (no scalar tail):
    ``b`` needs 15 zero columns after its data, ``a`` ``w + su + 23`` columns, zero beyond
    its data (extra lags and columns read padding; extra lags are dropped). Row dot products
    are taken in the inputs' precision and summed over rows in float64: error ≤ ~w·2⁻ᵖ
    relative to Σ|a·b|.
    """
    su, sv = out.shape[0], out.shape[1]
    wl = (w + 15) // 16 * 16
    y = 0
    while y + 1 < h:  # b rows y and y + 1 meet a row y + u at shifts u and u − 1
        br, bs = b[y, off:off + wl], b[y + 1, off:off + wl]
        for u in range(su + 1):
            ar = a[y + u]
            for v0 in range(0, sv, 8):
                if u == 0:
                    _add(out, 0, v0, _dots(ar, br, wl, v0))
                elif u == su:
                    _add(out, su - 1, v0, _dots(ar, bs, wl, v0))
                else:
                    first, second = _dots2(ar, br, bs, wl, v0)
                    _add(out, u, v0, first)
                    _add(out, u - 1, v0, second)
        y += 2
    if y < h:
        br = b[y, off:off + wl]
        for u in range(su):
            for v0 in range(0, sv, 8):
                _add(out, u, v0, _dots(a[y + u], br, wl, v0))


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _sparse(b: np.ndarray, off: int, cols: np.ndarray, starts: np.ndarray, out: np.ndarray,
            out2: np.ndarray) -> None:
    """``out[u, v] −= Σ b[y, off + t − v]`` and ``out2[u, v] −= Σ b[y, off + t − v]²`` over
    the cloudy HR pixels (y + u, t): what a cloud hides under each shift. ``b``'s zero
    padding (``off`` ≥ sv columns either side) makes windows that miss a cloud add zeros, so
    no bounds are checked; sums in float64."""
    su, sv = out.shape[0], out.shape[1]
    groups = (sv + 7) // 8
    acc = np.zeros((su, groups, 16))  # [u, g, e]: lag 8g + 7 − e (e < 8), squares at 8 + e
    for y in range(b.shape[0]):
        row = b[y]
        for u in range(su):
            for g in range(groups):
                r = acc[u, g]
                for k in range(starts[y + u], starts[y + u + 1]):
                    j = cols[k] + off - 8 * g - 7
                    for e in range(8):
                        val = np.float64(row[j + e])
                        r[e] += val
                        r[8 + e] += val * val
    for u in range(su):
        for g in range(groups):
            for e in range(8):
                v = 8 * g + 7 - e
                if v < sv:
                    out[u, v] -= acc[u, g, e]
                    out2[u, v] -= acc[u, g, 8 + e]


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _window_rows(rows: np.ndarray, out: np.ndarray, h: int) -> None:
    """``out[u, v] = Σ rows[u:u+h, v]``: the box sums from per-row window sums."""
    su, sv = out.shape[0], out.shape[1]
    for v in range(sv):
        total = 0.0
        for r in range(h):
            total += rows[r, v]
        out[0, v] = total
        for u in range(1, su):
            total += rows[u + h - 1, v] - rows[u - 1, v]
            out[u, v] = total


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _box_hr(hr: np.ndarray, mk: np.ndarray, masked: bool, c: int, mean: float,
            out: np.ndarray, out2: np.ndarray, h: int, w: int) -> None:
    """Box sums of the centred clear HR values of band ``c`` (``out``) and of their squares
    (``out2``) over every shift's h×w window, straight from the inputs."""
    su, sv = out.shape[0], out.shape[1]
    cm = c if mk.shape[0] > 1 else 0
    rows = np.empty((h + su - 1, sv))
    rows2 = np.empty((h + su - 1, sv))
    vals = np.empty(w + sv - 1)
    for r in range(h + su - 1):
        hrow = hr[c, r, :w + sv - 1]
        if masked:
            mrow = mk[cm, r, :w + sv - 1]
            for x in range(w + sv - 1):
                vals[x] = hrow[x] - mean if mrow[x] != 0 else 0.0
        else:
            for x in range(w + sv - 1):
                vals[x] = hrow[x] - mean
        total = 0.0
        total2 = 0.0
        for x in range(w):
            total += vals[x]
            total2 += vals[x] * vals[x]
        rows[r, 0] = total
        rows2[r, 0] = total2
        for v in range(1, sv):  # slide the window one column
            lo, hi = vals[v - 1], vals[v + w - 1]
            total += hi - lo
            total2 += hi * hi - lo * lo
            rows[r, v] = total
            rows2[r, v] = total2
    _window_rows(rows, out, h)
    _window_rows(rows2, out2, h)


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _box_mask(mk: np.ndarray, c: int, out: np.ndarray, h: int, w: int) -> None:
    """Clear count of band ``c``'s mask in every shift's h×w window."""
    su, sv = out.shape[0], out.shape[1]
    cm = c if mk.shape[0] > 1 else 0
    rows = np.empty((h + su - 1, sv))
    for r in range(h + su - 1):
        mrow = mk[cm, r, :w + sv - 1]
        total = 0.0
        for x in range(w):
            total += 1.0 if mrow[x] != 0 else 0.0
        rows[r, 0] = total
        for v in range(1, sv):
            total += (1.0 if mrow[v + w - 1] != 0 else 0.0) - (1.0 if mrow[v - 1] != 0 else 0.0)
            rows[r, v] = total
    _window_rows(rows, out, h)


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _window_sums(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, c: int, b: int,
                 u: int, v: int, delta: float) -> tuple[float, float, int]:
    """Σ(d − δ), Σ(d − δ)² and the count over the clear pixels of band ``c``'s window at
    (u, v), d = HR − SR, in float64."""
    h, w = sr.shape[1] - 2 * b, sr.shape[2] - 2 * b
    cm = c if mk.shape[0] > 1 else 0
    s = 0.0
    q = 0.0
    n = 0
    for y in range(h):
        hrow = hr[c, y + u, v:v + w]
        srow = sr[c, y + b, b:b + w]
        if masked:
            mrow = mk[cm, y + u, v:v + w]
            for x in range(w):
                clear = mrow[x] != 0
                e = (np.float64(hrow[x]) - np.float64(srow[x])) - delta
                s += e if clear else 0.0
                q += e * e if clear else 0.0
                n += 1 if clear else 0
        else:
            for x in range(w):
                e = (np.float64(hrow[x]) - np.float64(srow[x])) - delta
                s += e
                q += e * e
            n += w
    return s, q, n


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _exact(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, b: int, u: int,
           v: int) -> float:
    """cMSE of one image (C, H, W) at shift (u, v) from the definition: per band the mean
    ``δ`` of d = HR − SR over the window's clear pixels and Σ(d − δ)²; summed over bands and
    divided by the clear count (+inf when nothing is clear). One pass gives Σd and Σd², so
    Σ(d − δ)² = Σd² − n·δ²; a band whose n·δ² exceeds :data:`_ONE_PASS_LIMIT` times that
    (a bias dwarfing the residual: digits would cancel) takes the second pass."""
    num = 0.0
    count = 0
    for c in range(sr.shape[0]):
        s, q, n = _window_sums(sr, hr, mk, masked, c, b, u, v, 0.0)
        count += n
        if n < 2:
            continue  # one clear pixel: the bias absorbs it
        delta = s / n
        rest = q - s * delta
        if s * delta > _ONE_PASS_LIMIT * rest:
            rest = _window_sums(sr, hr, mk, masked, c, b, u, v, delta)[1]
        num += max(rest, 0.0)
    return num / count if count > 0 else math.inf


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _centring(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, c: int,
              b: int) -> tuple[float, float]:
    """Centring constants of band ``c``: the means of every 4th row of the scored SR and of
    the clear pixels of every 4th HR row (all rows if those hold none; 0 if none is clear).
    Any constant would do; a close one keeps the expanded sums well conditioned."""
    h, w = sr.shape[1] - 2 * b, sr.shape[2] - 2 * b
    cm = c if mk.shape[0] > 1 else 0
    total = 0.0
    rows = 0
    for y in range(0, h, 4):
        srow = sr[c, y + b, b:b + w]
        rows += 1
        for x in range(w):
            total += srow[x]
    mean_sr = total / (rows * w)
    for step in (4, 1):
        total = 0.0
        n = 0
        for y in range(0, hr.shape[1], step):
            hrow = hr[c, y]
            if masked:
                mrow = mk[cm, y]
                for x in range(hr.shape[2]):
                    clear = mrow[x] != 0
                    total += hrow[x] if clear else 0.0
                    n += 1 if clear else 0
            else:
                for x in range(hr.shape[2]):
                    total += hrow[x]
                n += hr.shape[2]
        if n > 0:
            return mean_sr, total / n
    return mean_sr, 0.0


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _centre(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, c: int, b: int,
            mean_sr: float, mean_hr: float, sc: np.ndarray,
            hc: np.ndarray) -> tuple[float, float, float, int]:
    """Fill band ``c``'s centred planes (float32 or float64): ``sc`` = SR − mean over the
    cropped h×w, written from the middle (zero padding either side serves the sparse
    corrections), ``hc`` = HR − clear mean on clear pixels, 0 elsewhere. Returns, from the
    exact (float64) values, Σ SR² + Σ M·HR² (not finite when the scored SR or a clear HR
    pixel holds NaN/inf), Σ SR, Σ SR² and the clear count."""
    h = sr.shape[1] - 2 * b
    w = sr.shape[2] - 2 * b
    off = (sc.shape[1] - w) // 2
    cm = c if mk.shape[0] > 1 else 0
    total = 0.0
    total2 = 0.0
    for y in range(h):
        srow = sr[c, y + b, b:b + w]
        out = sc[y, off:off + w]
        for x in range(w):
            val = srow[x] - mean_sr
            out[x] = val
            total += val
            total2 += val * val
    top = total2
    ww = hr.shape[2]
    n = 0
    for y in range(hr.shape[1]):
        hrow = hr[c, y]
        out = hc[y, :ww]
        if masked:
            mrow = mk[cm, y]
            for x in range(ww):
                clear = mrow[x] != 0
                val = hrow[x] - mean_hr if clear else 0.0
                out[x] = val
                top += val * val
                n += 1 if clear else 0
        else:
            for x in range(ww):
                val = hrow[x] - mean_hr
                out[x] = val
                top += val * val
            n += ww
    return top, total, total2, n


@numba.njit(cache=True, nogil=True)
def _clouds(mk: np.ndarray, c: int, cols: np.ndarray, starts: np.ndarray) -> None:
    """List band ``c``'s cloudy pixels row by row: the columns of row ``y`` are
    ``cols[starts[y]:starts[y + 1]]``."""
    cm = c if mk.shape[0] > 1 else 0
    k = 0
    for y in range(mk.shape[1]):
        starts[y] = k
        mrow = mk[cm, y]
        for x in range(mk.shape[2]):
            if mrow[x] == 0:
                cols[k] = x
                k += 1
    starts[mk.shape[1]] = k


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _dense_planes(mk: np.ndarray, c: int, sc: np.ndarray, sc2: np.ndarray,
                  mf: np.ndarray) -> None:
    """For the many-clouds path: ``sc2`` = ``sc``² and ``mf`` = band ``c``'s mask as 0/1 (the
    padding of both stays zero)."""
    for y in range(sc.shape[0]):
        row, out = sc[y], sc2[y]
        for x in range(sc.shape[1]):
            out[x] = row[x] * row[x]
    cm = c if mk.shape[0] > 1 else 0
    ww = mk.shape[2]
    for y in range(mk.shape[1]):
        mrow = mk[cm, y]
        out = mf[y, :ww]
        for x in range(ww):
            out[x] = 1.0 if mrow[x] != 0 else 0.0


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _shift_sums(hr: np.ndarray, mk: np.ndarray, masked: bool, c: int, mean_hr: float,
                clear: int, total_sr: float, total_sr2: float, planes: tuple,
                st: np.ndarray) -> None:
    """Per-shift n, Σd, Σd² and the scale (Σ M·HR² + Σ SR²) of band ``c`` into ``st[0..3]``
    (``st[4..6]``: work space), from centred ``planes`` (sc, sc2, hc, mf: float32 or
    float64, sc and hc filled by :func:`_centre`) and the band's clear count and SR sums."""
    sc, sc2, hc, mf, cols, starts = planes
    n, s1, s2, scale, cross, a, q = st[0], st[1], st[2], st[3], st[4], st[5], st[6]
    su, sv = n.shape[0], n.shape[1]
    hh, ww = hr.shape[1], hr.shape[2]
    h, w = hh - su + 1, ww - sv + 1
    off = (sc.shape[1] - w) // 2
    _box_hr(hr, mk, masked, c, mean_hr, s1, s2, h, w)
    cross[:, :] = 0.0
    _corr(hc, sc, off, cross, h, w)
    clouds = hh * ww - clear
    if clouds == 0:
        n[:, :] = h * w
    else:
        _box_mask(mk, c, n, h, w)
    if clouds <= _SPARSE_FRACTION * h * w:
        a[:, :] = total_sr
        q[:, :] = total_sr2
        if clouds:
            _clouds(mk, c, cols, starts)
            _sparse(sc, off, cols, starts, a, q)
    else:
        _dense_planes(mk, c, sc, sc2, mf)
        a[:, :] = 0.0
        q[:, :] = 0.0
        _corr(mf, sc, off, a, h, w)
        _corr(mf, sc2, off, q, h, w)
    for u in range(su):
        for v in range(sv):
            scale[u, v] = s2[u, v] + total_sr2
            s1[u, v] = s1[u, v] - a[u, v]
            s2[u, v] = s2[u, v] - 2.0 * cross[u, v] + q[u, v]


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _band_stats(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, c: int, b: int,
                planes: tuple, st: np.ndarray) -> float:
    """Per-shift statistics of band ``c`` into ``st`` (see :func:`_shift_sums`) from float32
    planes. Returns the grid's rounding bound relative to the scale; +inf when the centred
    values are outside float32's safe range (no estimate: every shift is then evaluated
    exactly), NaN when the scored SR or a clear HR pixel holds NaN/inf."""
    w = sr.shape[2] - 2 * b
    mean_sr, mean_hr = _centring(sr, hr, mk, masked, c, b)
    top, total, total2, clear = _centre(sr, hr, mk, masked, c, b, mean_sr, mean_hr,
                                        planes[0], planes[2])
    if not math.isfinite(top):
        return math.nan
    if not _F32_RANGE[0] < top < _F32_RANGE[1]:
        return math.inf
    _shift_sums(hr, mk, masked, c, mean_hr, clear, total, total2, planes, st)
    # float32 row dot products and rounded values: ≤ ~5·(w + 2)·2⁻²⁴ of the scale
    return _REL_ERR + 8.0 * (w + 2) * 2.0**-24


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _grid(st: np.ndarray, rel: float, acc: np.ndarray) -> None:
    """Add one band's bias-corrected Σ(d − δ)², n and rounding bound per shift to
    ``acc[0..2]``."""
    n, s1, s2, scale = st[0], st[1], st[2], st[3]
    for u in range(n.shape[0]):
        for v in range(n.shape[1]):
            k = n[u, v]
            if k > 1:
                acc[0, u, v] += max(s2[u, v] - s1[u, v] * s1[u, v] / k, 0.0)
            acc[1, u, v] += k
            acc[2, u, v] += rel * scale[u, v]


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _best(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, b: int,
          acc: np.ndarray, every: bool) -> tuple[float, int]:
    """Exact minimum over the shifts whose grid value may be the minimum (over every shift
    with ``every``), first in (u, v) order on ties: (cMSE, flat shift index); (+inf, last
    index) when nothing is clear."""
    su, sv = acc.shape[1], acc.shape[2]
    bound = math.inf
    for u in range(su):
        for v in range(sv):
            if acc[1, u, v] > 0:
                bound = min(bound, (acc[0, u, v] + acc[2, u, v]) / acc[1, u, v])
    best = math.inf
    index = su * sv - 1
    for u in range(su):
        for v in range(sv):
            skip = acc[1, u, v] <= 0 or (acc[0, u, v] - acc[2, u, v]) / acc[1, u, v] > bound
            if skip and not every:
                continue
            value = _exact(sr, hr, mk, masked, b, u, v)
            if value < best:
                best = value
                index = u * sv + v
    return best, index


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _image(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, b: int, slot: tuple,
           stats: np.ndarray) -> tuple[float, int, bool]:
    """(cMSE, shift index, finite) of one image (C, H, W) with one scratch slot."""
    st, acc = stats[:7], stats[7:]
    acc[:, :, :] = 0.0
    every = False
    for c in range(sr.shape[0]):
        rel = _band_stats(sr, hr, mk, masked, c, b, slot, st)
        if math.isnan(rel):
            return math.inf, 0, False
        if math.isinf(rel):
            every = True  # no estimate for this band: evaluate every shift exactly
        else:
            _grid(st, rel, acc)
    value, index = _best(sr, hr, mk, masked, b, acc, every)
    return value, index, True


@numba.njit(cache=True, nogil=True)
def _any_cloud(mk: np.ndarray) -> bool:
    """Whether any pixel of one image's mask (C, H, W) is cloudy (zero)."""
    for c in range(mk.shape[0]):
        for y in range(mk.shape[1]):
            mrow = mk[c, y]
            low = 1
            for x in range(mk.shape[2]):
                low = min(low, mrow[x])
            if low == 0:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _run(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, b: int,
         slot: tuple, stats: np.ndarray, value: np.ndarray, index: np.ndarray,
         finite: np.ndarray) -> None:
    """Best shift of images ``sr``/``hr`` (N, C, H, W) into ``value``/``index``/``finite``
    (N,) with one scratch slot; releases the GIL, so threads can run blocks side by side."""
    for i in range(sr.shape[0]):
        mi = mk[i] if masked else mk[0]
        # an all-clear mask takes the unmasked path: the same bits as no mask at all
        value[i], index[i], finite[i] = _image(sr[i], hr[i], mi, masked and _any_cloud(mi), b,
                                               slot, stats)


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _residual_sums(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, b: int,
                   index: np.ndarray, power: int, bias: np.ndarray, count: np.ndarray,
                   signs: np.ndarray) -> np.ndarray:
    """Per image i at flat shift ``index[i]``: each band's bias (mean of d = HR − SR over the
    window's clear pixels) into ``bias`` (N, C), its clear count into ``count`` (N, C), the
    sum of sign(d − bias) over them into ``signs`` (N, C); returns Σ|d − bias|^power / Σ n
    per image (N,), +inf when nothing is clear."""
    n_img, n_band = sr.shape[0], sr.shape[1]
    s = 2 * b + 1
    out = np.empty(n_img)
    for i in range(n_img):
        u, v = index[i] // s, index[i] % s
        mi = mk[i] if masked else mk[0]
        num = 0.0
        total = 0
        for c in range(n_band):
            d, _, n = _window_sums(sr[i], hr[i], mi, masked, c, b, u, v, 0.0)
            delta = d / n if n > 0 else 0.0
            bias[i, c] = delta
            count[i, c] = n
            total += n
            if power == 1:
                q, signs[i, c] = _abs_sums(sr[i], hr[i], mi, masked, c, b, u, v, delta)
            else:
                q = _window_sums(sr[i], hr[i], mi, masked, c, b, u, v, delta)[1]
            num += q
        out[i] = num / total if total > 0 else math.inf
    return out


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _abs_sums(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, c: int, b: int,
              u: int, v: int, delta: float) -> tuple[float, float]:
    """Σ|d − δ| and Σ sign(d − δ) over the clear pixels of band ``c``'s window at (u, v)."""
    h, w = sr.shape[1] - 2 * b, sr.shape[2] - 2 * b
    cm = c if mk.shape[0] > 1 else 0
    q = 0.0
    sg = 0.0
    for y in range(h):
        hrow = hr[c, y + u, v:v + w]
        srow = sr[c, y + b, b:b + w]
        mrow = mk[cm, y + u if masked else 0]
        for x in range(w):
            clear = (not masked) or mrow[v + x] != 0
            e = (np.float64(hrow[x]) - np.float64(srow[x])) - delta
            sign = (1.0 if e > 0 else 0.0) - (1.0 if e < 0 else 0.0)
            q += abs(e) if clear else 0.0
            sg += sign if clear else 0.0
    return q, sg


@numba.njit(fastmath=_FAST, cache=True, nogil=True)
def _residual_grad(sr: np.ndarray, hr: np.ndarray, mk: np.ndarray, masked: bool, b: int,
                   index: np.ndarray, power: int, bias: np.ndarray, count: np.ndarray,
                   signs: np.ndarray, weight: np.ndarray, detach_bias: bool,
                   grad: np.ndarray) -> None:
    """Gradient in SR of ``weight[i]`` × the value :func:`_residual_sums` returned, into
    ``grad`` (same shape as ``sr``, zero on the border and for images of weight 0).

    With r = d − bias and N the clear count over bands: power 2 gives −2·r/N on clear pixels
    (the bias term vanishes, as Σ r = 0); power 1 gives −sign(r)/N, plus Σ sign(r)/(n_c·N)
    for band c unless the bias is detached.
    """
    n_img, n_band = sr.shape[0], sr.shape[1]
    h, w = sr.shape[2] - 2 * b, sr.shape[3] - 2 * b
    s = 2 * b + 1
    for i in range(n_img):
        grad[i] = 0.0
        total = 0.0
        for c in range(n_band):
            total += count[i, c]
        if weight[i] == 0.0 or total == 0.0:
            continue
        u, v = index[i] // s, index[i] % s
        mi = mk[i] if masked else mk[0]
        for c in range(n_band):
            cm = c if mi.shape[0] > 1 else 0
            delta = bias[i, c]
            scale = weight[i] / total
            shift = 0.0
            if power == 1 and not detach_bias and count[i, c] > 0:
                shift = signs[i, c] / count[i, c]
            for y in range(h):
                hrow = hr[i, c, y + u, v:v + w]
                srow = sr[i, c, y + b, b:b + w]
                grow = grad[i, c, y + b, b:b + w]
                mrow = mi[cm, y + u if masked else 0]
                for x in range(w):
                    clear = (not masked) or mrow[v + x] != 0
                    e = (np.float64(hrow[x]) - np.float64(srow[x])) - delta
                    sign = (1.0 if e > 0 else 0.0) - (1.0 if e < 0 else 0.0)
                    g = -2.0 * e if power == 2 else shift - sign
                    grow[x] = scale * g if clear else 0.0


def _mask_or_placeholder(mask: np.ndarray | None) -> np.ndarray:
    """The uint8 mask, or a one-pixel placeholder when there is none (the kernels read it
    only when told the images are masked)."""
    return mask if mask is not None else np.ones((1, 1, 1, 1), dtype=np.uint8)


def errors_at(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray | None, border: int,
              index: np.ndarray, power: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Mean ``|HR − SR − bias|**power`` of each image at flat shift ``index`` (N,) float64,
    and the per-band sums :func:`error_grad` needs (same array conventions as
    :func:`best_shifts`)."""
    n_img, n_band = sr.shape[0], sr.shape[1]
    bias, count, signs = (np.zeros((n_img, n_band)) for _ in range(3))
    mk = _mask_or_placeholder(mask)
    value = _residual_sums(sr, hr, mk, mask is not None, border, index, power, bias, count,
                           signs)
    return value, (bias, count, signs)


def error_grad(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray | None, border: int,
               index: np.ndarray, power: int, sums: tuple[np.ndarray, ...],
               weight: np.ndarray, detach_bias: bool) -> np.ndarray:
    """Gradient in SR (shape and dtype of ``sr``) of Σ weight[i]·value[i] of :func:`errors_at`."""
    grad = np.empty_like(sr)
    mk = _mask_or_placeholder(mask)
    bias, count, signs = sums
    _residual_grad(sr, hr, mk, mask is not None, border, index, power, bias, count, signs,
                   weight, detach_bias, grad)
    return grad


class Scratch:
    """Work planes reused across calls (fresh multi-MB arrays cost page faults that exceed
    the arithmetic), one slot per thread; a lock makes concurrent callers take turns."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._arrays: dict[str, np.ndarray] = {}

    def _get(self, key: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
        arr = self._arrays.get(key)
        if arr is None or arr.shape[0] < shape[0] or arr.shape[1:] != shape[1:]:
            arr = np.zeros(shape, dtype=dtype)  # zeros: padding columns must read 0
            self._arrays[key] = arr
        return arr[:shape[0]]

    def slots(self, blocks: int, hh: int, ww: int, border: int) -> tuple[list[tuple], np.ndarray]:
        """``blocks`` scratch slots for (hh, ww) images and their per-shift statistics. A
        slot holds float32 planes (cropped SR, its square, HR, mask) and a row-by-row cloud
        list."""
        s = 2 * border + 1
        crop = self._get("crop", (blocks, 2, hh - 2 * border, ww - 2 * border + 2 * _pad(s)),
                         np.float32)
        full = self._get("full", (blocks, 2, hh, ww + _LAGS + 16), np.float32)  # see _corr
        cols = self._get("cols", (blocks, hh * ww), np.int32)
        starts = self._get("starts", (blocks, hh + 1), np.int64)
        slots = [(crop[t, 0], crop[t, 1], full[t, 0], full[t, 1], cols[t], starts[t])
                 for t in range(blocks)]
        return slots, self._get("stats", (blocks, 10, s, s))


_SCRATCH = Scratch()


def best_shifts(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray | None, border: int,
                threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact minimum cMSE and its flat shift index per image, and a finiteness flag.

    ``sr``, ``hr``: C-contiguous (N, C, H, W) float32 or float64 (one dtype); ``mask``:
    C-contiguous (N, 1|C, H, W) uint8, nonzero = clear, or None (all clear). Images whose
    scored SR or clear HR hold NaN/inf get ``finite`` False (value and index meaningless);
    +inf and the last index mean no clear pixel under any shift. ``threads`` contiguous
    blocks of images run side by side (the kernel releases the GIL).
    """
    n_img, _, hh, ww = hr.shape
    s = 2 * border + 1
    blocks = max(1, min(threads, n_img))
    value = np.full(n_img, math.inf)
    index = np.full(n_img, s * s - 1, dtype=np.int64)
    finite = np.ones(n_img, dtype=np.bool_)
    mk = _mask_or_placeholder(mask)
    edges = np.linspace(0, n_img, blocks + 1).round().astype(int)

    def block(t: int) -> None:
        part = slice(edges[t], edges[t + 1])
        _run(sr[part], hr[part], mk[part] if mask is not None else mk, mask is not None,
             border, slots[t], stats[t], value[part], index[part], finite[part])

    with _SCRATCH.lock:
        slots, stats = _SCRATCH.slots(blocks, hh, ww, border)
        others = [_pool(blocks - 1).submit(block, t) for t in range(1, blocks)]
        block(0)  # this thread takes the first block
        for job in others:
            job.result()
    return value, index, finite


_POOL: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A persistent pool of ``workers`` threads (starting threads per call costs
    milliseconds: more than a batch of small images takes)."""
    if workers not in _POOL:
        _POOL[workers] = ThreadPoolExecutor(max(1, workers), thread_name_prefix="satsr-cpsnr")
    return _POOL[workers]
