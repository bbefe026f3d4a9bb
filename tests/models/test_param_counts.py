"""Published parameter counts (weights and biases), checked exactly on the default configs.

Models are only instantiated here (on the meta device: no memory, no initialisation), never
run at full size.
"""

from __future__ import annotations

import pytest
import torch

from satsr.models import count_parameters, create_model, list_models, model_info

PUBLISHED = [
    # (model, scale, in_channels, parameters) — sources in each module's docstring
    ("edsr-baseline", 2, 3, 1_369_859),
    ("edsr-baseline", 3, 3, 1_554_499),
    ("edsr-baseline", 4, 3, 1_517_571),
    ("edsr", 4, 3, 43_089_923),
    ("rdn", 4, 3, 22_271_107),
    ("rrdn", 4, 3, 16_697_987),
    ("highres-net", 3, 1, 591_818),
]


@pytest.mark.parametrize(("name", "scale", "channels", "expected"), PUBLISHED)
def test_published_parameter_count(name: str, scale: int, channels: int, expected: int) -> None:
    with torch.device("meta"):
        model = create_model(name, scale=scale, in_channels=channels)
    assert count_parameters(model) == expected


def test_srcnn_weight_counts() -> None:
    """SRCNN 9-1-5 has 8,032 weights and SRCNN-Ex (9-5-5) 57,184 (FSRCNN paper, Table 3),
    plus 64 + 32 + 1 biases."""
    assert count_parameters(create_model("srcnn")) == 8_032 + 97
    assert count_parameters(create_model("srcnn-ex")) == 57_184 + 97
    assert count_parameters(create_model("srcnn", preset="955")) == 57_184 + 97


def test_fsrcnn_parameter_count() -> None:
    """FSRCNN(56, 12, 4) ×3, one channel: conv weights and biases plus per-channel PReLU slopes."""
    convs = (25 * 56 + 56) + (56 * 12 + 12) + 4 * (9 * 144 + 12) + (12 * 56 + 56)
    prelu = 56 + 12 + 4 * 12 + 56
    deconv = 81 * 56 + 1
    assert count_parameters(create_model("fsrcnn", scale=3)) == convs + prelu + deconv


@pytest.mark.parametrize("name", [n for n in list_models() if "small" in model_info(n).presets])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_small_presets_are_cpu_sized(name: str, scale: int) -> None:
    """Every ``small`` preset stays at or below 150k parameters (one band)."""
    n = count_parameters(create_model(name, scale=scale, in_channels=1, preset="small"))
    assert 0 < n <= 150_000
