"""Benchmark results on disk: the versioned ``summary.json`` schema, records, and loading.

A results folder holds ``records.parquet``/``records.csv`` (one row per dataset, split, band,
scene and model) and ``summary.json`` (provenance plus one table per dataset × band × split).
The leaderboard and ``satsr report`` only read what :func:`validate_summary` accepts.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from satsr import _atomic
from satsr.bench.evidence import RECORD_COLUMNS as EVIDENCE_COLUMNS
from satsr.errors import SatsrError

KIND = "satsr.bench.results"
SCHEMA_VERSION = 2
#: Versions reports and the leaderboard read (v1 summaries predate per-row identities).
READABLE_VERSIONS = (1, 2)
#: Written into every summary.json: how satsr recognises a results folder as its own.
GENERATOR = "satsr bench"

RECORD_COLUMNS: dict[str, str] = {
    "dataset": "string",
    "split": "string",
    "band": "string",
    "scene": "string",
    "model": "string",
    "psnr": "float64",
    "ssim": "float64",
    "cpsnr": "float64",
    "score": "float64",
    "runtime_s": "float64",
    "pixels": "int64",  # output values of the scene (bands × Y × X), for throughput
    "synthetic": "bool",
    **EVIDENCE_COLUMNS,
    # identity (satsr.bench.identity): a record is reused only when all three keys match
    "model_key": "string",
    "data_key": "string",
    "metric_key": "string",
    # what the summary says about the model of this row (never lost across resumed runs)
    "weights": "string",
    "weights_sha256": "string",
    "params": "int64",
    "hparams": "string",
}
RECORD_KEY = ["dataset", "split", "band", "scene", "model"]
IDENTITY = ["model_key", "data_key", "metric_key"]
#: Names a bench run writes into its folder; finding them without satsr's summary means the
#: folder holds someone else's files, which satsr never overwrites unless told to.
OUTPUT_NAMES = ("summary.json", "records.parquet", "records.csv", "report.md", "tables", "plots")

SUMMARY_FIELDS = ("kind", "schema_version", "run_id", "created", "satsr_version", "git_commit",
                  "environment", "dataset", "models", "tables", "plots")
TABLE_FIELDS = ("dataset", "band", "split", "n_scenes", "rows")
ROW_FIELDS = ("model", "n_scenes", "psnr", "ssim", "cpsnr", "score", "delta_psnr", "delta_ssim",
              "delta_cpsnr", "params", "throughput_mpx_s", "runtime_s")
ENV_FIELDS = ("python", "torch", "platform", "device")
ROW_IDENTITY = ("model_key", "data_fingerprint", "metric_key", "weights_sha256")
NULLABLE = {"git_commit", "score", "delta_psnr", "delta_ssim", "delta_cpsnr", "cpsnr",
            "throughput_mpx_s", "weights_sha256"}


class ResultsSchemaError(SatsrError):
    """A results file does not follow the versioned schema; names the file and the field."""


def _require(obj: Mapping[str, Any], fields: Sequence[str], where: str, source: str) -> None:
    for name in fields:
        if name not in obj:
            raise ResultsSchemaError(f"{source}: field '{where}{name}' is missing")
        if obj[name] is None and name not in NULLABLE:
            raise ResultsSchemaError(f"{source}: field '{where}{name}' is null")


def validate_summary(obj: Any, source: str) -> None:
    """Raise :class:`ResultsSchemaError` (naming ``source`` and the field) unless valid."""
    if not isinstance(obj, dict):
        raise ResultsSchemaError(f"{source}: top level must be a JSON object")
    if obj.get("kind") != KIND:
        raise ResultsSchemaError(f"{source}: field 'kind' must be {KIND!r}, got {obj.get('kind')!r}")
    version = obj.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ResultsSchemaError(
            f"{source}: field 'schema_version' is {version!r}; this satsr reads versions "
            f"{list(READABLE_VERSIONS)} (re-run `satsr bench` or upgrade satsr)")
    _require(obj, SUMMARY_FIELDS, "", source)
    _require(obj["environment"], ENV_FIELDS, "environment.", source)
    _require(obj["dataset"], ("name", "synthetic", "scale"), "dataset.", source)
    if not isinstance(obj["tables"], list):
        raise ResultsSchemaError(f"{source}: field 'tables' must be a list")
    for i, table in enumerate(obj["tables"]):
        _require(table, TABLE_FIELDS, f"tables[{i}].", source)
        for j, row in enumerate(table["rows"]):
            # v1 rows (before result identities) are readable; bench never resumes them
            needed = ROW_FIELDS + (ROW_IDENTITY if version >= 2 else ())
            _require(row, needed, f"tables[{i}].rows[{j}].", source)
            for name in ROW_FIELDS[1:]:
                value = row[name]
                if value is not None and not isinstance(value, int | float):
                    raise ResultsSchemaError(
                        f"{source}: field 'tables[{i}].rows[{j}].{name}' must be a number")


def load_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a ``summary.json`` (a file or the results folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    if not path.exists():
        raise ResultsSchemaError(f"{path}: not found; a results folder needs summary.json "
                                 "(written by `satsr bench`)")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsSchemaError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ResultsSchemaError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    validate_summary(obj, str(path))
    return dict(obj)


def load_records(results_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Per-scene records of a results folder (Parquet preferred, CSV as fallback)."""
    results_dir = Path(results_dir)
    parquet, csv = results_dir / "records.parquet", results_dir / "records.csv"
    path = parquet if parquet.exists() else csv
    if not path.exists():
        return empty_records()
    try:
        if path is parquet:
            df = pd.read_parquet(parquet)
        else:
            df = pd.read_csv(csv, dtype={"scene": str, "hparams": str})
            for name in ("weights", "weights_sha256", "hparams"):  # "" means none, not NA
                if name in df:
                    df[name] = df[name].fillna("")
    except Exception as exc:  # pyarrow/pandas raise many types for a corrupt file
        raise ResultsSchemaError(f"{path}: not a readable records file ({type(exc).__name__}); "
                                 "move it away or pass --overwrite to start the folder afresh"
                                 ) from None
    df = with_evidence_columns(df)
    missing = [c for c in RECORD_COLUMNS if c not in df.columns]
    if missing:
        older = set(missing) <= set(IDENTITY) | {"weights", "weights_sha256", "params", "hparams",
                                                 "pixels"}
        why = ("written by an older satsr without result identities" if older
               else f"lacks column(s) {missing}")
        raise ResultsSchemaError(f"{path}: {why}; pass --overwrite to start the folder afresh "
                                 "or choose another --out")
    try:
        return df.astype(RECORD_COLUMNS)[list(RECORD_COLUMNS)]
    except (ValueError, TypeError) as exc:
        raise ResultsSchemaError(f"{path}: a column has the wrong type ({exc}); pass "
                                 "--overwrite to start the folder afresh") from None


def with_evidence_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the remote-sensing columns added as missing values where it lacks them
    (records written before those metrics existed stay readable)."""
    df = df.copy()
    for name, dtype in EVIDENCE_COLUMNS.items():
        if name not in df.columns:
            df[name] = pd.Series(pd.NA if dtype == "string" else float("nan"), index=df.index,
                                 dtype=dtype)
    return df


def empty_records() -> pd.DataFrame:
    """An empty records frame with the right columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in RECORD_COLUMNS.items()})


def find_results(root: str | os.PathLike[str]) -> list[Path]:
    """Every results folder (one holding a summary.json) directly under ``root``, sorted."""
    root = Path(root)
    if (root / "summary.json").exists():
        return [root]
    return sorted(p.parent for p in root.glob("*/summary.json"))


def write_records(df: pd.DataFrame, results_dir: Path) -> None:
    """Write records as Parquet and CSV, each atomically (valid files even after Ctrl-C)."""
    df = with_evidence_columns(df).astype(RECORD_COLUMNS)[list(RECORD_COLUMNS)]
    df = df.sort_values(RECORD_KEY)
    df = df.reset_index(drop=True)
    _atomic.write_via(results_dir / "records.parquet", lambda p: df.to_parquet(p, index=False))
    _atomic.write_text(results_dir / "records.csv", df.to_csv(index=False))


def json_clean(value: Any) -> Any:
    """Replace NaN/inf floats by None recursively so the JSON is standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_clean(v) for v in value]
    return value


def is_own_summary(path: Path) -> bool:
    """True when ``path`` is a summary.json that satsr wrote (any schema version)."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(obj, dict) and obj.get("kind") == KIND


def _own_records(results_dir: Path) -> bool:
    """Records satsr wrote before its first summary (a run killed in between)."""
    if not any((results_dir / n).exists() for n in ("records.parquet", "records.csv")):
        return False
    try:
        return set(RECORD_COLUMNS) <= set(load_records(results_dir).columns)
    except ResultsSchemaError:
        return False


def foreign_outputs(results_dir: Path) -> list[str]:
    """Names of bench outputs in ``results_dir`` that satsr did not write (empty: safe to use).

    A folder is satsr's when it holds satsr's ``summary.json`` (or, after a run killed before
    its first summary, satsr's records); then nothing in it counts as foreign.
    """
    present = [n for n in OUTPUT_NAMES if (results_dir / n).exists()]
    if not present:
        return []
    summary = results_dir / "summary.json"
    if summary.exists():
        return [] if is_own_summary(summary) else present
    return [] if _own_records(results_dir) else present


def write_summary(summary: Mapping[str, Any], results_dir: Path) -> Path:
    """Validate and write ``summary.json`` atomically."""
    clean = json_clean(dict(summary))
    path = results_dir / "summary.json"
    validate_summary(clean, str(path))
    _atomic.write_text(path, json.dumps(clean, indent=2, sort_keys=False) + "\n")
    return path
