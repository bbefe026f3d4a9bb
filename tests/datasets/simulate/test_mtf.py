"""Sensor MTF → Gaussian σ: the round trip, the box transfer, and the simulator agreeing."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from satsr.datasets.simulate.mtf import (
    SENSORS,
    box_transfer,
    mtf_at_nyquist,
    psf_sigma_for_mtf,
    sensor_mtf,
)
from satsr.datasets.simulate.sensor import axis_transfer
from satsr.errors import ConfigError


def test_box_transfer_at_nyquist_is_two_thirds_for_scale_three() -> None:
    assert box_transfer(1 / 6, 3) == pytest.approx(2 / 3, abs=1e-15)
    assert box_transfer(0.0, 3) == 1.0


@pytest.mark.parametrize("mtf", [0.1, 0.23, 0.3, 0.5])
def test_sigma_round_trip(mtf: float) -> None:
    sigma = psf_sigma_for_mtf(mtf, 3)
    assert sigma > 0 and mtf_at_nyquist(sigma, 3) == pytest.approx(mtf, abs=1e-12)


def test_an_mtf_above_the_box_needs_no_gaussian() -> None:
    assert psf_sigma_for_mtf(0.7, 3) == 0.0


def test_the_simulator_transfer_has_the_sensor_mtf_at_nyquist() -> None:
    """observe()'s per-axis transfer at the LR Nyquist frequency equals the published MTF."""
    sigma = psf_sigma_for_mtf(SENSORS["sentinel2"].mtf_nyquist, 3)
    n = 96  # f = 16/96 = 1/6 cycles per HR px is on the DFT grid
    t = axis_transfer(n, 3, sigma, np.zeros(1))[0]
    assert abs(t[16]) == pytest.approx(0.23, abs=1e-12)


def test_unknown_sensor_and_bad_mtf_are_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown sensor 'spot'"):
        sensor_mtf("spot")
    for bad in (0.0, 1.0, math.nan):
        with pytest.raises(ConfigError, match="MTF at Nyquist"):
            psf_sigma_for_mtf(bad, 3)
    assert sensor_mtf("Sentinel-2").name == "sentinel2"


def test_every_sensor_cites_a_source() -> None:
    for s in SENSORS.values():
        assert re.search(r"\(\D+ et al\. 20\d\d|& \w+ 20\d\d", s.source), s.name
        assert 0 < s.mtf_nyquist < 1 and s.noise > 0


