"""Spatial splits by lattice blocks with buffers, and valid fractions."""

from __future__ import annotations

import numpy as np
import pytest

from satsr.fetch.chips import SplitSpec, block_split, chip_split, valid_fraction


def test_splits_are_stable_and_roughly_proportional() -> None:
    spec = SplitSpec(block=2, buffer=0)
    got = [block_split(i, j, spec) for i in range(60) for j in range(60)]
    frac = {s: got.count(s) / len(got) for s in ("train", "val", "test")}
    assert frac["train"] == pytest.approx(0.8, abs=0.04)
    assert frac["val"] == pytest.approx(0.1, abs=0.03) and frac["test"] == pytest.approx(0.1, abs=0.03)
    assert got == [block_split(i, j, spec) for i in range(60) for j in range(60)]
    assert block_split(3, 4, SplitSpec(seed=1)) in ("train", "val", "test")


def test_buffer_separates_splits() -> None:
    spec = SplitSpec(block=3, buffer=1)
    grid = {(i, j): chip_split(i, j, spec) for i in range(-30, 30) for j in range(-30, 30)}
    kept = {k: v for k, v in grid.items() if v is not None}
    assert len(kept) > 0.3 * len(grid)
    for (i, j), split in kept.items():
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                other = kept.get((i + di, j + dj))
                assert other is None or other == split
    # without a buffer every chip is kept and takes its block's split
    nobuf = SplitSpec(block=3, buffer=0)
    assert chip_split(7, -5, nobuf) == block_split(7 // 3, -5 // 3, nobuf)


def test_valid_fraction() -> None:
    hr = np.ones((6, 6), bool)
    lr = np.array([[True, False], [True, True]])
    assert valid_fraction(hr, lr, 3) == pytest.approx(0.75)
    hr[:3] = False
    assert valid_fraction(hr, lr, 3) == pytest.approx(0.5)
