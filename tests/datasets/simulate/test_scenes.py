"""Procedural landscapes: shape, range, spectra, determinism, the two scales."""

from __future__ import annotations

import dataclasses

import numpy as np

from satsr.datasets.simulate.scenes import (
    BANDS,
    CHIP_SCALE,
    PROBAV_SCALE,
    REFLECTANCE,
    render_scene,
)


def test_render_scene_shape_range_and_determinism() -> None:
    a = render_scene(np.random.default_rng(0), (120, 96), PROBAV_SCALE)
    b = render_scene(np.random.default_rng(0), (120, 96), PROBAV_SCALE)
    c = render_scene(np.random.default_rng(1), (120, 96), PROBAV_SCALE)
    assert a.shape == (len(BANDS), 120, 96) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_band_subset_and_vegetation_spectra() -> None:
    scenes = [render_scene(np.random.default_rng(i), (96, 96), CHIP_SCALE, bands=("red", "nir"))
              for i in range(4)]
    for s in scenes:
        assert s.shape == (2, 96, 96)
        assert s[1].mean() > 1.8 * s[0].mean()  # mostly vegetated: NIR ≫ red
        assert s.std(axis=(1, 2)).min() > 0.01  # structured, not flat


def test_features_appear_when_forced() -> None:
    """A forced river puts water (dark in NIR) into the scene; forced built-up adds roofs."""
    water = dataclasses.replace(PROBAV_SCALE, p_river=1.0, p_builtup=0.0, n_roads=(0, 0))
    dry = dataclasses.replace(PROBAV_SCALE, p_river=0.0, p_builtup=0.0, n_roads=(0, 0))
    nir_water = render_scene(np.random.default_rng(7), (128, 128), water, bands=("nir",))[0]
    nir_dry = render_scene(np.random.default_rng(7), (128, 128), dry, bands=("nir",))[0]
    assert (nir_water < 0.05).mean() > 0.01 and (nir_dry < 0.05).mean() < 0.001
    town = dataclasses.replace(PROBAV_SCALE, p_river=0.0, p_builtup=1.0)
    blue = render_scene(np.random.default_rng(8), (128, 128), town, bands=("blue",))[0]
    assert (blue > 0.8 * REFLECTANCE["roof"][0]).mean() > 0.01
