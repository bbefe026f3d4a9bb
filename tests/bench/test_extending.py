"""Adding a dataset and a model needs no CLI or bench edits: register both through the public
registry API, then ``satsr bench`` finds, loads, runs and scores them like built-in ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import xarray as xr

from satsr.cli import main
from satsr.datasets import DatasetEntry, register_dataset, unregister_dataset
from satsr.models import ModelInfo, SRModel, register_model, unregister_model
from satsr.models._receptive import receptive_field, up
from satsr.testing import assert_sample_schema, make_sample_dataset

TOY_DATASET, TOY_MODEL = "toy-extending", "toy-nearest"


def load_toy(*, root: Any = None, split: str | None = None,
             band: str | None = None) -> list[xr.Dataset]:
    """The toy dataset's loader: one band group, four scenes per split."""
    from satsr import schema

    ds = make_sample_dataset(scenes=12, frames=2, size=6, dataset=TOY_DATASET, seed=7)
    return [schema.select(ds, split=split, band=band)]


class Nearest(SRModel):
    """Toy model: the first valid frame, nearest-neighbour upsampled."""

    def forward(self, lr: torch.Tensor, lr_mask: torch.Tensor | None = None,
                frame_valid: torch.Tensor | None = None) -> torch.Tensor:
        return lr[:, 0].repeat_interleave(self.scale, -2).repeat_interleave(self.scale, -1)


def nearest(*, scale: int = 3, in_channels: int = 1, **_: Any) -> Nearest:
    return Nearest(scale, in_channels)


@pytest.fixture
def toy_plugins() -> Iterator[None]:
    register_dataset(DatasetEntry(TOY_DATASET, f"{__name__}:load_toy", "toy test dataset",
                                  synthetic=True, default_split="val"))
    register_model(ModelInfo(
        name=TOY_MODEL, entrypoint=f"{__name__}:nearest", kind="baseline", paper="test",
        year=2026, url="https://example.org/toy", learned=False,
        rf=lambda h: receptive_field(h["scale"], [up(h["scale"])])))
    try:
        yield
    finally:
        unregister_dataset(TOY_DATASET)
        unregister_model(TOY_MODEL)


def test_bench_runs_a_registered_toy_dataset_and_model(
        toy_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ds,) = load_toy()
    assert_sample_schema(ds, scale=3, bands=["RED"])
    out = tmp_path / "results"
    code = 0
    try:
        main(["bench", "--dataset", TOY_DATASET, "--models", f"{TOY_MODEL},bicubic",
              "--out", str(out), "--no-strips", "--no-progress"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert TOY_MODEL in stdout
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    text = json.dumps(summary)
    assert TOY_MODEL in text and TOY_DATASET in text
    assert '"val"' in text  # the entry's default split was used
