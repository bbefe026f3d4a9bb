"""The real Landsat-9 / Sentinel-2 pair of Unalakleet, Alaska (``$SATSR_TEST_DATA/l8s2``, see
its PROVENANCE.md) as the ``local`` fetch source sees it.

:func:`write_local_manifest` makes a ``local``-source folder whose ``manifest.json`` lists the
two files by absolute path (nothing is copied), so tests and benchmarks can run
``satsr fetch --source local`` on real imagery:

* Sentinel-2: uint16 DN = reflectance × 10000 (declared scale 1e-4, offset 0, nodata 0); its
  5th band is not spectral (listed as ``CLP``);
* Landsat-9: float32 reflectance on a 15 m export grid (kind ``reflectance``, nodata −inf, no
  QA band).
"""

from __future__ import annotations

import json
from pathlib import Path

L9_FILE = "2023-06-30-22-01-55_L9_ms.tif"
S2_FILE = "2023-10-09-22-28-02_S2_ms.tif"


def manifest_items(l8s2_dir: Path) -> list[dict[str, object]]:
    """The manifest rows of the pair in ``l8s2_dir`` (absolute paths), Sentinel-2 first."""
    folder = Path(l8s2_dir).resolve()
    return [
        {"file": str(folder / S2_FILE), "id": "S2_20231009", "collection": "sentinel2",
         "sensor": "sentinel2a", "datetime": "2023-10-09T22:28:02Z",
         "bands": ["B2", "B3", "B4", "B8", "CLP"], "scale": 0.0001, "offset": 0.0, "nodata": 0},
        {"file": str(folder / L9_FILE), "id": "L9_20230630", "collection": "landsat",
         "sensor": "landsat9", "datetime": "2023-06-30T22:01:55Z",
         "bands": ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6"], "kind": "reflectance"},
    ]


def write_local_manifest(folder: Path, l8s2_dir: Path) -> Path:
    """Create ``folder`` (parents too) with a ``manifest.json`` listing the real pair in
    ``l8s2_dir``; returns ``folder`` (the ``local`` source's ``root``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"items": manifest_items(l8s2_dir)}))
    return folder


__all__ = ["L9_FILE", "S2_FILE", "manifest_items", "write_local_manifest"]
