"""Resumable HTTP downloads with size/checksum verification, and safe zip extraction.

``download(url, dest)`` streams into ``dest + ".part"``; when that partial file exists it asks
the server for the rest with an HTTP ``Range`` request (a server that ignores Range restarts the
file from zero). The final file appears under ``dest`` only after its size and checksum match,
so ``dest`` is always complete. ``extract_zip`` unpacks into a temporary folder next to the
target and renames, refusing members that would escape it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from satsr.errors import ConfigError, CorruptFileError, SatsrError

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class DownloadError(SatsrError, OSError):
    """A download failed (network, HTTP status, size or checksum mismatch)."""


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


def file_digest(path: str | os.PathLike[str], algorithm: str, *, chunk: int = CHUNK) -> str:
    """Hex digest (``md5``/``sha256``) of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, *, size: int | None, md5: str | None, sha256: str | None,
            url: str) -> None:
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise DownloadError(f"download of {url} has {actual} bytes, expected {size}; the server "
                            "sent a different file or the transfer was cut: run the download "
                            "again (or pass the right --size)")
    for algo, want in (("md5", md5), ("sha256", sha256)):
        if want:
            got = file_digest(path, algo)
            if got.lower() != want.lower():
                raise DownloadError(f"{algo} of the download of {url} is {got}, expected {want}; "
                                    "the file is corrupt or not the expected release: it was "
                                    "deleted, run the download again")


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    resume: bool = True,
    chunk: int = CHUNK,
    timeout: float = 60.0,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it, return ``dest``.

    An existing ``dest`` that passes verification is kept as is. On a size/checksum mismatch the
    partial file is deleted and :class:`DownloadError` is raised; on a network error the
    partial file is kept so the next call resumes.
    """
    import requests

    from satsr.progress import make_progress

    dest = Path(dest)
    if dest.exists():
        try:
            _verify(dest, size=size, md5=md5, sha256=sha256, url=url)
            return dest
        except DownloadError:
            log.warning("%s exists but does not verify; downloading it again", dest)
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if not resume and part.exists():
        part.unlink()
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        if size is not None and offset == size:
            pass  # the partial file is complete: only verification is left
        else:
            with requests.get(url, headers=headers, stream=True, timeout=timeout) as resp:
                if resp.status_code == 416 and offset:  # nothing left to send
                    pass
                else:
                    if resp.status_code not in (200, 206):
                        raise DownloadError(f"GET {url} answered HTTP {resp.status_code}; check "
                                            "the URL (--url) or try again later")
                    if resp.status_code == 200 and offset:
                        log.info("server ignored the Range request; restarting %s", dest.name)
                        offset = 0
                    remaining = resp.headers.get("Content-Length")
                    total = size if size is not None else (
                        offset + int(remaining) if remaining is not None else None)
                    mode = "ab" if offset else "wb"
                    with open(part, mode) as fh, make_progress(disable=not progress) as bar:
                        task = bar.add_task(f"downloading {dest.name}", total=total,
                                            completed=offset, status="")
                        for block in resp.iter_content(chunk_size=chunk):
                            fh.write(block)
                            bar.advance(task, len(block))
                            if on_chunk is not None:
                                on_chunk(len(block))
    except requests.RequestException as exc:
        raise DownloadError(f"download of {url} was interrupted ({type(exc).__name__}: {exc}); "
                            f"run the same command again to resume from {part.name}") from None
    try:
        _verify(part, size=size, md5=md5, sha256=sha256, url=url)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


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
    tmp = target.parent / f".{target.name}.extract-{uuid.uuid4().hex[:8]}"
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


__all__ = ["DownloadError", "Manifest", "download", "extract_zip", "file_digest",
           "load_manifest"]
