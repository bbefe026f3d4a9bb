"""Nested grids: LR pixel edges coincide with every 3rd HR edge to 1e-6 m; chips and tiles."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from satsr.fetch.aoi import load_aoi
from satsr.fetch.grid import ChipSpec, chip_at, chips_covering, group_tiles, is_nested, offset_in
from satsr.fetch.types import Grid


@settings(max_examples=60, deadline=None)
@given(i=st.integers(-800_000, 800_000), j=st.integers(-30_000, 30_000),
       size=st.integers(8, 128), overlap=st.integers(0, 7))
def test_chip_grids_nest_exactly(i: int, j: int, size: int, overlap: int) -> None:
    spec = ChipSpec(lr_size=size, overlap=overlap)
    chip = chip_at(i, j, "EPSG:32604", spec)
    hx, hy = chip.hr.pixel_edges()
    lx, ly = chip.lr.pixel_edges()
    assert np.abs(lx - hx[::3]).max() <= 1e-6
    assert np.abs(ly - hy[::3]).max() <= 1e-6
    # HR edges on multiples of 10 m (Sentinel-2's convention), LR on multiples of 30 m
    assert np.abs(hx / 10 - np.round(hx / 10)).max() * 10 <= 1e-6
    assert np.abs(ly / 30 - np.round(ly / 30)).max() * 30 <= 1e-6
    assert is_nested(chip.hr, chip.lr)


def test_landsat_native_grid_is_not_nested() -> None:
    hr = chip_at(-100, 10, "EPSG:32604", ChipSpec()).hr
    landsat = Grid("EPSG:32604", (30.0, 0.0, 409215.0, 0.0, -30.0, 7087215.0), 10, 10)
    assert not is_nested(hr, landsat)


def test_tiles_cover_chips_with_margin() -> None:
    aoi = load_aoi(bbox="-160.845,63.862,-160.762,63.897")
    spec = ChipSpec(lr_size=32)
    chips = chips_covering(aoi.to_utm(), aoi.utm_crs, spec)
    assert len(chips) == len({c.id for c in chips})
    assert all(shapely.intersects(aoi.to_utm(), c.lr.footprint()) for c in chips)
    tiles = group_tiles(chips, 2, spec, margin=6)
    assert sum(len(t.chips) for t in tiles) == len(chips)
    for t in tiles:
        assert is_nested(t.hr, t.lr)
        for c in t.chips:
            r, col = offset_in(t.lr, c.lr)
            assert r >= 6 and col >= 6
            assert r + 32 <= t.lr.height - 6 and col + 32 <= t.lr.width - 6
            assert offset_in(t.hr, c.hr) == (3 * r, 3 * col)


def test_grid_helpers() -> None:
    g = Grid.from_bounds("EPSG:32604", 0, 0, 100, 50, 10)
    assert (g.width, g.height, g.bounds) == (10, 5, (0.0, 0.0, 100.0, 50.0))
    assert g.window_of(15, 5, 35, 45) == (0, 1, 5, 3)
    assert g.clip_window(-2, -2, 4, 4) == (0, 0, 2, 2)
    tiles = g.split(16)
    assert sum(t.width * t.height for t in tiles) == 50
    assert g.refined(2).scaled(2) == g
    with pytest.raises(ValueError):
        Grid("EPSG:32604", (10.0, 0.0, 0.0, 0.0, 10.0, 0.0), 1, 1)
