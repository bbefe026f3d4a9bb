"""The data layer: AOI → sources (ee | stac | local) → sensor prep → nested UTM grids → pairing →
co-registration → chips → a Zarr store in the sample schema.

Entry point: :func:`satsr.fetch.pipeline.fetch` with a :class:`satsr.fetch.pipeline.FetchConfig`
(the ``satsr fetch`` command is a thin wrapper around it).
"""
