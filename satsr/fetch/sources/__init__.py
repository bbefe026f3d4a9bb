"""Imagery sources behind one interface (:class:`~satsr.fetch.sources.base.Source`).

``get_source(name, **options)`` builds one: ``local`` (a folder of GeoTIFFs with a manifest),
``stac`` (a STAC API through pystac-client, e.g. Earth Search) and ``ee`` (Google Earth Engine).
Modules are imported lazily so that a missing optional dependency only affects its own source.
"""

from __future__ import annotations

import importlib
from typing import Any

from satsr.errors import ConfigError
from satsr.fetch.sources.base import Source
from satsr.fetch.types import Acquisition, Grid

#: registry name -> "module:class"
SOURCES: dict[str, str] = {
    "local": "satsr.fetch.sources.local:LocalSource",
    "stac": "satsr.fetch.sources.stac:StacSource",
    "ee": "satsr.fetch.sources.earthengine:EarthEngineSource",
}


def list_sources() -> list[str]:
    """Names accepted by :func:`get_source`."""
    return sorted(SOURCES)


def get_source(name: str, **options: Any) -> Source:
    """Instantiate the source registered as ``name`` with source-specific ``options``."""
    if name not in SOURCES:
        raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(list_sources())}")
    module, _, attr = SOURCES[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        extra = {"stac": "stac", "ee": "ee"}.get(name, "")
        raise ConfigError(f"source {name!r} needs the missing package {exc.name!r}; install it with "
                          f"`pip install 'satsr[{extra}]'`") from None
    return cls(**options)  # type: ignore[no-any-return]


__all__ = ["SOURCES", "Acquisition", "Grid", "Source", "get_source", "list_sources"]
