"""Dataset downloads: the shipped manifests and safe zip extraction.

The download itself is satsr's one downloader, :func:`satsr._download.download` (resumable,
verified, shared with weights), re-exported here with :func:`satsr._digest.file_digest`.
``extract_zip`` unpacks into a temporary folder next to the target and renames, refusing
members that would escape it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from satsr._atomic import temp_sibling
from satsr._digest import file_digest
from satsr._download import DownloadError, download
from satsr.errors import ConfigError, CorruptFileError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Manifest:
    """What to download for a dataset: URL, file name and the expected size/checksums.

    ``size``/``md5``/``sha256`` are None when not confirmed; the download then cannot be
    verified against them (``notes`` says why).
    """

    name: str
    url: str
    filename: str
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    record: str = ""
    notes: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        keys = {"name", "url", "filename", "size", "md5", "sha256", "record", "notes"}
        return cls(**{k: v for k, v in data.items() if k in keys})


def load_manifest(name: str) -> Manifest:
    """The download manifest shipped with satsr for dataset ``name``."""
    try:
        text = resources.files("satsr.datasets").joinpath("manifests", f"{name}.json").read_text(
            "utf-8")
    except FileNotFoundError:
        raise ConfigError(f"dataset {name!r} has no download manifest; only datasets with a "
                          "public archive can be downloaded (e.g. probav)") from None
    return Manifest.from_dict(json.loads(text))


def describe_checks(manifest: Manifest, *, url: str | None = None, size: int | None = None,
                    md5: str | None = None, sha256: str | None = None) -> str:
    """What a download of ``manifest`` with these options verifies, in words (for the CLI).

    The manifest's own size/checksums apply only when ``url`` does not override it; the zip
    CRCs and the dataset's layout are always checked.
    """
    own = url is None
    given = [name for name, value in (
        ("size", size if size is not None else (manifest.size if own else None)),
        ("md5", md5 or (manifest.md5 if own else None)),
        ("sha256", sha256 or (manifest.sha256 if own else None))) if value]
    checked = ", ".join([*given, "zip CRCs", f"{manifest.name} layout"])
    if not {"md5", "sha256"} & set(given):
        checked += " (no archive checksum: the manifest has none; pass --md5 or --sha256)"
    return checked


def extract_zip(archive: str | os.PathLike[str], target: str | os.PathLike[str], *,
                strip: str | None = None, progress: bool = True) -> Path:
    """Extract ``archive`` into ``target`` atomically and return ``target``.

    ``strip`` removes a leading folder (e.g. ``"probav_data"``) from member names when present.
    Members are extracted into a temporary sibling folder, then moved into ``target`` one
    top-level entry at a time, so a failed extraction leaves ``target`` untouched.
    """
    from satsr.progress import make_progress

    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(target, "extract")
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise CorruptFileError(f"{archive} member {bad} fails its CRC check; delete "
                                       f"{archive.name} and download it again")
            members = [m for m in zf.infolist() if not m.is_dir()]
            with make_progress(disable=not progress) as bar:
                task = bar.add_task(f"extracting {archive.name}", total=len(members), status="")
                for member in members:
                    name = member.filename
                    if strip and name.startswith(strip.rstrip("/") + "/"):
                        name = name[len(strip.rstrip("/")) + 1:]
                    out = (tmp / name).resolve()
                    if not out.is_relative_to(tmp.resolve()):
                        raise CorruptFileError(f"{archive} member {member.filename!r} points "
                                               "outside the target folder; refusing to extract")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    bar.advance(task)
        for entry in sorted(tmp.iterdir()):
            dest = target / entry.name
            if dest.exists():
                if dest.is_dir() and entry.is_dir():
                    _merge_dir(entry, dest)
                    continue
                if dest.is_dir():
                    shutil.rmtree(dest)
                else:
                    dest.unlink()
            os.replace(entry, dest)
    except zipfile.BadZipFile as exc:
        raise CorruptFileError(f"{archive} is not a valid zip archive ({exc}); delete it and "
                               "download it again") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _merge_dir(src: Path, dest: Path) -> None:
    """Move the contents of ``src`` into the existing folder ``dest`` (replacing files)."""
    for entry in src.iterdir():
        target = dest / entry.name
        if entry.is_dir() and target.is_dir():
            _merge_dir(entry, target)
            continue
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(entry, target)


def check_download_options(root: Path | None, *, size: int | None = None,
                           md5: str | None = None, sha256: str | None = None) -> None:
    """Refuse download options no download could satisfy, before anything is fetched."""
    import re

    from satsr._checks import check_int, check_output_dir

    check_int("--size", size, optional=True)
    for flag, value, length in (("--md5", md5, 32), ("--sha256", sha256, 64)):
        if value is not None and not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", value):
            raise ConfigError(f"{flag} {value!r} is not a {length}-digit hexadecimal digest")
    check_output_dir("--root", root)


__all__ = ["DownloadError", "Manifest", "check_download_options", "describe_checks",
           "download", "extract_zip", "file_digest", "load_manifest"]
