"""Frame-selection policies on masks with known clear counts."""

from __future__ import annotations

import pytest
import torch

from satsr.frames import clear_counts, gather_frames, select_mask, tied_max, topk_indices


def masks(counts: list[int], size: int = 4) -> torch.Tensor:
    m = torch.zeros(1, len(counts), size, size, dtype=torch.bool)
    for i, c in enumerate(counts):
        m[0, i].view(-1)[:c] = True
    return m


def test_clear_counts_marks_padding() -> None:
    m = masks([5, 9, 3])
    valid = torch.tensor([[True, True, False]])
    assert clear_counts(m, valid).tolist() == [[5, 9, -1]]


def test_topk_orders_by_clearance_with_stable_ties_and_repeats() -> None:
    m = masks([5, 9, 9, 3])
    assert topk_indices(m, None, 3).tolist() == [[1, 2, 0]]
    valid = torch.tensor([[True, True, False, False]])
    assert topk_indices(m, valid, 5).tolist() == [[1, 0, 1, 0, 1]]


def test_tied_max_and_select_mask() -> None:
    m = masks([9, 5, 9, 9])
    assert tied_max(m).tolist() == [[True, False, True, True]]
    assert select_mask("all", m, torch.tensor([[True, True, True, False]])).tolist() == [
        [True, True, True, False]]
    assert select_mask("topk", m, None, k=2).tolist() == [[True, False, True, False]]
    with pytest.raises(ValueError, match="unknown frame policy"):
        select_mask("best", m, None)  # type: ignore[arg-type]


def test_gather_frames() -> None:
    x = torch.arange(2 * 4 * 3).reshape(2, 4, 3).float()
    idx = torch.tensor([[3, 0], [1, 1]])
    out = gather_frames(x, idx)
    assert torch.equal(out[0, 0], x[0, 3]) and torch.equal(out[1, 1], x[1, 1])
