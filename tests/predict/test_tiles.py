"""Tile plans: cores partition the raster, windows are core + halo clipped, batches share shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satsr.errors import ConfigError
from satsr.predict.tiles import batches, plan_tiles


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), tile=st.integers(1, 40),
       halo=st.integers(0, 30))
def test_cores_partition_and_windows_hold_the_halo(h: int, w: int, tile: int, halo: int) -> None:
    tiles = plan_tiles(h, w, tile=tile, halo=halo)
    cover = np.zeros((h, w), dtype=np.int64)
    for t in tiles:
        cover[t.y0:t.y0 + t.h, t.x0:t.x0 + t.w] += 1
        assert t.iy0 == max(0, t.y0 - halo) and t.ix0 == max(0, t.x0 - halo)
        assert t.iy0 + t.ih == min(h, t.y0 + t.h + halo)
        assert t.ix0 + t.iw == min(w, t.x0 + t.w + halo)
        ys, xs = t.core_in_input()
        assert ys.stop - ys.start == t.h and xs.stop - xs.start == t.w
        oy, ox = t.core_in_output(3)
        assert (oy.stop - oy.start, ox.stop - ox.start) == (3 * t.h, 3 * t.w)
    assert (cover == 1).all()
    assert [t.index for t in tiles] == list(range(len(tiles)))
    for group in batches(tiles, 3):
        assert 1 <= len(group) <= 3 and len({t.input_shape for t in group}) == 1


def test_bad_tile_options() -> None:
    with pytest.raises(ConfigError, match="--tile 0"):
        plan_tiles(10, 10, tile=0)
    with pytest.raises(ConfigError, match="--halo -1"):
        plan_tiles(10, 10, halo=-1)
    with pytest.raises(ConfigError, match="--batch-size 0"):
        batches(plan_tiles(10, 10), 0)
