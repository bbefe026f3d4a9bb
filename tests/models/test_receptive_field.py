"""Every registered model's declared receptive field matches its real forward pass.

The check perturbs one LR pixel (a forward-mode derivative, so no contribution is lost to
rounding) and measures which HR pixels change: their LR parents must span exactly the declared
width. Two things that could hide a real dependency are switched off while measuring: ReLU's
zero slope (a leaky ReLU stands in) and channel attention's global mean (replayed from the
unperturbed pass; that whole-image dependency is what ``ModelInfo.global_context`` declares).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.autograd import forward_ad as fwad
from torch.nn import functional as F

from satsr.models import create_model, list_models, model_info
from satsr.models import layers as layers_mod
from satsr.models._receptive import (
    conv,
    cubic,
    deconv,
    down,
    prime_factors,
    receptive_field,
    up,
    upsampler,
)

# depth variants beyond the presets, so a formula is checked at two depths per architecture
DEPTHS: dict[str, dict[str, Any]] = {
    "edsr": {"n_blocks": 2}, "rdn": {"D": 2, "C": 3}, "rdn-paper": {"D": 2, "C": 3},
    "rrdn": {"T": 1, "D": 2, "C": 2}, "rrdbnet": {"n_blocks": 1}, "wdsr3d-dorr": {"n_blocks": 2},
    "wdsr": {"n_blocks": 3}, "fsrcnn": {"m": 2}, "highres-net": {"enc_layers": 1},
    "rams": {"n_blocks": 2}, "wdsr3d": {"n_blocks": 2}, "srcnn-residual": {"n_blocks": 3},
    "srcnn-iterative": {"n_iter": 3},
}
# narrow layers keep the test fast; forward-mode derivatives keep every path's contribution
NARROW = {"features": 4, "n1": 4, "n2": 4, "G": 4, "G0": 4, "d": 4, "s": 4, "channels": 4,
          "growth": 4}
CASES = [(name, "small" if model_info(name).presets.get("small") is not None else None, {})
         for name in list_models()]
CASES += [(name, "small", hp) for name, hp in DEPTHS.items()]


@contextmanager
def _structural() -> Iterator[dict[str, bool]]:
    """Leaky ReLU everywhere; channel attention replays the first pass's pooled means."""
    pooled: list[torch.Tensor] = []
    state = {"record": True}
    relu, attention = F.relu, layers_mod.ChannelAttention.forward

    def leaky(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        return F.leaky_relu(x, 0.1)

    def replay(self: layers_mod.ChannelAttention, x: torch.Tensor) -> torch.Tensor:
        if state["record"]:
            pooled.append(x.mean(dim=tuple(range(2, x.dim())), keepdim=True))
            p = pooled[-1]
        else:
            p = pooled.pop(0)
        return x * self.body(p)

    F.relu = leaky  # type: ignore[assignment]
    layers_mod.ChannelAttention.forward = replay  # type: ignore[method-assign]
    try:
        yield state
    finally:
        F.relu = relu
        layers_mod.ChannelAttention.forward = attention  # type: ignore[method-assign]


def measured_field(model: torch.nn.Module, frames: int, size: int) -> int:
    """Width of the LR window whose HR outputs change when the centre LR pixel changes."""
    g = torch.Generator().manual_seed(1)
    lr = 0.25 + 0.5 * torch.rand(1, frames, 1, size, size, generator=g, dtype=torch.float64)
    c = size // 2
    tangent = torch.zeros_like(lr)
    tangent[..., c, c] = 1.0
    with _structural() as state, torch.no_grad():
        model(lr)
        state["record"] = False
        with fwad.dual_level():
            change = fwad.unpack_dual(model(fwad.make_dual(lr, tangent))).tangent
    ys, xs = torch.nonzero(change[0, 0] != 0, as_tuple=True)
    s = model.scale
    radius = int(torch.cat([(ys // s - c).abs(), (xs // s - c).abs()]).max())
    return 2 * radius + 1


# forward-mode AD registers torch's jvp decompositions through the deprecated torch.jit.script
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("name", "preset", "hparams"), CASES,
                         ids=[f"{n}-{'-'.join(map(str, h.values())) or p}" for n, p, h in CASES])
def test_declared_receptive_field_matches_the_forward_pass(
        name: str, preset: str | None, hparams: dict[str, Any]) -> None:
    info = model_info(name)
    torch.manual_seed(0)
    narrow = {k: v for k, v in NARROW.items() if k in info.defaults}  # width never changes it
    # EnhanceMe's wdsr3d needs T >= 7 (its valid convolutions); 5 frames elsewhere keep it quick
    frames = (7 if name == "wdsr3d" else 5) if info.multi_frame else 1
    model = create_model(name, preset=preset, num_frames=frames if info.multi_frame else None,
                         **{**narrow, **hparams}).double().eval()
    declared = info.receptive_field_for(model.hparams)
    assert measured_field(model, frames, declared + 10) == declared


def test_every_model_declares_an_odd_receptive_field_at_least_as_wide_as_its_presets() -> None:
    for name in list_models():
        info = model_info(name)
        assert info.receptive_field % 2 == 1
        for preset in info.presets.values():
            assert info.receptive_field_for(preset) <= info.receptive_field, name


def test_stage_arithmetic() -> None:
    assert receptive_field(3, [cubic(3)]) == 5  # Keys cubic: 4 taps, centre phase exact
    assert receptive_field(3, [conv(1), up(3)]) == 3
    assert receptive_field(3, [up(3), conv(1)]) == 3  # one HR pixel of context stays in parent±1
    assert receptive_field(3, [conv(6), deconv(9, 4, 3)]) == 17  # FSRCNN(56, 12, 4)
    assert receptive_field(4, [conv(1), *upsampler(4), conv(1)]) == 7  # ×2 stages at ×2 res
    assert receptive_field(3, [conv(1), up(3), down(3), conv(0), up(3)]) == 3
    assert receptive_field(3, [conv(0), up(3)], [conv(2), up(3)]) == 5  # widest branch wins


@pytest.mark.parametrize(("n", "factors"), [(1, []), (2, [2]), (3, [3]), (4, [2, 2]),
                                            (12, [2, 2, 3])])
def test_prime_factors(n: int, factors: list[int]) -> None:
    assert prime_factors(n) == factors
