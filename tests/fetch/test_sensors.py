"""Reflectance scaling, clear masks, band mapping and HLS harmonisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from satsr.fetch.sensors import (
    HLS_COEFFICIENTS,
    landsat_clear,
    mask_bands,
    prepare,
    processing_baseline,
    read_bands,
    s2_clear_cloudscore,
    s2_clear_scl,
    scale_offset,
)
from satsr.fetch.types import Acquisition


def _acq(coll: str, sensor: str, **props: Any) -> Acquisition:
    return Acquisition(id="x", collection=coll, sensor=sensor, time=datetime(2023, 1, 1, tzinfo=UTC),
                       cloud_cover=0.0, crs="EPSG:32604", transform=(10.0, 0.0, 0.0, 0.0, -10.0, 0.0),
                       width=2, height=2, properties=props)


def test_landsat_scaling_and_qa_mask() -> None:
    acq = _acq("landsat", "landsat8")
    bands = read_bands(acq)
    assert bands == ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "QA_PIXEL", "QA_RADSAT"]
    dn = np.full((4, 2, 2), 10000, np.uint16)
    dn[:, 1, 1] = 0  # fill
    qa = np.array([[21824, 21824 | 0b1000], [21824 | 0b10000, 21824]], np.uint16)  # clear, cloud, shadow
    radsat = np.array([[0, 0], [0, 0]], np.uint16)
    raw = np.concatenate([dn, qa[None], radsat[None]])
    prep = prepare(acq, raw, bands)
    assert prep.reflectance[0, 0, 0] == pytest.approx(10000 * 2.75e-5 - 0.2)
    assert np.isnan(prep.reflectance[:, 1, 1]).all()
    assert prep.clear.tolist() == [[True, False], [False, False]]
    assert not landsat_clear(np.array([21824]), np.array([4]))[0]
    for bit in range(5):
        assert not landsat_clear(np.array([1 << bit]))[0]
    assert landsat_clear(np.array([1 << 6]))[0]  # bit 6 = clear flag itself


@pytest.mark.parametrize(("props", "expected"), [
    ({"processing_baseline": "04.00"}, (1e-4, -0.1)),
    ({"processing_baseline": "05.09"}, (1e-4, -0.1)),
    ({"processing_baseline": "03.01"}, (1e-4, 0.0)),
    ({"processing_baseline": "05.09", "harmonized": True}, (1e-4, 0.0)),
    ({"scale": 0.0001, "offset": 0.0}, (1e-4, 0.0)),
    ({"kind": "reflectance"}, (1.0, 0.0)),
])
def test_s2_baseline_offset(props: dict[str, Any], expected: tuple[float, float]) -> None:
    scale, offset, _ = scale_offset(_acq("sentinel2", "sentinel2a", **props))
    assert (scale, offset) == pytest.approx(expected)


def test_processing_baseline_parsing() -> None:
    assert processing_baseline("N0400") == 4.0
    assert processing_baseline("04.00") == 4.0
    assert processing_baseline(5.1) == 5.1
    assert processing_baseline(None) is None


def test_s2_masks_cloudscore_and_scl() -> None:
    assert s2_clear_cloudscore(np.array([0.59, 0.6, 0.9, np.nan])).tolist() == [False, True, True, False]
    assert s2_clear_scl(np.arange(12)).tolist() == [c in (4, 5, 6, 11) for c in range(12)]
    assert mask_bands(_acq("sentinel2", "sentinel2b", cloud_score_id="cs")) == ["cs_cdf"]
    assert mask_bands(_acq("sentinel2", "sentinel2b")) == ["SCL"]
    assert mask_bands(_acq("sentinel2", "sentinel2b", bands=["B2", "B3", "B4", "B8"])) == []
    assert mask_bands(_acq("landsat", "landsat9", bands=["SR_B2", "QA_PIXEL"])) == ["QA_PIXEL"]


def test_s2_prepare_with_offset_and_harmonisation() -> None:
    acq = _acq("sentinel2", "sentinel2b", processing_baseline="05.09", cloud_score_id="cs")
    bands = read_bands(acq, harmonize=True)
    assert bands == ["B2", "B3", "B4", "B8A", "cs_cdf"]
    raw = np.zeros((5, 2, 2), np.float64)
    raw[:4] = 3000
    raw[4] = [[0.9, 0.1], [0.7, 0.7]]
    prep = prepare(acq, raw, bands, harmonize=True)
    slope, off = HLS_COEFFICIENTS["sentinel2b"]["red"]
    assert prep.reflectance[2, 0, 0] == pytest.approx(0.2 * slope + off, abs=1e-6)
    assert prep.clear.tolist() == [[True, False], [True, True]]
    assert prep.info["harmonization"]["coefficients"] == "sentinel2b"
    plain = prepare(acq, raw, read_bands(acq), harmonize=False)
    assert plain.reflectance[0, 0, 0] == pytest.approx(0.2)


def test_no_qa_band_means_valid_is_clear() -> None:
    acq = _acq("landsat", "landsat9", kind="reflectance", nodata=float("-inf"),
               bands=["SR_B2", "SR_B3", "SR_B4", "SR_B5"])
    raw = np.full((4, 2, 2), 0.1, np.float32)
    raw[:, 0, 1] = -np.inf
    prep = prepare(acq, raw, read_bands(acq))
    assert prep.clear.tolist() == [[True, False], [True, True]]
    assert prep.reflectance[3, 1, 1] == pytest.approx(0.1)
