"""Measure the simulator's parameters on the REAL data in ``../shared/data``; write JSON.

    python benchmarks/calibrate_simulator.py [--data ../shared/data]
        [--out benchmarks/calibration.json]

What is measured (every number comes from the real files; nothing is tuned on test scores):

- **PSF relating real LR to real HR.** PROBA-V: each LR frame with ≥ 90 % clear pixels is fitted
  as ``g · observe(HR, σ, shift) + o`` (the simulator's Gaussian-PSF + 3 × 3 area chain) over
  its clear interior pixels; σ (HR px) and the sub-pixel shift by Nelder-Mead, gain/offset by
  least squares. Landsat-9/Sentinel-2: the same fit per band on the chips that
  ``satsr fetch --source local`` cuts and co-registers from the real pair (LR 30 m L9, HR 10 m S2).
- **Radial power spectrum of real HR**: slope β of ``P(f) ∝ f^-β`` (Hann window, radial mean,
  log-log least squares over 0.02-0.4 cycles/px) for the PROBA-V HR images and the S2 bands.
- **Noise per band**: Immerkær's (1996) Laplacian-difference estimator over clear pixels, on the
  PROBA-V LR frames (reported in the stored uint16/65535 scale and in reflectance, × 65535/16383)
  and on the S2/L9 bands (reflectance).
- **QM cloud/cover statistics**: frames per scene, the fraction of frames that are fully clear,
  the cover of the others (mean and quantiles), concealed (fill-value) pixels.
- **Inter-frame shift spread**: the fitted PROBA-V frame shifts (LR px) relative to HR, per axis.

The result is written atomically as JSON; ``satsr.datasets.simulate.calibrated`` turns it into
the calibrated sensor models, and the sample card shows it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import optimize

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "calibration.json"
CARDS = (REPO / "datasets" / "sample" / "README.md", REPO / "docs" / "datasets" / "sample.md")
SCALE = 3
CLEAR_MIN = 0.9
R2_MIN = 0.5  # L9/S2 chip fits explaining less of the LR variance are left out (see l8s2_psf)
BORDER_LR = 4  # LR px left out of every fit (the periodic FFT wraps HR at its edges)
PROBAV_DN_PER_REFLECTANCE = 16383.0


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def fit_psf(hr: np.ndarray, lr: np.ndarray, clear: np.ndarray,
            start: tuple[float, float] = (0.0, 0.0)) -> dict[str, float]:
    """Fit ``lr ≈ g · observe(hr, σ, (dy, dx)) + o`` over ``clear`` interior pixels.

    ``hr`` (H, W), ``lr`` and ``clear`` (H/3, W/3). Returns σ (HR px), dy, dx (LR px), gain,
    offset and the RMS residual.
    """
    from satsr.datasets.simulate.sensor import observe

    spec = np.fft.fft2(hr[None].astype(np.float64))
    k = BORDER_LR
    inner = np.zeros_like(clear)
    inner[k:-k, k:-k] = True
    use = clear & inner
    y = lr[use].astype(np.float64)

    def model(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sim = observe(hr[None], factor=SCALE, sigma_fine=abs(float(p[0])),
                      shifts=np.array([[p[1], p[2]]]), spectrum=spec)[0, 0].astype(np.float64)
        a = np.stack([sim[use], np.ones(use.sum())], axis=1)
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        return coef, y - a @ coef

    def cost(p: np.ndarray) -> float:
        return float(np.mean(model(p)[1] ** 2))

    best = optimize.minimize(cost, np.array([1.0, *start]), method="Nelder-Mead",
                             bounds=[(0.0, 6.0), (-2.0, 2.0), (-2.0, 2.0)],
                             options={"xatol": 2e-3, "fatol": 1e-12, "maxiter": 300})
    coef, resid = model(best.x)
    r2 = 1.0 - float(np.var(resid)) / float(np.var(y)) if np.var(y) > 0 else 0.0
    return {"sigma_hr": abs(float(best.x[0])), "dy": float(best.x[1]), "dx": float(best.x[2]),
            "gain": float(coef[0]), "offset": float(coef[1]),
            "rms": float(np.sqrt(np.mean(resid**2))), "r2": r2}


def noise_sigma(img: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Immerkær (1996) noise σ: mean |I ∗ N| · sqrt(π/2) / 6 over valid 3×3 neighbourhoods."""
    from scipy.ndimage import binary_erosion, convolve

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    resp = convolve(img.astype(np.float64), kernel, mode="nearest")
    ok = np.ones(img.shape, bool) if valid is None else binary_erosion(valid, np.ones((3, 3)))
    ok[0, :], ok[-1, :], ok[:, 0], ok[:, -1] = False, False, False, False
    return float(np.sqrt(np.pi / 2) * np.mean(np.abs(resp[ok])) / 6.0)


def spectrum_slope(img: np.ndarray, fmin: float = 0.02, fmax: float = 0.4) -> float:
    """β of ``P(f) ∝ f^-β``: Hann-windowed periodogram, radial mean, log-log fit."""
    h, w = img.shape
    x = (img - img.mean()) * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(x)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    f = np.hypot(fy, fx)
    edges = np.geomspace(fmin, fmax, 25)
    idx = np.digitize(f.ravel(), edges)
    centres, means = [], []
    for i in range(1, len(edges)):
        sel = idx == i
        if sel.any():
            centres.append(np.sqrt(edges[i - 1] * edges[i]))
            means.append(power.ravel()[sel].mean())
    slope = np.polyfit(np.log(centres), np.log(means), 1)[0]
    return float(-slope)


def _summary(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"n": len(v), "median": float(np.median(v)), "mean": float(v.mean()),
            "std": float(v.std()), "min": float(v.min()), "max": float(v.max())}


def probav_scenes(root: Path) -> list[dict[str, Any]]:
    """The real PROBA-V scenes: band, HR/SM, LR frames, QMs (values on the uint16/65535 scale)."""
    out = []
    for folder in sorted(root.glob("train/*/imgset*")):
        lr_paths = sorted(folder.glob("LR*.png"))
        out.append({
            "scene": f"{folder.parent.name}/{folder.name}", "band": folder.parent.name,
            "hr": _png(folder / "HR.png").astype(np.float64) / 65535,
            "sm": _png(folder / "SM.png").astype(bool),
            "lr": np.stack([_png(p).astype(np.float64) / 65535 for p in lr_paths]),
            "qm": np.stack([_png(p.with_name("QM" + p.name[2:])).astype(bool) for p in lr_paths]),
        })
    return out


def probav_psf(scenes: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-frame PSF/shift fits on every sufficiently clear frame of every real scene."""
    fits = []
    for s in scenes:
        sm_lr = s["sm"].reshape(128, 3, 128, 3).all(axis=(1, 3))
        for t, (lr, qm) in enumerate(zip(s["lr"], s["qm"], strict=True)):
            clear = qm & sm_lr & (lr < 1.0)  # concealed pixels hold the fill value
            if clear.mean() < CLEAR_MIN:
                continue
            fit = fit_psf(s["hr"], lr, clear)
            fits.append({"scene": s["scene"], "frame": t, **fit})
    sig = [f["sigma_hr"] for f in fits]
    dys, dxs = [f["dy"] for f in fits], [f["dx"] for f in fits]
    rel = [f["dy"] - np.median([g["dy"] for g in fits if g["scene"] == f["scene"]])
           for f in fits] + [f["dx"] - np.median([g["dx"] for g in fits if g["scene"] == f["scene"]])
                             for f in fits]
    return {"frames": fits, "sigma_hr": _summary(sig),
            "shift_lr": {"dy": _summary(dys), "dx": _summary(dxs),
                         "spread_std": float(np.std(rel)),
                         "spread_max_abs": float(np.max(np.abs(rel)))}}


def probav_noise_and_clouds(scenes: list[dict[str, Any]]) -> dict[str, Any]:
    """Noise per band on the clear LR frames, and QM cover statistics."""
    noise: dict[str, list[float]] = {}
    clear_frac, concealed = [], 0
    frames_per_scene = []
    for s in scenes:
        frames_per_scene.append(len(s["lr"]))
        for lr, qm in zip(s["lr"], s["qm"], strict=True):
            ok = qm & (lr < 1.0)
            concealed += int((lr >= 65520 / 65535).sum())
            clear_frac.append(float(ok.mean()))
            if ok.mean() >= CLEAR_MIN:
                noise.setdefault(s["band"], []).append(noise_sigma(lr, ok))
    cf = np.asarray(clear_frac)
    cloudy = 1 - cf[cf < 0.999]
    per_band = {b: {"uint16_65535": float(np.median(v)),
                    "reflectance": float(np.median(v)) * 65535 / PROBAV_DN_PER_REFLECTANCE,
                    "n_frames": len(v)} for b, v in sorted(noise.items())}
    return {
        "noise_lr": per_band,
        "clouds": {"frames": len(cf), "frames_per_scene": frames_per_scene,
                   "fraction_fully_clear": float(np.mean(cf >= 0.999)),
                   "cover_of_cloudy_frames": ({"mean": float(cloudy.mean()),
                                               "q10": float(np.quantile(cloudy, 0.1)),
                                               "q90": float(np.quantile(cloudy, 0.9)),
                                               "max": float(cloudy.max())}
                                              if len(cloudy) else None),
                   "mean_clear_fraction": float(cf.mean()), "concealed_pixels": concealed},
        "spectrum_slope_hr": {s["scene"]: spectrum_slope(s["hr"]) for s in scenes},
        "noise_hr": {s["scene"]: noise_sigma(s["hr"], s["sm"]) for s in scenes},
    }


S2 = "2023-10-09-22-28-02_S2_ms.tif"
L9 = "2023-06-30-22-01-55_L9_ms.tif"
CHIP_BANDS = ("blue", "green", "red", "nir")


def fetch_chips(data: Path, work: Path) -> Path:
    """``satsr fetch --source local`` on the real pair (as benchmarks/real_leaderboard.py)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from real_leaderboard import AOI

    from satsr.testing.real_pair import write_local_manifest

    src = write_local_manifest(work / "src", data / "l8s2")
    out = work / "chips"
    subprocess.run([sys.executable, "-m", "satsr", "fetch", "--source", "local", "--local-dir",
                    str(src), "--aoi", str(AOI), "--start", "2023-10-01", "--end", "2023-10-31",
                    "--pair-days", "120", "--chip", "32", "--out", str(out), "--no-progress"],
                   check=True, cwd=REPO, capture_output=True)
    return out / "chips.zarr"


def l8s2_psf(store: Path) -> dict[str, Any]:
    """Per band and chip: the PSF relating the co-registered L9 30 m chip to the S2 10 m chip.

    The two images are 3.3 months apart and mostly water, so only chip fits with r² ≥ 0.5 are
    kept (their count is reported); σ is bounded to [0, 6] HR px and the shift to ±2 LR px.
    """
    from satsr.datasets import open_dataset

    ds = open_dataset(store).load()
    out: dict[str, Any] = {"chips": int(ds.sizes["scene"]), "bands": {}}
    for b, band in enumerate(str(x) for x in ds["band"].values):
        fits = []
        for i in range(ds.sizes["scene"]):
            hr = ds["hr"].values[i, b].astype(np.float64)
            hr_ok = ds["hr_mask"].values[i].reshape(32, 3, 32, 3).all(axis=(1, 3))
            lr = ds["lr"].values[i, 0, b].astype(np.float64)
            clear = ds["lr_mask"].values[i, 0] & hr_ok & np.isfinite(lr)
            if clear.mean() < CLEAR_MIN or not ds["frame_valid"].values[i, 0]:
                continue
            fit = fit_psf(np.nan_to_num(hr), np.nan_to_num(lr), clear)
            if fit["r2"] >= R2_MIN:  # flat water chips and land changes give no PSF signal
                fits.append(fit)
        if fits:
            out["bands"][band] = {"sigma_hr": _summary([f["sigma_hr"] for f in fits]),
                                  "r2": _summary([f["r2"] for f in fits]),
                                  "residual_shift_lr": _summary(
                                      [f["dy"] for f in fits] + [f["dx"] for f in fits]),
                                  "gain": _summary([f["gain"] for f in fits])}
    return out


def l8s2_images(data: Path) -> dict[str, Any]:
    """Noise per band of both real images and the power-spectrum slope of the S2 (HR) bands."""
    import rasterio

    out: dict[str, Any] = {"noise": {}, "spectrum_slope_hr": {}}
    for name, path, scale in (("sentinel2", data / "l8s2" / S2, 1e-4),
                              ("landsat9", data / "l8s2" / L9, 1.0)):
        with rasterio.open(path) as src:
            img = src.read([1, 2, 3, 4]).astype(np.float64)
        valid = np.isfinite(img).all(0) & (img != 0).all(0)
        img = np.where(np.isfinite(img), img, 0.0) * scale
        out["noise"][name] = {b: noise_sigma(img[k], valid) for k, b in enumerate(CHIP_BANDS)}
        if name == "sentinel2":
            c = img[:, 27:411, 27:411]
            out["spectrum_slope_hr"] = {b: spectrum_slope(c[k]) for k, b in enumerate(CHIP_BANDS)}
    return out


def synthetic_reference() -> dict[str, Any]:
    """The same statistics on the current SYNTHETIC sample (HR slope, LR noise), to compare."""
    from satsr.datasets import open_dataset

    ds = open_dataset("sample", split="train", band="RED").isel(scene=slice(0, 8)).load()
    hr = ds["hr"].values[:, 0].astype(np.float64)
    lr = ds["lr"].values[:, 0, 0].astype(np.float64)
    return {"spectrum_slope_hr": float(np.median([spectrum_slope(h) for h in hr])),
            "noise_lr_uint16_65535": float(np.median([noise_sigma(x) for x in lr]))}


def calibrate(data: Path) -> dict[str, Any]:
    """Every measurement, as one JSON-ready dict."""
    from satsr import __version__

    scenes = probav_scenes(data / "probav")
    result: dict[str, Any] = {
        "kind": "satsr.calibration", "version": 1, "satsr_version": __version__,
        "data": {"probav_scenes": [s["scene"] for s in scenes], "l8s2": [L9, S2]},
        "probav": {"psf": probav_psf(scenes), **probav_noise_and_clouds(scenes)},
    }
    with tempfile.TemporaryDirectory(prefix="satsr-calib-") as tmp:
        result["l8s2"] = {"psf": l8s2_psf(fetch_chips(data, Path(tmp))), **l8s2_images(data)}
    result["synthetic_sample_v2"] = synthetic_reference()
    return result


def main() -> None:
    from satsr._atomic import write_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = calibrate(args.data)
    write_text(args.out, json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    if args.out == OUT:
        update_cards(result)


def update_cards(result: dict[str, Any]) -> None:
    """Re-render the calibration section of the sample's dataset cards from ``result``."""
    from satsr._atomic import write_text
    from satsr.datasets.simulate.calibrated import calibration_markdown, replace_card_section

    section = calibration_markdown(result)
    for card in CARDS:
        write_text(card, replace_card_section(card.read_text(encoding="utf-8"), section))
        print(f"updated {card.relative_to(REPO)}")


if __name__ == "__main__":
    main()
