"""Pairing within ±N days and ranking by clear fraction."""

from __future__ import annotations

from datetime import UTC, datetime

from satsr.fetch.pairing import candidate_pairs, rank_frames
from satsr.fetch.types import Acquisition


def _acq(i: str, coll: str, day: int) -> Acquisition:
    return Acquisition(id=i, collection=coll, sensor="landsat9" if coll == "landsat" else "sentinel2a",
                       time=datetime(2023, 7, day, 22, tzinfo=UTC), cloud_cover=0.0,
                       crs="EPSG:32604", transform=(30.0, 0.0, 0.0, 0.0, -30.0, 0.0),
                       width=10, height=10)


def test_candidates_within_window_sorted_by_dt() -> None:
    s2 = [_acq("s2b", "sentinel2", 20), _acq("s2a", "sentinel2", 10)]
    ls = [_acq("l1", "landsat", 5), _acq("l2", "landsat", 12), _acq("l3", "landsat", 9),
          _acq("l4", "landsat", 30)]
    groups = candidate_pairs(s2, ls, 3)
    assert [g.hr.id for g in groups] == ["s2a"]  # s2b has nothing within 3 days
    assert [(c.lr.id, c.dt_days) for c in groups[0].candidates] == [("l3", -1.0), ("l2", 2.0)]
    assert [g.hr.id for g in candidate_pairs(s2, ls, 10)] == ["s2a", "s2b"]


def test_rank_by_clear_fraction_then_dt() -> None:
    groups = candidate_pairs([_acq("s", "sentinel2", 10)],
                             [_acq("a", "landsat", 9), _acq("b", "landsat", 12),
                              _acq("c", "landsat", 11)], 5)
    cands = groups[0].candidates  # a (-1), c (+1), b (+2)
    ranked = rank_frames(cands, [0.5, 0.5, 0.9])
    assert [c.lr.id for c, _ in ranked] == ["b", "a", "c"]
    assert [c.lr.id for c, _ in rank_frames(cands, [0.0, 0.3, 0.2], keep=1)] == ["c"]
    assert rank_frames(cands, [0.0, 0.0, 0.0]) == []
