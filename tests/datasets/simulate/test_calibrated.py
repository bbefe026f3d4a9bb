"""The calibrated simulator: its parameters and the dataset card follow the calibration JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from satsr.datasets.simulate import calibrated as cal
from satsr.datasets.simulate.multiframe import simulate_scene

REPO = Path(__file__).resolve().parents[3]
JSON = REPO / "benchmarks" / "calibration.json"
CARDS = (REPO / "datasets" / "sample" / "README.md", REPO / "docs" / "datasets" / "sample.md")


def _calibration() -> dict:
    return json.loads(JSON.read_text(encoding="utf-8"))


def test_constants_are_the_derivation_of_the_committed_json() -> None:
    lr, hr = cal.derive_sensors(_calibration())
    assert lr == cal.CALIBRATED_LR_SENSOR
    assert hr == cal.CALIBRATED_HR_SENSOR


def test_the_cards_show_the_numbers_of_the_json() -> None:
    section = cal.calibration_markdown(_calibration())
    for card in CARDS:
        text = card.read_text(encoding="utf-8")
        assert section in text, f"{card} is stale: run benchmarks/calibrate_simulator.py"


def test_the_json_holds_every_measurement() -> None:
    c = _calibration()
    pv = c["probav"]
    assert pv["psf"]["sigma_hr"]["n"] >= 10 and 0.2 < pv["psf"]["sigma_hr"]["median"] < 3
    assert set(pv["noise_lr"]) == {"RED", "NIR"}
    assert 0 <= pv["clouds"]["fraction_fully_clear"] <= 1
    assert pv["psf"]["shift_lr"]["spread_std"] > 0
    assert set(c["l8s2"]["noise"]) == {"sentinel2", "landsat9"}
    assert all(1 < v < 4 for v in c["l8s2"]["spectrum_slope_hr"].values())


def test_a_calibrated_scene_uses_the_calibrated_sensor() -> None:
    cfg = cal.calibrated_config()
    scene = simulate_scene(np.random.default_rng(0), "red", cfg)
    shifts = np.asarray(scene.meta["shifts_lr_px"])
    assert np.abs(shifts).max() <= cfg.lr_sensor.max_shift
    assert cfg.lr_sensor.noise_signal == 0.0 and cfg.lr_sensor.noise_add > 0
