"""The interface every imagery source implements (``local``, ``stac``, ``ee``).

A source does two things: ``search`` lists acquisitions of one collection over a WGS84 geometry
and a date range, and ``read`` returns the raw values of some of its native bands on a given
grid (nearest neighbour; the pipeline always asks for the asset's native grid or a window of it
and does every resampling itself, so no source has to reproject).

Sources must be picklable (the pipeline ships them to dask workers) and initialise any client
lazily on first use in each process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np
import shapely

from satsr.fetch.types import COLLECTIONS, SENSORS, Acquisition, Affine6, Grid


@runtime_checkable
class Source(Protocol):
    """An imagery source. ``name`` is its registry name (``"local"``, ``"stac"``, ``"ee"``)."""

    name: str

    def search(self, geometry: shapely.Geometry, start: date, end: date, collection: str, *,
               max_cloud: float = 100.0) -> list[Acquisition]:
        """Acquisitions of ``collection`` intersecting ``geometry`` (WGS84) with start <= date <= end
        (inclusive, UTC dates) and scene cloud cover <= ``max_cloud`` %, sorted by time."""
        ...

    def read(self, acq: Acquisition, bands: Sequence[str], grid: Grid) -> np.ndarray:
        """Raw values (DN, native dtype, nodata as the source gives it) of the source-native band
        names (Landsat: "SR_B2","SR_B3","SR_B4","SR_B5","QA_PIXEL","QA_RADSAT"; S2: "B2","B3","B4",
        "B8","B8A","SCL" and "cs","cs_cdf" from the matched Cloud Score+ image), shape
        (band, grid.height, grid.width), read with NEAREST resampling on ``grid`` (the pipeline
        always passes the native grid or a window of it)."""
        ...


__all__ = ["COLLECTIONS", "SENSORS", "Acquisition", "Affine6", "Grid", "Source"]
