"""bench.specs: weights are checked against the dataset's facts and must carry a checksum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satsr.bench.specs import ModelSpec, resolve_model
from satsr.errors import IncompatibleWeightsError, UnverifiedWeightsError
from satsr.models import create_model
from satsr.models import weights as W

FACTS = {"dataset": "sample", "bands": ["NIR"], "lr_sensor": "synthetic PROBA-V-like 300 m",
         "hr_sensor": "synthetic PROBA-V-like 100 m", "scale": 3,
         "value_scale": "uint16/65535", "data_range": 1.0}


@pytest.fixture
def red_weights(tmp_path: Path) -> Path:
    model = create_model("fsrcnn", preset="small")
    meta = {**FACTS, "bands": ["RED"]}
    return W.save_weights(model, tmp_path / "red.safetensors", metadata=meta)


def _resolve(path: Path, **flags: bool) -> object:
    resolved, _ = resolve_model(ModelSpec("fsrcnn", path), dataset="sample", band="NIR",
                                scale=3, in_channels=1, facts=FACTS, **flags)
    return resolved


def test_weights_on_another_band_are_refused(red_weights: Path) -> None:
    with pytest.raises(IncompatibleWeightsError, match=r"fsrcnn:red.safetensors were trained on "
                       r"band RED; the dataset sample has band NIR.*--allow-mismatch"):
        _resolve(red_weights)
    assert _resolve(red_weights, allow_mismatch=True) is not None


def test_weights_without_checksum_need_trust(red_weights: Path) -> None:
    side = W.sidecar_path(red_weights)
    meta = json.loads(side.read_text())
    del meta["sha256"]
    side.write_text(json.dumps({**meta, "bands": ["NIR"]}))
    with pytest.raises(UnverifiedWeightsError, match="--trust-unverified"):
        _resolve(red_weights)
    assert _resolve(red_weights, trust_unverified=True) is not None
