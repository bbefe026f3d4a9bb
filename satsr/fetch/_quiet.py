"""Serialised, warning-filtered sections around third-party raster calls.

rasterio's MEM→MEM ``reproject`` emits a spurious ``NotGeoreferencedWarning`` under
multithreading (opendatacube/odc-geo#131), and odc-geo 0.5 still calls deprecated shapely and
affine APIs. ``warnings.catch_warnings`` is process-global, so the filtered sections hold one
lock: otherwise two threads could restore each other's filters halfway.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.RLock()


@contextmanager
def quiet_raster_calls() -> Iterator[None]:
    """Run the block alone (per process) with the known third-party warnings ignored."""
    from rasterio.errors import NotGeoreferencedWarning

    with _LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
        warnings.filterwarnings("ignore", message=".*shapely.ops.transform",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="Use `@` matmul",
                                category=PendingDeprecationWarning)
        yield
