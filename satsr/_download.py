"""The one downloader of satsr (dataset archives and weights): resumable, verified, atomic.

``download(url, dest)`` streams into ``dest + ".part"``; when that partial file exists it asks
the server for the rest with an HTTP ``Range`` request (a server that ignores Range restarts the
file from zero). ``dest`` appears only after the size, checksums and an optional content
``check`` pass, so nothing half-downloaded or unverified is ever at the final path. Errors
are one line that says what went wrong: a bad URL, a host that cannot be reached, an HTTP
status, a transfer cut midway (only then is the ``.part`` kept to resume), a mismatch.
``file://`` URLs are copied with the same checks.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from satsr._digest import file_digest
from satsr.errors import SatsrError

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class DownloadError(SatsrError, OSError):
    """A download failed. ``kind`` says how: ``url`` (malformed URL), ``connect`` (host not
    reachable), ``http`` (error status), ``interrupted`` (cut midway; ``.part`` kept),
    ``size`` or ``checksum`` (wrong file; deleted), ``content`` (the ``check`` refused it)."""

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return str(self.args[0]) if self.args else ""


def part_path(dest: str | os.PathLike[str]) -> Path:
    """The resumable partial file of ``dest`` (``NAME.part``; stable, so a rerun resumes)."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def verify_file(path: Path, *, url: str, size: int | None = None, md5: str | None = None,
                sha256: str | None = None) -> None:
    """Raise :class:`DownloadError` when ``path``'s size or checksums differ from the given."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise DownloadError(f"download of {url} has {actual} bytes, expected {size}; the server "
                            "sent a different file or the transfer was cut: run the download "
                            "again (or pass the right --size)", "size")
    for algo, want in (("md5", md5), ("sha256", sha256)):
        if want:
            got = file_digest(path, algo)
            if got.lower() != want.lower():
                raise DownloadError(f"{algo} of the download of {url} is {got}, expected {want}; "
                                    "the file is corrupt or not the expected release: it was "
                                    "deleted, run the download again", "checksum")


def _check_url(url: str) -> urllib.parse.ParseResult:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https", "file") or (parsed.scheme != "file"
                                                          and not parsed.hostname):
        raise DownloadError(f"{url!r} is not a download URL; pass an http(s):// or file:// "
                            "URL", "url")
    return parsed


def _fetch_file(parsed: urllib.parse.ParseResult, part: Path, url: str) -> None:
    """Copy a ``file://`` URL into ``part``."""
    src = Path(urllib.request.url2pathname(parsed.path))
    if not src.is_file():
        raise DownloadError(f"{url} does not exist; check the path in the URL", "http")
    shutil.copyfile(src, part)


def _reason(exc: Exception) -> str:
    """A short cause for a failed connection (DNS, refused, timeout) instead of urllib3's repr."""
    text = str(exc)
    if "resolve" in text or "NameResolution" in text:
        return "the host name cannot be resolved"
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower() or "Timeout" in type(exc).__name__:
        return "timed out"
    return type(exc).__name__


def _stream(url: str, part: Path, *, size: int | None, chunk: int, timeout: float,
            progress: bool, on_chunk: Callable[[int], None] | None) -> None:
    """GET ``url`` into ``part`` (appending after a Range request when ``part`` has bytes)."""
    import requests

    from satsr.progress import make_progress

    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return  # the partial file is complete: only verification is left
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    host = urllib.parse.urlparse(url).hostname
    try:
        resp = requests.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        raise DownloadError(f"{url!r} is not a valid URL ({exc}); check it", "url") from None
    except requests.RequestException as exc:
        raise DownloadError(f"could not connect to {host} for {url} ({_reason(exc)}); nothing "
                            "was downloaded: check the URL and your network connection",
                            "connect") from None
    with resp:
        if resp.status_code == 416 and offset:  # nothing left to send
            return
        if resp.status_code not in (200, 206):
            hint = "try again later" if resp.status_code >= 500 else "check the URL"
            raise DownloadError(f"GET {url} answered HTTP {resp.status_code} {resp.reason}; "
                                f"{hint}", "http")
        if resp.status_code == 200 and offset:
            log.info("server ignored the Range request; restarting %s", part.name)
            offset = 0
        remaining = resp.headers.get("Content-Length")
        total = size if size is not None else (
            offset + int(remaining) if remaining is not None else None)
        received = 0
        try:
            with open(part, "ab" if offset else "wb") as fh, \
                    make_progress(disable=not progress) as bar:
                task = bar.add_task(f"downloading {part.name[:-5]}", total=total,
                                    completed=offset, status="")
                for block in resp.iter_content(chunk_size=chunk):
                    fh.write(block)
                    received += len(block)
                    bar.advance(task, len(block))
                    if on_chunk is not None:
                        on_chunk(len(block))
        except requests.RequestException as exc:
            if offset + received == 0:
                part.unlink(missing_ok=True)
                raise DownloadError(f"download of {url} was cut before any data was saved "
                                    f"({type(exc).__name__}); run the same command again",
                                    "interrupted") from None
            raise DownloadError(
                f"download of {url} was cut after {offset + received} bytes "
                f"({type(exc).__name__}); run the same command again to resume from "
                f"{part.name}", "interrupted") from None


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    check: Callable[[Path], Any] | None = None,
    resume: bool = True,
    reuse: bool = True,
    chunk: int = CHUNK,
    timeout: float = 60.0,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it, return ``dest``.

    ``size``/``md5``/``sha256`` are checked when given; ``check(part)`` may inspect the content
    and raise a :class:`satsr.errors.SatsrError` (e.g. "not a zip"). Any failed check deletes
    the partial file and nothing appears at ``dest``; a transfer cut midway keeps the partial
    file so the next call resumes. An existing ``dest`` that passes the checks is kept when
    ``reuse`` (no request is made); otherwise it is downloaded again.
    """
    parsed = _check_url(url)
    dest = Path(dest)
    if reuse and dest.is_file():
        try:
            verify_file(dest, url=url, size=size, md5=md5, sha256=sha256)
            if check is not None:
                check(dest)
            return dest
        except SatsrError:
            log.warning("%s exists but does not verify; downloading it again", dest)
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if (not resume or parsed.scheme == "file") and part.exists():
        part.unlink()
    if parsed.scheme == "file":
        _fetch_file(parsed, part, url)
    else:
        _stream(url, part, size=size, chunk=chunk, timeout=timeout, progress=progress,
                on_chunk=on_chunk)
    try:
        verify_file(part, url=url, size=size, md5=md5, sha256=sha256)
        if check is not None:
            check(part)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


__all__ = ["DownloadError", "download", "part_path", "verify_file"]
