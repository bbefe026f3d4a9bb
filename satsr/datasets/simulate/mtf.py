"""Published sensor MTFs and the Gaussian PSF that reproduces them in the imaging model.

The simulator's imaging chain (:func:`satsr.datasets.simulate.sensor.observe`,
:func:`satsr.resample.degrade`) is a Gaussian PSF of σ HR px followed by the ``s × s`` detector
box. A sensor's system MTF at the Nyquist frequency of its own (LR) grid, ``f_N = 1/(2 s)``
cycles per HR px, fixes σ: ``exp(-2π²σ²f_N²) · |box_s(f_N)| = MTF_N`` with
``box_s(f) = sin(π s f) / (s sin(π f))`` (the mean of ``s`` samples; 2/3 at f_N for s = 3).
An MTF above the box alone (no Gaussian can raise it) gives σ = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from satsr.errors import ConfigError


@dataclass(frozen=True)
class SensorMTF:
    """A sensor's nominal system MTF at Nyquist, its band names and where the number comes from.

    ``noise`` is the additive Gaussian noise σ in reflectance given to the simulated LR image
    (``ρ_ref / SNR_ref`` at the sensor's reference radiance; see ``noise_source``).
    """

    name: str
    mtf_nyquist: float
    source: str
    bands: tuple[str, ...]
    noise: float
    noise_source: str
    dn_scale: float  # reflectance = DN · dn_scale for integer images
    dn_offset: float = 0.0


_S2_MTF = ("Sentinel-2 MSI 10 m bands: the MTF at Nyquist is specified within 0.15-0.30 and "
           "the in-flight values lie inside that range (Drusch et al. 2012, 'Sentinel-2: ESA's "
           "optical high-resolution mission for GMES operational services', Remote Sens. "
           "Environ. 120:25-36; Gascon et al. 2017, 'Copernicus Sentinel-2A calibration and "
           "products validation status', Remote Sens. 9(6):584). satsr uses 0.23, the centre "
           "of the range.")
_OLI_MTF = ("Landsat 8/9 OLI 30 m bands: a nominal MTF at Nyquist of 0.30, the order of the OLI "
            "design and pre-launch characterisation (Knight & Kvaran 2014, 'Landsat-8 "
            "Operational Land Imager design, characterization and performance', Remote Sens. "
            "6(11):10286-10305), which reports the spatial response as edge slopes rather than "
            "one MTF number: pass --mtf to use a measured value.")
_S2_NOISE = ("ρ_ref 0.1 / SNR ≈ 150 (MSI 10 m SNR requirements 142-174 at L_ref, Drusch et al. "
             "2012)")
_OLI_NOISE = ("ρ_ref 0.1 / SNR 200, conservative: OLI's on-orbit SNR at L_typical is higher "
              "still (Morfitt et al. 2015, Remote Sens. 7(2):2208-2237)")

SENSORS: dict[str, SensorMTF] = {
    "sentinel2": SensorMTF("sentinel2", 0.23, _S2_MTF, ("blue", "green", "red", "nir"),
                           0.1 / 150, _S2_NOISE, dn_scale=1e-4),
    "landsat8": SensorMTF("landsat8", 0.30, _OLI_MTF,
                          ("blue", "green", "red", "nir", "swir1", "swir2"), 0.1 / 200, _OLI_NOISE,
                          dn_scale=2.75e-5, dn_offset=-0.2),
    "landsat9": SensorMTF("landsat9", 0.30, _OLI_MTF,
                          ("blue", "green", "red", "nir", "swir1", "swir2"), 0.1 / 200, _OLI_NOISE,
                          dn_scale=2.75e-5, dn_offset=-0.2),
}


def sensor_mtf(name: str) -> SensorMTF:
    """The :class:`SensorMTF` of ``name`` (case-insensitive); unknown names raise ConfigError."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in SENSORS:
        raise ConfigError(f"unknown sensor {name!r}; choose one of {', '.join(SENSORS)} (for "
                          "another sensor, pick the closest and pass its MTF with --mtf)")
    return SENSORS[key]


def box_transfer(freq: float, scale: int) -> float:
    """|transfer| of the mean of ``scale`` consecutive samples at ``freq`` cycles/sample."""
    if freq == 0:
        return 1.0
    return abs(math.sin(math.pi * scale * freq) / (scale * math.sin(math.pi * freq)))


def psf_sigma_for_mtf(mtf_nyquist: float, scale: int) -> float:
    """Gaussian σ (HR px) so that Gaussian × ``scale``-box has ``mtf_nyquist`` at LR Nyquist."""
    if not 0 < mtf_nyquist < 1:
        raise ConfigError(f"the MTF at Nyquist must be in (0, 1), got {mtf_nyquist!r}")
    f = 1.0 / (2 * scale)
    gauss = mtf_nyquist / box_transfer(f, scale)
    if gauss >= 1:
        return 0.0
    return math.sqrt(-math.log(gauss) / (2 * math.pi**2 * f * f))


def mtf_at_nyquist(psf_sigma_hr: float, scale: int) -> float:
    """The system MTF at LR Nyquist of a Gaussian σ (HR px) plus the ``scale`` box."""
    f = 1.0 / (2 * scale)
    return math.exp(-2 * math.pi**2 * psf_sigma_hr**2 * f * f) * box_transfer(f, scale)
