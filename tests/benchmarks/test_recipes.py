"""Every committed training recipe builds, and every seed system's recipe trains end to end on
the sample (CPU-sized through command-line overrides, as each recipe's header says)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from satsr.cli import main
from satsr.models import count_parameters, create_model, model_info
from satsr.train.loop import TrainConfig, _check_config
from satsr.train.losses import get_loss
from tests.train.test_losses import vgg_file  # noqa: F401  (fixture)

RECIPES = Path(__file__).resolve().parents[2] / "benchmarks" / "recipes"
ALL = sorted(RECIPES.glob("*.yaml")) + sorted((RECIPES / "seeds").glob("*.yaml"))
SEEDS = sorted((RECIPES / "seeds").glob("*.yaml"))
SHIPPED_EDSR_BASELINE = (Path(__file__).resolve().parents[2] / "satsr" / "models"
                         / "pretrained" / "edsr-baseline__sample.safetensors")


def test_every_seed_system_has_a_recipe() -> None:
    assert {p.stem for p in SEEDS} >= {"isr-rdn", "isr-rrdn-gan", "enhanceme-wdsr3d",
                                       "dorr-wdsr3d", "rams", "highres-net", "edsr", "esrgan",
                                       "srgan-from-edsr", "study-srcnn", "srvgg16"}


@pytest.mark.parametrize("recipe", ALL, ids=lambda p: p.relative_to(RECIPES).as_posix())
def test_recipe_builds(recipe: Path, vgg_file: Path) -> None:  # noqa: F811
    """Options are TrainConfig fields, pass the trainer's checks, and the model and loss build
    at the recipe's configuration (full size: on the meta device)."""
    options = yaml.safe_load(recipe.read_text())
    cfg = TrainConfig(**options)
    info = _check_config(cfg)
    frames = cfg.frames if info.multi_frame else None
    with torch.device("meta"):
        model = create_model(cfg.model, preset=cfg.preset, num_frames=frames, **cfg.hparams)
    assert count_parameters(model) > 0
    loss_options = dict(cfg.loss_options)
    if cfg.loss == "ncpsnr":
        loss_options.setdefault("n", 46.5)
    get_loss(cfg.loss, **loss_options)
    if recipe.parent.name == "seeds":
        assert cfg.preset is None, "seed recipes carry the published configuration"
        assert model_info(cfg.model).reference is not None


def _overrides(recipe: Path, tmp: Path) -> list[str]:
    options = yaml.safe_load(recipe.read_text())
    args = ["train", "--recipe", str(recipe), "--dataset", "sample", "--preset", "small",
            "--steps", "2", "--val-every", "2", "--patch", "8",
            "--batch", "2", "--out", str(tmp / recipe.stem), "--no-progress", "--threads", "1"]
    if options.get("gan"):
        args += ["--disc", "small"]
    if options["model"] == "srgan":
        args += ["--init", f"edsr-baseline:{SHIPPED_EDSR_BASELINE}"]
    return args


@pytest.mark.parametrize("recipe", SEEDS, ids=lambda p: p.stem)
def test_seed_recipe_trains_on_the_sample(recipe: Path, tmp_path: Path, vgg_file: Path,  # noqa: F811
                                          capsys: pytest.CaptureFixture[str]) -> None:
    main(_overrides(recipe, tmp_path))
    out = capsys.readouterr().out
    assert "best val cPSNR" in out
    assert (tmp_path / recipe.stem / "best.safetensors").exists()
