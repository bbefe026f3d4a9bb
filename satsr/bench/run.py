"""The benchmark run: every model × every scene of a dataset, scored with the official metrics.

Records are appended per (model, dataset × band) and written atomically, so an interrupted run
leaves valid files and a rerun skips what was computed (resume). At the end the summary, the
tables and the plots are (re)generated from all records.
"""

from __future__ import annotations

import logging
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from satsr import __version__, schema
from satsr.batch import Batch, iter_batches
from satsr.bench import results as res
from satsr.bench.evidence import remote_sensing_scores, table_fields
from satsr.bench.models import (
    ModelSpec,
    ResolvedModel,
    check_compatible,
    parse_model_specs,
    resolve_model,
)
from satsr.bench.timing import spread_of, timed_run
from satsr.datasets import load_datasets
from satsr.errors import ConfigError, InputValueError
from satsr.metrics import cpsnr, psnr, ssim
from satsr.models import count_parameters, model_info
from satsr.models.weights import dataset_facts

log = logging.getLogger(__name__)

#: Border cropped before PSNR/SSIM, equal to the cPSNR crop so all three see the same pixels.
BORDER = 3


@dataclass
class BenchConfig:
    """Options of a bench run (``satsr bench`` maps its flags onto these)."""

    models: str | list[str] = "all"
    dataset: str = "sample"
    split: str | None = None
    band: str | None = None
    out: Path | None = None
    root: Path | None = None
    batch_size: int = 4
    device: str = "cpu"
    resume: bool = True
    strips: bool = True
    progress: bool = True
    run_id: str | None = None
    #: use weights trained on another band/sensor/scale/value scale (with a warning)
    allow_mismatch: bool = False
    #: load weights whose sidecar has no sha256
    trust_unverified: bool = False
    predictions: Path | None = None  # stored predictions to score (satsr.bench.predictions)

    def __post_init__(self) -> None:
        from satsr._checks import check_device, check_int, check_output_dir

        check_int("--batch-size", self.batch_size)
        check_device("--device", self.device)
        check_output_dir("--out", self.out)


@dataclass
class BenchResult:
    """What a run produced: the folder, all records, the summary and skipped models."""

    out: Path
    records: pd.DataFrame
    summary: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)


def default_split(dataset: str, split: str | None) -> str | None:
    """``split``, else the named dataset's registered default (e.g. the sample's held-out
    ``test`` split); paths default to every scene with a target."""
    from satsr.datasets import DATASETS

    if split is None and dataset in DATASETS:
        return DATASETS.get(dataset).default_split
    return split


def band_label(ds: xr.Dataset) -> str:
    """Table label of a dataset's band group, e.g. ``RED`` or ``blue+green+red+nir``."""
    return "+".join(str(b) for b in ds["band"].values)


def scorable(ds: xr.Dataset) -> xr.Dataset:
    """Scenes that have a target (official PROBA-V test scenes have none)."""
    has_hr = ds["hr_mask"].any(dim=("Y", "X")).values
    if not has_hr.any():
        raise InputValueError(
            f"dataset {ds.attrs['dataset']!r} band {band_label(ds)} has no scene with a "
            "high-resolution target to score (official test scenes have no HR); pick another "
            "--split")
    return ds if has_hr.all() else ds.isel(scene=np.flatnonzero(has_hr))


def scoring_mask(batch: Batch, scale: int, rule: str = "hr") -> torch.Tensor:
    """(B, H, W) pixels to score.

    ``"hr"`` (default, the PROBA-V rule): every clear HR pixel. ``"hr&lr"`` (paired chips from
    two sensors): clear HR pixels whose LR pixel is clear in at least one valid frame, since
    a cloud in the only LR frame cannot be super-resolved.
    """
    assert batch.hr_mask is not None
    if rule == "hr":
        return batch.hr_mask
    if rule != "hr&lr":
        raise ConfigError(f"unknown score_mask {rule!r} in the dataset's attributes; use one of "
                          f"{list(schema.SCORE_MASKS)}")
    lr_clear = (batch.lr_mask & batch.frame_valid[:, :, None, None]).any(1)
    up = lr_clear.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    return batch.hr_mask & up


def score_batch(sr: torch.Tensor, batch: Batch, data_range: float,
                mask: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-scene PSNR/SSIM (border-cropped, clear pixels) and cPSNR/score for one batch."""
    if not torch.isfinite(sr).all():
        bad = int((~torch.isfinite(sr)).sum())
        raise InputValueError(f"model output contains NaN/inf in {bad} pixel(s); the model or "
                              "its weights are broken")
    assert batch.hr is not None and batch.hr_mask is not None
    sr64, hr64 = sr.double(), batch.hr.double()
    mask = batch.hr_mask if mask is None else mask
    out = {
        "psnr": psnr(sr64, hr64, data_range=data_range, mask=mask, crop=BORDER).numpy(),
        "ssim": ssim(sr64, hr64, data_range=data_range, mask=mask, crop=BORDER).numpy(),
    }
    values = cpsnr(sr64, hr64, mask, border=BORDER, data_range=data_range)
    assert isinstance(values, torch.Tensor)
    out["cpsnr"] = values.numpy()
    if batch.norm is not None:
        out["score"] = batch.norm.numpy() / out["cpsnr"]
    else:
        out["score"] = np.full(len(batch), np.nan)
    return out


def run_model_on_dataset(
    resolved: ResolvedModel,
    ds: xr.Dataset,
    *,
    done: set[str],
    batch_size: int,
    device: str,
    on_batch: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Records for every scene of ``ds`` not in ``done``."""
    todo = [i for i, s in enumerate(ds["scene"].values) if str(s) not in done]
    if not todo:
        return []
    sub = ds.isel(scene=todo)
    model = resolved.model.to(device).eval()
    data_range = float(ds.attrs["data_range"])
    rule = str(ds.attrs.get("score_mask", "hr"))
    split_of = dict(zip(map(str, sub["scene"].values), map(str, sub["split"].values), strict=True))
    rows: list[dict[str, Any]] = []
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    for n_batch, batch in enumerate(iter_batches(sub, batch_size)):
        dev = batch.to(device)
        with torch.inference_mode():  # warm-up on the first batch, then a median of repeats
            sr, timing = timed_run(partial(model, dev.lr, dev.lr_mask, dev.frame_valid),
                                   warmup=int(n_batch == 0), sync=sync)
        elapsed = timing.median_s
        mask = scoring_mask(batch, int(ds.attrs["scale"]), rule)
        scores = score_batch(sr.cpu(), batch, data_range, mask)
        extra = remote_sensing_scores(
            sr.cpu(), batch, scale=int(ds.attrs["scale"]), data_range=data_range, mask=mask,
            crop=BORDER, bands=[str(b) for b in ds["band"].values],
            psf_sigma_hr=float(ds.attrs.get("psf_sigma_hr", 0.0)))
        for i, scene in enumerate(batch.scene):
            rows.append({
                "dataset": ds.attrs["dataset"],
                "split": split_of[scene],
                "band": band_label(ds),
                "scene": scene,
                "model": resolved.name,
                "psnr": float(scores["psnr"][i]),
                "ssim": float(scores["ssim"][i]),
                "cpsnr": float(scores["cpsnr"][i]),
                "score": float(scores["score"][i]),
                "runtime_s": elapsed / len(batch),
                "synthetic": bool(ds.attrs["synthetic"]),
                **extra[i],
            })
        if on_batch is not None:
            on_batch(len(batch))
    return rows


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


def summarise(
    records: pd.DataFrame,
    *,
    config: BenchConfig,
    run_id: str,
    dataset_info: dict[str, Any],
    models: dict[str, dict[str, Any]],
    output_pixels: dict[tuple[str, str, str], int],
    plots: dict[str, list[str]],
    skipped: dict[str, str],
) -> dict[str, Any]:
    """The summary (schema ``satsr.bench.results`` v1) from all records of a run."""
    tables: list[dict[str, Any]] = []
    for (dataset, band, split), group in records.groupby(["dataset", "band", "split"], sort=True):
        base = group[group["model"] == "bicubic"]
        base_means = base[["psnr", "ssim", "cpsnr"]].mean() if len(base) else None
        rows = []
        for model, g in group.groupby("model", sort=False):
            means = g[["psnr", "ssim", "cpsnr", "score"]].mean()
            runtime = float(g["runtime_s"].sum())
            spread = spread_of(g["runtime_s"].tolist())  # across batches (records are per scene)
            pixels = output_pixels.get((str(dataset), str(band), str(split)), 0) * len(g)
            rows.append({
                "model": str(model),
                "n_scenes": len(g),
                "psnr": float(means["psnr"]),
                "ssim": float(means["ssim"]),
                "cpsnr": float(means["cpsnr"]),
                "score": float(means["score"]),
                "delta_psnr": None if base_means is None else float(means["psnr"] - base_means["psnr"]),
                "delta_ssim": None if base_means is None else float(means["ssim"] - base_means["ssim"]),
                "delta_cpsnr": None if base_means is None else float(means["cpsnr"] - base_means["cpsnr"]),
                "params": int(models.get(str(model), {}).get("params", 0)),
                "throughput_mpx_s": (pixels / runtime / 1e6) if runtime > 0 and pixels else None,
                "throughput_spread": round(spread, 4),
                "runtime_s": runtime,
                **table_fields(g),
            })
        rows.sort(key=_row_order)
        tables.append({"dataset": str(dataset), "band": str(band), "split": str(split),
                       "n_scenes": int(group["scene"].nunique()), "rows": rows})
    commit, dirty = _git_commit()
    return {
        "kind": res.KIND,
        "schema_version": res.SCHEMA_VERSION,
        "run_id": run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "satsr_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "environment": environment(config.device),
        "dataset": dataset_info,
        "models": models,
        "skipped": skipped,
        "tables": tables,
        "plots": plots,
    }


def _row_order(row: dict[str, Any]) -> tuple[float, str]:
    """Best mean cPSNR first; NaN last; ties by name."""
    value = float(row["cpsnr"])
    return (-value if value == value else float("inf"), str(row["model"]))


def _model_meta(resolved: ResolvedModel) -> dict[str, Any]:
    info = model_info(resolved.name)
    return {"kind": info.kind, "params": count_parameters(resolved.model),
            "weights": resolved.weights, "paper": info.paper, "year": info.year,
            "url": info.url, "hparams": {k: v for k, v in resolved.model.hparams.items()
                                         if isinstance(v, str | int | float | bool)}}


def _weights_options(config: BenchConfig, ds: xr.Dataset) -> dict[str, Any]:
    """How :func:`resolve_model` checks weights against ``ds`` (facts and override flags)."""
    return {"facts": dataset_facts(ds), "allow_mismatch": config.allow_mismatch,
            "trust_unverified": config.trust_unverified}


def run_bench(config: BenchConfig) -> BenchResult:
    """Run a benchmark; see :class:`BenchConfig`. Returns the records and summary."""
    from satsr.bench.plots import write_strips
    from satsr.progress import make_progress

    specs: list[ModelSpec] = parse_model_specs(config.models)
    split = default_split(config.dataset, config.split)
    datasets = [scorable(ds) for ds in load_datasets(config.dataset, split=split,
                                                     band=config.band, root=config.root)]
    name = str(datasets[0].attrs["dataset"])
    out = Path(config.out) if config.out else Path("satsr-results") / name.replace(":", "_")
    run_id = config.run_id or out.name
    records = res.load_records(out) if config.resume and out.exists() else res.empty_records()
    done_keys = set(map(tuple, records[res.RECORD_KEY].astype(str).to_numpy().tolist()))
    models_meta: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    output_pixels: dict[tuple[str, str, str], int] = {}
    resolved_by_table: dict[str, list[ResolvedModel]] = {}

    plan: list[tuple[xr.Dataset, ResolvedModel]] = []
    for ds in datasets:
        band = band_label(ds)
        scale, channels = int(ds.attrs["scale"]), ds.sizes["band"]
        for s in specs:
            resolved, reason = resolve_model(s, dataset=name, band=band, scale=scale,
                                             in_channels=channels, **_weights_options(config, ds))
            if resolved is None:
                skipped[f"{s.name}@{band}"] = str(reason)
                continue
            check_compatible(resolved, scale=scale, in_channels=channels)
            models_meta[resolved.name] = _model_meta(resolved)
            plan.append((ds, resolved))
            resolved_by_table.setdefault(band, []).append(resolved)
        _add_stored_predictions(config, ds, plan, models_meta)
        for sp in sorted(set(map(str, ds["split"].values))):
            output_pixels[(name, band, sp)] = int(ds.sizes["Y"] * ds.sizes["X"] * channels)
    if not plan:
        raise ConfigError(f"no model can run on {name!r}: {'; '.join(skipped.values())}")
    total = sum(ds.sizes["scene"] for ds, _ in plan)
    out.mkdir(parents=True, exist_ok=True)  # only once everything is validated

    def save(extra: list[dict[str, Any]]) -> pd.DataFrame:
        nonlocal records
        if extra:
            new = pd.DataFrame(extra).astype(res.RECORD_COLUMNS)
            records = new if records.empty else pd.concat([records, new], ignore_index=True)
            res.write_records(records, out)
        return records

    dataset_info = {
        "name": name, "path": str(config.dataset), "synthetic": bool(datasets[0].attrs["synthetic"]),
        "scale": int(datasets[0].attrs["scale"]), "value_scale": datasets[0].attrs["value_scale"],
        "data_range": float(datasets[0].attrs["data_range"]),
        "bands": [band_label(ds) for ds in datasets],
        "splits": sorted({str(s) for ds in datasets for s in ds["split"].values}),
        "n_scenes": {band_label(ds): int(ds.sizes["scene"]) for ds in datasets},
        "score_mask": str(datasets[0].attrs.get("score_mask", "hr")),
        "lr_sensor": datasets[0].attrs.get("lr_sensor", ""),
        "hr_sensor": datasets[0].attrs.get("hr_sensor", ""),
        "multi_frame": any(ds.sizes["frame"] > 1 for ds in datasets),  # leaderboard: mean-bicubic row required
    }
    plots: dict[str, list[str]] = {"scatter": [], "strips": []}
    with make_progress(disable=not config.progress) as progress:
        task = progress.add_task(f"bench {name}", total=total, status="")
        for ds, resolved in plan:
            band = band_label(ds)
            done = {k[3] for k in done_keys if k[0] == name and k[2] == band and k[4] == resolved.name}
            progress.update(task, status=f"{resolved.name} · {band}")
            already = sum(1 for s in ds["scene"].values if str(s) in done)
            progress.advance(task, already)
            rows = run_model_on_dataset(resolved, ds, done=done, batch_size=config.batch_size,
                                        device=config.device,
                                        on_batch=lambda n: progress.advance(task, n))
            save(rows)
            summary = summarise(records, config=config, run_id=run_id, dataset_info=dataset_info,
                                models=models_meta, output_pixels=output_pixels, plots=plots,
                                skipped=skipped)
            res.write_summary(summary, out)
    if config.strips:
        for ds in datasets:
            plots["strips"] += write_strips(ds, resolved_by_table.get(band_label(ds), []),
                                            records, out, device=config.device)
    plots["scatter"] = _write_report(out)
    summary = summarise(records, config=config, run_id=run_id, dataset_info=dataset_info,
                        models=models_meta, output_pixels=output_pixels, plots=plots,
                        skipped=skipped)
    res.write_summary(summary, out)
    return BenchResult(out=out, records=records, summary=summary, skipped=skipped)


def _add_stored_predictions(config: BenchConfig, ds: xr.Dataset,
                            plan: list[tuple[xr.Dataset, ResolvedModel]],
                            models_meta: dict[str, dict[str, Any]]) -> None:
    """With ``--predictions``: score the stored predictions as one more model of the plan."""
    if config.predictions is None:
        return
    from satsr.bench.predictions import stored_model

    stored = stored_model(config.predictions, ds)
    models_meta[stored.name] = stored.meta
    plan.append((ds, stored))


def _write_report(out: Path) -> list[str]:
    """Tables (Markdown/CSV) and scatter plots via :mod:`satsr.bench.report`."""
    from satsr.bench.report import write_report

    written = write_report(out)
    return sorted(str(p.relative_to(out)) for p in written
                  if p.suffix == ".png" and p.name.startswith("scatter"))


def select_scene_for_strip(records: pd.DataFrame, ds: xr.Dataset) -> int:
    """Index of the scene shown in visual strips: the one with median bicubic cPSNR."""
    band = band_label(ds)
    base = records[(records["band"] == band) & (records["model"] == "bicubic")]
    scenes = [str(s) for s in ds["scene"].values]
    if base.empty:
        return 0
    base = base[base["scene"].isin(scenes)].sort_values("cpsnr")
    if base.empty:
        return 0
    return scenes.index(str(base["scene"].iloc[len(base) // 2]))


def model_rank(records: pd.DataFrame, band: str, names: Sequence[str]) -> list[str]:
    """Model names sorted by mean cPSNR (best first) on one band."""
    sub = records[(records["band"] == band) & (records["model"].isin(list(names)))]
    order = sub.groupby("model")["cpsnr"].mean().sort_values(ascending=False)
    return [str(m) for m in order.index]
