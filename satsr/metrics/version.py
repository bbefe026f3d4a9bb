"""The version of satsr's scoring code, part of every benchmark result's identity.

Bump :data:`METRICS_VERSION` in the same commit as any change to ``satsr.metrics`` or to the
bench scoring (border crop, masks, score) that can change a number: results folders then
recompute their rows instead of mixing numbers of two metric implementations.
"""

from __future__ import annotations

METRICS_VERSION = 1
