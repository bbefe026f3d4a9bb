"""``satsr train``: train a model on a dataset (thin wrapper over :func:`satsr.train.train`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def _parse_hparams(items: list[str] | None, flag: str = "--hparam",
                   example: str = "n_feats=32") -> dict[str, object]:
    from satsr.errors import ConfigError

    out: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {item!r} is not KEY=VALUE (e.g. {flag} {example})")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _load_recipe(path: Path) -> dict[str, object]:
    import yaml

    from satsr.errors import ConfigError

    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist (or is not a file); pass a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"recipe {path} is not valid YAML{at}; fix the file "
                          f"({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path} must be a YAML mapping of train options")
    return dict(data)


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app``."""

    @app.command("train")
    def train_cmd(
        ctx: typer.Context,
        model: str = typer.Option(None, "--model", "-m", help="Model name (`satsr models`)."),
        dataset: str = typer.Option("sample", help="sample, probav, or a path to a store."),
        band: str = typer.Option(None, help="Band to train on (default: all bands pooled)."),
        root: str = typer.Option(None, help="Root folder of a named dataset."),
        loss: str = typer.Option("l1", help="Pixel loss: l1, mse, cmse, cl1, sobel-l1, "
                                 "l1-ssim, l1-msssim, perceptual, texture."),
        steps: int = typer.Option(None, help="Optimizer steps."),
        epochs: int = typer.Option(None, help="Epochs (one = LR pixels of the train split)."),
        patch: int = typer.Option(16, help="LR patch size in px (HR patch = scale x patch)."),
        frames: int = typer.Option(None, help="Keep the K clearest frames per scene."),
        batch: int = typer.Option(16, help="Batch size."),
        loss_option: list[str] = typer.Option(None, "--loss-option", help="Loss option "
                                              "KEY=VALUE (e.g. n=46.5 for ncpsnr)."),
        lr: float = typer.Option(1e-3, "--lr", help="Learning rate."),
        optimizer: str = typer.Option("adam", help="adam or nadam."),
        schedule: str = typer.Option("cosine", help="Learning-rate schedule: cosine, constant, "
                                     "plateau (ReduceLROnPlateau on val cPSNR)."),
        plateau_factor: float = typer.Option(0.5, help="plateau: multiply the rate by this."),
        plateau_patience: int = typer.Option(2, help="plateau: validation rounds without gain "
                                             "before lowering the rate."),
        min_clear: float = typer.Option(0.0, help="Drop LR frames with a smaller clear share "
                                        "(0..1; each scene keeps its clearest)."),
        patch_min_clear_lr: float = typer.Option(0.0, help="Redraw patches whose LR frames "
                                                 "are less clear (mean share, 0..1)."),
        patch_min_clear_hr: float = typer.Option(0.3, help="Redraw patches whose HR is less "
                                                 "clear (share, 0..1)."),
        register_frames: bool = typer.Option(False, "--register-frames", help="Register LR "
                                             "frames to each scene's clearest frame."),
        init: str = typer.Option(None, "--init", help="NAME:PATH: start from NAME's trained "
                                 "weights (e.g. edsr:runs/edsr/best.safetensors for srgan)."),
        preset: str = typer.Option("small", help="Model preset (small or default)."),
        hparam: list[str] = typer.Option(None, "--hparam", help="Override KEY=VALUE."),
        device: str = typer.Option("cpu", help="cpu or cuda."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
        out: str = typer.Option(None, "--out", help="Run folder (default runs/<model>)."),
        seed: int = typer.Option(0, help="Random seed."),
        early_stop: int = typer.Option(None, help="Stop after N validations without gain."),
        amp: bool = typer.Option(False, "--amp", help="Mixed precision (CUDA)."),
        val_every: int = typer.Option(None, help="Validate every N steps (default: 1 epoch)."),
        val_split: str = typer.Option("val", help="Split used for validation (val, test, "
                                      "train)."),
        threads: int = typer.Option(None, help="CPU threads for torch."),
        gan: bool = typer.Option(None, "--gan/--no-gan", help="Adversarial training "
                                 "(default: on for models the registry marks adversarial, "
                                 "e.g. srgan, rrdn)."),
        gan_loss: str = typer.Option("bce", help="bce, relativistic or wgan-gp."),
        content_loss: str = typer.Option("auto", help="GAN content loss: auto, perceptual, l1."),
        disc: str = typer.Option("vgg", help="GAN discriminator: vgg (8-conv SRGAN/ESRGAN) or "
                                 "small (4-conv variant, fast on CPU)."),
        n_critic: int = typer.Option(None, help="Discriminator steps per generator step "
                                     "(default 5 for wgan-gp, else 1)."),
        feature_distance: str = typer.Option("l1", help="VGG feature distance: l1 or l2."),
        recipe: Path = typer.Option(None, help="YAML recipe with these options; command-line "
                                    "options given explicitly win."),
        progress: bool = typer.Option(True, help="Show a progress bar."),
        allow_mismatch: bool = typer.Option(
            False, "--allow-mismatch", help="With --resume: continue from weights trained on "
            "another band, sensor, scale or value scale (warns instead of refusing)."),
    ) -> None:
        """Train a model on random patches of a dataset's train split; validate on val."""
        import logging

        from satsr.errors import ConfigError
        from satsr.train import TrainConfig, train

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
        if not progress or not sys.stdout.isatty():  # no bar: log each validation instead
            logging.getLogger("satsr.train").setLevel(logging.INFO)
        options: dict[str, object] = _load_recipe(recipe) if recipe else {}
        given = {
            "model": model, "dataset": dataset, "band": band, "root": root, "loss": loss,
            "steps": steps, "epochs": epochs, "patch": patch, "frames": frames, "batch": batch,
            "lr": lr, "schedule": schedule, "preset": preset, "device": device,
            "resume": resume, "out": out, "seed": seed, "early_stop": early_stop, "amp": amp,
            "val_every": val_every, "val_split": val_split, "threads": threads, "gan": gan,
            "gan_loss": gan_loss, "content_loss": content_loss, "progress": progress,
            "allow_mismatch": allow_mismatch,
            "optimizer": optimizer, "plateau_factor": plateau_factor,
            "plateau_patience": plateau_patience, "min_clear": min_clear,
            "patch_min_clear_lr": patch_min_clear_lr, "patch_min_clear_hr": patch_min_clear_hr,
            "register_frames": register_frames, "init": init, "disc": disc,
            "n_critic": n_critic, "feature_distance": feature_distance,
        }
        explicit_keys = set()
        for key, value in given.items():
            source = ctx.get_parameter_source(key)
            explicit = source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
            if explicit or key not in options:
                options[key] = value
            if explicit:
                explicit_keys.add(key)
        # the run length given on the command line replaces the recipe's (steps vs epochs)
        for key, other in (("steps", "epochs"), ("epochs", "steps")):
            if key in explicit_keys and other not in explicit_keys:
                options[other] = None
        loss_extra = _parse_hparams(loss_option, "--loss-option", "n=46.5")
        if loss_extra:
            options["loss_options"] = {**dict(options.get("loss_options") or {}),  # type: ignore[call-overload]
                                       **loss_extra}
        extra = _parse_hparams(hparam)
        if extra:
            options["hparams"] = {**dict(options.get("hparams") or {}), **extra}  # type: ignore[call-overload]
        if not options.get("model"):
            raise ConfigError("--model is required (e.g. --model edsr; `satsr models` lists them)")
        if options.get("out") is None:
            options["out"] = str(Path("runs") / str(options["model"]))
        if options.get("preset") == "default":
            options["preset"] = None
        known = set(TrainConfig.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"unknown recipe option(s) {unknown}; allowed: {sorted(known)}")
        result = train(TrainConfig(**options))  # type: ignore[arg-type]
        typer.echo(f"best val cPSNR {result.best_cpsnr:.3f} dB, PSNR {result.best_psnr:.3f} dB "
                   f"at step {result.best_step}; weights: {result.best_path}"
                   + (" (stopped early)" if result.stopped_early else ""))
