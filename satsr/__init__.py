"""satsr: satellite image super-resolution toolkit.

Data layer (Earth Engine / STAC / local → co-registered LR/HR chips), one xarray sample schema
for every dataset, a PyTorch model zoo, PROBA-V-exact metrics and a benchmark harness.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
