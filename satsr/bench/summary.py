"""The ``summary.json`` of a results folder, computed from its records alone.

Every row of every table is described by the records it summarises (model identity, weights
checksum, parameter count, hyper-parameters, data fingerprint, metric settings), so a summary
always describes every row it holds, whichever run computed which row.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from satsr import __version__
from satsr.bench import results as res
from satsr.bench.evidence import table_fields
from satsr.bench.identity import fingerprint
from satsr.bench.timing import spread_of

#: The Δ columns compare each row with this model of the same table.
DELTA_BASELINE = "bicubic"


def _git_commit() -> tuple[str | None, bool]:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "satsr"],
                                    check=True, capture_output=True, text=True,
                                    timeout=5).stdout.strip())
        return commit or None, dirty
    except (OSError, subprocess.SubprocessError):
        return None, False


def environment(device: str) -> dict[str, Any]:
    """The software and hardware a run used (goes into the summary)."""
    cpu = platform.processor() or platform.machine()
    if device.startswith("cuda") and torch.cuda.is_available():
        cpu = torch.cuda.get_device_name(0)
    return {
        "python": platform.python_version(),
        "torch": torch.__version__.split("+")[0],
        "numpy": np.__version__,
        "xarray": xr.__version__,
        "platform": platform.platform(),
        "device": device,
        "cpu": cpu,
        "threads": torch.get_num_threads(),
    }


def _one(values: pd.Series) -> str | None:
    """The single value of an identity column ("" → None; several → comma-joined)."""
    found = sorted({str(v) for v in values if isinstance(v, str) and v})
    return ",".join(found) if found else None


def _row(model: str, g: pd.DataFrame, base_means: pd.Series | None) -> dict[str, Any]:
    """One summary row: the means of one model's records in one table, and its identity."""
    means = g[["psnr", "ssim", "cpsnr", "score"]].mean()
    runtime = float(g["runtime_s"].sum())
    pixels = int(g["pixels"].sum())

    def delta(key: str) -> float | None:
        return None if base_means is None else float(means[key] - base_means[key])

    hparams = sorted({str(v) for v in g["hparams"] if isinstance(v, str) and v})
    return {
        "model": model, "n_scenes": len(g),
        "psnr": float(means["psnr"]), "ssim": float(means["ssim"]),
        "cpsnr": float(means["cpsnr"]), "score": float(means["score"]),
        "delta_psnr": delta("psnr"), "delta_ssim": delta("ssim"), "delta_cpsnr": delta("cpsnr"),
        "params": int(g["params"].max()),
        "throughput_mpx_s": (pixels / runtime / 1e6) if runtime > 0 and pixels else None,
        # across batches (records are per scene)
        "throughput_spread": round(spread_of(g["runtime_s"].tolist()), 4),
        "runtime_s": runtime,
        "weights": _one(g["weights"]),
        "weights_sha256": _one(g["weights_sha256"]),
        "hparams": json.loads(hparams[0]) if len(hparams) == 1 else {},
        "model_key": _one(g["model_key"]),
        "metric_key": _one(g["metric_key"]),
        "data_fingerprint": fingerprint(zip(g["scene"].astype(str), g["data_key"].astype(str),
                                            strict=True)),
        **table_fields(g),
    }


def tables(records: pd.DataFrame) -> list[dict[str, Any]]:
    """One table per dataset × band × split: a row per model, best mean cPSNR first."""
    out: list[dict[str, Any]] = []
    for (dataset, band, split), group in records.groupby(["dataset", "band", "split"], sort=True):
        base = group[group["model"] == DELTA_BASELINE]
        base_means = base[["psnr", "ssim", "cpsnr"]].mean() if len(base) else None
        rows = [_row(str(m), g, base_means) for m, g in group.groupby("model", sort=False)]
        rows.sort(key=_row_order)
        out.append({
            "dataset": str(dataset), "band": str(band), "split": str(split),
            "n_scenes": int(group["scene"].nunique()),
            "synthetic": bool(group["synthetic"].any()),
            "delta_baseline": DELTA_BASELINE if base_means is not None else None,
            "data_fingerprint": fingerprint(
                set(zip(group["scene"].astype(str), group["data_key"].astype(str), strict=True))),
            "rows": rows})
    return out


def _row_order(row: dict[str, Any]) -> tuple[float, str]:
    """Best mean cPSNR first; NaN last; ties by name."""
    value = float(row["cpsnr"])
    return (-value if value == value else float("inf"), str(row["model"]))


def models_section(records: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per model present in the records: registry facts plus weights/params of its rows."""
    from satsr.errors import ModelNotFoundError
    from satsr.models import model_info

    out: dict[str, dict[str, Any]] = {}
    for name, g in records.groupby("model", sort=True):
        try:
            info = model_info(str(name))
            facts: dict[str, Any] = {"kind": info.kind, "paper": info.paper, "year": info.year,
                                     "url": info.url}
        except ModelNotFoundError:
            facts = {"kind": "unregistered", "paper": None, "year": None, "url": None}
        hparams = sorted({str(v) for v in g["hparams"] if isinstance(v, str) and v})
        out[str(name)] = {**facts, "params": int(g["params"].max()),
                          "hparams": json.loads(hparams[0]) if len(hparams) == 1 else {},
                          "weights": _one(g["weights"]),
                          "weights_sha256": _one(g["weights_sha256"])}
    return out


def dataset_section(records: pd.DataFrame, current: dict[str, Any]) -> dict[str, Any]:
    """The dataset block: facts of the dataset of this run, bands/splits/scenes of all records."""
    info = dict(current)
    info["bands"] = sorted({str(b) for b in records["band"]}) or info.get("bands", [])
    info["splits"] = sorted({str(s) for s in records["split"]}) or info.get("splits", [])
    info["n_scenes"] = {str(b): int(g["scene"].nunique())
                        for b, g in records.groupby("band", sort=True)} or info.get("n_scenes", {})
    info["fingerprint"] = fingerprint(
        set(zip(records["split"].astype(str) + "/" + records["band"].astype(str) + "/"
                + records["scene"].astype(str), records["data_key"].astype(str), strict=True)))
    return info


def summarise(
    records: pd.DataFrame,
    *,
    run_id: str,
    device: str,
    dataset_info: dict[str, Any],
    plots: dict[str, list[str]],
    skipped: dict[str, str],
    dropped: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The summary (schema ``satsr.bench.results`` v2) of every record of a results folder."""
    commit, dirty = _git_commit()
    return {
        "kind": res.KIND,
        "schema_version": res.SCHEMA_VERSION,
        "generator": res.GENERATOR,
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "satsr_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "environment": environment(device),
        "dataset": dataset_section(records, dataset_info),
        "models": models_section(records),
        "skipped": skipped,
        "dropped_stale": dict(dropped or {}),
        "tables": tables(records),
        "plots": plots,
    }
