"""Trainer options of issue 11: Nadam, plateau schedule, 8-conv discriminator with n_critic,
feature distance, ``--init``, cloudy-frame / cloudy-patch filters, frame registration and the
N/cPSNR loss's default N."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import xarray as xr
from safetensors.torch import load_file

from satsr.errors import ConfigError
from satsr.train import TrainConfig, train
from satsr.train.data import PatchSampler, drop_cloudy_frames, frame_clear_fraction
from satsr.train.gan import AdversarialStep, PerceptualL2Loss, content_loss
from satsr.train.loop import Trainer, load_split
from satsr.train.losses import LOSSES, L1Loss, SRLoss
from tests.train.conftest import TINY, make_store


def _cfg(store: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = dict(model=TINY, dataset=str(store), steps=8, patch=6, batch=4,
                                   lr=3e-3, val_every=4, out=str(out), progress=False, seed=1)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_nadam_plateau_resume_is_exact(tiny_store: Path, tmp_path: Path) -> None:
    opts = dict(optimizer="nadam", schedule="plateau", plateau_patience=0, val_every=2)
    full = train(_cfg(tiny_store, tmp_path / "full", steps=8, **opts))
    train(_cfg(tiny_store, tmp_path / "part", steps=4, **opts))
    state = json.loads((tmp_path / "part" / "state.json").read_text())
    assert state["plateau"]["mode"] == "max"
    assert state["optimizer"]["param_groups"][0]["momentum_decay"] == pytest.approx(0.004)
    resumed = train(_cfg(tiny_store, tmp_path / "part", steps=8, resume=True, **opts))
    a, b = load_file(str(full.last_path)), load_file(str(resumed.last_path))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["lr"] for h in full.history] == [h["lr"] for h in resumed.history]


def test_plateau_lowers_the_rate_when_validation_stalls(tiny_store: Path,
                                                        tmp_path: Path) -> None:
    # a rate of 1e-6 cannot move cPSNR by the 1e-4 relative threshold: every round stalls
    res = train(_cfg(tiny_store, tmp_path / "p", steps=8, lr=1e-6, val_every=2,
                     schedule="plateau", plateau_factor=0.1, plateau_patience=1))
    lrs = [h["lr"] for h in res.history]
    assert lrs[:3] == [pytest.approx(1e-6)] * 3  # best, then 1 bad round allowed
    assert lrs[3] == pytest.approx(1e-7)  # lowered after the 2nd bad round (3rd validation)
    cosine = train(_cfg(tiny_store, tmp_path / "c", steps=8, lr=1e-6, val_every=2))
    assert cosine.history[-1]["lr"] < cosine.history[0]["lr"]


@pytest.mark.parametrize(("kw", "message"), [
    ({"optimizer": "sgdx"}, "unknown --optimizer 'sgdx'"),
    ({"schedule": "step"}, "unknown --schedule 'step'"),
    ({"plateau_factor": 1.5}, "--plateau-factor must be between 0 and 1"),
    ({"plateau_patience": -1}, "--plateau-patience must be 0 or more"),
    ({"n_critic": 0}, "--n-critic must be at least 1"),
    ({"disc": "huge"}, "unknown --disc 'huge'"),
    ({"feature_distance": "l3"}, "unknown --feature-distance 'l3'"),
    ({"init": "edsr"}, "is not NAME:PATH"),
    ({"min_clear": 1.5}, "--min-clear must be a clear fraction"),
    ({"patch_min_clear_lr": -0.1}, "--patch-min-clear-lr must be a clear fraction"),
])
def test_bad_options(kw: dict[str, object], message: str, tiny_store: Path,
                     tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        train(_cfg(tiny_store, tmp_path / "x", **kw))
    assert not (tmp_path / "x" / "last.safetensors").exists()


@pytest.mark.parametrize("kind", ["bce", "wgan-gp"])
def test_vgg_discriminator_trains_with_n_critic(tiny_store: Path, tmp_path: Path, kind: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATSR_VGG19_WEIGHTS", str(tmp_path / "absent.pth"))
    cfg = _cfg(tiny_store, tmp_path / kind, steps=3, gan=True, gan_loss=kind, n_critic=2,
               pretrain_fraction=0.0, val_every=3, patch=4)
    trainer = Trainer(cfg)
    adv = trainer.adversarial
    assert adv is not None and adv.n_critic == 2
    convs = [m for m in adv.disc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in adv.disc.modules())
    assert has_bn == (kind != "wgan-gp")
    before = {k: v.clone() for k, v in adv.disc.state_dict().items()}
    calls = []
    original = AdversarialStep.critic_step

    def counting(self: AdversarialStep, real: torch.Tensor, fake: torch.Tensor) -> float:
        calls.append(1)
        return original(self, real, fake)

    monkeypatch.setattr(AdversarialStep, "critic_step", counting)
    res = trainer.run()
    assert res.steps == 3 and len(calls) == 3 * 2
    after = adv.disc.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    state = load_file(str(tmp_path / kind / "state.safetensors"))
    assert "disc.features.0.weight" in state
    with pytest.raises(ConfigError, match="resume with --disc vgg"):
        train(_cfg(tiny_store, tmp_path / kind, steps=4, gan=True, gan_loss=kind,
                   n_critic=2, pretrain_fraction=0.0, patch=4, resume=True, disc="small"))


def test_wgan_defaults_to_five_critic_steps(tiny_store: Path, tmp_path: Path) -> None:
    trainer = Trainer(_cfg(tiny_store, tmp_path / "w", gan=True, gan_loss="wgan-gp",
                           disc="small", content_loss="l1"))
    assert trainer.adversarial is not None and trainer.adversarial.n_critic == 5


def test_feature_distance_l2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATSR_VGG19_WEIGHTS", str(tmp_path / "absent.pth"))
    assert isinstance(content_loss("l1", "l2", 1.0), L1Loss)  # pixel content: no features
    f_sr, f_hr = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])
    assert PerceptualL2Loss.distance(None, f_sr, f_hr) == pytest.approx(2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown --feature-distance"):
        content_loss("perceptual", "cos", 1.0)


def _edsr_run(store: Path, out: Path, **hparams: object) -> Path:
    res = train(_cfg(store, out, model="edsr", steps=2, val_every=2, patch=4,
                     hparams=hparams))
    return res.best_path


def test_init_srgan_from_edsr(tiny_store: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATSR_VGG19_WEIGHTS", str(tmp_path / "absent.pth"))
    # srgan's small preset is EDSR-baseline 3 blocks x 32 features
    edsr = _edsr_run(tiny_store, tmp_path / "edsr", n_blocks=3, features=32, res_scale=1.0)
    cfg = _cfg(tiny_store, tmp_path / "srgan", model="srgan", init=f"edsr:{edsr}", steps=2,
               patch=4, disc="small")
    trainer = Trainer(cfg)
    want = load_file(str(edsr))
    got = trainer.model.state_dict()
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    side = json.loads(edsr.with_suffix(".json").read_text())
    assert trainer.model.satsr_normalisation == side["normalisation"]  # type: ignore[attr-defined]
    mismatch = _edsr_run(tiny_store, tmp_path / "edsr-small")  # 4 blocks x 30 features
    with pytest.raises(ConfigError, match="edsr weights do not fit the generator"):
        Trainer(_cfg(tiny_store, tmp_path / "x", model="srgan", init=f"edsr:{mismatch}"))
    with pytest.raises(ConfigError, match="holds 'edsr' weights, not 'fsrcnn'"):
        Trainer(_cfg(tiny_store, tmp_path / "x", model="srgan", init=f"fsrcnn:{edsr}"))


def test_min_clear_drops_cloudy_frames(tiny_store: Path, tmp_path: Path) -> None:
    scenes = load_split(_cfg(tiny_store, tmp_path, min_clear=0.95), "train")
    # frame 0 of every scene has 9 of 144 LR pixels concealed (share 0.9375)
    assert not scenes.frame_valid[:, 0].any() and scenes.frame_valid[:, 1:].all()
    full = load_split(_cfg(tiny_store, tmp_path), "train")
    assert drop_cloudy_frames(full, 1.0).frame_valid[:, 1:].all()
    full.lr_mask[:, 2:, 0, 0] = False  # now frame 1 alone is fully clear; frame 0 the least
    full.lr_mask[:, :, 5, 5] = False  # and no frame is: each scene keeps its clearest
    only = drop_cloudy_frames(full, 1.0).frame_valid
    assert only.sum(dim=1).eq(1).all() and only[:, 1].all()
    assert frame_clear_fraction(scenes)[:, 0].eq(0).all()
    res = train(_cfg(tiny_store, tmp_path / "run", steps=2, val_every=2, min_clear=0.95))
    assert res.steps == 2


def test_patch_clarity_filters(tiny_store: Path, tmp_path: Path) -> None:
    scenes = load_split(_cfg(tiny_store, tmp_path), "train")
    sampler = PatchSampler(scenes, patch=6, batch_size=8, augment=False, min_clear=1.0,
                           min_clear_lr=0.95, redraws=20,
                           generator=torch.Generator().manual_seed(0))
    for _ in range(5):
        b = sampler.sample()
        assert b.hr_mask is not None and b.hr_mask.all()
        assert b.lr_mask.float().mean(dim=(-2, -1)).mean(dim=1).min() >= 0.95
    loose = PatchSampler(scenes, patch=6, batch_size=64, augment=False, min_clear=0.0,
                         generator=torch.Generator().manual_seed(0)).sample()
    assert loose.hr_mask is not None and not loose.hr_mask.all()  # the filter matters
    res = train(_cfg(tiny_store, tmp_path / "run", steps=2, val_every=2,
                     patch_min_clear_lr=0.85, patch_min_clear_hr=0.85))
    assert res.steps == 2


def test_register_frames_is_applied_to_train_and_val(tiny_store: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import satsr.fetch.register as reg

    seen: list[str] = []
    real = reg.register_frames

    def spy(ds: xr.Dataset) -> xr.Dataset:
        seen.append(str(ds["split"].values[0]))
        return real(ds)

    monkeypatch.setattr(reg, "register_frames", spy)
    trainer = Trainer(_cfg(tiny_store, tmp_path / "r", register_frames=True))
    assert sorted(seen) == ["train", "val"]
    plain = Trainer(_cfg(tiny_store, tmp_path / "p"))
    assert trainer.train_scenes.lr.shape == plain.train_scenes.lr.shape


class _NormLoss(SRLoss):
    """A loss that needs N (like ncpsnr): records it."""

    needs_norm = True

    def __init__(self, n: float) -> None:
        super().__init__()
        self.n = n

    def forward(self, sr: torch.Tensor, hr: torch.Tensor,
                hr_mask: torch.Tensor | None = None) -> torch.Tensor:
        return (sr - hr).abs().mean() / self.n


def test_loss_n_defaults_to_the_mean_norm(tmp_path: Path) -> None:
    LOSSES.register("test-norm-loss", f"{__name__}:_NormLoss")
    try:
        store = make_store(tmp_path / "norm.zarr", norm=46.5)
        trainer = Trainer(_cfg(store, tmp_path / "a", loss="test-norm-loss"))
        assert trainer.pixel_loss.n == pytest.approx(46.5)  # type: ignore[attr-defined]
        given = Trainer(_cfg(store, tmp_path / "b", loss="test-norm-loss",
                             loss_options={"n": 40.0}))
        assert given.pixel_loss.n == 40.0  # type: ignore[attr-defined]
        plain = make_store(tmp_path / "plain.zarr")
        with pytest.raises(ConfigError, match="has no norm variable; pass --loss-option n="):
            Trainer(_cfg(plain, tmp_path / "c", loss="test-norm-loss"))
    finally:
        LOSSES.unregister("test-norm-loss")
