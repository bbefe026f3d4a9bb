"""Benchmark harness: run models on a dataset, score them, write records, summary and plots."""

from __future__ import annotations

from satsr.bench.run import BenchConfig, BenchResult, run_bench

__all__ = ["BenchConfig", "BenchResult", "run_bench"]
