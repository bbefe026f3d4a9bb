"""Pairing: each Sentinel-2 (HR) acquisition with the Landsat (LR) acquisitions near it in time.

:func:`candidate_pairs` keeps, for every HR acquisition, the LR acquisitions within
``±pair_days`` (sorted by |Δt|); :func:`rank_frames` orders a candidate list by clear fraction
over the chip/tile (descending), then |Δt| (ascending), then id, so the choice is deterministic.
Δt is recorded in days as ``lr.time - hr.time`` (negative: Landsat before Sentinel-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from satsr.fetch.types import Acquisition


@dataclass(frozen=True)
class Candidate:
    """One LR acquisition paired with an HR acquisition, ``dt_days = lr.time - hr.time``."""

    lr: Acquisition
    dt_days: float


@dataclass(frozen=True)
class PairGroup:
    """An HR acquisition and its LR candidates within the pairing window (closest first)."""

    hr: Acquisition
    candidates: tuple[Candidate, ...]


def delta_days(lr: Acquisition, hr: Acquisition) -> float:
    """``lr.time - hr.time`` in days (float)."""
    return (lr.time - hr.time).total_seconds() / 86400.0


def candidate_pairs(hr_acqs: Sequence[Acquisition], lr_acqs: Sequence[Acquisition],
                    pair_days: float) -> list[PairGroup]:
    """HR acquisitions (time order) with their LR candidates within ``±pair_days``; HR
    acquisitions without any candidate are left out."""
    if pair_days < 0:
        raise ValueError(f"pair_days must be >= 0, got {pair_days}")
    groups = []
    for hr in sorted(hr_acqs, key=lambda a: (a.time, a.id)):
        cands = [Candidate(lr, delta_days(lr, hr)) for lr in lr_acqs
                 if abs(delta_days(lr, hr)) <= pair_days]
        cands.sort(key=lambda c: (abs(c.dt_days), c.lr.id))
        if cands:
            groups.append(PairGroup(hr, tuple(cands)))
    return groups


def rank_frames(candidates: Sequence[Candidate], clear_fraction: Sequence[float],
                *, keep: int | None = None, min_clear: float = 0.0) -> list[tuple[Candidate, float]]:
    """Candidates with their clear fraction, best first (clear desc, |Δt| asc, id); those with a
    clear fraction ``<= min_clear`` are dropped, at most ``keep`` are returned."""
    ranked = sorted(zip(candidates, clear_fraction, strict=True),
                    key=lambda cf: (-cf[1], abs(cf[0].dt_days), cf[0].lr.id))
    ranked = [(c, float(f)) for c, f in ranked if f > min_clear]
    return ranked[:keep] if keep is not None else ranked


__all__ = ["Candidate", "PairGroup", "candidate_pairs", "delta_days", "rank_frames"]
