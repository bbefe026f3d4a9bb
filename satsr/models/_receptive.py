"""Receptive fields from a layer stack, in LR pixels, without building the network.

An architecture is described as one or more *branches* (parallel paths from the LR input to
the HR output, e.g. WDSR's body and its 5×5 skip), each a list of stages in forward order:

- ``conv(r)``: stacked convolutions whose half-widths add up to ``r`` at the current resolution
  (a 3×3 conv is ``r = 1``, a 1×1 conv ``r = 0``; dense or residual blocks count the longest
  chain of convs);
- ``up(f)``: ×f pixel shuffle or nearest-neighbour upsampling;
- ``down(f)``: an f×f convolution with stride f (×1/f);
- ``cubic(f)``: Keys cubic ×f upsampling (pixel centres aligned, 4 taps);
- ``deconv(kernel, padding, f)``: a transposed convolution with stride f.

:func:`receptive_field` propagates the HR pixels of one LR "parent" pixel back through the
stages and returns the width ``2·r + 1`` of the LR window that can change them, so a tile needs
a halo of ``r = receptive_field // 2`` LR pixels. ``tests/models/test_receptive_field.py``
checks every registered model against its real forward pass (a one-pixel perturbation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

Stage = tuple[str, int, int, int]  # (kind, a, b, c); the meaning of a/b/c depends on kind
Interval = tuple[int, int]


def conv(r: int) -> Stage:
    """Convolutions with summed half-widths ``r`` (``r`` pixels of context on each side)."""
    return ("conv", int(r), 0, 0)


def up(f: int) -> Stage:
    """×f pixel shuffle or nearest-neighbour upsampling."""
    return ("up", int(f), 0, 0)


def down(f: int) -> Stage:
    """f×f convolution with stride f (×1/f)."""
    return ("down", int(f), 0, 0)


def cubic(f: int) -> Stage:
    """Keys cubic ×f upsampling with aligned pixel centres (``satsr.resample.upscale_cubic``)."""
    return ("cubic", int(f), 0, 0)


def deconv(kernel: int, padding: int, f: int) -> Stage:
    """Transposed convolution (``kernel``, ``padding``, stride ``f``)."""
    return ("deconv", int(kernel), int(padding), int(f))


def prime_factors(n: int) -> list[int]:
    """Prime factors of ``n`` in increasing order (``12 -> [2, 2, 3]``)."""
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def upsampler(scale: int) -> list[Stage]:
    """EDSR-style sub-pixel upsampler: log2(scale) × (conv 3×3, shuffle 2) for powers of two,
    else one conv 3×3 + shuffle(scale) (:class:`satsr.models.layers.PixelShuffleUpsampler`)."""
    if scale > 1 and scale & (scale - 1) == 0:
        return [conv(1), up(2)] * int(math.log2(scale))
    return [conv(1), up(scale)] if scale > 1 else []


def _back(stage: Stage, lo: int, hi: int) -> Interval:
    """The input interval that can change output pixels ``lo..hi`` of ``stage``."""
    kind, a, b, c = stage
    if kind == "conv":
        return lo - a, hi + a
    if kind == "up":
        return lo // a, hi // a
    if kind == "down":
        return a * lo, a * hi + a - 1
    if kind == "cubic":  # output Y samples y = (Y + 1/2)/f - 1/2; taps t with |y - t| < 2
        y_lo = Fraction(2 * lo + 1, 2 * a) - Fraction(1, 2)
        y_hi = Fraction(2 * hi + 1, 2 * a) - Fraction(1, 2)
        return math.floor(y_lo - 2) + 1, math.ceil(y_hi + 2) - 1
    if kind == "deconv":  # input j writes outputs f·j - p .. f·j - p + k - 1
        kernel, pad, f = a, b, c
        return -((kernel - 1 - pad - lo) // f), (hi + pad) // f
    raise ValueError(f"unknown stage {kind!r}")


def receptive_field(scale: int, *branches: Sequence[Stage]) -> int:
    """Width (odd, LR pixels) of the LR window that can change one LR pixel's ``scale``² outputs.

    Each branch must bring the LR grid to the HR grid (its up/down factors multiply to
    ``scale``); the widest branch decides.
    """
    radius = 0
    for branch in branches:
        lo, hi = 0, scale - 1  # the HR pixels of LR parent 0
        for stage in reversed(branch):
            lo, hi = _back(stage, lo, hi)
        radius = max(radius, -lo, hi)
    return 2 * radius + 1
