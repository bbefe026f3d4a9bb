"""``create_model`` argument checks and the forward contract's input checks."""

from __future__ import annotations

import pytest
import torch

from satsr.errors import ConfigError, InputValueError
from satsr.models import create_model


@pytest.mark.parametrize("kwargs", [{"scale": 0}, {"scale": -3}, {"in_channels": 0},
                                    {"num_frames": 0}, {"scale": 2.5}])
def test_create_model_refuses_bad_data_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        create_model("rams", **kwargs)  # type: ignore[arg-type]


def test_create_model_refuses_negative_and_huge_widths_without_allocating() -> None:
    with pytest.raises(ConfigError, match="n1=-3"):
        create_model("srcnn", n1=-3)
    with pytest.raises(ConfigError, match="parameters"):
        create_model("edsr", features=10**6)  # 6.7e14 parameters: refused on the meta device


@pytest.mark.parametrize("name", ["srcnn", "highres-net", "bicubic"])
def test_forward_refuses_4d_input(name: str) -> None:
    model = create_model(name, scale=3, in_channels=1)
    with pytest.raises(InputValueError, match=r"5-D tensor \(B, T, C, h, w\)"):
        model(torch.zeros(1, 1, 8, 8))


def test_forward_refuses_wrong_channels_and_mask_shape() -> None:
    model = create_model("srcnn", scale=3, in_channels=1)
    with pytest.raises(InputValueError, match="3 channel"):
        model(torch.zeros(1, 1, 3, 8, 8))
    with pytest.raises(InputValueError, match="lr_mask"):
        model(torch.zeros(1, 2, 1, 8, 8), torch.ones(1, 1, 8, 8, dtype=torch.bool))
