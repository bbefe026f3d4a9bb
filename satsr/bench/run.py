"""The benchmark run: every model × every scene of a dataset, scored with the official metrics.

Records are appended per (model, dataset × band) and written atomically, so an interrupted run
leaves valid files. Every record carries its identity (:mod:`satsr.bench.identity`): a rerun
skips a record only when model, weights, data and metric settings are all unchanged, and
replaces the rows whose identity changed. The summary, tables and plots are (re)generated from
all records. The results folder is locked while a run writes it, and a folder holding result
files that satsr did not write is refused unless ``overwrite``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import xarray as xr

from satsr._lock import output_lock
from satsr._paths import safe_name
from satsr.batch import iter_batches
from satsr.bench import results as res
from satsr.bench.evidence import remote_sensing_scores
from satsr.bench.identity import digest, metric_settings, model_identity, scene_keys
from satsr.bench.scoring import BORDER, band_label, scorable, score_batch, scoring_mask
from satsr.bench.specs import (
    ModelSpec,
    ResolvedModel,
    check_compatible,
    parse_model_specs,
    resolve_model,
)
from satsr.bench.summary import environment, summarise
from satsr.bench.timing import timed_run
from satsr.datasets import load_datasets
from satsr.errors import ConfigError
from satsr.models import count_parameters
from satsr.models.weights import dataset_facts

log = logging.getLogger(__name__)

__all__ = [
    "BORDER",
    "BenchConfig",
    "BenchResult",
    "band_label",
    "default_split",
    "environment",
    "run_bench",
    "run_model_on_dataset",
    "scorable",
    "score_batch",
    "scoring_mask",
]


@dataclass
class BenchConfig:
    """Options of a bench run (``satsr bench`` maps its flags onto these).

    ``resume`` reuses records whose identity is unchanged; ``overwrite`` starts the folder
    afresh even when it holds result files that satsr did not write (or an older format).
    """

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
    overwrite: bool = False
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
    """What a run produced: the folder, all records, the summary, skipped models, and the
    stale rows of models not in this run that were removed (model → rows)."""

    out: Path
    records: pd.DataFrame
    summary: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class _Table:
    """One dataset × band group to score, with the content key of each scene."""

    ds: xr.Dataset
    band: str
    splits: list[str]
    keys: dict[str, str]
    metric_key: str


@dataclass
class _Job:
    """One model on one table, with the columns every record of it carries."""

    table: _Table
    resolved: ResolvedModel
    columns: dict[str, Any]

    @property
    def name(self) -> str:
        return self.resolved.name


def default_split(dataset: str, split: str | None) -> str | None:
    """``split``, else the named dataset's registered default (e.g. the sample's held-out
    ``test`` split); paths default to every scene with a target."""
    from satsr.datasets import DATASETS

    if split is None and dataset in DATASETS:
        return DATASETS.get(dataset).default_split
    return split


def run_model_on_dataset(
    resolved: ResolvedModel,
    ds: xr.Dataset,
    *,
    done: set[str],
    batch_size: int,
    device: str,
    on_batch: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Records (metrics, runtime) for every scene of ``ds`` not in ``done``."""
    todo = [i for i, s in enumerate(ds["scene"].values) if str(s) not in done]
    if not todo:
        return []
    sub = ds.isel(scene=todo)
    model = resolved.model.to(device).eval()
    data_range = float(ds.attrs["data_range"])
    rule = str(ds.attrs.get("score_mask", "hr"))
    pixels = int(ds.sizes["band"] * ds.sizes["Y"] * ds.sizes["X"])
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
                "dataset": ds.attrs["dataset"], "split": split_of[scene], "band": band_label(ds),
                "scene": scene, "model": resolved.name,
                "psnr": float(scores["psnr"][i]), "ssim": float(scores["ssim"][i]),
                "cpsnr": float(scores["cpsnr"][i]), "score": float(scores["score"][i]),
                "runtime_s": elapsed / len(batch), "pixels": pixels,
                "synthetic": bool(ds.attrs["synthetic"]), **extra[i],
            })
        if on_batch is not None:
            on_batch(len(batch))
    return rows


# ----------------------------------------------------------------------------- planning

def _tables(config: BenchConfig) -> tuple[str, list[_Table]]:
    """The dataset's band groups with scorable scenes, each with its scenes' content keys."""
    split = default_split(config.dataset, config.split)
    datasets = [scorable(ds) for ds in load_datasets(config.dataset, split=split,
                                                     band=config.band, root=config.root)]
    tables = [_Table(ds, band_label(ds), sorted(set(map(str, ds["split"].values))),
                     scene_keys(ds), digest(metric_settings(ds, BORDER)))
              for ds in datasets]
    return str(datasets[0].attrs["dataset"]), tables


def _job_columns(resolved: ResolvedModel) -> dict[str, Any]:
    identity = model_identity(resolved)
    return {"model_key": digest(identity), "weights": resolved.weights or "",
            "weights_sha256": identity["weights_sha256"] or "",
            "params": count_parameters(resolved.model),
            "hparams": json.dumps(identity["hparams"], sort_keys=True)}


def _weights_options(config: BenchConfig, ds: xr.Dataset) -> dict[str, Any]:
    """How :func:`resolve_model` checks weights against ``ds`` (facts and override flags)."""
    return {"facts": dataset_facts(ds), "allow_mismatch": config.allow_mismatch,
            "trust_unverified": config.trust_unverified}


def _jobs(specs: Sequence[ModelSpec], tables: Sequence[_Table], name: str,
          config: BenchConfig) -> tuple[list[_Job], dict[str, str]]:
    """Every (model, table) to run, resolved and checked before anything is written."""
    jobs: list[_Job] = []
    skipped: dict[str, str] = {}
    for table in tables:
        scale, channels = int(table.ds.attrs["scale"]), table.ds.sizes["band"]
        for spec in specs:
            resolved, reason = resolve_model(spec, dataset=name, band=table.band, scale=scale,
                                             in_channels=channels,
                                             **_weights_options(config, table.ds))
            if resolved is None:
                skipped[f"{spec.name}@{table.band}"] = str(reason)
                continue
            check_compatible(resolved, scale=scale, in_channels=channels)
            jobs.append(_Job(table, resolved, _job_columns(resolved)))
        if config.predictions is not None:  # --predictions: the stored outputs as one more model
            from satsr.bench.predictions import stored_model

            stored = stored_model(config.predictions, table.ds)
            jobs.append(_Job(table, stored, _job_columns(stored)))
    if not jobs:
        raise ConfigError(f"no model can run on {name!r}: {'; '.join(skipped.values())}")
    return jobs, skipped


def _dataset_info(config: BenchConfig, name: str, tables: Sequence[_Table]) -> dict[str, Any]:
    ds = tables[0].ds
    return {
        "name": name, "path": str(config.dataset), "synthetic": bool(ds.attrs["synthetic"]),
        "scale": int(ds.attrs["scale"]), "value_scale": ds.attrs["value_scale"],
        "data_range": float(ds.attrs["data_range"]),
        "score_mask": str(ds.attrs.get("score_mask", "hr")),
        "lr_sensor": ds.attrs.get("lr_sensor", ""), "hr_sensor": ds.attrs.get("hr_sensor", ""),
        # the leaderboard requires a mean-bicubic row for multi-frame datasets
        "multi_frame": any(t.ds.sizes["frame"] > 1 for t in tables),
        "metric_settings": metric_settings(ds, BORDER),
    }


# ----------------------------------------------------------------------------- resume

def _prior_records(out: Path, config: BenchConfig, name: str) -> pd.DataFrame:
    """The records already in ``out`` that this run may keep (empty with ``overwrite``)."""
    if config.overwrite:
        return res.empty_records()
    foreign = res.foreign_outputs(out)
    if foreign:
        raise ConfigError(f"{out} holds {', '.join(foreign)} that satsr did not write; choose "
                          "another --out or pass --overwrite to replace them")
    records = res.load_records(out)
    others = sorted(set(records["dataset"].astype(str)) - {name})
    if others:
        raise ConfigError(f"{out} holds results for dataset {others[0]!r}, not {name!r}; choose "
                          "another --out (one results folder per dataset) or pass --overwrite")
    return records


def _stale(records: pd.DataFrame, jobs: Sequence[_Job], resume: bool) -> pd.Series:
    """Rows of the tables this run scores whose identity differs from this run's."""
    stale = pd.Series(False, index=records.index)
    scene, band = records["scene"].astype(str), records["band"].astype(str)
    for table in {id(j.table): j.table for j in jobs}.values():
        in_table = (band == table.band) & records["split"].astype(str).isin(table.splits)
        now = scene.map(table.keys).fillna("")
        changed = (now != records["data_key"].astype(str)) | (
            records["metric_key"].astype(str) != table.metric_key)
        stale |= in_table & changed
    for job in jobs:
        mine = ((band == job.table.band) & (records["model"].astype(str) == job.name)
                & records["split"].astype(str).isin(job.table.splits))
        differs = records["model_key"].astype(str) != job.columns["model_key"]
        stale |= mine & (differs if resume else True)
    return stale


def _prune(records: pd.DataFrame, jobs: Sequence[_Job],
           resume: bool) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop stale rows; returns the rest and, per model NOT in this run, the rows dropped."""
    stale = _stale(records, jobs, resume)
    running = {(j.table.band, j.name) for j in jobs}
    gone = records[stale]
    lost = [str(m) for b, m in zip(gone["band"], gone["model"], strict=True)
            if (str(b), str(m)) not in running]
    dropped = {m: lost.count(m) for m in sorted(set(lost))}
    if len(gone):
        log.info("replacing %d result row(s) whose identity changed", len(gone))
    return records[~stale].reset_index(drop=True), dropped


# ----------------------------------------------------------------------------- running

def _previous_strips(out: Path) -> list[str]:
    try:
        old = res.load_summary(out)
    except res.ResultsSchemaError:
        return []
    return [p for p in old.get("plots", {}).get("strips", []) if (out / p).exists()]


def _run_jobs(jobs: Sequence[_Job], records: pd.DataFrame, out: Path, config: BenchConfig,
              write_summary: Callable[[pd.DataFrame], object]) -> pd.DataFrame:
    """Run every job, appending and writing its records (and the summary) after each job."""
    from satsr.progress import make_progress

    total = sum(j.table.ds.sizes["scene"] for j in jobs)
    with make_progress(disable=not config.progress) as progress:
        task = progress.add_task(f"bench {out.name}", total=total, status="")
        for job in jobs:
            mine = records[(records["band"] == job.table.band) & (records["model"] == job.name)
                           & records["split"].isin(job.table.splits)]
            done = set(mine["scene"].astype(str)) & set(job.table.keys)
            progress.update(task, status=f"{job.name} · {job.table.band}")
            progress.advance(task, len(done))
            rows = run_model_on_dataset(job.resolved, job.table.ds, done=done,
                                        batch_size=config.batch_size, device=config.device,
                                        on_batch=lambda n: progress.advance(task, n))
            if rows:
                new = pd.DataFrame([{**r, **job.columns, "data_key": job.table.keys[r["scene"]],
                                     "metric_key": job.table.metric_key} for r in rows])
                new = new.astype(res.RECORD_COLUMNS)[list(res.RECORD_COLUMNS)]
                records = new if records.empty else pd.concat([records, new], ignore_index=True)
                res.write_records(records, out)
            write_summary(records)
    return records


def _write_report(out: Path) -> list[str]:
    """Tables (Markdown/CSV) and scatter plots via :mod:`satsr.bench.report`."""
    from satsr.bench.report import write_report

    written = write_report(out, overwrite=True, lock=False)  # the run holds the lock
    return sorted(str(p.relative_to(out)) for p in written
                  if p.suffix == ".png" and p.name.startswith("scatter"))


def _bench_in(out: Path, config: BenchConfig, name: str, tables: Sequence[_Table],
              jobs: Sequence[_Job], skipped: dict[str, str]) -> BenchResult:
    """The locked part of a run: resume state, scoring, summary, strips and report."""
    from satsr.bench.plots import write_strips

    records, dropped = _prune(_prior_records(out, config, name), jobs, config.resume)
    plots: dict[str, list[str]] = {"scatter": [], "strips": _previous_strips(out)}
    info = _dataset_info(config, name, tables)
    run_id = config.run_id or out.name

    def write_summary(recs: pd.DataFrame) -> dict[str, Any]:
        summary = summarise(recs, run_id=run_id, device=config.device, dataset_info=info,
                            plots=plots, skipped=skipped, dropped=dropped)
        if not recs.empty:  # nothing scored: nothing written (a failed run leaves no files)
            res.write_summary(summary, out)
        return summary

    records = _run_jobs(jobs, records, out, config, write_summary)
    if config.strips:
        for table in tables:
            models = [j.resolved for j in jobs if j.table is table]
            new = write_strips(table.ds, models, records, out, device=config.device)
            plots["strips"] = sorted(set(plots["strips"]) | set(new))
    if not records.empty:
        plots["scatter"] = _write_report(out)
    summary = write_summary(records)
    return BenchResult(out=out, records=records, summary=summary, skipped=skipped,
                       dropped=dropped)


def run_bench(config: BenchConfig) -> BenchResult:
    """Run a benchmark; see :class:`BenchConfig`. Returns the records and summary.

    Models and data are checked before anything is written; the results folder is then
    locked (a second run on it stops with :class:`~satsr._lock.FolderInUseError`).
    """
    specs = parse_model_specs(config.models)
    name, tables = _tables(config)
    jobs, skipped = _jobs(specs, tables, name, config)
    out = Path(config.out) if config.out else Path("satsr-results") / safe_name(name)
    with output_lock(out):
        return _bench_in(out, config, name, tables, jobs, skipped)
