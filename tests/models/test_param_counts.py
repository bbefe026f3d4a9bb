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
    ("rdn-paper", 4, 3, 22_271_107),
    ("rrdbnet", 4, 3, 16_697_987),
    ("highres-net", 3, 1, 591_818),
    ("wdsr3d", 3, 1, 535_267),
]

# Reference configurations of other codebases, counted from their model files.
REFERENCE = [
    # ISR rdn.py, C6-D20-G64-G0 64 x2 with its default 'ups' upscaling (ISR's large weights)
    ("rdn", 2, 3, {"C": 6, "D": 20, "G": 64, "G0": 64, "upscaling": "ups"}, 16_347_635),
    # ISR rdn.py with pixel shuffle: the last conv sees 3 instead of 12 channels
    ("rdn", 2, 3, {"C": 6, "D": 20, "G": 64, "G0": 64, "upscaling": "shuffle"}, 16_347_392),
    # ISR rrdn.py, C4-D3-G32-G0 32-T10 x4 (ISR's GAN weights)
    ("rrdn", 4, 3, {"C": 4, "D": 3, "G": 32, "G0": 32, "T": 10}, 4_176_100),
    # EnhanceMe WDSRConv3D, R 12, expansion 8, decay 0.8, T 9, F 32 and F 64
    ("wdsr3d", 3, 1, {"features": 32}, 535_267),
    ("wdsr3d", 3, 1, {"features": 64}, 2_130_323),
    # Dorr 3DWDSRNet run 32-8-6-7
    ("wdsr3d-dorr", 3, 1, {"features": 32, "n_blocks": 8, "expansion": 6}, 329_328),
    # Shiro-LK SRVGG16 (model.py), k 9, LR & QM concatenated (18 input channels), multi_output
    # (SR + clear map: the entry's saved model) and the single-output variant
    ("srvgg16", 3, 1, {"inputs": "concat"}, 492_706),
    ("srvgg16", 3, 1, {"inputs": "concat", "clear_head": False}, 491_905),
    ("srvgg16", 3, 1, {"inputs": "lr"}, 446_050),
]


@pytest.mark.parametrize(("name", "scale", "channels", "expected"), PUBLISHED)
def test_published_parameter_count(name: str, scale: int, channels: int, expected: int) -> None:
    with torch.device("meta"):
        model = create_model(name, scale=scale, in_channels=channels)
    assert count_parameters(model) == expected


@pytest.mark.parametrize(("name", "scale", "channels", "hparams", "expected"), REFERENCE)
def test_reference_parameter_count(name: str, scale: int, channels: int,
                                   hparams: dict[str, object], expected: int) -> None:
    with torch.device("meta"):
        model = create_model(name, scale=scale, in_channels=channels, **hparams)
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
