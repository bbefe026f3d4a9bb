"""Predictions for sample-schema stores and the PROBA-V submission archive, scored back by
``satsr bench --predictions`` to the in-memory cPSNR (real PROBA-V scenes)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from satsr.batch import iter_batches
from satsr.cli import app
from satsr.datasets import load_datasets
from satsr.datasets.probav import prepare_probav
from satsr.errors import ConfigError
from satsr.metrics import cpsnr
from satsr.predict.store import predict_store
from satsr.predict.submission import check_archive, write_submission

# the shipped weights were trained on satsr's synthetic PROBA-V-like sample, so their sidecar's
# sensors differ from the real data's: every call here passes the explicit override
MODEL = "edsr-baseline:sample"


@pytest.fixture(scope="module")
def prepared(probav_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two real scenes prepared into sample-schema stores (RED, NIR), outside the data."""
    out = tmp_path_factory.mktemp("prepared")
    prepare_probav(probav_root, out, progress=False)
    return out


def _in_memory_cpsnr(prepared: Path) -> dict[str, float]:
    """cPSNR of the model's in-memory predictions per scene (what bench computes)."""
    from satsr.predict.model import load_model

    out = {}
    for ds in load_datasets(prepared, split="train"):
        pm = load_model(MODEL, in_channels=1)
        for batch in iter_batches(ds, 4):
            with torch.inference_mode():
                sr = pm.model(batch.lr, batch.lr_mask, batch.frame_valid)
            assert batch.hr is not None and batch.hr_mask is not None
            values = cpsnr(sr.double(), batch.hr.double(), batch.hr_mask, border=3)
            out.update(zip(batch.scene, map(float, values), strict=True))
    return out


def _bench(prepared: Path, predictions: Path, out: Path) -> pd.DataFrame:
    res = CliRunner().invoke(app, ["bench", "--dataset", str(prepared), "--split", "train",
                                   "--predictions", str(predictions), "--out", str(out),
                                   "--no-progress", "--no-strips"])
    assert res.exit_code == 0, res.output
    records = pd.read_csv(out / "records.csv")
    return records[records["model"] != "bicubic"].set_index("scene")


def test_submission_archive_scores_like_in_memory(prepared: Path, tmp_path: Path) -> None:
    """One 384x384 uint16 PNG per scene, zipped, complete; scored back with bench it gives the
    in-memory cPSNR (up to the uint16 rounding: < 1e-3 dB)."""
    sub = write_submission(MODEL, str(prepared), tmp_path / "sub.zip", split="train",
                           progress=False, allow_mismatch=True)
    assert sub.n_scenes == 2
    with zipfile.ZipFile(sub.out) as zf:
        assert sorted(zf.namelist()) == ["imgset0000.png", "imgset0594.png"]
        for name in zf.namelist():
            with Image.open(io.BytesIO(zf.read(name))) as im:
                assert im.mode.startswith("I;16") and im.size == (384, 384)
    check_archive(sub.out, ["imgset0000", "imgset0594"], 384)
    records = _bench(prepared, sub.out, tmp_path / "res")
    want = _in_memory_cpsnr(prepared)
    for scene, value in want.items():
        assert abs(records.loc[scene, "cpsnr"] - value) < 1e-3


def test_incomplete_archive_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w") as zf:
        buf = io.BytesIO()
        Image.fromarray(np.zeros((384, 384), np.uint16)).save(buf, format="PNG")
        zf.writestr("imgset0000.png", buf.getvalue())
    from satsr.errors import CorruptFileError

    with pytest.raises(CorruptFileError, match="missing"):
        check_archive(path, ["imgset0000", "imgset1200"], 384)


def test_stored_predictions_score_exactly_like_in_memory(prepared: Path, tmp_path: Path) -> None:
    """``satsr predict`` on a store writes ``sr`` (float32) per band; bench scores it without
    the model to exactly the in-memory cPSNR."""
    res = CliRunner().invoke(app, ["predict", "-m", MODEL, "-i", str(prepared), "--split",
                                   "train", "-o", str(tmp_path / "preds"), "--no-progress",
                                   "--allow-mismatch"])
    assert res.exit_code == 0, res.output
    stores = sorted(p.name for p in (tmp_path / "preds").glob("*.zarr"))
    assert stores == ["probav_NIR.zarr", "probav_RED.zarr"]
    records = _bench(prepared, tmp_path / "preds", tmp_path / "res")
    for scene, value in _in_memory_cpsnr(prepared).items():
        assert records.loc[scene, "cpsnr"] == pytest.approx(value, abs=1e-9)
        assert records.loc[scene, "model"] == "edsr-baseline-stored"


def test_predictions_of_other_inputs_are_refused(prepared: Path, tmp_path: Path) -> None:
    """A stored prediction is matched by a digest of its LR input: predictions of the RED scene
    cannot be scored as another dataset's."""
    from satsr.bench.predictions import stored_model

    predict_store(MODEL, str(prepared), tmp_path / "red.zarr", split="train", band="RED",
                  progress=False, allow_mismatch=True)
    nir = load_datasets(prepared, split="train", band="NIR")[0]
    with pytest.raises(ConfigError, match="no store for band"):
        stored_model(tmp_path / "red.zarr", nir)
