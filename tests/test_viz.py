"""satsr.viz: one shared stretch, the static comparison, and geemap's install hint."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from satsr.errors import ConfigError
from satsr.viz import GEEMAP_HINT, Layer, compare_static, shared_stretch, to_display


def test_stretch_is_shared_between_layers() -> None:
    dark = Layer("a", np.full((1, 4, 4), 0.1, np.float32))
    bright = Layer("b", np.full((1, 4, 4), 0.9, np.float32))
    bright.data[0, 0, 0] = np.nan
    lo, hi = shared_stretch([dark, bright], percentiles=(0, 100))
    assert lo[0] == pytest.approx(0.1) and hi[0] == pytest.approx(0.9)
    assert to_display(dark.data, lo, hi).max() == 0.0
    assert to_display(bright.data, lo, hi)[1, 1] == 1.0


def test_compare_static_writes_a_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    layers = [Layer("LR", rng.random((3, 8, 8))), Layer("SR", rng.random((3, 24, 24)))]
    out = compare_static(layers, rgb=[2, 1, 0], path=tmp_path / "cmp.png", caption="test")
    assert out is not None and (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match="same number of bands"):
        shared_stretch([Layer("a", np.zeros((1, 2, 2))), Layer("b", np.zeros((2, 2, 2)))])


def test_interactive_map_without_geemap_says_how_to_install(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    from satsr import viz

    real_import = builtins.__import__

    def no_geemap(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("geemap", "ipyleaflet"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_geemap)
    with pytest.raises(ConfigError) as exc:
        viz.interactive_map([Layer("a", np.zeros((1, 2, 2)))])
    assert str(exc.value) == GEEMAP_HINT and "pip install 'satsr[ee]'" in GEEMAP_HINT


def test_footprints_of_georeferenced_chips() -> None:
    import xarray as xr

    from satsr.viz import footprints

    ds = xr.Dataset({"hr_transform": (("scene", "affine"),
                                      np.array([[10.0, 0, 409290.0, 0, -10.0, 7086960.0]])),
                     "crs": (("scene",), np.array(["EPSG:32604"], dtype=object)),
                     "hr": (("scene", "band", "Y", "X"), np.zeros((1, 1, 30, 30)))},
                    coords={"scene": ["c0"]})
    fc = footprints(ds)
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    lons, lats = zip(*ring, strict=True)
    assert len(ring) == 5 and -161 < min(lons) < max(lons) < -160.7
    assert 63.8 < min(lats) < max(lats) < 63.9
