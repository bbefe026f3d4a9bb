"""Apply a model to real imagery: georeferenced rasters (tiled, resumable, distributed),
sample-schema stores (an ``sr`` variable ``satsr bench`` can score) and PROBA-V submissions.

Modules: :mod:`~satsr.predict.raster` (GeoTIFF input), :mod:`~satsr.predict.tiles` (tiles and
halo), :mod:`~satsr.predict.frames` (frames and invalid pixels, decided once per raster),
:mod:`~satsr.predict.compute` (batches here or on dask), :mod:`~satsr.predict.partial` (the
resumable work folder and the GeoTIFF writer), :mod:`~satsr.predict.run` (the raster flow),
:mod:`~satsr.predict.store` (stores), :mod:`~satsr.predict.submission` (PROBA-V archives).
"""

from __future__ import annotations

from satsr.predict.model import PredictModel, load_model, wrap_model
from satsr.predict.run import RasterOptions, RasterResult, predict_raster

__all__ = ["PredictModel", "RasterOptions", "RasterResult", "load_model", "predict_raster",
           "wrap_model"]
