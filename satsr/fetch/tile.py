"""One tile of a fetch as named stages over typed records (:class:`~satsr.fetch.types.ChipRecord`
holding a list of :class:`~satsr.fetch.types.FrameRecord`):

    read inputs → choose frames → cut chips → co-register → to dataset

For each Sentinel-2 acquisition meeting the tile: **read inputs** puts its bands on the tile's
10 m HR grid (scaled and masked, :mod:`satsr.fetch.regrid`) and each Landsat candidate within
±pair_days on the nested 30 m LR grid (read once per tile); **choose frames** ranks the
candidates by clear fraction over the tile's chips and keeps the best ``frames``; **cut chips**
cuts every chip of the tile that is not in a split buffer, with the LR frames padded by the
co-registration margin, and drops chips below ``min_valid``; **co-register** estimates every
(chip, frame) shift in one batch against the HR chip degraded to 30 m
(:mod:`satsr.fetch.coregister`) and resamples the frames (applying the accepted shifts in mode
``apply``); **to dataset** turns the chips that kept a usable frame into one sample-schema
dataset and a JSON record per chip, which :func:`process_tile` writes atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from satsr.fetch import coregister as coreg
from satsr.fetch.chips import SplitSpec, chip_split, valid_fraction
from satsr.fetch.config import FetchConfig
from satsr.fetch.grid import SCALE, Tile, offset_in
from satsr.fetch.pairing import Candidate, PairGroup, rank_frames
from satsr.fetch.regrid import read_prepared
from satsr.fetch.sources.base import Source
from satsr.fetch.store import TileStore
from satsr.fetch.types import Acquisition, ChipRecord, FrameRecord

#: reflectance (C, H, W) float32, NaN = invalid, and its clear mask (H, W), on a tile grid
Raster = tuple[np.ndarray, np.ndarray]


@dataclass
class TileInputs:
    """What "read inputs" and "choose frames" give for one Sentinel-2 acquisition over a tile:
    its raster on the tile's HR grid and the chosen Landsat frames on its LR grid, best first."""

    hr_acquisition: Acquisition
    hr: Raster
    frames: list[tuple[Candidate, Raster]]


class LandsatReads:
    """Landsat acquisitions on one tile's LR grid, each read once however many Sentinel-2
    acquisitions it is paired with (None: it does not cover the tile)."""

    def __init__(self, source: Source, tile: Tile, cfg: FetchConfig) -> None:
        self.source, self.tile, self.cfg = source, tile, cfg
        self._done: dict[str, Raster | None] = {}

    def get(self, acq: Acquisition) -> Raster | None:
        """``acq`` on the tile's LR grid (read on first use)."""
        if acq.id not in self._done:
            self._done[acq.id] = read_prepared(self.source, acq, self.tile.lr,
                                               self.cfg.harmonizes(acq.collection),
                                               self.cfg.band_index)
        return self._done[acq.id]


# ----------------------------------------------------------------------------- stages

def read_inputs(tile: Tile, group: PairGroup, source: Source, cfg: FetchConfig,
                landsat: LandsatReads) -> TileInputs | None:
    """Stage "read inputs" (then "choose frames"): None when the Sentinel-2 acquisition has no
    clear pixel over the tile or no Landsat candidate has any (its Landsat is then not read)."""
    hr = read_prepared(source, group.hr, tile.hr, cfg.harmonizes(group.hr.collection),
                       cfg.band_index)
    if hr is None or not hr[1].any():
        return None
    frames = choose_frames(tile, group.candidates, landsat, cfg.frames)
    return TileInputs(group.hr, hr, frames) if frames else None


def choose_frames(tile: Tile, candidates: Sequence[Candidate], landsat: LandsatReads,
                  keep: int) -> list[tuple[Candidate, Raster]]:
    """Stage "choose frames": the ``keep`` candidates with the largest clear fraction over the
    tile's chips (ties: smaller |Δt|, then id; none without clear pixels)."""
    m = tile.margin
    core = (slice(m, tile.lr.height - m), slice(m, tile.lr.width - m))
    rasters = [landsat.get(c.lr) for c in candidates]
    fractions = [0.0 if r is None else float(r[1][core].mean()) for r in rasters]
    chosen = []
    for cand, _ in rank_frames(candidates, fractions, keep=keep):
        raster = landsat.get(cand.lr)
        assert raster is not None  # rank_frames drops candidates without clear pixels
        chosen.append((cand, raster))
    return chosen


def cut_chips(tile: Tile, inputs: TileInputs, cfg: FetchConfig, split: SplitSpec
              ) -> list[ChipRecord]:
    """Stage "cut chips": every chip of the tile outside the split buffers, its LR frames padded
    by the co-registration margin; chips with a valid fraction below ``min_valid`` are dropped."""
    n, m, side = cfg.chip, cfg.coreg_margin, cfg.chip * SCALE
    hr_refl, hr_clear = inputs.hr
    out = []
    for chip in tile.chips:
        which = chip_split(chip.i, chip.j, split)
        if which is None:
            continue
        hr_r, hr_c = offset_in(tile.hr, chip.hr)
        lr_r, lr_c = offset_in(tile.lr, chip.lr)
        rows, cols = slice(lr_r - m, lr_r + n + m), slice(lr_c - m, lr_c + n + m)
        frames = [FrameRecord(cand.lr, cand.dt_days, refl[:, rows, cols], clear[rows, cols])
                  for cand, (refl, clear) in inputs.frames]
        hr_mask = hr_clear[hr_r:hr_r + side, hr_c:hr_c + side]
        vf = valid_fraction(hr_mask, frames[0].mask_pad[m:m + n, m:m + n], SCALE)
        if vf < cfg.min_valid:
            continue
        out.append(ChipRecord(chip, which, inputs.hr_acquisition,
                              hr_refl[:, hr_r:hr_r + side, hr_c:hr_c + side], hr_mask, vf, frames))
    return out


def coregister_chips(chips: Sequence[ChipRecord], cfg: FetchConfig) -> None:
    """Stage "co-register": estimate every (chip, frame) shift in one batch against the HR chip's
    band mean degraded to 30 m (mode ``off``: none, status ``not_estimated``), then resample each
    frame, by its shift where accepted in mode ``apply`` (else in place); fills the frames'
    ``shift``, ``status``, ``lr`` and ``mask``."""
    m = cfg.coreg_margin
    frames = [f for c in chips for f in c.frames]
    if cfg.coregister == "off":
        k = len(frames)
        res = coreg.ShiftResult(np.zeros(k), np.zeros(k), np.full(k, np.nan), np.full(k, np.nan),
                                np.full(k, np.nan), np.full(k, np.nan),
                                np.full(k, "not_estimated", dtype=object))
    else:
        res = ShiftInputs.of(chips).estimate(m, cfg.max_shift)
    apply = cfg.coregister == "apply"
    dy = np.where(apply & res.accepted, res.dy, 0.0)
    dx = np.where(apply & res.accepted, res.dx, 0.0)
    shifted, shifted_mask = coreg.apply_shift(np.stack([f.lr_pad for f in frames]),
                                              np.stack([f.mask_pad for f in frames]), dy, dx, m)
    for k, frame in enumerate(frames):
        frame.shift = (float(res.dy[k]), float(res.dx[k]))
        frame.status = str(res.status[k])
        frame.lr, frame.mask = shifted[k], shifted_mask[k]


@dataclass
class ShiftInputs:
    """Stacks over every (chip, frame) for :func:`coreg.estimate_shifts`: the HR band mean
    degraded to 30 m ``ref`` (B, n, n) and its clear mask, the margin-padded LR band mean ``mov``
    (B, n+2m, n+2m) and its mask, and the HR band mean ``ref_hr`` (B, 3n, 3n) and its mask."""

    ref: np.ndarray
    ref_mask: np.ndarray
    mov: np.ndarray
    mov_mask: np.ndarray
    ref_hr: np.ndarray
    ref_hr_mask: np.ndarray

    @classmethod
    def of(cls, chips: Sequence[ChipRecord]) -> ShiftInputs:
        """The stacks for ``chips`` (frames in chip order, then frame order)."""
        refs, ref_masks, movs, mov_masks, hr_refs, hr_masks = [], [], [], [], [], []
        for chip in chips:
            hr_mean = chip.hr.mean(axis=0)  # NaN where any band is invalid
            ref = coreg.degrade(hr_mean, SCALE)
            rmask = coreg.degrade(chip.hr_mask.astype(np.float64), SCALE) > 0.999
            for frame in chip.frames:
                refs.append(ref)
                ref_masks.append(rmask & np.isfinite(ref))
                hr_refs.append(hr_mean)
                hr_masks.append(chip.hr_mask & np.isfinite(hr_mean))
                movs.append(frame.lr_pad.mean(axis=0))
                mov_masks.append(frame.mask_pad & np.isfinite(frame.lr_pad).all(axis=0))
        return cls(np.stack(refs), np.stack(ref_masks), np.stack(movs), np.stack(mov_masks),
                   np.stack(hr_refs), np.stack(hr_masks))

    def estimate(self, margin: int, max_shift: float) -> coreg.ShiftResult:
        """:func:`coreg.estimate_shifts` over these stacks."""
        return coreg.estimate_shifts(self.ref, self.mov, self.ref_mask, self.mov_mask,
                                     margin=margin, max_shift=max_shift, ref_hr=self.ref_hr,
                                     ref_hr_mask=self.ref_hr_mask)


def usable(frame: FrameRecord) -> bool:
    """A co-registered frame goes into the dataset unless its shift was too large."""
    return frame.status != coreg.STATUS_TOO_LARGE


@dataclass
class FrameSlots:
    """A chip's per-frame facts in ``frames`` slots (slots without a frame: "", NaN, NaT)."""

    lr_ids: list[str]
    dt_days: list[float]
    dy: list[float]
    dx: list[float]
    status: list[str]

    @classmethod
    def of(cls, chip: ChipRecord, n_slots: int) -> FrameSlots:
        """The slots of ``chip``'s frames (best first)."""
        slots = cls([""] * n_slots, [np.nan] * n_slots, [np.nan] * n_slots, [np.nan] * n_slots,
                    [""] * n_slots)
        for f, frame in enumerate(chip.frames):
            slots.status[f], slots.lr_ids[f], slots.dt_days[f] = (
                frame.status, frame.acquisition.id, frame.dt_days)
            slots.dy[f], slots.dx[f] = frame.shift
        return slots


def chip_summary(chip: ChipRecord, cfg: FetchConfig) -> dict[str, Any]:
    """The chip's JSON record (provenance.json ``chips``, footprints.geojson properties)."""
    slots = FrameSlots.of(chip, cfg.frames)
    return {"scene": chip.scene_id, "split": chip.split,
            "valid_fraction": round(chip.valid_fraction, 6), "hr_id": chip.hr_acquisition.id,
            "lr_ids": slots.lr_ids, "dt_days": slots.dt_days,
            "shift_lr_px": [[a, b] for a, b in zip(slots.dy, slots.dx, strict=True)],
            "coreg_status": slots.status, "applied": cfg.coregister == "apply",
            "footprint_utm": list(chip.chip.hr.bounds)}


def _ns(acq: Acquisition) -> np.datetime64:
    return np.datetime64(acq.time.replace(tzinfo=None), "ns")


def _frame_arrays(chip: ChipRecord, cfg: FetchConfig
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``lr`` (F, C, n, n), ``lr_mask`` (F, n, n), ``frame_valid`` (F,), ``lr_time`` (F,) of a
    chip's usable frames in ``frames`` slots (zeros / False / NaT elsewhere)."""
    n, k = cfg.chip, cfg.frames
    lr = np.zeros((k, len(cfg.bands), n, n), np.float32)
    mask = np.zeros((k, n, n), bool)
    valid = np.zeros(k, bool)
    times = np.full(k, np.datetime64("NaT"), dtype="datetime64[ns]")
    for f, frame in enumerate(chip.frames):
        if usable(frame):
            assert frame.lr is not None and frame.mask is not None
            lr[f], mask[f], valid[f], times[f] = (np.nan_to_num(frame.lr), frame.mask, True,
                                                  _ns(frame.acquisition))
    return lr, mask, valid, times


def to_dataset(chips: Sequence[ChipRecord], cfg: FetchConfig) -> xr.Dataset:
    """Stage "to dataset": co-registered chips (each with a usable frame) as one sample-schema
    dataset with the fetch's extra variables (times, transforms, Δt, shifts, ids, status)."""
    from satsr import schema

    frames = [_frame_arrays(c, cfg) for c in chips]
    slots = [FrameSlots.of(c, cfg.frames) for c in chips]

    def per_frame(values: list[list[str]]) -> np.ndarray:
        arr = np.empty((len(chips), cfg.frames), dtype=object)
        arr[:] = values
        return arr

    return schema.build(
        lr=np.stack([f[0] for f in frames]), lr_mask=np.stack([f[1] for f in frames]),
        hr=np.stack([np.nan_to_num(c.hr).astype(np.float32) for c in chips]),
        hr_mask=np.stack([c.hr_mask for c in chips]),
        frame_valid=np.stack([f[2] for f in frames]), scene_ids=[c.scene_id for c in chips],
        bands=list(cfg.bands), split=[c.split for c in chips], scale=SCALE,
        dataset=f"chips:{cfg.name or 'aoi'}", value_scale="reflectance", data_range=1.0,
        lr_sensor="landsat", hr_sensor="sentinel2",
        extra_vars={
            "lr_time": (("scene", "frame"), np.stack([f[3] for f in frames])),
            "hr_time": (("scene",), np.array([_ns(c.hr_acquisition) for c in chips],
                                             dtype="datetime64[ns]")),
            "hr_transform": (("scene", "affine"),
                             np.stack([np.array(c.chip.hr.transform, np.float64) for c in chips])),
            "lr_transform": (("scene", "affine"),
                             np.stack([np.array(c.chip.lr.transform, np.float64) for c in chips])),
            "dt_days": (("scene", "frame"), np.array([s.dt_days for s in slots], np.float64)),
            "shift_dy": (("scene", "frame"), np.array([s.dy for s in slots], np.float64)),
            "shift_dx": (("scene", "frame"), np.array([s.dx for s in slots], np.float64)),
        },
        extra_coords={
            "crs": (("scene",), np.array([c.chip.hr.crs for c in chips], dtype=object)),
            "hr_id": (("scene",), np.array([c.hr_acquisition.id for c in chips], dtype=object)),
            "lr_id": (("scene", "frame"), per_frame([s.lr_ids for s in slots])),
            "coreg_status": (("scene", "frame"), per_frame([s.status for s in slots])),
        })


# ----------------------------------------------------------------------------- one tile

def tile_chips(tile: Tile, groups: Sequence[PairGroup], source: Source, cfg: FetchConfig,
               split: SplitSpec) -> list[ChipRecord]:
    """The stages up to "co-register" for every Sentinel-2 acquisition meeting the tile: the
    co-registered chips that kept a usable frame, in acquisition then chip order."""
    landsat = LandsatReads(source, tile, cfg)
    kept: list[ChipRecord] = []
    for group in groups:
        inputs = read_inputs(tile, group, source, cfg, landsat)
        if inputs is None:
            continue
        chips = cut_chips(tile, inputs, cfg, split)
        if not chips:
            continue
        coregister_chips(chips, cfg)
        kept += [c for c in chips if any(usable(f) for f in c.frames)]
    return kept


def process_tile(tile: Tile, groups: Sequence[PairGroup], source: Source, cfg: FetchConfig,
                 split: SplitSpec, store: TileStore) -> dict[str, Any]:
    """Build, co-register and write all chips of one tile; returns (and stores) its record
    ``{"tile", "n_chips", "chips": [chip_summary, ...]}``."""
    chips = tile_chips(tile, groups, source, cfg, split)
    record = {"tile": tile.id, "n_chips": len(chips),
              "chips": [chip_summary(c, cfg) for c in chips]}
    store.write(tile.id, to_dataset(chips, cfg) if chips else None, record)
    return record


__all__ = [
    "ChipRecord",
    "FrameRecord",
    "FrameSlots",
    "LandsatReads",
    "Raster",
    "ShiftInputs",
    "TileInputs",
    "chip_summary",
    "choose_frames",
    "coregister_chips",
    "cut_chips",
    "process_tile",
    "read_inputs",
    "tile_chips",
    "to_dataset",
    "usable",
]
