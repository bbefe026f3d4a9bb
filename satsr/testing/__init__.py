"""Public testing helpers (like ``xarray.testing``).

* :mod:`satsr.testing.ee_emulator` — a loopback Earth Engine REST emulator that the real
  ``earthengine-api`` client runs against unmodified (``EEEmulator``).
* :mod:`satsr.testing.ee_assets` — builds emulator asset folders from GeoTIFFs (the real
  Landsat-9/Sentinel-2 pair) or from synthetic scenes with known shifts.

Nothing here is imported by ``import satsr``; import the submodules explicitly.
"""
