"""Imagery sources behind one interface (:class:`~satsr.fetch.sources.base.Source`).

``get_source(name, **options)`` builds one: ``local`` (a folder of GeoTIFFs with a manifest),
``stac`` (a STAC API through pystac-client, e.g. Earth Search) and ``ee`` (Google Earth Engine).
Modules are imported lazily so that a missing optional dependency only affects its own source.
"""

from __future__ import annotations

from typing import Any

from satsr._registry import Registry, load_target
from satsr.fetch.sources.base import Source
from satsr.fetch.types import Acquisition, Grid

#: source name -> ("module:class", the satsr extra that installs its dependencies)
SOURCES: Registry[tuple[str, str | None]] = Registry("source")
SOURCES.register("local", ("satsr.fetch.sources.local:LocalSource", None))
SOURCES.register("stac", ("satsr.fetch.sources.stac:StacSource", "stac"))
SOURCES.register("ee", ("satsr.fetch.sources.earthengine:EarthEngineSource", "ee"))


def register_source(name: str, target: str, extra: str | None = None) -> None:
    """Register a :class:`Source` subclass as ``name`` (``target`` is ``"module:Class"``)."""
    SOURCES.register(name, (target, extra))


def list_sources() -> list[str]:
    """Names accepted by :func:`get_source`."""
    return SOURCES.names()


def get_source(name: str, **options: Any) -> Source:
    """Instantiate the source registered as ``name`` with source-specific ``options``."""
    target, extra = SOURCES.get(name)
    cls = load_target(target, what=f"source {name!r}", extra=extra)
    return cls(**options)  # type: ignore[no-any-return]


__all__ = ["SOURCES", "Acquisition", "Grid", "Source", "get_source", "list_sources",
           "register_source"]
