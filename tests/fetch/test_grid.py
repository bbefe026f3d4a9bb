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


def _brute_force(geom: shapely.Geometry, spec: ChipSpec) -> list[tuple[int, int]]:
    """Every lattice cell of the bounding box tested (the previous chips_covering)."""
    import math

    minx, miny, maxx, maxy = geom.bounds
    s, side = spec.stride_m, spec.lr_size * spec.lr_res
    return [(i, j) for i in range(math.floor(-maxy / s), math.ceil((side - miny) / s) + 1)
            for j in range(math.floor((minx - side) / s), math.ceil(maxx / s) + 1)
            if shapely.intersection(geom, chip_at(i, j, "EPSG:32604", spec).lr.footprint()).area > 0]


@settings(max_examples=40, deadline=None)
@given(x=st.floats(400_000, 500_000), y=st.floats(7_000_000, 7_100_000),
       w=st.floats(10, 20_000), h=st.floats(10, 20_000), angle=st.floats(0, 90),
       overlap=st.integers(0, 4))
def test_chips_covering_visits_only_rows_parts(x: float, y: float, w: float, h: float,
                                               angle: float, overlap: int) -> None:
    """Rows only visit the columns of the geometry's part in that row: the same chips as testing
    every cell of the bounding box."""
    import shapely.affinity

    geom = shapely.affinity.rotate(shapely.box(x, y, x + w, y + h), angle)
    spec = ChipSpec(lr_size=16, overlap=overlap)
    got = [(c.i, c.j) for c in chips_covering(geom, "EPSG:32604", spec)]
    assert got == _brute_force(geom, spec)


def test_thin_diagonal_aoi_visits_few_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1,000 km diagonal strip 100 m wide: ~2 × 16,000 cells visited, not its bounding box's
    ~2.7e8 (work is bounded by the chips it covers, not by the bounding box)."""
    from satsr.fetch import grid

    calls = 0
    real = grid.chip_at

    def counting(*args: object, **kw: object) -> grid.Chip:
        nonlocal calls
        calls += 1
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(grid, "chip_at", counting)
    line = shapely.LineString([(300_000, 6_000_000), (1_000_000, 6_700_000)]).buffer(50)
    spec = ChipSpec(lr_size=64)
    chips = chips_covering(line, "EPSG:32604", spec)
    assert 0 < len(chips) <= calls <= 4 * len(chips)


def test_chips_covering_stops_past_its_limit() -> None:
    from satsr.fetch.grid import TooManyChips

    box = shapely.box(400_000, 7_000_000, 460_000, 7_060_000)  # ~1,000 chips of 64 px
    with pytest.raises(TooManyChips):
        chips_covering(box, "EPSG:32604", ChipSpec(lr_size=64), limit=100)
    assert len(chips_covering(box, "EPSG:32604", ChipSpec(lr_size=64), limit=2_000)) > 900
