"""Tiny inputs for the reliability battery, built once per session (well under a second).

Everything lives under one folder: a 4-scene sample-schema store, a copy of it with a corrupt
chunk, weights files whose sidecars hold impossible widths, bench results folders holding foreign
or truncated records, report folders with malformed ``summary.json`` files, recipes, AOIs and
credentials files. The battery only ever reads these; each case writes into its own folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

#: placeholders a case's argv may use, each a path under the workspace
NAMES = ("store", "corrupt_store", "truncated_store", "file", "wneg", "whuge", "wgarbage",
         "foreign_parquet", "truncated_parquet", "foreign_csv", "truncated_csv", "sample_root",
         "report_badjson", "report_tables", "report_fields", "report_kind", "report_rows",
         "report_nosummary", "recipe_bad", "recipe_list", "recipe_unknown", "recipe_type",
         "aoi_crs", "aoi_nested", "aoi_garbage", "aoi_point", "aoi_empty", "cred_user",
         "cred_bad", "cred_list", "probav_fake")


def _tiny_store(path: Path) -> None:
    from satsr import schema

    rng = np.random.default_rng(0)
    n, t, h = 4, 2, 8
    lr = rng.uniform(0.1, 0.9, (n, t, 1, h, h)).astype(np.float32)
    hr = rng.uniform(0.1, 0.9, (n, 1, 3 * h, 3 * h)).astype(np.float32)
    ds = schema.build(lr=lr, lr_mask=np.ones((n, t, h, h), bool), hr=hr,
                      hr_mask=np.ones((n, 3 * h, 3 * h), bool),
                      scene_ids=[f"s{i}" for i in range(n)], bands=["red"],
                      split=["train", "train", "val", "test"],
                      scale=3, dataset="tiny", value_scale="reflectance")
    schema.save_dataset(ds, path)


def _chunk_of(store: Path, var: str) -> Path:
    return next(p for p in sorted((store / var).rglob("*"))
                if p.is_file() and not p.name.startswith(".") and p.name != "zarr.json")


def _weights(ws: Path) -> None:
    from satsr.models import create_model
    from satsr.models.weights import save_weights, sidecar_path

    model = create_model("srcnn", scale=3, in_channels=1)
    for name, width in (("wneg", -4), ("whuge", 10**7)):
        path = ws / f"{name}.safetensors"
        save_weights(model, path)
        side = json.loads(sidecar_path(path).read_text())
        side["hparams"]["n1"] = width  # SRCNN's first-layer width
        sidecar_path(path).write_text(json.dumps(side))
    garbage = ws / "wgarbage.safetensors"
    save_weights(model, garbage)
    garbage.write_bytes(b"\x00garbage" * 7)


def _results(ws: Path) -> None:
    import pandas as pd

    foreign = pd.DataFrame({"city": ["Oslo", "Lima"], "population": [709_000, 9_700_000]})
    for name in ("foreign_parquet", "truncated_parquet", "foreign_csv", "truncated_csv"):
        (ws / name).mkdir()
    foreign.to_parquet(ws / "foreign_parquet" / "records.parquet")
    foreign.to_parquet(ws / "truncated_parquet" / "records.parquet")
    data = (ws / "truncated_parquet" / "records.parquet").read_bytes()
    (ws / "truncated_parquet" / "records.parquet").write_bytes(data[: len(data) // 2])
    foreign.to_csv(ws / "foreign_csv" / "records.csv", index=False)
    (ws / "truncated_csv" / "records.csv").write_bytes(b'model,scene,psnr\n"bicub')


def _reports(ws: Path) -> None:
    good = {"kind": "satsr.bench.summary", "tables": []}
    bodies = {
        "report_badjson": '{"kind": "satsr.bench.summary", "tables": [',
        "report_tables": json.dumps({**good, "tables": "many"}),
        "report_kind": json.dumps({**good, "kind": "something else"}),
        "report_fields": json.dumps({**good, "tables": [{"dataset": 5, "band": None,
                                                        "split": [], "rows": "x"}]}),
        "report_rows": json.dumps({**good, "tables": [{"dataset": "d", "band": "b",
                                                       "split": "test",
                                                       "rows": [{"model": 3, "psnr": "high"}]}]}),
    }
    for name, body in bodies.items():
        (ws / name).mkdir()
        (ws / name / "summary.json").write_text(body)
    (ws / "report_nosummary").mkdir()


def _text_inputs(ws: Path) -> None:
    files = {
        "recipe_bad.yaml": "model: srcnn\nsteps: [1, 2\n",
        "recipe_list.yaml": "- model\n- srcnn\n",
        "recipe_unknown.yaml": "model: srcnn\nlearning_rate_typo: 0.1\n",
        "recipe_type.yaml": "model: srcnn\nsteps: many\n",
        "aoi_crs.geojson": json.dumps({"type": "FeatureCollection",
                                       "crs": {"type": "name", "properties": "EPSG:32633"},
                                       "features": []}),
        "aoi_nested.geojson": "[" * 100_000 + "]" * 100_000,
        "aoi_garbage.geojson": "this is not json {",
        "aoi_point.geojson": json.dumps({"type": "Point", "coordinates": [10, 50]}),
        "aoi_empty.geojson": json.dumps({"type": "FeatureCollection", "features": []}),
        "cred_user.json": json.dumps({"type": "external_account", "audience": "x"}),
        "cred_bad.json": '{"type": "service_account", "private_key": ',
        "cred_list.json": "[1, 2, 3]",
        "file": "a plain file, where a folder is expected\n",
    }
    for name, body in files.items():
        (ws / name).write_text(body)
    (ws / "probav_fake").mkdir()


def build_workspace(ws: Path) -> dict[str, str]:
    """Write every input under ``ws`` and return the placeholder -> path mapping."""
    ws.mkdir(parents=True, exist_ok=True)
    _tiny_store(ws / "store.zarr")
    for name, how in (("corrupt_store", "random"), ("truncated_store", "truncate")):
        shutil.copytree(ws / "store.zarr", ws / f"{name}.zarr")
        chunk = _chunk_of(ws / f"{name}.zarr", "hr")
        data = chunk.read_bytes()
        chunk.write_bytes(np.random.default_rng(1).bytes(len(data)) if how == "random"
                          else data[: len(data) // 3])
    _weights(ws)
    _results(ws)
    _reports(ws)
    _text_inputs(ws)
    sample = ws / "sample_root"
    sample.mkdir()
    (sample / "provenance.json").write_text(json.dumps({"scenes": {}}))
    (sample / "splits.json").write_text('{"RED": {"train": ["imgset0')
    paths = {name: str(ws / name) for name in NAMES}
    for name in ("store", "corrupt_store", "truncated_store"):
        paths[name] = str(ws / f"{name}.zarr")
    for name in ("wneg", "whuge", "wgarbage"):
        paths[name] = str(ws / f"{name}.safetensors")
    for name in ("recipe_bad", "recipe_list", "recipe_unknown", "recipe_type"):
        paths[name] = str(ws / f"{name}.yaml")
    for name in ("aoi_crs", "aoi_nested", "aoi_garbage", "aoi_point", "aoi_empty"):
        paths[name] = str(ws / f"{name}.geojson")
    for name in ("cred_user", "cred_bad", "cred_list"):
        paths[name] = str(ws / f"{name}.json")
    return paths
