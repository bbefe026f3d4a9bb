"""Public testing helpers (like ``xarray.testing``).

* :func:`assert_sample_schema` — assert a dataset follows the sample schema (pytest-friendly).
* :func:`make_sample_dataset` — a small deterministic sample-schema dataset in memory.
* :mod:`satsr.testing.strategies` — hypothesis strategies (``sample_datasets()``); needs
  ``hypothesis`` (the ``test`` extra), so import it explicitly.
* :mod:`satsr.testing.ee_emulator` — a loopback Earth Engine REST emulator that the real
  ``earthengine-api`` client runs against unmodified (``EEEmulator``).
* :mod:`satsr.testing.ee_assets` — builds emulator asset folders from GeoTIFFs (the real
  Landsat-9/Sentinel-2 pair) or from synthetic scenes with known shifts.
* :mod:`satsr.testing.real_pair` — the real pair's file names and a ``local``-source manifest
  for it (``write_local_manifest``), for ``satsr fetch --source local`` on real imagery.

Nothing here is imported by ``import satsr``.
"""

from __future__ import annotations

from satsr.testing.assertions import assert_sample_schema
from satsr.testing.samples import make_sample_dataset

__all__ = ["assert_sample_schema", "make_sample_dataset"]
