"""Co-registration accuracy on the REAL Sentinel-2 image (bands 1-4), degraded to 30 m and
shifted by known sub-pixel offsets over ±2 LR px; plus outlier flags and shift application."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from satsr.data.coregister import (
    STATUS_OK,
    STATUS_TOO_LARGE,
    apply_shift,
    degrade,
    estimate_shifts,
)

CHIP, MARGIN = 32, 6


def real_shift_stack(l8s2_dir: Path, *, chip: int = CHIP, margin: int = MARGIN,
                     steps: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ref (B, chip, chip), mov (B, chip+2m, chip+2m), truth (B, 2)) from the real S2 image.

    The 10 m image (mean of bands 1-4; band 5 is not spectral) is shifted by (3·ty, 3·tx) HR px
    with a cubic spline, both versions are area-averaged x3, and chips are cut at a spread of
    places (land, water, coast)."""
    with rasterio.open(l8s2_dir / "2023-10-09-22-28-02_S2_ms.tif") as ds:
        img = ds.read([1, 2, 3, 4]).astype(np.float64).mean(axis=0) / 1e4
    img = img[:438, 1:439]  # column 0 and the last row are nodata
    lr_ref = degrade(img, 3)
    places = [(r, c) for r in (8, 50, 100) for c in (8, 55, 100)]
    refs, movs, truth = [], [], []
    for ty in np.linspace(-2, 2, steps):
        for tx in np.linspace(-2, 2, steps):
            lr_mov = degrade(ndimage.shift(img, (3 * ty, 3 * tx), order=3, mode="nearest"), 3)
            for r, c in places:
                refs.append(lr_ref[r:r + chip, c:c + chip])
                movs.append(lr_mov[r - margin:r + chip + margin, c - margin:c + chip + margin])
                truth.append((ty, tx))
    return np.stack(refs), np.stack(movs), np.array(truth)


@pytest.mark.slow
def test_accuracy_on_real_sentinel2(l8s2_dir: Path) -> None:
    ref, mov, truth = real_shift_stack(l8s2_dir)
    res = estimate_shifts(ref, mov, margin=MARGIN)
    err = np.hypot(res.dy - truth[:, 0], res.dx - truth[:, 1])
    assert np.median(err) <= 0.05, np.median(err)
    assert np.percentile(err, 95) <= 0.1, np.percentile(err, 95)
    assert (res.status == STATUS_OK).mean() > 0.9
    assert (res.ncc_after >= res.ncc_before - 1e-6).mean() > 0.9


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
