"""satsr.testing: the schema assertion, the in-memory sample builder and the hypothesis strategy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from satsr import schema
from satsr.models import create_model
from satsr.testing import assert_sample_schema, make_sample_dataset
from satsr.testing.strategies import sample_datasets
from satsr.train.data import scenes_from_datasets


@settings(max_examples=25, deadline=None)
@given(sample_datasets())
def test_every_drawn_dataset_follows_the_schema(ds: object) -> None:
    assert_sample_schema(ds)  # type: ignore[arg-type]


@settings(max_examples=10, deadline=None)
@given(sample_datasets(max_scale=3))
def test_a_model_takes_any_drawn_dataset(ds: object) -> None:
    """The forward contract holds for every shape the strategy draws (bicubic, any scale)."""
    scenes = scenes_from_datasets([ds])  # type: ignore[list-item]
    model = create_model("bicubic", scale=scenes.scale, in_channels=scenes.lr.shape[2])
    b = scenes.batch(list(range(len(scenes))))
    sr = model(b.lr, b.lr_mask, b.frame_valid)
    assert sr.shape == scenes.hr.shape and torch.isfinite(sr).all()


def test_assertion_names_the_broken_variable() -> None:
    ds = make_sample_dataset()
    broken = ds.assign(hr_mask=ds["hr_mask"].astype(np.uint8))
    with pytest.raises(AssertionError, match="hr_mask"):
        assert_sample_schema(broken)
    nan = ds.copy(deep=True)
    nan["lr"].values[0, 0, 0, 0, 0] = np.nan
    nan["lr_mask"].values[0, 0, 0, 0] = True
    with pytest.raises(AssertionError, match=r"lr.*NaN"):
        assert_sample_schema(nan)
    assert_sample_schema(nan, check_values=False)


def test_assertion_checks_the_requested_facts() -> None:
    ds = make_sample_dataset(bands=("RED", "NIR"), scale=2, splits=("train", "test"))
    assert_sample_schema(ds, scale=2, bands=["RED", "NIR"], splits=["test", "train"])
    with pytest.raises(AssertionError, match="scale"):
        assert_sample_schema(ds, scale=3)
    with pytest.raises(AssertionError, match="bands"):
        assert_sample_schema(ds, bands=["NIR"])
    with pytest.raises(AssertionError, match="splits"):
        assert_sample_schema(ds, splits=["val"])
    no_frames = ds.copy(deep=True)
    no_frames["frame_valid"].values[0] = False
    with pytest.raises(AssertionError, match="frame_valid"):
        assert_sample_schema(no_frames)


def test_assertion_hides_itself_from_tracebacks() -> None:
    from satsr.testing import assertions

    assert "__tracebackhide__" in assertions.assert_sample_schema.__code__.co_varnames


def test_sample_builder_is_deterministic_and_round_trips(tmp_path: object) -> None:
    a, b = make_sample_dataset(seed=3), make_sample_dataset(seed=3)
    assert a.identical(b)
    path = schema.save_dataset(a, tmp_path / "toy.zarr")  # type: ignore[operator]
    assert_sample_schema(schema.open_dataset(path).load())
