"""End to end: a fetch through the EE emulator of synthetic assets with a KNOWN Landsat shift
records that shift (``shift_dy``/``shift_dx``) to within 0.1 LR px on every chip.

Truth on the LR chip grid: :func:`build_synthetic_assets` makes Landsat pixel values at map
(x, y) equal the field at (x − east, y − north), i.e. the Landsat content sits ``east`` m right
and ``north`` m up of the Sentinel-2 content. Rows grow southwards, so with the convention
``mov(y + dy, x + dx) ≈ ref(y, x)`` the shift is ``(dy, dx) = (−north / 30, east / 30)`` LR px.
The Landsat native grid (edges on odd multiples of 15 m) is offset by half a pixel from the
chip grid (multiples of 30 m from the 10 m Sentinel-2 origin), so the pipeline's cubic warp
onto the chip grid is exercised; it resamples but does not move the content.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from satsr.datasets import open_dataset
from satsr.fetch.pipeline import FetchConfig, fetch
from satsr.testing.ee_assets import build_synthetic_assets
from satsr.testing.ee_emulator import EEEmulator

#: the synthetic scene covers x 540000-543000, y 4992000-4995000 in EPSG:32633
INNER_UTM = (540_300.0, 4_992_300.0, 542_700.0, 4_994_700.0)
LANDSAT_X0 = 539_985.0  # Landsat native grid origin (odd multiple of 15 m)


def _bbox() -> str:
    t = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    lo0, la0 = t.transform(INNER_UTM[0], INNER_UTM[1])
    lo1, la1 = t.transform(INNER_UTM[2], INNER_UTM[3])
    return f"{lo0},{la0},{lo1},{la1}"


@pytest.fixture
def ee_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "EE_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.mark.parametrize(("shift_m", "chip"), [
    ((12.0, -7.0), 64),     # (dy, dx) = (0.233, 0.4): sub-pixel, chips cut by the scene edge
    ((45.0, -30.0), 32),    # (1.0, 1.5): beyond one pixel
    ((9.0, 18.0), 32),      # (-0.6, 0.3): negative dy
])
def test_fetch_records_the_known_shift(ee_env: Path, monkeypatch: pytest.MonkeyPatch,
                                       shift_m: tuple[float, float], chip: int) -> None:
    east, north = shift_m
    truth = np.array([-north / 30.0, east / 30.0])
    assets = ee_env / "assets"
    info = build_synthetic_assets(assets, shift_m=shift_m)
    assert info["shift_m"] == shift_m
    assert info["shift_lr_px"] == pytest.approx(truth)
    with EEEmulator(assets) as emu:
        monkeypatch.setenv("SATSR_EE_API_URL", emu.url)
        monkeypatch.setenv("SATSR_EE_CREDENTIALS", str(emu.write_service_account_file(ee_env / "sa.json")))
        res = fetch(FetchConfig(start=date(2023, 7, 1), end=date(2023, 7, 10), out=ee_env / "out",
                                bbox=_bbox(), source="ee", source_options={"project": "test-project"},
                                pair_days=5, chip=chip, tile_chips=2, progress=False,
                                coregister="record"))
    assert res.store is not None
    ds = open_dataset(res.store)
    n = ds.sizes["scene"]
    assert n >= 2
    # the chip grid is half a Landsat pixel off the native grid (the warp path is exercised)
    x0 = ds["lr_transform"].values[:, 2]
    assert np.allclose((x0 - LANDSAT_X0) % 30.0, 15.0)
    dy = ds["shift_dy"].values[:, 0]
    dx = ds["shift_dx"].values[:, 0]
    status = ds["coreg_status"].values[:, 0]
    err = np.hypot(dy - truth[0], dx - truth[1])
    assert np.median(err) <= 0.1, (truth, dy, dx)
    assert err.max() <= 0.1, (truth, dy, dx, status)
    assert (status == "ok").all(), status


def _clean_synthetic_chips(chip: int, shift: tuple[float, float], n: int = 12, margin: int = 6,
                           seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(ref (n, chip, chip), mov (n, chip+2m, chip+2m)) at random places of the synthetic field:
    ref = 10 m point samples area-averaged x3, mov = 30 m point samples of the field whose
    content is displaced by ``shift = (dy, dx)`` LR px (down, right)."""
    from satsr.fetch.coregister import degrade
    from satsr.testing.ee_assets import synthetic_reflectance

    ty, tx = shift
    rng = np.random.default_rng(seed)
    refs, movs = [], []
    for _ in range(n):
        x0, y1 = 540_000 + 30 * rng.integers(0, 60), 4_995_000 - 30 * rng.integers(0, 60)
        hx, hy = np.meshgrid(x0 + 10 * (np.arange(3 * chip) + 0.5), y1 - 10 * (np.arange(3 * chip) + 0.5))
        refs.append(degrade(synthetic_reflectance(hx, hy, 2), 3))
        lx, ly = np.meshgrid(x0 + 30 * (np.arange(-margin, chip + margin) + 0.5),
                             y1 - 30 * (np.arange(-margin, chip + margin) + 0.5))
        movs.append(synthetic_reflectance(lx - 30 * tx, ly + 30 * ty, 2))
    return np.stack(refs), np.stack(movs)


@pytest.mark.parametrize("chip", [16, 32])
@pytest.mark.parametrize("shift", [(0.233, 0.4), (1.0, 1.5), (-0.6, 0.3)])
def test_estimator_on_clean_band_limited_chips(chip: int, shift: tuple[float, float]) -> None:
    """Band-limited content (no energy above 1/3 cycle/px, where whitened phase correlation is
    pulled towards zero): every chip still recovers the shift."""
    from satsr.fetch.coregister import estimate_shifts

    ref, mov = _clean_synthetic_chips(chip, shift)
    res = estimate_shifts(ref, mov, margin=6)
    err = np.hypot(res.dy - shift[0], res.dx - shift[1])
    assert np.median(err) <= 0.05, (res.dy, res.dx)
    assert err.max() <= 0.1, (res.dy, res.dx)


def test_integer_search_matches_brute_force_masked_ncc() -> None:
    import torch

    from satsr.fetch.coregister import integer_search, masked_ncc

    ref, mov = _clean_synthetic_chips(16, (1.0, -2.0), n=4)
    rng = np.random.default_rng(3)
    rm = rng.random(ref.shape) > 0.2
    mm = rng.random(mov.shape) > 0.2
    r, m = torch.as_tensor(ref), torch.as_tensor(mov)
    rmt, mmt = torch.as_tensor(rm), torch.as_tensor(mm)
    shift, best = integer_search(r, m, rmt, mmt, margin=6, radius=3)
    for b in range(len(ref)):
        scores = {}
        for sy in range(-3, 4):
            for sx in range(-3, 4):
                win = (slice(b, b + 1), slice(6 + sy, 22 + sy), slice(6 + sx, 22 + sx))
                scores[(sy, sx)] = float(masked_ncc(r[b:b + 1], m[win], rmt[b:b + 1] & mmt[win])[0])
        top = max(scores, key=lambda k: scores[k])
        assert top == (1, -2)
        assert float(best[b]) == pytest.approx(scores[top], abs=1e-9)
        assert abs(float(shift[b, 0]) - 1.0) < 0.2 and abs(float(shift[b, 1]) + 2.0) < 0.2
