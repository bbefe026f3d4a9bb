"""The training loop: ``train(TrainConfig(...)) -> TrainResult``.

Random aligned LR/HR patches of the ``train`` split (:mod:`satsr.train.data`; optional frame
registration, cloudy-frame and cloudy-patch filters), a pixel loss from :mod:`satsr.train.losses`
(masked), Adam or Nadam with a cosine, constant or plateau learning rate
(:mod:`satsr.train.optim`), an optional warm start (``init``, :mod:`satsr.train.warmstart`),
validation on
whole ``val`` scenes with the official metrics (mean cPSNR and PSNR via :mod:`satsr.metrics`)
every ``val_every`` steps, best/last checkpoints (safetensors + JSON sidecar) and the optimizer /
RNG state for ``resume``; early stopping on validation cPSNR; AMP on CUDA; multi-GPU under
``torchrun`` (DistributedDataParallel; each rank draws its own random patches, rank 0 validates
and writes). GAN training (models whose registry entry says ``adversarial``, or ``gan=True``): the generator is
first trained with the pixel loss for ``pretrain_fraction`` of the steps, then with
``content + adv_weight·adversarial`` through :class:`satsr.train.gan.AdversarialStep`
(8-conv VGG discriminator, ``n_critic`` discriminator steps per generator step).

:class:`Trainer` holds one run (``resume`` / ``step`` / ``validate`` / ``checkpoint`` and the
``run`` loop); :func:`train` is ``Trainer(cfg).run()``.

On CPU with a fixed seed and thread count, a run is deterministic, and a resumed run reproduces
an uninterrupted one exactly (same batches, same optimizer state). Under torchrun a resumed run
restores rank 0's sampler state only (other ranks are reseeded), so it is not bit-identical.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from satsr._registry import load_target
from satsr.batch import Batch
from satsr.errors import ConfigError
from satsr.train.checkpoint import (
    flatten_optimizer,
    load_state,
    save_state,
    unflatten_optimizer,
)
from satsr.train.data import (
    PatchSampler,
    SceneTensors,
    drop_cloudy_frames,
    scenes_from_datasets,
)
from satsr.train.gan import DISCRIMINATORS, FEATURE_DISTANCES, AdversarialStep, critic_steps
from satsr.train.losses import LOSSES, SRLoss, get_loss
from satsr.train.optim import check_optim, lr_factor, make_optimizer, make_plateau

log = logging.getLogger(__name__)

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
    optimizer: str = "adam"
    schedule: str = "cosine"
    plateau_factor: float = 0.5
    plateau_patience: int = 2
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
    # EnhanceMe data options: LR frames below min_clear are dropped (clearest kept); patches
    # whose LR frames / HR are less clear than these shares are redrawn; frame registration
    min_clear: float = 0.0
    patch_min_clear_lr: float = 0.0
    patch_min_clear_hr: float = 0.3
    register_frames: bool = False
    #: "NAME:PATH": start the generator from NAME's trained weights (e.g. edsr for srgan)
    init: str | None = None
    threads: int | None = None
    progress: bool = True
    #: resume from weights trained on another band/sensor/scale/value scale (warns instead)
    allow_mismatch: bool = False
    # GAN (None = on when the model's registry entry is adversarial, e.g. srgan / rrdn)
    gan: bool | None = None
    gan_loss: str = "bce"
    content_loss: str = "auto"
    adv_weight: float = 5e-3
    content_weight: float = 1.0
    pixel_weight: float = 1e-2
    pretrain_fraction: float = 0.5
    disc_lr: float | None = None
    disc: str = "vgg"
    n_critic: int | None = None
    feature_distance: str = "l1"

    def __post_init__(self) -> None:
        from satsr.train.checks import check_train_config

        check_train_config(self)

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
    """The ``split`` scenes of the configured dataset (bands pooled unless ``band`` is set),
    frame-registered when ``register_frames`` and with cloudy frames dropped (``min_clear``)."""
    from satsr.datasets import load_datasets

    # dask=False: stores are read chunk file by chunk file straight into memory (the fast
    # path of benchmarks/bench_probav_loading.py); everything is loaded as tensors anyway
    datasets = load_datasets(cfg.dataset, split=split, band=cfg.band, root=cfg.root, dask=False)
    if cfg.register_frames:
        from satsr.fetch.register import register_frames

        datasets = [register_frames(ds) for ds in datasets]
    return drop_cloudy_frames(scenes_from_datasets(datasets), cfg.min_clear)


def _needs_norm(name: str) -> bool:
    """True for losses whose ``n`` defaults to the dataset's mean ``norm`` (``ncpsnr``)."""
    factory = load_target(LOSSES.get(name.lower()), what=f"loss {name.lower()!r}")
    return bool(getattr(factory, "needs_norm", False)) or name.lower() == "ncpsnr"


def _pixel_loss(cfg: TrainConfig, scenes: SceneTensors) -> SRLoss:
    """The pixel loss, with ``n`` = the train split's mean ``norm`` for N/cPSNR-style losses."""
    options = dict(cfg.loss_options)
    if _needs_norm(cfg.loss) and "n" not in options:
        norms = [] if scenes.norm is None else [float(v) for v in scenes.norm
                                                 if math.isfinite(float(v))]
        if not norms:
            raise ConfigError(f"loss {cfg.loss!r} needs N (e.g. PROBA-V's mean norm 46.5) but "
                              f"dataset {cfg.dataset!r} has no norm variable; pass "
                              "--loss-option n=VALUE")
        options["n"] = statistics.fmean(norms)
    return get_loss(cfg.loss, **options)


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


# --- the trainer ----------------------------------------------------------------------------------


@dataclass
class RunState:
    """Counters that a checkpoint saves and ``resume`` restores."""

    step: int = 0
    best_cpsnr: float = -math.inf
    best_psnr: float = math.nan
    best_step: int = 0
    bad: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _check_config(cfg: TrainConfig) -> Any:
    """Fail fast on settings that cannot work; return the model's registry entry."""
    from satsr.models import model_info

    info = model_info(cfg.model)
    if not info.learned:
        raise ConfigError(f"model {info.name!r} has no trainable parameters; pick a learned model "
                          "(`satsr models`)")
    if cfg.steps is not None and cfg.epochs is not None:
        raise ConfigError("pass either --steps or --epochs, not both")
    if cfg.amp and not cfg.device.startswith("cuda"):
        raise ConfigError("--amp needs --device cuda (mixed precision is a GPU feature)")
    check_optim(cfg.optimizer, cfg.schedule, cfg.plateau_factor, cfg.plateau_patience)
    if cfg.disc not in DISCRIMINATORS:
        raise ConfigError(f"unknown --disc {cfg.disc!r}; use vgg (SRGAN/ESRGAN) or small")
    if cfg.feature_distance not in FEATURE_DISTANCES:
        raise ConfigError(f"unknown --feature-distance {cfg.feature_distance!r}; use l1 or l2")
    critic_steps(cfg)
    if cfg.init is not None:
        from satsr.train.warmstart import parse_init

        parse_init(cfg.init)
    _needs_norm(cfg.loss)  # unknown loss names fail before any data is read
    return info


def _subset(scenes: SceneTensors, n: int | None) -> SceneTensors:
    """The first ``n`` scenes (all when ``n`` is None or 0)."""
    if not n:
        return scenes
    keep = list(range(min(n, len(scenes))))
    return dataclasses.replace(scenes, lr=scenes.lr[keep], lr_mask=scenes.lr_mask[keep],
                               frame_valid=scenes.frame_valid[keep], hr=scenes.hr[keep],
                               hr_mask=scenes.hr_mask[keep],
                               norm=None if scenes.norm is None else scenes.norm[keep])


def _check_loss_fits(cfg: TrainConfig, pixel_loss: SRLoss, scenes: SceneTensors) -> None:
    if pixel_loss.needs_mask and not scenes.has_masks:
        raise ConfigError(f"loss {cfg.loss!r} needs cloud masks but dataset {cfg.dataset!r} has "
                          "none (every HR pixel is clear); use --loss l1 or mse")
    border = int(getattr(pixel_loss, "border", 0))
    if pixel_loss.needs_mask and cfg.patch * scenes.scale <= 2 * border:
        need = 2 * border // scenes.scale + 1
        raise ConfigError(f"--patch {cfg.patch} is too small for loss {cfg.loss!r} (its "
                          f"{border} px border); use --patch {need} or more")


def _scene_facts(scenes: SceneTensors) -> dict[str, Any]:
    """The data facts of training scenes (for :func:`satsr.models.weights.check_compatible`)."""
    return {"dataset": scenes.dataset, "bands": scenes.bands, "lr_sensor": scenes.lr_sensor,
            "hr_sensor": scenes.hr_sensor, "scale": scenes.scale,
            "value_scale": scenes.value_scale, "data_range": scenes.data_range}


class Trainer:
    """One training run: ``resume()``, ``step()``, ``validate()``, ``checkpoint()``, ``run()``.

    Construction does the setup in a fixed order (seed, data, model, sampler, optimizer,
    adversarial step), so two runs with the same config draw the same random numbers.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.info = _check_config(cfg)
        self.rank, self.world, local_rank = _dist_info()
        self.device = _device(cfg, local_rank, self.world)
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda"
                                                 else "gloo")
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        torch.manual_seed(cfg.seed)
        self.train_scenes = load_split(cfg, "train")
        self.val_scenes = _subset(load_split(cfg, cfg.val_split), cfg.val_scenes)
        self.pixel_loss = _pixel_loss(cfg, self.train_scenes)
        _check_loss_fits(cfg, self.pixel_loss, self.train_scenes)
        self._build_model()
        self._schedule()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = make_optimizer(cfg.optimizer, self.params, cfg.lr, cfg.weight_decay)
        self.plateau = (make_plateau(self.opt, cfg.plateau_factor, cfg.plateau_patience)
                        if cfg.schedule == "plateau" else None)
        gan = cfg.gan if cfg.gan is not None else self.info.adversarial
        self.adversarial: AdversarialStep | None = None
        self.pretrain_steps = int(self.total * cfg.pretrain_fraction) if gan else self.total
        if gan:
            self.adversarial = AdversarialStep(cfg, self.in_channels,
                                               self.train_scenes.data_range, self.device)
        self.out = Path(cfg.out)
        self.state = RunState()
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def _build_model(self) -> None:
        from satsr.models import create_model

        cfg, scenes = self.cfg, self.train_scenes
        self.in_channels = int(scenes.lr.shape[2])
        self.model = create_model(cfg.model, scale=scenes.scale, in_channels=self.in_channels,
                                  num_frames=cfg.frames, preset=cfg.preset,
                                  **cfg.hparams).to(self.device)
        if cfg.normalise and not cfg.resume:  # inputs only for bounded (sigmoid) outputs
            from satsr.models.weights import set_normalisation

            set_normalisation(self.model, *input_statistics(scenes))
        if cfg.init and not cfg.resume:
            from satsr.train.warmstart import init_generator

            init_generator(self.model, cfg.init, _scene_facts(scenes),
                           allow_mismatch=cfg.allow_mismatch)
        self.gen_seed = cfg.seed * 1000 + self.rank
        filtered = cfg.patch_min_clear_lr > 0 or cfg.patch_min_clear_hr > 0.3
        self.sampler = PatchSampler(scenes, patch=cfg.patch, batch_size=cfg.batch,
                                    frames=cfg.frames, augment=cfg.augment,
                                    min_clear=cfg.patch_min_clear_hr,
                                    min_clear_lr=cfg.patch_min_clear_lr,
                                    redraws=20 if filtered else 3,
                                    generator=torch.Generator().manual_seed(self.gen_seed))

    def _schedule(self) -> None:
        """Total steps (``steps``, or ``epochs`` × steps per epoch) and the validation period."""
        cfg, scenes = self.cfg, self.train_scenes
        h, w = scenes.lr.shape[-2:]
        epoch_steps = max(1, math.ceil(len(scenes) * h * w / (cfg.patch ** 2 * cfg.batch
                                                              * self.world)))
        self.total = cfg.steps if cfg.steps is not None else (cfg.epochs or 10) * epoch_steps
        if self.total < 1:
            raise ConfigError(f"--steps must be at least 1, got {self.total}")
        self.val_every = max(1, min(cfg.val_every or epoch_steps, self.total))

    def resume(self) -> None:
        """Restore weights, optimizer, discriminator, RNG and counters from ``cfg.out``."""
        from satsr.models.weights import check_compatible, load_weights

        tensors, meta = load_state(self.out)
        check_compatible(load_weights(self.model, self.out / "last.safetensors"),
                         _scene_facts(self.train_scenes), allow_mismatch=self.cfg.allow_mismatch)
        # the state's own copy of the weights wins: a kill between writing last.safetensors
        # and the state leaves last.* one checkpoint ahead of the optimizer and RNG state
        own = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        if own:
            self.model.load_state_dict(own)
        self.opt.load_state_dict(unflatten_optimizer("opt", tensors, meta["optimizer"]))
        if self.plateau is not None and "plateau" in meta:
            self.plateau.load_state_dict(meta["plateau"])
        if self.adversarial is not None:
            self.adversarial.load_state(tensors, meta)
        if self.rank == 0:
            self.sampler.set_state(tensors["rng.sampler"])
        else:
            self.sampler.generator.manual_seed(self.gen_seed + 7919 * int(meta["step"]))
        torch.set_rng_state(tensors["rng.torch"])
        self.state = RunState(step=int(meta["step"]), best_cpsnr=float(meta["best_cpsnr"]),
                              best_psnr=meta["best_psnr"], best_step=int(meta["best_step"]),
                              bad=int(meta["bad"]), history=meta["history"])
        if self.state.step >= self.total:
            log.info("run in %s already reached step %d of %d", self.out, self.state.step,
                     self.total)

    def step(self, net: nn.Module, step: int) -> float:
        """One optimizer step (0-based ``step``) through ``net``; returns the loss value."""
        cfg = self.cfg
        if self.plateau is None:
            for group in self.opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(cfg.schedule, step, self.total)
        adversarial = self.adversarial if step >= self.pretrain_steps else None
        if adversarial is not None:
            for _ in range(adversarial.n_critic - 1):  # extra critic steps on fresh batches
                extra = self.sampler.sample().to(self.device)
                assert extra.hr is not None
                with torch.no_grad(), torch.autocast(self.device.type, enabled=self.use_amp):
                    fake = _forward(net, extra)
                adversarial.critic_step(extra.hr, fake.float())
        b = self.sampler.sample().to(self.device)
        assert b.hr is not None and b.hr_mask is not None
        with torch.autocast(self.device.type, enabled=self.use_amp):
            sr = _forward(net, b)
        sr = sr.float()
        if adversarial is not None:
            loss = adversarial.generator_loss(sr, b, self.pixel_loss)
        else:
            loss = self.pixel_loss(sr, b.hr, b.hr_mask)
        aux = getattr(self.model, "auxiliary_loss", None)  # e.g. srvgg16's clear-map head
        aux_loss = aux(b.hr_mask) if aux is not None else None
        if aux_loss is not None:
            loss = loss + aux_loss
        if not torch.isfinite(loss):
            raise ConfigError(f"training diverged at step {step + 1} (loss {loss.item()}); "
                              "lower --lr")
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        return float(loss.detach())

    def validate(self, done: int, loss: float, seconds: float) -> tuple[dict[str, float], bool]:
        """Score the validation scenes after ``done`` steps, update the counters and history;
        returns (metrics, whether they are the best so far)."""
        metrics = validate(self.model, self.val_scenes, self.device)
        st = self.state
        is_best = metrics["cpsnr"] > st.best_cpsnr
        if is_best:
            st.best_cpsnr, st.best_psnr, st.best_step, st.bad = (metrics["cpsnr"],
                                                                 metrics["psnr"], done, 0)
        else:
            st.bad += 1
        lr_now = float(self.opt.param_groups[0]["lr"])
        if self.plateau is not None:
            self.plateau.step(metrics["cpsnr"])
        st.history.append({"step": done, "loss": loss, **metrics, "lr": lr_now,
                           "seconds": round(seconds, 2)})
        return metrics, is_best

    def checkpoint(self, step: int, metrics: dict[str, float], is_best: bool) -> None:
        """Write last (and best) weights with their sidecars, then the training state."""
        from satsr.models.weights import save_weights

        scenes, recipe = self.train_scenes, self.cfg.to_dict()
        m = {"bands": scenes.bands, "value_scale": scenes.value_scale,
             "data_range": scenes.data_range, "lr_sensor": scenes.lr_sensor,
             "hr_sensor": scenes.hr_sensor, "dataset": scenes.dataset, "split": "train",
             "recipe": recipe, "data_version": scenes.data_version, "step": step,
             "metrics": {f"val_{k}": v for k, v in metrics.items()}}
        if is_best:
            save_weights(self.model, self.out / "best.safetensors", metadata=m)
        save_weights(self.model, self.out / "last.safetensors", metadata=m)
        tensors, opt_meta = flatten_optimizer("opt", self.opt.state_dict())
        tensors["rng.sampler"] = self.sampler.state()
        tensors["rng.torch"] = torch.get_rng_state()
        tensors.update({f"model.{k}": v.detach().cpu().contiguous()
                        for k, v in self.model.state_dict().items()})
        st = self.state
        meta: dict[str, Any] = {"step": step, "best_cpsnr": st.best_cpsnr,
                                "best_psnr": st.best_psnr, "best_step": st.best_step,
                                "bad": st.bad, "history": st.history, "optimizer": opt_meta,
                                "config": recipe}
        if self.plateau is not None:
            meta["plateau"] = self.plateau.state_dict()
        if self.adversarial is not None:
            adv_tensors, adv_meta = self.adversarial.state()
            tensors.update(adv_tensors)
            meta.update(adv_meta)
        save_state(self.out, tensors, meta)

    def _wrapped(self) -> nn.Module:
        """The model, inside DistributedDataParallel under torchrun."""
        if self.world == 1:
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(self.model, device_ids=[self.device.index]
                                       if self.device.type == "cuda" else None)

    def _validate_and_save(self, done: int, ema: float, t0: float) -> tuple[bool, str]:
        """Rank 0 validates and checkpoints; every rank learns whether to stop early."""
        flags, status = torch.zeros(2, dtype=torch.float64), ""
        if self.rank == 0:
            metrics, is_best = self.validate(done, ema, time.perf_counter() - t0)
            self.checkpoint(done, metrics, is_best)
            status = f"val cPSNR {metrics['cpsnr']:.2f} (best {self.state.best_cpsnr:.2f})"
            log.info("step %d loss %.5g val cPSNR %.3f PSNR %.3f", done, ema,
                     metrics["cpsnr"], metrics["psnr"])
            if self.cfg.early_stop and self.state.bad >= self.cfg.early_stop:
                flags[0] = 1
            flags[1] = float(self.opt.param_groups[0]["lr"])
        if self.world > 1:  # the stop decision and the (plateau-lowered) rate reach every rank
            flags = flags.to(self.device)
            torch.distributed.broadcast(flags, 0)
            for group in self.opt.param_groups:
                group["lr"] = float(flags[1])
        return bool(flags[0]), status

    def run(self) -> TrainResult:
        """Resume if asked, train to the end (or an early stop) and report."""
        from satsr.progress import make_progress

        if self.cfg.resume:
            self.resume()
        start, net = self.state.step, self._wrapped()
        self.model.train()
        stopped, ema, status, t0 = False, None, "", time.perf_counter()
        with make_progress(disable=not self.cfg.progress or self.rank != 0) as progress:
            task = progress.add_task(f"train {self.info.name}", total=self.total,
                                     completed=start, status="")
            for step in range(start, self.total):
                value = self.step(net, step)
                ema = value if ema is None else 0.95 * ema + 0.05 * value
                done = step + 1
                if done % self.val_every == 0 or done == self.total:
                    stopped, new_status = self._validate_and_save(done, ema, t0)
                    status = new_status or status
                    if stopped:
                        progress.update(task, completed=done, status=f"early stop; {status}")
                        break
                progress.update(task, completed=done, status=f"loss {ema:.4g} {status}")
        if self.world > 1:
            torch.distributed.barrier()
        return self._result(start, stopped)

    def _result(self, start: int, stopped: bool) -> TrainResult:
        st, out = self.state, self.out
        final_step = st.history[-1]["step"] if st.history else start
        return TrainResult(out_dir=out, best_path=out / "best.safetensors",
                           last_path=out / "last.safetensors", steps=int(final_step),
                           best_cpsnr=st.best_cpsnr, best_psnr=float(st.best_psnr),
                           best_step=st.best_step, stopped_early=stopped, history=st.history)


def train(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.model`` on ``cfg.dataset`` and return where the weights are and how they did.
    ``cfg.out`` is locked meanwhile (by rank 0): a second run into it stops with one line."""
    from satsr._lock import output_lock

    with output_lock(cfg.out) if _dist_info()[0] == 0 else contextlib.nullcontext():
        return Trainer(cfg).run()
