"""Numeric and path checks of a fetch configuration, run before any source is contacted.

NaN slips through comparisons (``nan < 0`` is False), so every float is first required to be
finite; messages name the ``satsr fetch`` flag and the accepted range.
"""

from __future__ import annotations

import math
from typing import Any

from satsr._checks import check_float, check_int, check_output_dir
from satsr.errors import ConfigError


def _check_fractions(fractions: Any) -> None:
    try:
        values = [float(v) for v in fractions]
    except (TypeError, ValueError):
        values = []
    if len(values) != 3:
        raise ConfigError(f"--split-fractions {fractions!r} must be three numbers: "
                          "train,val,test (e.g. 0.8,0.1,0.1)")
    if not all(math.isfinite(v) and v >= 0 for v in values) or not math.isclose(sum(values), 1.0,
                                                                               abs_tol=1e-6):
        shown = ",".join(f"{v:g}" for v in values)
        raise ConfigError(f"--split-fractions {shown} must be three finite numbers >= 0 that sum "
                          "to 1 (e.g. 0.8,0.1,0.1)")


def check_fetch_options(cfg: Any) -> None:
    """Raise :class:`ConfigError` for a number or path no fetch could use (``cfg``: FetchConfig)."""
    check_float("--max-cloud", cfg.max_cloud, minimum=0.0, maximum=100.0)
    check_float("--pair-days", cfg.pair_days, minimum=0.0, maximum=3650.0)
    check_float("--min-valid", cfg.min_valid, minimum=0.0, maximum=1.0)
    check_float("--max-shift", cfg.max_shift, minimum=0.0)
    check_float("--max-area-km2", cfg.max_area_km2, minimum=0.0, strict=True)
    check_int("--frames", cfg.frames)
    check_int("--chip", cfg.chip)
    check_int("--overlap", cfg.overlap, minimum=0)
    if cfg.overlap >= cfg.chip:
        raise ConfigError(f"--overlap {cfg.overlap} must be smaller than --chip {cfg.chip}")
    check_int("--tile-chips", cfg.tile_chips)
    check_int("--split-block", cfg.split_block)
    check_int("--split-buffer", cfg.split_buffer, minimum=0)
    check_int("--workers", cfg.workers, optional=True)
    _check_fractions(cfg.split_fractions)
    if not cfg.dry_run:
        check_output_dir("--out", cfg.out)
