"""Co-registration accuracy on the REAL Sentinel-2 image (bands 1-4), degraded to 30 m and
shifted by known sub-pixel offsets over ±2 LR px; plus outlier flags and shift application."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from scipy import ndimage

from satsr.errors import InputValueError
from satsr.fetch.coregister import (
    STATUS_OK,
    STATUS_SEARCH_EDGE,
    STATUS_TOO_LARGE,
    ShiftResult,
    apply_shift,
    degrade,
    estimate_shifts,
)
from satsr.testing.real_pair import S2_FILE

CHIP, MARGIN = 32, 6


def real_shift_stack_hr(l8s2_dir: Path, *, chip: int = CHIP, margin: int = MARGIN, steps: int = 9,
                        offsets: list[tuple[float, float]] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ref (B, chip, chip), ref_hr (B, 3·chip, 3·chip), mov (B, chip+2m, chip+2m), truth (B, 2))
    from the real S2 image.

    The 10 m image (mean of bands 1-4; band 5 is not spectral) is shifted by (3·ty, 3·tx) HR px
    with a cubic spline for ``steps``×``steps`` offsets over ±2 LR px (or the given ``offsets``),
    both versions are
    area-averaged x3, and chips are cut at a spread of places (land, water, coast)."""
    with rasterio.open(l8s2_dir / S2_FILE) as ds:
        img = ds.read([1, 2, 3, 4]).astype(np.float64).mean(axis=0) / 1e4
    img = img[:438, 1:439]  # column 0 and the last row are nodata
    lr_ref = degrade(img, 3)
    starts = np.linspace(margin + 2, lr_ref.shape[0] - chip - margin - 2, 3).astype(int)
    places = [(r, c) for r in starts for c in starts]
    refs, hrs, movs, truth = [], [], [], []
    grid = [(ty, tx) for ty in np.linspace(-2, 2, steps) for tx in np.linspace(-2, 2, steps)]
    for ty, tx in offsets if offsets is not None else grid:
        lr_mov = degrade(ndimage.shift(img, (3 * ty, 3 * tx), order=3, mode="nearest"), 3)
        for r, c in places:
            refs.append(lr_ref[r:r + chip, c:c + chip])
            hrs.append(img[3 * r:3 * (r + chip), 3 * c:3 * (c + chip)])
            movs.append(lr_mov[r - margin:r + chip + margin, c - margin:c + chip + margin])
            truth.append((ty, tx))
    return np.stack(refs), np.stack(hrs), np.stack(movs), np.array(truth)


def real_shift_stack(l8s2_dir: Path, *, chip: int = CHIP, margin: int = MARGIN,
                     steps: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`real_shift_stack_hr` without the HR chips."""
    ref, _, mov, truth = real_shift_stack_hr(l8s2_dir, chip=chip, margin=margin, steps=steps)
    return ref, mov, truth


def _check_accuracy(res: ShiftResult, truth: np.ndarray) -> None:
    err = np.hypot(res.dy - truth[:, 0], res.dx - truth[:, 1])
    assert np.median(err) <= 0.05, np.median(err)
    assert np.percentile(err, 95) <= 0.1, np.percentile(err, 95)
    assert (res.status == STATUS_OK).mean() > 0.9
    assert (res.ncc_after >= res.ncc_before - 1e-6).mean() > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("chip", [32, 64])
@pytest.mark.parametrize("steps", [7, 9, 10])
def test_accuracy_on_real_sentinel2(l8s2_dir: Path, chip: int, steps: int) -> None:
    """With the HR chips (as ``satsr fetch`` runs it), on offset grids at 2/3-, 1/2- and 4/9-px
    spacing: off the 1/2-px lattice is where interpolating the aliased LR chip biased fits."""
    ref, hr, mov, truth = real_shift_stack_hr(l8s2_dir, chip=chip, steps=steps)
    _check_accuracy(estimate_shifts(ref, mov, margin=MARGIN, ref_hr=hr), truth)


@pytest.mark.slow
def test_accuracy_without_hr_chips_on_half_pixel_grid(l8s2_dir: Path) -> None:
    """LR-only refinement meets the limits where the offsets sit on the 1/2-px lattice (at other
    offsets it is biased by aliasing: see ``benchmarks/bench_coregister.py``)."""
    ref, mov, truth = real_shift_stack(l8s2_dir)
    _check_accuracy(estimate_shifts(ref, mov, margin=MARGIN), truth)


def test_hr_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(InputValueError, match=r"ref_hr \(B, s·h, s·w\)"):
        estimate_shifts(np.zeros((2, 16, 16)), np.zeros((2, 28, 28)), margin=6,
                        ref_hr=np.zeros((2, 40, 48)))


def test_masked_and_outliers(l8s2_dir: Path) -> None:
    ref, mov, truth = real_shift_stack(l8s2_dir, steps=3)
    # clouds: mask a block of the moving chips and fill it with garbage
    mask = np.ones(mov.shape, bool)
    mask[:, 10:25, 10:25] = False
    mov_c = mov.copy()
    mov_c[~mask] = 5.0
    res = estimate_shifts(ref, mov_c, None, mask, margin=MARGIN)
    err = np.hypot(res.dy - truth[:, 0], res.dx - truth[:, 1])
    assert np.median(err) <= 0.1
    # a shift beyond max_shift is flagged too_large
    res2 = estimate_shifts(ref, mov, margin=MARGIN, max_shift=1.0)
    big = np.hypot(truth[:, 0], truth[:, 1]) > 1.2
    assert (res2.status[big] == STATUS_TOO_LARGE).all()


def test_apply_shift_realigns(l8s2_dir: Path) -> None:
    ref, mov, truth = real_shift_stack(l8s2_dir, steps=3)
    pick = np.flatnonzero((np.abs(truth) == 2).all(axis=1))[:9]
    assert len(pick) == 9
    res = estimate_shifts(ref[pick], mov[pick], margin=MARGIN)
    out, mask = apply_shift(mov[pick][:, None], np.ones(mov[pick].shape, bool), res.dy, res.dx, MARGIN)
    before = np.abs(mov[pick][:, MARGIN:-MARGIN, MARGIN:-MARGIN] - ref[pick]).mean()
    after = np.abs(out[:, 0] - ref[pick])[mask].mean()
    assert mask.mean() > 0.9
    assert after < 0.3 * before


def _dense_real_interpolant_peak(ref: np.ndarray, mov: np.ndarray, up: int, window: float
                                 ) -> np.ndarray:
    """Brute force: the maximum of the real trigonometric interpolant of the whitened
    cross-power surface (rfft convention) over a dense ±0.9 px grid at 1/``up`` px around its
    integer peak, per chip, in NumPy float64."""
    from satsr.fetch.coregister import _tukey

    h, w = ref.shape[-2:]
    win = _tukey(h, window, torch.float64).numpy()
    win = win[:, None] * win[None, :]

    def norm(a: np.ndarray) -> np.ndarray:  # tapered, minus its window-weighted mean
        mean = (a * win).sum(axis=(-2, -1), keepdims=True) / win.sum()
        return (a - mean) * win

    cross = np.fft.rfft2(norm(mov)) * np.fft.rfft2(norm(ref)).conj()
    cross /= np.maximum(np.abs(cross), 1e-12)
    surf = np.fft.irfft2(cross, s=(h, w))
    ky, kx = np.fft.fftfreq(h), np.arange(w // 2 + 1) / w
    twice = np.full(w // 2 + 1, 2.0)
    twice[0] = twice[-1] = 1.0
    k = int(np.ceil(0.9 * up))
    offs = np.arange(-k, k + 1) / up
    out = []
    for b in range(len(ref)):
        py, px = np.unravel_index(np.argmax(surf[b]), (h, w))
        py, px = (py - h if py > h // 2 else py), (px - w if px > w // 2 else px)
        ys, xs = py + offs, px + offs
        vals = (np.exp(2j * np.pi * ys[:, None] * ky) @ (cross[b] * twice)
                @ np.exp(2j * np.pi * xs[:, None] * kx).T).real
        i, j = np.unravel_index(np.argmax(vals), vals.shape)
        out.append((ys[i], xs[j]))
    return np.array(out)


@pytest.mark.parametrize("up", [10, 20, 100])
def test_two_stage_upsampled_peak_equals_dense_search(l8s2_dir: Path, up: int) -> None:
    """The coarse-then-fine DFT search finds the same maximum as a dense search of the same
    interpolant."""
    from satsr.fetch.coregister import phase_correlation

    ref, mov, _ = real_shift_stack(l8s2_dir, steps=5)
    core = np.ascontiguousarray(mov[:, MARGIN:-MARGIN, MARGIN:-MARGIN])
    ones = torch.ones(ref.shape, dtype=torch.bool)
    shift, _, _ = phase_correlation(torch.as_tensor(ref), torch.as_tensor(core), ones, ones,
                                    upsample=up, window=0.3)
    dense = _dense_real_interpolant_peak(ref, core, up, 0.3)
    np.testing.assert_allclose(shift.numpy(), dense, atol=1e-9)


def test_phase_correlation_agrees_with_skimage(l8s2_dir: Path) -> None:
    """Unwindowed, the batched phase correlation is skimage's algorithm: the same integer peak
    and the same sub-pixel peak to within one upsampling step (the two differ only in how the
    Nyquist terms of the interpolant are treated and skimage's use of |·| instead of Re)."""
    from skimage.registration import phase_cross_correlation

    from satsr.fetch.coregister import phase_correlation

    ref, mov, _ = real_shift_stack(l8s2_dir, steps=5)
    core = np.ascontiguousarray(mov[:, MARGIN:-MARGIN, MARGIN:-MARGIN])
    ones = torch.ones(ref.shape, dtype=torch.bool)
    for up in (1, 20):
        ours, _, _ = phase_correlation(torch.as_tensor(ref).float(), torch.as_tensor(core).float(),
                                       ones, ones, upsample=up, window=0.0)
        theirs = np.stack([-phase_cross_correlation(a, b, upsample_factor=up)[0]
                           for a, b in zip(ref, core, strict=True)])
        diff = np.abs(ours.numpy() - theirs).max(axis=1)
        if up == 1:
            assert (diff == 0).all()
        else:
            assert (diff <= 1 / up + 1e-6).mean() >= 0.99
            assert diff.max() <= 3 / up + 1e-6


@pytest.mark.parametrize("with_hr", [False, True])
def test_results_do_not_depend_on_batching(l8s2_dir: Path, with_hr: bool) -> None:
    """Any split of the stack gives the same bytes: batches of 1, 7 and 64 chips against the
    whole stack (441 chips: several internal batches), with and without the HR chips. A lone
    chip is where torch's FFT used to take another kernel (AMD EPYC: last-bit differences)."""
    ref, hr, mov, _ = real_shift_stack_hr(l8s2_dir, steps=7)
    rng = np.random.default_rng(0)
    mask = rng.random(mov.shape) > 0.1

    def run(s: slice) -> ShiftResult:
        return estimate_shifts(ref[s], mov[s], None, mask[s], margin=MARGIN,
                               ref_hr=hr[s] if with_hr else None)

    whole = run(slice(None))
    n = len(ref)
    for size, stop in ((1, 60), (7, n), (64, n)):  # batch of 1 on a subset: 441 calls are slow
        parts = [run(slice(i, min(i + size, stop))) for i in range(0, stop, size)]
        for field in ("dy", "dx", "peak", "peak_ratio", "ncc_before", "ncc_after"):
            joined = np.concatenate([getattr(p, field) for p in parts])
            assert joined.tobytes() == getattr(whole, field)[:stop].tobytes(), (size, field)
        assert list(np.concatenate([p.status for p in parts])) == list(whole.status[:stop])
    # and in any order
    rev = run(slice(None, None, -1))
    for field in ("dy", "dx", "peak", "peak_ratio", "ncc_before", "ncc_after"):
        assert getattr(rev, field)[::-1].tobytes() == getattr(whole, field).tobytes(), field
    # resampling the chips by those shifts: the same bytes per chip in any batch too
    img, ok = mov[:, None], mask
    full = apply_shift(img, ok, whole.dy, whole.dx, MARGIN)
    for size in (1, 7, 64):
        stop = 60 if size == 1 else n
        parts_out = [apply_shift(img[i:i + size], ok[i:i + size], whole.dy[i:i + size],
                                 whole.dx[i:i + size], MARGIN) for i in range(0, stop, size)]
        for k in range(2):
            assert np.concatenate([p[k] for p in parts_out]).tobytes() == full[k][:stop].tobytes()


def test_shape_mismatch_is_a_clear_error() -> None:
    ref = np.zeros((4, 16, 16))
    with pytest.raises(InputValueError, match=r"mov \(B, h\+2·margin"):
        estimate_shifts(ref, np.zeros((4, 20, 20)), margin=6)
    with pytest.raises(InputValueError, match="masks must have the shape"):
        estimate_shifts(ref, np.zeros((4, 28, 28)), np.ones((4, 15, 15), bool), margin=6)
    empty = estimate_shifts(np.zeros((0, 16, 16)), np.zeros((0, 28, 28)), margin=6)
    assert len(empty.dy) == 0 and len(empty.status) == 0


def test_results_do_not_depend_on_the_thread_count(l8s2_dir: Path) -> None:
    """Dask worker processes start with one thread, in-process clusters use all cores: the
    shifts and resampled chips must be the same bytes either way. Small batches (one chip, as
    in a one-chip tile) are where torch splits single reductions across threads."""
    ref, hr, mov, _ = real_shift_stack_hr(l8s2_dir, steps=3)
    before = torch.get_num_threads()
    runs = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            run = []
            for i in range(len(ref)):
                res = estimate_shifts(ref[i:i + 1], mov[i:i + 1], margin=MARGIN, ref_hr=hr[i:i + 1])
                out, mask = apply_shift(mov[i:i + 1, None], np.ones((1, *mov.shape[1:]), bool),
                                        res.dy, res.dx, MARGIN)
                run.append(res.dy.tobytes() + res.dx.tobytes() + res.ncc_after.tobytes()
                           + out.tobytes() + mask.tobytes())
            runs.append(run)
            assert torch.get_num_threads() == n  # restored
    finally:
        torch.set_num_threads(before)
    assert runs[0] == runs[1]


def test_shift_beyond_max_shift_is_too_large_but_beyond_the_search_is_unreliable(l8s2_dir: Path
                                                                               ) -> None:
    """A real shift above ``max_shift`` but inside the ±(max_shift + 2) search is bracketed and
    dropped (too_large); a best match on the search edge has no optimum inside the window and
    is flagged search_edge (kept unshifted), not taken as proof of a large shift."""
    ref, hr, mov, truth = real_shift_stack_hr(l8s2_dir, margin=8, offsets=[(0.0, 4.0), (0.0, 7.5)])
    res = estimate_shifts(ref, mov, margin=8, ref_hr=hr, max_shift=3.0)
    near, far = truth[:, 1] == 4.0, truth[:, 1] == 7.5
    assert (res.status[near] == STATUS_TOO_LARGE).mean() >= 8 / 9, res.status[near]
    assert np.median(np.abs(res.dx[near] - 4.0)) < 0.05
    assert (res.status[far] == STATUS_SEARCH_EDGE).mean() >= 8 / 9, res.status[far]
