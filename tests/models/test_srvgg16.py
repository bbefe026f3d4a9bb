"""SR-VGG16 against plain transcriptions of its reference (Shiro-LK/Super-Resolution-ProbaV):
the k-clearest-frames stack, cv2's bicubic pre-upsampling, the clear-map head's cross-entropy and
the N/cPSNR loss of ``custom_loss``; the trainer adds the head's loss and feeds raw values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from satsr.errors import ConfigError
from satsr.models import create_model, model_info
from satsr.models.srvgg16 import SRVGG16
from satsr.train.losses import get_loss


def _scene(t: int = 5, h: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lr = torch.rand(1, t, 1, h, h, generator=g, dtype=torch.float64)
    mask = torch.rand(1, t, h, h, generator=g) < torch.linspace(0.2, 0.9, t).view(1, t, 1, 1)
    return lr, mask


def _cv2_cubic(img: np.ndarray, s: int) -> np.ndarray:
    """cv2.resize(INTER_CUBIC) ×s, transcribed pixel by pixel: a = -0.75, source coordinate
    (x + 0.5) / s - 0.5, four taps, indices clamped to the edge."""
    def w(d: float) -> float:
        a, d = -0.75, abs(d)
        if d <= 1:
            return (a + 2) * d**3 - (a + 3) * d**2 + 1
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a if d < 2 else 0.0

    h, wd = img.shape
    out = np.zeros((h * s, wd * s))
    for y in range(h * s):
        fy = (y + 0.5) / s - 0.5
        y0 = math.floor(fy)
        for x in range(wd * s):
            fx = (x + 0.5) / s - 0.5
            x0 = math.floor(fx)
            out[y, x] = sum(w(fy - (y0 + i)) * w(fx - (x0 + j))
                            * img[min(max(y0 + i, 0), h - 1), min(max(x0 + j, 0), wd - 1)]
                            for i in (-1, 0, 1, 2) for j in (-1, 0, 1, 2))
    return out


def _reference_input(lr: torch.Tensor, mask: torch.Tensor, k: int, s: int) -> np.ndarray:
    """functions.get_scene version 4 + generator.batch_resize 'concat': the k clearest frames
    (cycled when fewer), then their masks, each upscaled by cv2's bicubic."""
    counts = mask[0].sum(dim=(1, 2)).numpy()
    order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
    picked = [order[i % len(order)] for i in range(k)]
    planes = ([lr[0, i, 0].numpy() for i in picked]
              + [mask[0, i].numpy().astype(np.float64) for i in picked])
    return np.stack([_cv2_cubic(p, s) for p in planes])


def _captured_input(model: SRVGG16, lr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    handle = model.body[0].register_forward_pre_hook(lambda _m, a: seen.append(a[0]))
    with torch.no_grad():
        model(lr, mask)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("t", [5, 12])
def test_network_input_is_the_references_stack(t: int) -> None:
    """k = 9 frames from 5 (cycled) or 12: 18 channels, cv2 bicubic, equal to 1e-12."""
    model = create_model("srvgg16", preset="small").double().eval()
    assert isinstance(model, SRVGG16)
    lr, mask = _scene(t)
    got = _captured_input(model, lr, mask)[0].numpy()
    assert got.shape == (18, 18, 18)
    np.testing.assert_allclose(got, _reference_input(lr, mask, 9, 3), rtol=0, atol=1e-12)


def test_input_modes() -> None:
    lr, mask = _scene(9)
    for inputs, channels in (("concat", 18), ("lr", 9), ("combine", 9)):
        model = create_model("srvgg16", preset="small", inputs=inputs).double().eval()
        assert isinstance(model, SRVGG16) and model.net_in_channels == channels
        x = _captured_input(model, lr, mask)
        assert x.shape[1] == channels
    combined = _captured_input(model, lr, mask)
    plain = _captured_input(create_model("srvgg16", preset="small", inputs="lr").double().eval(),
                            lr * mask.unsqueeze(2), mask)
    torch.testing.assert_close(combined, plain, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="unknown inputs 'sum'"):
        create_model("srvgg16", inputs="sum")
    with pytest.raises(ConfigError, match="odd kernel"):
        create_model("srvgg16", f1=4)


def test_output_is_sigmoid_bounded_and_sized() -> None:
    model = create_model("srvgg16", preset="small", scale=2, in_channels=2).eval()
    lr = torch.rand(2, 9, 2, 8, 8) * 100 - 50
    with torch.no_grad():
        sr = model(lr)
    assert sr.shape == (2, 2, 16, 16) and float(sr.min()) > 0 and float(sr.max()) < 1
    assert model_info("srvgg16").multi_frame and model.bounded_output


def test_clear_head_loss_is_weighted_binary_cross_entropy() -> None:
    """0.5 · mean over pixels of −[m·log p + (1 − m)·log(1 − p)], p = sigmoid(second output),
    as Keras' binary_crossentropy in ``custom_loss``; only after a training forward."""
    torch.manual_seed(0)
    model = create_model("srvgg16", preset="small").double().train()
    lr, mask = _scene(9)
    hr_mask = torch.rand(1, 18, 18, generator=torch.Generator().manual_seed(3)) < 0.7
    model(lr, mask)
    logits = model._clear_logits
    assert logits is not None
    p = torch.sigmoid(logits[0, 0]).detach().numpy()
    m = hr_mask[0].numpy().astype(np.float64)
    expected = 0.5 * float(np.mean(-(m * np.log(p) + (1 - m) * np.log(1 - p))))
    got = model.auxiliary_loss(hr_mask)
    assert got is not None and math.isclose(float(got.detach()), expected, rel_tol=1e-9)
    assert model.auxiliary_loss(hr_mask) is None  # consumed: one loss per forward
    model.eval()
    with torch.no_grad():
        model(lr, mask)
    assert model.auxiliary_loss(hr_mask) is None
    no_head = create_model("srvgg16", preset="small", clear_head=False).train()
    no_head(lr.float(), mask)
    assert no_head.auxiliary_loss(hr_mask) is None


def test_ncpsnr_border0_is_the_references_custom_loss() -> None:
    """custom_loss's first term: b = Σ(HR − SR)·m / Σm, cMSE = Σ((HR − SR − b)·m)² / Σm,
    46.5 / (−10 log10 cMSE), averaged over the batch — the whole image, no shift search."""
    g = torch.Generator().manual_seed(5)
    hr = torch.rand(3, 1, 12, 12, generator=g, dtype=torch.float64)
    sr = hr + 0.05 * torch.randn(3, 1, 12, 12, generator=g, dtype=torch.float64) + 0.02
    m = torch.rand(3, 12, 12, generator=g) < 0.8
    values = []
    for i in range(3):
        d = (hr[i, 0] - sr[i, 0]).numpy()
        c = m[i].numpy().astype(np.float64)
        b = (d * c).sum() / c.sum()
        cmse = (((d - b) * c) ** 2).sum() / c.sum()
        values.append(46.5 / (-10.0 * math.log10(cmse)))
    got = get_loss("ncpsnr", n=46.5, border=0)(sr, hr, m)
    assert math.isclose(float(got), sum(values) / 3, rel_tol=1e-9)


def test_fits_one_batch() -> None:
    """Nadam at the reference's 1e-3 on one batch: cPSNR (from N/cPSNR, border 0) rises by
    > 3 dB and the clear-map cross-entropy halves (the HR clear map is the clearest frame's)."""
    torch.manual_seed(0)
    model = create_model("srvgg16", preset="small").train()
    g = torch.Generator().manual_seed(1)
    lr = 0.1 + 0.1 * torch.rand(2, 9, 1, 8, 8, generator=g)
    mask = torch.rand(2, 9, 8, 8, generator=g) < 0.8
    mask[:, 0] = torch.rand(2, 8, 8, generator=g) < 0.95  # the clearest frame, stacked first
    hr = torch.nn.functional.interpolate(lr[:, 0], scale_factor=3, mode="nearest")
    hr_mask = torch.nn.functional.interpolate(mask[:, :1].float(), scale_factor=3)[:, 0] > 0.5
    loss_fn = get_loss("ncpsnr", n=46.5, border=0)
    opt = torch.optim.NAdam(model.parameters(), lr=1e-3)
    cpsnr, bce = [], []
    for _ in range(80):
        loss = loss_fn(model(lr, mask), hr, hr_mask)
        aux = model.auxiliary_loss(hr_mask)
        assert aux is not None
        opt.zero_grad()
        (loss + aux).backward()
        opt.step()
        cpsnr.append(46.5 / float(loss.detach()))
        bce.append(float(aux.detach()))
    assert cpsnr[-1] > cpsnr[0] + 3, cpsnr[::10]
    assert bce[-1] < 0.5 * bce[0], bce[::10]


def test_trainer_standardises_inputs_only(tmp_path: Path) -> None:
    """Two steps through ``satsr.train``: the sigmoid output is never rescaled (``affine-input``
    in the sidecar, re-applied on load) and ``normalise: false`` feeds raw values."""
    from satsr.models.weights import read_sidecar, set_normalisation
    from satsr.train.loop import TrainConfig, train

    common = {"model": "srvgg16", "dataset": "sample", "loss": "ncpsnr",
              "loss_options": {"border": 0}, "steps": 2, "val_every": 2, "patch": 8,
              "batch": 2, "progress": False, "threads": 1, "val_scenes": 2}
    result = train(TrainConfig(**common, out=str(tmp_path / "std")))
    norm = read_sidecar(result.best_path)["normalisation"]
    assert norm["type"] == "affine-input" and norm["scale"] > 0
    loaded = create_model("srvgg16", preset="small", weights=result.best_path).eval()
    lr = 0.2 * torch.rand(1, 9, 1, 8, 8)
    with torch.no_grad():
        sr = loaded(lr)
        ref = create_model("srvgg16", preset="small", weights=result.best_path).eval()
        ref._satsr_norm_handles[0].remove()  # the input hook only: no output hook exists
        assert len(ref._satsr_norm_handles) == 1
        torch.testing.assert_close(sr, ref((lr - norm["offset"]) / norm["scale"]))
    assert float(sr.min()) > 0 and float(sr.max()) < 1
    set_normalisation(ref, 0.0, 2.0)
    assert ref.satsr_normalisation["type"] == "affine-input"
    raw = train(TrainConfig(**common, normalise=False, out=str(tmp_path / "raw")))
    assert read_sidecar(raw.best_path)["normalisation"] is None
    assert math.isfinite(raw.best_cpsnr)
