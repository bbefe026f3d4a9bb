"""The training loop: ``train(TrainConfig(...)) -> TrainResult``.

Random aligned LR/HR patches of the ``train`` split (:mod:`satsr.train.data`), a pixel loss from
:mod:`satsr.train.losses` (masked), Adam with a cosine (or constant) learning rate, validation on
whole ``val`` scenes with the official metrics (mean cPSNR and PSNR via :mod:`satsr.metrics`)
every ``val_every`` steps, best/last checkpoints (safetensors + JSON sidecar) and the optimizer /
RNG state for ``resume``; early stopping on validation cPSNR; AMP on CUDA; multi-GPU under
``torchrun`` (DistributedDataParallel; each rank draws its own random patches, rank 0 validates
and writes). GAN training (SRGAN / ESRGAN-style models): the generator is first trained with the
pixel loss for ``pretrain_fraction`` of the steps, then with ``content + adv_weight·adversarial``.

On CPU with a fixed seed and thread count, a run is deterministic, and a resumed run reproduces
an uninterrupted one exactly (same batches, same optimizer state). Under torchrun a resumed run
restores rank 0's sampler state only (other ranks are reseeded), so it is not bit-identical.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from satsr.batch import Batch
from satsr.errors import ConfigError
from satsr.train.checkpoint import (
    flatten_optimizer,
    load_state,
    save_state,
    unflatten_optimizer,
)
from satsr.train.data import PatchSampler, SceneTensors, scenes_from_datasets
from satsr.train.losses import SRLoss, get_loss

log = logging.getLogger(__name__)

GAN_MODELS = ("srgan", "rrdn", "esrgan")


@dataclass
class TrainConfig:
    """Everything a training run needs; the CLI only fills this in.

    ``steps`` (optimizer steps) or ``epochs`` (one epoch = enough patches to cover the train
    split's LR pixels once) sets the length; ``val_every`` defaults to one epoch.
    """

    model: str
    dataset: str = "sample"
    band: str | None = None
    root: str | None = None
    loss: str = "l1"
    loss_options: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    epochs: int | None = None
    patch: int = 16
    frames: int | None = None
    batch: int = 16
    lr: float = 1e-3
    schedule: str = "cosine"
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    preset: str | None = "small"
    hparams: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    resume: bool = False
    out: str = "runs/train"
    seed: int = 0
    early_stop: int | None = None
    amp: bool = False
    val_every: int | None = None
    val_split: str = "val"
    val_scenes: int | None = None
    augment: bool = True
    normalise: bool = True
    threads: int | None = None
    progress: bool = True
    # GAN (None = on for srgan / rrdn / esrgan)
    gan: bool | None = None
    gan_loss: str = "bce"
    content_loss: str = "auto"
    adv_weight: float = 5e-3
    content_weight: float = 1.0
    pixel_weight: float = 1e-2
    pretrain_fraction: float = 0.5
    disc_lr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (stored in checkpoints and weight sidecars as the recipe)."""
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What a run produced: paths, the step reached, the best validation metrics, the history."""

    out_dir: Path
    best_path: Path
    last_path: Path
    steps: int
    best_cpsnr: float
    best_psnr: float
    best_step: int
    stopped_early: bool
    history: list[dict[str, Any]]


# --- setup helpers ------------------------------------------------------------------------------


def _dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (0, 1, 0 otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _device(cfg: TrainConfig, local_rank: int, world: int) -> torch.device:
    if cfg.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda but no CUDA GPU is visible; use --device cpu")
        return torch.device("cuda", local_rank) if world > 1 else torch.device(cfg.device)
    if cfg.device != "cpu":
        raise ConfigError(f"unknown --device {cfg.device!r}; use cpu or cuda")
    return torch.device("cpu")


def load_split(cfg: TrainConfig, split: str) -> SceneTensors:
    """The ``split`` scenes of the configured dataset (bands pooled unless ``band`` is set)."""
    from satsr.datasets import load_datasets

    return scenes_from_datasets(load_datasets(cfg.dataset, split=split, band=cfg.band,
                                              root=cfg.root))


def _uses_gan(cfg: TrainConfig) -> bool:
    return cfg.gan if cfg.gan is not None else cfg.model.lower() in GAN_MODELS


def _content_loss(cfg: TrainConfig, data_range: float) -> SRLoss:
    """VGG19 perceptual content loss, or L1 when asked or when the VGG19 file is absent."""
    from satsr.train.vgg import default_weights_path, vgg19_weights_available

    choice = cfg.content_loss
    if choice == "auto":
        if vgg19_weights_available():
            choice = "perceptual"
        else:
            log.warning("VGG19 weights not found at %s: GAN content loss falls back to L1 "
                        "(set SATSR_VGG19_WEIGHTS or pass --content-loss l1 to silence this)",
                        default_weights_path())
            choice = "l1"
    if choice == "perceptual":
        return get_loss("perceptual", data_range=data_range)
    if choice in ("l1", "mse"):
        return get_loss(choice)
    raise ConfigError(f"unknown --content-loss {choice!r}; use auto, perceptual, l1 or mse")


def _lr_factor(cfg: TrainConfig, step: int, total: int) -> float:
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1))) * 0.98 + 0.02
    raise ConfigError(f"unknown schedule {cfg.schedule!r}; use cosine or constant")


def input_statistics(scenes: SceneTensors) -> tuple[float, float]:
    """(mean, std) of the clear LR pixels of valid frames: the input normalisation."""
    clear = scenes.lr_mask & scenes.frame_valid[..., None, None]
    values = scenes.lr.transpose(1, 2)[:, :, ...]  # (S, C, T, h, w)
    sel = values[clear.unsqueeze(1).expand_as(values)].double()
    if sel.numel() < 2:
        return 0.0, 1.0
    std = float(sel.std())
    return float(sel.mean()), std if std > 0 else 1.0


def _forward(model: nn.Module, b: Batch) -> torch.Tensor:
    out: torch.Tensor = model(b.lr, b.lr_mask, b.frame_valid)
    return out


@torch.no_grad()
def validate(model: nn.Module, scenes: SceneTensors, device: torch.device,
             batch_size: int = 8) -> dict[str, float]:
    """Mean cPSNR and PSNR (dB) over whole scenes, with :mod:`satsr.metrics`."""
    from satsr.metrics import cpsnr, psnr

    was_training = model.training
    model.eval()
    c_all, p_all = [], []
    for start in range(0, len(scenes), batch_size):
        idx = list(range(start, min(start + batch_size, len(scenes))))
        b = scenes.batch(idx).to(device)
        assert b.hr is not None and b.hr_mask is not None
        sr = _forward(model, b).float()
        c = cpsnr(sr, b.hr, b.hr_mask, data_range=scenes.data_range)
        assert isinstance(c, torch.Tensor)
        c_all.append(c.cpu())
        p_all.append(psnr(sr, b.hr, data_range=scenes.data_range, mask=b.hr_mask).cpu())
    model.train(was_training)
    c, p = torch.cat(c_all), torch.cat(p_all)
    return {"cpsnr": float(c[torch.isfinite(c)].mean()), "psnr": float(p[torch.isfinite(p)].mean())}


# --- the loop -----------------------------------------------------------------------------------


def train(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.dataset`` and return where the weights are and how they did."""
    from satsr.models import create_model, model_info
    from satsr.models.weights import save_weights

    info = model_info(cfg.model)
    if not info.learned:
        raise ConfigError(f"model {info.name!r} has no trainable parameters; pick a learned model "
                          "(`satsr models`)")
    if cfg.steps is not None and cfg.epochs is not None:
        raise ConfigError("pass either --steps or --epochs, not both")
    pixel_loss = get_loss(cfg.loss, **cfg.loss_options)  # fail fast on a bad name
    if cfg.amp and not cfg.device.startswith("cuda"):
        raise ConfigError("--amp needs --device cuda (mixed precision is a GPU feature)")
    rank, world, local_rank = _dist_info()
    device = _device(cfg, local_rank, world)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    torch.manual_seed(cfg.seed)

    train_scenes = load_split(cfg, "train")
    val_scenes = load_split(cfg, cfg.val_split)
    if cfg.val_scenes:
        keep = list(range(min(cfg.val_scenes, len(val_scenes))))
        val_scenes = dataclasses.replace(
            val_scenes, lr=val_scenes.lr[keep], lr_mask=val_scenes.lr_mask[keep],
            frame_valid=val_scenes.frame_valid[keep], hr=val_scenes.hr[keep],
            hr_mask=val_scenes.hr_mask[keep])
    if pixel_loss.needs_mask and not train_scenes.has_masks:
        raise ConfigError(f"loss {cfg.loss!r} needs cloud masks but dataset {cfg.dataset!r} has "
                          "none (every HR pixel is clear); use --loss l1 or mse")
    if cfg.patch * train_scenes.scale <= 2 * 3 and pixel_loss.needs_mask:
        raise ConfigError(f"--patch {cfg.patch} is too small for loss {cfg.loss!r} (its 3 px "
                          "border); use --patch 4 or more")

    in_channels = int(train_scenes.lr.shape[2])
    model = create_model(cfg.model, scale=train_scenes.scale, in_channels=in_channels,
                         num_frames=cfg.frames, preset=cfg.preset, **cfg.hparams).to(device)
    if cfg.normalise and not cfg.resume:
        from satsr.models.weights import set_normalisation

        set_normalisation(model, *input_statistics(train_scenes))
    gen_seed = cfg.seed * 1000 + rank
    sampler = PatchSampler(train_scenes, patch=cfg.patch, batch_size=cfg.batch,
                           frames=cfg.frames, augment=cfg.augment,
                           generator=torch.Generator().manual_seed(gen_seed))
    h, w = train_scenes.lr.shape[-2:]
    epoch_steps = max(1, math.ceil(len(train_scenes) * h * w / (cfg.patch ** 2 * cfg.batch
                                                                * world)))
    total = cfg.steps if cfg.steps is not None else (cfg.epochs or 10) * epoch_steps
    if total < 1:
        raise ConfigError(f"--steps must be at least 1, got {total}")
    val_every = max(1, min(cfg.val_every or epoch_steps, total))

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gan = _uses_gan(cfg)
    disc: nn.Module | None = None
    disc_opt: torch.optim.Optimizer | None = None
    content: SRLoss | None = None
    adv = None
    pretrain_steps = int(total * cfg.pretrain_fraction) if gan else total
    if gan:
        from satsr.train.gan import AdversarialLoss, Discriminator

        disc = Discriminator(in_channels, norm=cfg.gan_loss != "wgan-gp").to(device)
        disc_opt = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr or cfg.lr,
                                    betas=(0.5, 0.999) if cfg.gan_loss == "wgan-gp"
                                    else (0.9, 0.999))
        adv = AdversarialLoss(cfg.gan_loss)
        content = _content_loss(cfg, train_scenes.data_range).to(device)

    out = Path(cfg.out)
    start, best, best_psnr, best_step, bad, history = 0, -math.inf, math.nan, 0, 0, []
    if cfg.resume:
        from satsr.models.weights import load_weights

        tensors, meta = load_state(out)
        load_weights(model, out / "last.safetensors")
        opt.load_state_dict(unflatten_optimizer("opt", tensors, meta["optimizer"]))
        if disc is not None and disc_opt is not None and "disc_optimizer" in meta:
            disc.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("disc.")})
            disc_opt.load_state_dict(unflatten_optimizer("dopt", tensors,
                                                         meta["disc_optimizer"]))
        if rank == 0:
            sampler.set_state(tensors["rng.sampler"])
        else:
            sampler.generator.manual_seed(gen_seed + 7919 * int(meta["step"]))
        torch.set_rng_state(tensors["rng.torch"])
        start, best, best_psnr = int(meta["step"]), float(meta["best_cpsnr"]), meta["best_psnr"]
        best_step, bad, history = int(meta["best_step"]), int(meta["bad"]), meta["history"]
        if start >= total:
            log.info("run in %s already reached step %d of %d", out, start, total)
    net: nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                      else None)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    recipe = cfg.to_dict()
    sidecar_meta = {"bands": train_scenes.bands, "value_scale": train_scenes.value_scale,
                    "data_range": train_scenes.data_range,
                    "lr_sensor": train_scenes.lr_sensor, "hr_sensor": train_scenes.hr_sensor,
                    "dataset": train_scenes.dataset, "split": "train", "recipe": recipe,
                    "data_version": train_scenes.data_version}

    def checkpoint(step: int, metrics: dict[str, float], is_best: bool) -> None:
        m = {**sidecar_meta, "step": step,
             "metrics": {f"val_{k}": v for k, v in metrics.items()}}
        if is_best:
            save_weights(model, out / "best.safetensors", metadata=m)
        save_weights(model, out / "last.safetensors", metadata=m)
        tensors, opt_meta = flatten_optimizer("opt", opt.state_dict())
        tensors["rng.sampler"] = sampler.state()
        tensors["rng.torch"] = torch.get_rng_state()
        meta: dict[str, Any] = {"step": step, "best_cpsnr": best, "best_psnr": best_psnr,
                                "best_step": best_step, "bad": bad, "history": history,
                                "optimizer": opt_meta, "config": recipe}
        if disc is not None and disc_opt is not None:
            tensors.update({f"disc.{k}": v.detach().cpu().contiguous()
                            for k, v in disc.state_dict().items()})
            dt, dmeta = flatten_optimizer("dopt", disc_opt.state_dict())
            tensors.update(dt)
            meta["disc_optimizer"] = dmeta
        save_state(out, tensors, meta)

    from satsr.progress import make_progress

    model.train()
    stopped = False
    ema: float | None = None
    status = ""
    t0 = time.perf_counter()
    with make_progress(disable=not cfg.progress or rank != 0) as progress:
        task = progress.add_task(f"train {info.name}", total=total, completed=start,
                                 status="")
        for step in range(start, total):
            for group in opt.param_groups:
                group["lr"] = cfg.lr * _lr_factor(cfg, step, total)
            b = sampler.sample().to(device)
            assert b.hr is not None and b.hr_mask is not None
            adversarial = gan and step >= pretrain_steps
            with torch.autocast(device.type, enabled=use_amp):
                sr = _forward(net, b)
            sr = sr.float()
            if adversarial:
                assert disc is not None and disc_opt is not None and adv is not None
                assert content is not None
                # discriminator step
                d_real = disc(b.hr)
                d_fake = disc(sr.detach())
                d_loss = adv.discriminator_loss(d_real, d_fake) + adv.gradient_penalty(
                    disc, b.hr, sr)
                disc_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                disc_opt.step()
                # generator step
                d_fake = disc(sr)
                d_real = disc(b.hr).detach() if cfg.gan_loss == "relativistic" else None
                loss = (cfg.content_weight * content(sr, b.hr, b.hr_mask)
                        + cfg.adv_weight * adv.generator_loss(d_fake, d_real)
                        + cfg.pixel_weight * pixel_loss(sr, b.hr, b.hr_mask))
            else:
                loss = pixel_loss(sr, b.hr, b.hr_mask)
            if not torch.isfinite(loss):
                raise ConfigError(f"training diverged at step {step + 1} (loss {loss.item()}); "
                                  "lower --lr")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            value = float(loss.detach())
            ema = value if ema is None else 0.95 * ema + 0.05 * value
            done = step + 1
            if done % val_every == 0 or done == total:
                stop_flag = torch.zeros(1)
                if rank == 0:
                    metrics = validate(model, val_scenes, device)
                    is_best = metrics["cpsnr"] > best
                    if is_best:
                        best, best_psnr, best_step, bad = (metrics["cpsnr"], metrics["psnr"],
                                                           done, 0)
                    else:
                        bad += 1
                    history.append({"step": done, "loss": ema, **metrics,
                                    "seconds": round(time.perf_counter() - t0, 2)})
                    checkpoint(done, metrics, is_best)
                    status = f"val cPSNR {metrics['cpsnr']:.2f} (best {best:.2f})"
                    log.info("step %d loss %.5g val cPSNR %.3f PSNR %.3f", done, ema,
                             metrics["cpsnr"], metrics["psnr"])
                    if cfg.early_stop and bad >= cfg.early_stop:
                        stop_flag[0] = 1
                if world > 1:
                    torch.distributed.broadcast(stop_flag, 0)
                if bool(stop_flag[0]):
                    stopped = True
                    progress.update(task, completed=done, status=f"early stop; {status}")
                    break
            progress.update(task, completed=done, status=f"loss {ema:.4g} {status}")
    if world > 1:
        torch.distributed.barrier()
    final_step = history[-1]["step"] if history else start
    return TrainResult(out_dir=out, best_path=out / "best.safetensors",
                       last_path=out / "last.safetensors", steps=int(final_step),
                       best_cpsnr=best, best_psnr=float(best_psnr), best_step=best_step,
                       stopped_early=stopped, history=history)
