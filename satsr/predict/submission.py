"""The PROBA-V challenge submission: one 384×384 16-bit PNG per test scene, named by scene, zipped.

Values are written on the challenge's scale (uint16 = value × 65535, rounded, clipped to
0..65535). The archive is built under a temporary name, then checked — one PNG per scene of the
split, no other member, each decoding to a ``3·h × 3·w`` uint16 image — and only then renamed
onto the output, so the output path only ever holds a complete archive.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from satsr._atomic import write_via
from satsr.errors import ConfigError, CorruptFileError, InputValueError
from satsr.predict.model import PredictModel, load_model
from satsr.predict.store import predict_batches
from satsr.predictions import SUBMISSION_VALUE_SCALE as VALUE_SCALE
from satsr.predictions import png_bytes, read_png, to_uint16


@dataclass
class SubmissionResult:
    """The archive written, how many scenes, which bands."""

    out: Path
    n_scenes: int
    bands: list[str]


def check_archive(path: Path, scenes: list[str], size: int) -> None:
    """Raise :class:`CorruptFileError` unless ``path`` holds exactly one ``size``² uint16 PNG
    per scene in ``scenes`` and nothing else."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        want = {f"{s}.png" for s in scenes}
        missing, extra = sorted(want - set(names)), sorted(set(names) - want)
        if missing or extra or len(names) != len(want):
            raise CorruptFileError(f"submission {path.name} is incomplete: missing "
                                   f"{missing[:3]}, unexpected {extra[:3]}")
        for name in names:
            img = read_png(zf.read(name), name)
            if img.shape != (size, size):
                raise CorruptFileError(f"{name} in {path.name} is {img.shape[1]}x{img.shape[0]},"
                                       f" expected {size}x{size}")


def write_submission(model: str | PredictModel, dataset: str, out: str | os.PathLike[str], *,
                     split: str = "test", root: str | os.PathLike[str] | None = None,
                     batch_size: int = 4, device: str = "cpu", overwrite: bool = False,
                     progress: bool = True, allow_mismatch: bool = False) -> SubmissionResult:
    """Predict every scene of a PROBA-V split (both bands) and write the checked archive."""
    from satsr.datasets import load_datasets
    from satsr.models.weights import dataset_facts
    from satsr.predict.checks import check_model_input, check_output_path
    from satsr.progress import make_progress

    out = Path(out).expanduser()
    groups = load_datasets(dataset, split=split, root=root)
    src = Path(dataset)
    check_output_path(out, [src] if src.exists() else [], overwrite=overwrite,
                      suffixes=(".zip",))
    for ds in groups:
        if ds.attrs.get("value_scale") != VALUE_SCALE:
            raise InputValueError(f"a PROBA-V submission needs data on the {VALUE_SCALE} scale; "
                                  f"{ds.attrs.get('dataset')!r} is {ds.attrs.get('value_scale')!r}")
    scenes = [str(s) for ds in groups for s in ds["scene"].values]
    if len(set(scenes)) != len(scenes):
        raise InputValueError("scene ids repeat across bands; a submission names PNGs by scene")
    members: list[tuple[str, bytes]] = []
    with make_progress(disable=not progress) as bar:
        for ds in groups:
            pm = model if isinstance(model, PredictModel) else load_model(
                model, scale=int(ds.attrs["scale"]), in_channels=ds.sizes["band"])
            check_model_input(pm, n_bands=ds.sizes["band"], scale=int(ds.attrs["scale"]),
                              facts=dataset_facts(ds), allow_mismatch=allow_mismatch)
            if ds.sizes["band"] != 1:
                raise ConfigError("PROBA-V submissions are single-band (one PNG per scene)")
            task = bar.add_task(f"predict {pm.name}", total=ds.sizes["scene"], status="")
            for batch, sr in predict_batches(pm, ds, batch_size=batch_size, device=device):
                members += [(f"{s}.png", png_bytes(to_uint16(sr[i, 0])))
                            for i, s in enumerate(batch.scene)]
                bar.advance(task, len(batch))
    size = int(groups[0].sizes["Y"])

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in sorted(members):
                zf.writestr(zipfile.ZipInfo(name, date_time=(2019, 6, 1, 0, 0, 0)), data)
        check_archive(tmp, scenes, size)

    write_via(out, write)
    return SubmissionResult(out, len(scenes), ["+".join(map(str, ds["band"].values))
                                               for ds in groups])
