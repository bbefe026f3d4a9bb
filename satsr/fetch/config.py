"""What a fetch run is asked to do: :class:`FetchConfig` (the ``satsr fetch`` options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from satsr.fetch.aoi import DEFAULT_MAX_AREA_KM2
from satsr.fetch.sensors import COMMON_BANDS

COREG_MODES = ("apply", "record", "off")


@dataclass
class FetchConfig:
    """Everything ``fetch`` needs. Dates are inclusive UTC days; sizes in LR (30 m) pixels."""

    start: date
    end: date
    out: Path
    aoi: str | Path | dict[str, Any] | None = None
    bbox: str | None = None
    source: str = "ee"
    source_options: dict[str, Any] = field(default_factory=dict)
    bands: tuple[str, ...] = COMMON_BANDS
    max_cloud: float = 100.0
    pair_days: float = 5.0
    frames: int = 1
    chip: int = 64
    overlap: int = 0
    harmonize: bool = False
    min_valid: float = 0.5
    coregister: str = "apply"
    max_shift: float = 3.0
    coreg_margin: int = 6
    tile_chips: int = 4
    split_block: int = 8
    split_buffer: int = 1
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    max_area_km2: float = DEFAULT_MAX_AREA_KM2
    workers: int | None = None
    scheduler: str | None = None
    dry_run: bool = False
    name: str | None = None
    progress: bool = True

    @property
    def band_index(self) -> list[int]:
        """Positions of :attr:`bands` among :data:`~satsr.fetch.sensors.COMMON_BANDS`."""
        return [COMMON_BANDS.index(b) for b in self.bands]

    def harmonizes(self, collection: str) -> bool:
        """True when reads of ``collection`` get the HLS bandpass adjustment (Sentinel-2 only)."""
        return self.harmonize and collection == "sentinel2"


__all__ = ["COREG_MODES", "FetchConfig"]
