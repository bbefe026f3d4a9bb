"""Assertions for sample-schema datasets, for satsr's tests and for anyone adding a dataset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from satsr import schema
from satsr.errors import SchemaError


def assert_sample_schema(
    ds: xr.Dataset,
    *,
    scale: int | None = None,
    bands: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    check_values: bool = True,
) -> None:
    """Assert that ``ds`` follows the sample schema (and has the given scale/bands/splits).

    Runs :func:`satsr.schema.validate` (with ``check_values``: no NaN/inf in clear pixels) and
    turns its :class:`SchemaError` into an ``AssertionError`` that names the variable; also
    checks that masks are boolean and every scene has at least one valid frame. The helper
    hides itself from pytest tracebacks.
    """
    __tracebackhide__ = True
    try:
        schema.validate(ds, check_values=check_values)
    except SchemaError as exc:
        raise AssertionError(str(exc)) from None
    if scale is not None and int(ds.attrs["scale"]) != scale:
        raise AssertionError(f"scale attribute is {ds.attrs['scale']}, expected {scale}")
    have = [str(b) for b in ds["band"].values]
    if bands is not None and have != list(bands):
        raise AssertionError(f"bands are {have}, expected {list(bands)}")
    found = sorted(set(np.asarray(ds["split"].values).astype(str).tolist()))
    if splits is not None and found != sorted(splits):
        raise AssertionError(f"splits are {found}, expected {sorted(splits)}")
    if ds.sizes["scene"] and not bool(np.asarray(ds["frame_valid"].values).any(axis=1).all()):
        raise AssertionError("frame_valid: some scene has no valid frame")


__all__ = ["assert_sample_schema"]
