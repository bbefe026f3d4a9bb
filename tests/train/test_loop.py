"""Training loop: smoke run, checkpoints, exact resume, early stopping, GAN path, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from satsr.errors import ConfigError, WeightsNotFoundError
from satsr.models import create_model
from satsr.train import TrainConfig, train
from tests.train.conftest import TINY


def _cfg(store: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = dict(model=TINY, dataset=str(store), steps=12, patch=6, batch=4,
                                   lr=3e-3, val_every=4, out=str(out), progress=False, seed=1)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_smoke_loss_decreases_and_checkpoints(tiny_store: Path, tmp_path: Path) -> None:
    res = train(_cfg(tiny_store, tmp_path / "run", steps=40, val_every=10, lr=1e-2))
    assert res.steps == 40 and len(res.history) == 4
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.history[-1]["cpsnr"] > res.history[0]["cpsnr"]
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.json",
                 "state.safetensors", "state.json"):
        assert (res.out_dir / name).exists(), name
    meta = json.loads((res.out_dir / "best.json").read_text())
    assert meta["metrics"]["val_cpsnr"] == pytest.approx(res.best_cpsnr)
    assert meta["recipe"]["model"] == TINY and meta["bands"] == ["RED"]
    assert meta["dataset"] == "tiny" and meta["split"] == "train"
    model = create_model(TINY, preset="small", weights=res.best_path)
    assert model.scale == 3


def test_resume_reproduces_uninterrupted_run(tiny_store: Path, tmp_path: Path) -> None:
    full = train(_cfg(tiny_store, tmp_path / "full", steps=12, schedule="constant"))
    train(_cfg(tiny_store, tmp_path / "part", steps=8, schedule="constant"))
    resumed = train(_cfg(tiny_store, tmp_path / "part", steps=12, schedule="constant",
                         resume=True))
    a = load_file(str(full.last_path))
    b = load_file(str(resumed.last_path))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["cpsnr"] for h in full.history] == [h["cpsnr"] for h in resumed.history]


def test_same_seed_same_weights(tiny_store: Path, tmp_path: Path) -> None:
    r1 = train(_cfg(tiny_store, tmp_path / "a", steps=4))
    r2 = train(_cfg(tiny_store, tmp_path / "b", steps=4))
    r3 = train(_cfg(tiny_store, tmp_path / "c", steps=4, seed=2))
    a, b, c = (load_file(str(r.last_path)) for r in (r1, r2, r3))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_early_stopping(tiny_store: Path, tmp_path: Path) -> None:
    res = train(_cfg(tiny_store, tmp_path / "run", steps=40, val_every=2, lr=0.0,
                     early_stop=2))
    assert res.stopped_early
    assert res.steps == 6 and res.best_step == 2


def test_masked_losses_and_errors(tiny_store: Path, clear_store: Path, tmp_path: Path) -> None:
    res = train(_cfg(tiny_store, tmp_path / "c", steps=2, loss="cl1"))
    assert res.steps == 2
    with pytest.raises(ConfigError, match="needs cloud masks"):
        train(_cfg(clear_store, tmp_path / "x", loss="cmse"))
    with pytest.raises(ConfigError, match="unknown loss"):
        train(_cfg(tiny_store, tmp_path / "x", loss="nope"))
    with pytest.raises(ConfigError, match="no trainable"):
        train(_cfg(tiny_store, tmp_path / "x", model="bicubic"))
    with pytest.raises(ConfigError, match="does not fit"):
        train(_cfg(tiny_store, tmp_path / "x", patch=50))
    with pytest.raises(ConfigError, match="--amp needs"):
        train(_cfg(tiny_store, tmp_path / "x", amp=True))
    with pytest.raises(WeightsNotFoundError, match="nothing to resume"):
        train(_cfg(tiny_store, tmp_path / "empty", resume=True))


@pytest.mark.parametrize("kind", ["bce", "relativistic", "wgan-gp"])
def test_gan_training_runs(tiny_store: Path, tmp_path: Path, kind: str,
                           caplog: pytest.LogCaptureFixture,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATSR_VGG19_WEIGHTS", str(tmp_path / "absent.pth"))
    # the small discriminator keeps this fast; the 8-conv one is tested in test_options.py
    res = train(_cfg(tiny_store, tmp_path / kind, steps=4, gan=True, gan_loss=kind,
                     pretrain_fraction=0.5, val_every=2, disc="small", n_critic=2))
    assert res.steps == 4
    assert "falls back to L1" in caplog.text
    state = load_file(str(tmp_path / kind / "state.safetensors"))
    assert any(k.startswith("disc.") for k in state)
    resumed = train(_cfg(tiny_store, tmp_path / kind, steps=6, gan=True, gan_loss=kind,
                         pretrain_fraction=0.5, val_every=2, resume=True, disc="small",
                         n_critic=2))
    assert resumed.steps == 6


def test_smoke_on_the_sample(tmp_path: Path) -> None:
    """A few steps of a zoo model on the embedded sample (RED and NIR pooled)."""
    res = train(TrainConfig(model="fsrcnn", dataset="sample", steps=3, patch=8, batch=2,
                            val_every=3, val_scenes=2, out=str(tmp_path / "run"),
                            progress=False))
    meta = json.loads((res.out_dir / "best.json").read_text())
    assert meta["bands"] == ["RED", "NIR"] and meta["dataset"] == "sample"
    assert meta["normalisation"]["type"] == "affine"
    assert res.steps == 3


def test_epochs_and_progress_bar(tiny_store: Path, tmp_path: Path) -> None:
    # 4 train scenes of 12x12 LR px, patch 6, batch 4: one epoch = 4 steps
    res = train(_cfg(tiny_store, tmp_path / "e", steps=None, epochs=2, val_every=None,
                     progress=True))
    assert res.steps == 8 and [h["step"] for h in res.history] == [4, 8]
    again = train(_cfg(tiny_store, tmp_path / "e", steps=None, epochs=2, resume=True))
    assert again.steps == 8 and again.best_cpsnr == res.best_cpsnr
    with pytest.raises(ConfigError, match="either --steps or --epochs"):
        train(_cfg(tiny_store, tmp_path / "x", epochs=1))


_KILLED_RUN = """
import os, signal, sys
import torch
from satsr.models import weights
from satsr.train import TrainConfig, loop, train
from tests.train.conftest import TINY, register_tiny

register_tiny()
torch.set_num_threads(1)  # as the in-process runs of this test module
kill_at, where = int(sys.argv[3]), sys.argv[4]
original_state, original_weights = loop.save_state, weights.save_weights

def save_state(folder, tensors, meta):
    original_state(folder, tensors, meta)
    if where == "after-state" and meta["step"] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

def save_weights(model, path, metadata=None):
    out = original_weights(model, path, metadata=metadata)
    if where == "before-state" and path.name == "last.safetensors" and metadata["step"] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return out

loop.save_state, weights.save_weights = save_state, save_weights
train(TrainConfig(model=TINY, dataset=sys.argv[1], steps=12, patch=6, batch=4, lr=3e-3,
                  val_every=4, out=sys.argv[2], progress=False, seed=1, schedule="constant"))
"""


@pytest.mark.parametrize("where", ["after-state", "before-state"])
def test_resume_after_sigkill_matches_uninterrupted_run(tiny_store: Path, tmp_path: Path,
                                                        where: str) -> None:
    """SIGKILL right after the step-8 checkpoint, or between its weights and its state: the
    resumed run ends with the same tensors — and byte-identical weights files — as a run that
    was never interrupted."""
    import os
    import signal
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    full = train(_cfg(tiny_store, tmp_path / "full", steps=12, schedule="constant"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(tiny_store),
                           str(tmp_path / "killed"), "8", where], env=env, cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    resumed = train(_cfg(tiny_store, tmp_path / "killed", steps=12, schedule="constant",
                         resume=True))
    a, b = load_file(str(full.last_path)), load_file(str(resumed.last_path))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert full.last_path.read_bytes() == resumed.last_path.read_bytes()
    assert [h["cpsnr"] for h in full.history] == [h["cpsnr"] for h in resumed.history]
