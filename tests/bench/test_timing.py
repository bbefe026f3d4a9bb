"""satsr.bench.timing: warm-up, repeats, median, spread and the noise flag (no clock asserts)."""

from __future__ import annotations

import pytest
import torch

from satsr.bench.timing import NOISY_SPREAD, Timing, machine_facts, spread_of, time_call, timed_run


def test_median_spread_and_flag() -> None:
    t = Timing(wall_s=(1.0, 1.1, 0.9, 1.0, 1.05), cpu_s=(1.0, 1.0, 1.0, 2.0, 1.0), threads=1)
    assert t.median_s == 1.0 and t.cpu_median_s == 1.0
    assert t.spread == pytest.approx(0.1)
    assert not t.noisy
    noisy = Timing(wall_s=(1.0, 1.0, 1.5), cpu_s=(1.0, 1.0, 1.0), threads=2)
    assert noisy.spread == pytest.approx(0.5)
    assert noisy.spread > NOISY_SPREAD and noisy.noisy
    s = noisy.summary(per=2)
    assert s["median_s"] == 0.5 and s["noisy"] is True and s["repeats"] == 3
    assert s["threads"] == 2 and s["wall_s"] == [0.5, 0.5, 0.75]


def test_time_call_counts_warmup_and_restores_threads() -> None:
    calls = []
    before = torch.get_num_threads()
    t = time_call(lambda: calls.append(torch.get_num_threads()), repeats=4, warmup=2, threads=1)
    assert len(calls) == 6 and set(calls) == {1}
    assert len(t.wall_s) == len(t.cpu_s) == 4 and t.threads == 1
    assert all(x >= 0 for x in t.wall_s)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)


def test_machine_facts() -> None:
    m = machine_facts()
    assert m["cpus"] >= 1 and len(m["load_average"]) == 3
    assert isinstance(m["shared"], bool) and m["torch"] == torch.__version__


def test_timed_run_returns_the_output_and_respects_the_budget() -> None:
    calls: list[int] = []

    def fn() -> int:
        calls.append(1)
        return len(calls)

    out, t = timed_run(fn, repeats=3, warmup=1)
    assert out == 4 and len(calls) == 4 and len(t.wall_s) == 3
    synced: list[int] = []
    calls.clear()
    out, t = timed_run(fn, repeats=5, budget_s=0.0, sync=lambda: synced.append(1))
    assert out == 1 and len(t.wall_s) == 1 and len(synced) == 2  # budget spent after one run
    assert spread_of([1.0]) == 0.0 and spread_of([1.0, 1.0, 1.3]) == pytest.approx(0.3)


def test_bench_table_flags_noisy_throughput() -> None:
    from satsr.bench.table import _throughput

    row = {"throughput_mpx_s": 12.3456, "throughput_spread": 0.35}
    assert _throughput(row) == "12.35 ⚠ ±35%"
    assert _throughput({**row, "throughput_spread": 0.1}) == "12.35"
    assert _throughput({"throughput_mpx_s": 1.0}) == "1.00"  # older summaries: no spread
