"""Honest timings: a warm-up, then the median of repeated runs, with their spread and threads.

A single wall-clock reading on a shared or busy machine can be off by 10× (the first call pays
for imports, allocation and caches; another process may take the core). Throughput numbers in
satsr's tables and benchmarks therefore come from :func:`time_call`: ``warmup`` discarded runs,
then ``repeats`` timed runs whose *median* is the result. The *spread* is the largest relative
deviation of a run from that median; a result whose spread exceeds :data:`NOISY_SPREAD`
(±20 %) is flagged as noise rather than published as a measurement. CPU time (of this process,
all threads) is recorded beside wall time: on a machine shared with other jobs, single-thread
CPU time is the steadier of the two.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

T = TypeVar("T")

#: Relative spread above which a timing is flagged as noise (±20 %).
NOISY_SPREAD = 0.20


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one call: seconds per run (wall and process CPU) and their spread."""

    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    threads: int

    @property
    def median_s(self) -> float:
        """Median wall-clock seconds per run (the published number)."""
        return statistics.median(self.wall_s)

    @property
    def cpu_median_s(self) -> float:
        """Median CPU seconds per run, summed over this process's threads."""
        return statistics.median(self.cpu_s)

    @property
    def spread(self) -> float:
        """Largest relative deviation of a run from the median wall time (0.1 = ±10 %)."""
        return spread_of(self.wall_s)

    @property
    def noisy(self) -> bool:
        """True when the spread exceeds :data:`NOISY_SPREAD`: treat the number as noise."""
        return self.spread > NOISY_SPREAD

    def summary(self, per: float = 1.0) -> dict[str, Any]:
        """JSON-ready facts; ``per`` divides the seconds (e.g. images per call)."""
        return {
            "median_s": self.median_s / per,
            "cpu_median_s": self.cpu_median_s / per,
            "spread": round(self.spread, 4),
            "noisy": self.noisy,
            "repeats": len(self.wall_s),
            "threads": self.threads,
            "wall_s": [round(t / per, 6) for t in self.wall_s],
        }


def time_call(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1,
              threads: int | None = None) -> Timing:
    """Time ``fn()``: ``warmup`` discarded runs, then ``repeats`` timed ones.

    ``threads`` sets torch's intra-op thread count for the duration (restored afterwards);
    None keeps the current one. Raises ``ValueError`` for ``repeats < 1``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        for _ in range(warmup):
            fn()
        wall, cpu = [], []
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return Timing(tuple(wall), tuple(cpu), torch.get_num_threads())
    finally:
        torch.set_num_threads(before)


def timed_run(fn: Callable[[], T], *, repeats: int = 3, warmup: int = 0,
              budget_s: float = 1.0, sync: Callable[[], None] | None = None
              ) -> tuple[T, Timing]:
    """Run ``fn()`` ``warmup`` times untimed, then time it up to ``repeats`` times; return the
    last output and the :class:`Timing`.

    Timing stops early once the timed runs took ``budget_s`` in total (a slow call is timed
    once: its own length already averages out scheduler noise). ``sync`` (e.g.
    ``torch.cuda.synchronize``) runs before each clock reading so queued GPU work is counted.
    """
    for _ in range(warmup):
        out = fn()
    wall: list[float] = []
    cpu: list[float] = []
    while True:
        if sync is not None:
            sync()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        if sync is not None:
            sync()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if len(wall) >= repeats or sum(wall) >= budget_s:
            return out, Timing(tuple(wall), tuple(cpu), torch.get_num_threads())


def spread_of(values: Sequence[float]) -> float:
    """Largest relative deviation of ``values`` from their median (0 for fewer than 2)."""
    if len(values) < 2:
        return 0.0
    med = statistics.median(values)
    return max(abs(v - med) for v in values) / med if med > 0 else 0.0


def machine_facts() -> dict[str, Any]:
    """Where a benchmark ran: CPU count and model, load average (a load above the CPU count
    means the machine was shared while timing), Python, torch, NumPy and satsr versions."""
    import os
    import platform

    import numpy as np

    from satsr import __version__

    load = os.getloadavg()
    cpus = os.cpu_count() or 1
    return {
        "cpus": cpus,
        "cpu": _cpu_model() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "satsr": __version__,
        "load_average": [round(x, 2) for x in load],
        "shared": load[0] > 0.5 * cpus,
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
