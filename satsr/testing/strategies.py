"""Hypothesis strategies for sample-schema datasets (needs ``hypothesis``: ``satsr[test]``).

``sample_datasets()`` draws valid datasets of varied shape (scenes, frames, bands, LR size,
scale) and content, so a property test of a model, metric or loader sees the shapes real data
have — e.g. ``@given(sample_datasets(max_scale=4))``.
"""

from __future__ import annotations

from typing import Any

import xarray as xr
from hypothesis import strategies as st

from satsr.testing.samples import make_sample_dataset

BAND_NAMES = ("RED", "NIR", "blue", "green")


@st.composite
def sample_datasets(
    draw: Any,
    *,
    max_scenes: int = 4,
    max_frames: int = 4,
    max_bands: int = 2,
    min_size: int = 2,
    max_size: int = 8,
    max_scale: int = 3,
) -> xr.Dataset:
    """A strategy for valid sample-schema datasets (see :func:`make_sample_dataset`)."""
    n_bands = draw(st.integers(1, max_bands))
    return make_sample_dataset(
        scenes=draw(st.integers(1, max_scenes)),
        frames=draw(st.integers(1, max_frames)),
        bands=BAND_NAMES[:n_bands],
        size=draw(st.integers(min_size, max_size)),
        scale=draw(st.integers(1, max_scale)),
        clear_fraction=draw(st.floats(0.5, 1.0)),
        seed=draw(st.integers(0, 2**16)),
    )


__all__ = ["sample_datasets"]
