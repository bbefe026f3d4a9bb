"""Tables and plots from a benchmark results folder (``satsr report``, the leaderboard).

A results folder (see :mod:`satsr.bench.results`) holds ``summary.json`` with one table per
dataset × band × split and ``records.parquet`` with per-scene metrics. This module turns them
into:

- ``tables/<dataset>_<band>_<split>.csv`` — the summary rows at full precision;
- ``tables/<dataset>_<band>_<split>.md`` — the same rows formatted (:data:`COLUMNS` decimals);
- ``plots/scatter_<dataset>_<band>_<split>.png`` — each model's per-scene cPSNR (y) against
  the baseline's (x; ``mean-bicubic``, else ``bicubic``) with the line y = x: points above the
  line are scenes where the model beats the baseline;
- ``report.md`` — every table plus provenance, linking the plots.

The number formatting (:func:`format_value`) is shared with the documentation leaderboard, so
the site, the Markdown and the CLI always show the same digits.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from satsr._atomic import write_text, write_via
from satsr._lock import output_lock
from satsr._paths import inside, safe_name
from satsr.bench.results import is_own_summary, load_records, load_summary
from satsr.errors import ConfigError

log = logging.getLogger(__name__)

BASELINES = ("mean-bicubic", "bicubic")
"""Scatter-plot baselines in order of preference (x axis)."""

MISSING = "—"
"""How a null / NaN value is shown."""

GENERATOR_MARK = "<!-- generator: satsr report -->"
"""Last line of every report.md satsr writes: how it recognises its own report."""


@dataclass(frozen=True)
class Column:
    """A leaderboard column: summary-row ``key``, ``header`` text, and how to format it."""

    key: str
    header: str
    decimals: int | None = None  # None: integer with thousands separators (or text)
    signed: bool = False
    higher_is_better: bool | None = None
    numeric: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("model", "Model", numeric=False),
    Column("n_scenes", "Scenes"),
    Column("psnr", "PSNR (dB)", 2, higher_is_better=True),
    Column("ssim", "SSIM", 4, higher_is_better=True),
    Column("cpsnr", "cPSNR (dB)", 2, higher_is_better=True),
    Column("score", "Score", 4, higher_is_better=False),
    Column("delta_psnr", "Δ PSNR (dB)", 2, signed=True, higher_is_better=True),
    Column("delta_ssim", "Δ SSIM", 4, signed=True, higher_is_better=True),
    Column("delta_cpsnr", "Δ cPSNR (dB)", 2, signed=True, higher_is_better=True),
    Column("psnr_ci95", "PSNR 95 % CI", numeric=False),
    Column("cpsnr_ci95", "cPSNR 95 % CI", numeric=False),
    Column("ergas", "ERGAS", 3, higher_is_better=False),
    Column("sam", "SAM (°)", 3, higher_is_better=False),
    Column("consistency_psnr", "Consistency PSNR (dB)", 2, higher_is_better=True),
    Column("consistency_bias", "Consistency mean abs. bias", 5, higher_is_better=False),
    Column("params", "Params"),
    Column("throughput_mpx_s", "Throughput (MP/s)", 2, higher_is_better=True),
)
"""The columns of every table, in order (Δ columns are against ``bicubic``)."""

COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


def is_missing(value: Any) -> bool:
    """True for None and NaN/inf floats (written as ``null`` in summary.json)."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def format_value(key: str, value: Any) -> str:
    """The display text of ``value`` in column ``key`` (e.g. ``psnr`` → ``"41.23"``)."""
    if is_missing(value):
        return MISSING
    col = COLUMN_BY_KEY.get(key)
    if col is None or not col.numeric:
        return str(value)
    if col.decimals is None:
        return f"{round(float(value)):,}"
    text = f"{float(value):+.{col.decimals}f}" if col.signed else f"{float(value):.{col.decimals}f}"
    return text.replace("-", "−") if col.signed else text


def sort_value(key: str, value: Any) -> str:
    """A machine-sortable text for ``value`` (empty for missing), used by sortable tables."""
    if is_missing(value):
        return ""
    col = COLUMN_BY_KEY.get(key)
    if col is None or not col.numeric:
        return str(value)
    return repr(float(value))


def table_slug(table: Mapping[str, Any]) -> str:
    """``<dataset>_<band>_<split>``: the file stem of a table's CSV/Markdown/scatter plot.

    Each part is sanitised (:func:`satsr._paths.safe_name`): a band named ``../..`` in a
    results file never makes a path outside the report folder.
    """
    return "_".join(safe_name(table[k]) for k in ("dataset", "band", "split"))


def data_label(summary: Mapping[str, Any]) -> str:
    """``REAL`` or ``SYNTHETIC``: every table and plot says which data it measured."""
    return "SYNTHETIC" if summary["dataset"].get("synthetic") else "REAL"


def table_title(table: Mapping[str, Any], label: str) -> str:
    """``dataset · band · split — REAL, N scenes``: the heading of a table or plot."""
    n = int(table["n_scenes"])
    return (f"{table['dataset']} · {table['band']} · {table['split']} — {label}, {n} "
            f"scene{'s' if n != 1 else ''}")


def table_frame(table: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of one summary table as a DataFrame in :data:`COLUMNS` order (nulls → NaN)."""
    keys = [c.key for c in COLUMNS]
    rows = [{k: row.get(k) for k in keys} for row in table["rows"]]
    df = pd.DataFrame(rows, columns=keys)
    for col in COLUMNS[1:]:
        if col.numeric:
            df[col.key] = pd.to_numeric(df[col.key], errors="coerce").astype("float64")
    return df


def per_band_markdown(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Per-band ERGAS and consistency bias of each model (None for single-band tables)."""
    bands: list[str] = []
    for row in rows:
        for band in (row.get("per_band") or {}).get("ergas", {}):
            if band not in bands:
                bands.append(band)
    if len(bands) < 2:
        return None
    head = ["Model", *(f"ERGAS {b}" for b in bands), *(f"bias {b}" for b in bands)]
    lines = ["| " + " | ".join(head) + " |", "|:---|" + "---:|" * (2 * len(bands))]
    for row in rows:
        pb = row.get("per_band") or {}
        cells = [str(row["model"])]
        cells += [format_value("ergas", pb.get("ergas", {}).get(b)) for b in bands]
        cells += [format_value("consistency_bias", pb.get("consistency_bias", {}).get(b))
                  for b in bands]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column] = COLUMNS) -> str:
    """A GitHub-flavoured Markdown table of summary rows, formatted with :func:`format_value`."""
    lines = ["| " + " | ".join(c.header for c in columns) + " |",
             "|" + "|".join(("---:" if c.numeric else ":---") for c in columns) + "|"]
    for row in rows:
        cells = [format_value(c.key, row.get(c.key)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def provenance_line(summary: Mapping[str, Any]) -> str:
    """One line of provenance: run id, satsr version, commit, date, device."""
    env = summary.get("environment", {})
    commit = summary.get("git_commit") or "unknown"
    if commit != "unknown":
        commit = commit[:10] + ("+dirty" if summary.get("git_dirty") else "")
    device = str(env.get("device", "?"))
    if env.get("cpu") and device == "cpu":
        device = f"cpu ({env['cpu']}, {env.get('threads', '?')} threads)"
    elif env.get("gpu"):
        device = f"{device} ({env['gpu']})"
    return (f"run `{summary['run_id']}` · satsr {summary['satsr_version']} · commit `{commit}` · "
            f"{summary['created']} · {device}")


def scatter_data(
    records: pd.DataFrame, dataset: str, band: str, split: str, metric: str = "cpsnr"
) -> tuple[str, pd.DataFrame] | None:
    """Per-scene ``metric`` of one table as (baseline name, DataFrame scene × model).

    Returns None when the records lack a baseline, a second model, or finite values.
    """
    sel = records[(records["dataset"] == dataset) & (records["band"] == band)
                  & (records["split"] == split)]
    if sel.empty:
        return None
    wide = sel.pivot_table(index="scene", columns="model", values=metric, aggfunc="mean")
    baseline = next((b for b in BASELINES if b in wide.columns), None)
    if baseline is None or wide.shape[1] < 2:
        return None
    wide = wide.dropna(subset=[baseline])
    if wide.empty or not np.isfinite(wide.to_numpy(dtype=float)).any():
        return None
    return baseline, wide


#: matplotlib's tab10 colours and filled markers of the scatter plots
SERIES_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
SERIES_MARKERS = "osD^v<>ph*"


def series_style(i: int) -> tuple[str, str]:
    """(colour, marker) of the ``i``-th series: the colour cycles fastest and the marker changes
    with every full colour cycle, so the first 100 series never repeat a pair."""
    return (SERIES_COLORS[i % len(SERIES_COLORS)],
            SERIES_MARKERS[(i // len(SERIES_COLORS)) % len(SERIES_MARKERS)])


def scatter_plot(
    records: pd.DataFrame, dataset: str, band: str, split: str, path: Path, label: str = ""
) -> Path | None:
    """Write the per-scene scatter plot of one table to ``path`` (PNG); None if not drawable.

    Each model's per-scene cPSNR (y) against the baseline's (x), with y = x; PSNR is used when
    the dataset has no cPSNR.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metric = "cpsnr"
    found = scatter_data(records, dataset, band, split, metric)
    if found is None:
        metric = "psnr"
        found = scatter_data(records, dataset, band, split, metric)
    if found is None:
        return None
    baseline, wide = found
    data, label = label, ("cPSNR" if metric == "cpsnr" else "PSNR")
    many = len(wide.columns) > 6  # a long legend goes beside the axes, not over the points
    fig = Figure(figsize=(8.0 if many else 5.2, 5.0), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = wide[baseline].to_numpy(dtype=float)
    others = [m for m in wide.columns if m != baseline]
    for i, model in enumerate(others):
        y = wide[model].to_numpy(dtype=float)
        ok = np.isfinite(y) & np.isfinite(x)
        color, marker = series_style(i)
        n_ok = int(ok.sum())
        ax.scatter(x[ok], y[ok], s=22, alpha=0.8, color=color, marker=marker,
                   label=f"{model} ({n_ok} scene{'s' if n_ok != 1 else ''})")
    values = wide.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.5, 0.04 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, ls="--", label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{baseline} {label} (dB)")
    ax.set_ylabel(f"model {label} (dB)")
    n = len(wide)
    ax.set_title(f"{dataset} · {band} · {split}: per-scene {label}\n"
                 f"{data or 'data'}, {n} scene{'s' if n != 1 else ''}", fontsize=10)
    ax.grid(alpha=0.3)
    if many:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    else:
        ax.legend(loc="upper left", fontsize=8)
    write_via(path, lambda p: fig.savefig(p, format="png"))
    return path


def report_markdown(
    summary: Mapping[str, Any], plots: Mapping[str, Path], out_dir: Path
) -> str:
    """The ``report.md`` text: provenance, then each table with its scatter plot."""
    ds = summary["dataset"]
    label = data_label(summary)
    lines = [f"# Benchmark report: {summary['run_id']}", "",
             f"Dataset **{ds['name']}** ({label} data), scale ×{ds['scale']}.", "",
             provenance_line(summary), "",
             "Δ columns are against the `bicubic` row of the same table. Score is the PROBA-V "
             "score (norm / cPSNR against the organisers' mean-bicubic baseline; lower is "
             "better). Means are over scenes; the 95 % CI is a "
             "bootstrap interval of the scene mean. ERGAS uses h/l = 1/scale; SAM is in degrees "
             "(multi-band tables only); consistency compares the SR degraded back to LR with "
             "the LR input (reference-free).", ""]
    for table in summary["tables"]:
        slug = table_slug(table)
        lines += [f"## {table_title(table, label)}", "", markdown_table(table["rows"])]
        bands = per_band_markdown(table["rows"])
        if bands is not None:
            lines += ["Per band:", "", bands]
        if slug in plots:
            rel = os.path.relpath(plots[slug], out_dir)
            lines += [f"![per-scene scatter {slug}]({rel})", ""]
    lines += [GENERATOR_MARK, ""]
    return "\n".join(lines)


def _is_own_report(path: Path) -> bool:
    try:
        return GENERATOR_MARK in path.read_text(encoding="utf-8")[-200:]
    except (OSError, UnicodeDecodeError):
        return False


def foreign_report_files(out_dir: Path) -> list[str]:
    """Report outputs in ``out_dir`` that satsr did not write (empty: safe to write).

    A folder is satsr's when it holds satsr's summary.json or satsr's report.md.
    """
    present = [n for n in ("report.md", "tables", "plots") if (out_dir / n).exists()]
    if not present or is_own_summary(out_dir / "summary.json"):
        return []
    return [] if _is_own_report(out_dir / "report.md") else present


def write_report(results_dir: Path, out_dir: Path | None = None, *,
                 overwrite: bool = False, lock: bool = True) -> list[Path]:
    """Write tables (CSV, Markdown), scatter plots and ``report.md`` for a results folder.

    ``out_dir`` defaults to ``results_dir``. Returns the written paths. Every file is written
    atomically, so an interrupted report never leaves a half-written file; ``out_dir`` is
    locked meanwhile (``lock=False`` when the caller holds the lock), and report files there
    that satsr did not write are refused unless ``overwrite``.
    Raises :class:`~satsr.bench.results.ResultsSchemaError` for an invalid summary.json.
    """
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    summary = load_summary(results_dir)
    records = load_records(results_dir)
    if not lock:
        return _write_report(summary, records, out_dir, overwrite)
    with output_lock(out_dir):
        return _write_report(summary, records, out_dir, overwrite)


def _write_report(summary: Mapping[str, Any], records: pd.DataFrame, out_dir: Path,
                  overwrite: bool) -> list[Path]:
    foreign = [] if overwrite else foreign_report_files(out_dir)
    if foreign:
        raise ConfigError(f"{out_dir} holds {', '.join(foreign)} that satsr did not write; "
                          "choose another --out or pass --overwrite to replace them")
    written: list[Path] = []
    plots: dict[str, Path] = {}
    for table in summary["tables"]:
        slug = table_slug(table)
        frame = table_frame(table)
        csv_path = inside(out_dir, Path("tables") / f"{slug}.csv")
        write_text(csv_path, frame.to_csv(index=False))
        md_path = inside(out_dir, Path("tables") / f"{slug}.md")
        write_text(md_path, markdown_table(table["rows"]))
        written += [csv_path, md_path]
        plot = scatter_plot(records, table["dataset"], table["band"], table["split"],
                            inside(out_dir, Path("plots") / f"scatter_{slug}.png"),
                            data_label(summary))
        if plot is not None:
            plots[slug] = plot
            written.append(plot)
        else:
            log.info("no scatter plot for %s: records lack a baseline or a second model", slug)
    report = out_dir / "report.md"
    write_text(report, report_markdown(summary, plots, out_dir))
    written.append(report)
    return written
