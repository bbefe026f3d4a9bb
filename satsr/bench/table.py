"""Terminal tables (rich) of a bench summary: one per dataset × band × split."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _fmt(value: Any, digits: int, signed: bool = False) -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _throughput(row: dict[str, Any]) -> str:
    """Mpx/s, with "⚠ ±x%" when its timings spread more than ±20 % (noise, not a result)."""
    from satsr.bench.timing import NOISY_SPREAD

    text = _fmt(row["throughput_mpx_s"], 2)
    spread = row.get("throughput_spread")
    if spread is not None and spread > NOISY_SPREAD and text != "–":
        text += f" ⚠ ±{100 * spread:.0f}%"
    return text


def _params(summary: dict[str, Any], row: dict[str, Any]) -> str:
    """Parameter count with the preset it was counted at, e.g. ``146,911 (small preset)``."""
    from satsr.models.presets import preset_of

    count = int(row.get("params") or 0)
    meta = summary.get("models", {}).get(str(row["model"]), {})
    if not count or not isinstance(meta, dict) or not isinstance(meta.get("hparams"), dict):
        return f"{count:,}"
    label = preset_of(str(row["model"]), meta["hparams"])
    return f"{count:,} ({label} preset)" if label != "custom" else f"{count:,} (custom)"


def table_caption(t: dict[str, Any]) -> str:
    """How to read the columns: score direction and the Δ baseline."""
    base = t.get("delta_baseline")
    delta = (f"Δ = model − {base} (same scenes)" if base
             else "Δ: no bicubic row in this table")
    return ("score = norm / cPSNR, lower is better (1 = the organisers' mean-bicubic "
            f"baseline); {delta}")


def render_tables(summary: dict[str, Any]) -> list[Table]:
    """Rich tables for every table in a bench summary (rows best cPSNR first)."""
    out = []
    from satsr.bench.report import data_label, table_title

    label = data_label(summary)
    for t in summary["tables"]:
        table = Table(title=table_title(t, label), caption=table_caption(t))
        width = max([len("model"), *(len(str(r["model"])) for r in t["rows"])])
        table.add_column("model", justify="left", no_wrap=True, min_width=width)
        for col in ("PSNR", "SSIM", "cPSNR", "cPSNR CI95", "score ↓", "ΔPSNR", "ΔcPSNR", "ERGAS",
                    "SAM°", "cons. PSNR", "params", "Mpx/s"):
            table.add_column(col, justify="right")
        for r in t["rows"]:
            table.add_row(
                r["model"], _fmt(r["psnr"], 3), _fmt(r["ssim"], 4), _fmt(r["cpsnr"], 3),
                r.get("cpsnr_ci95") or "–", _fmt(r["score"], 6), _fmt(r["delta_psnr"], 3, True),
                _fmt(r["delta_cpsnr"], 3, True), _fmt(r.get("ergas"), 3), _fmt(r.get("sam"), 3),
                _fmt(r.get("consistency_psnr"), 2), _params(summary, r),
                _throughput(r))
        out.append(table)
    return out
