"""Test helpers: a loopback HTTP server with Range support and a tiny PROBA-V-layout zip.

Used by tests/datasets/test_download.py and tests/cli/test_datasets_cli.py (imported as
``tests.loopback_http``). Nothing here touches the network beyond
127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def tiny_probav_zip(*, prefix: str = "", frames: int = 2, seed: int = 0) -> bytes:
    """A valid PROBA-V archive with one RED train scene (imgset0000), one NIR test scene
    (imgset1300, no HR) and a norm.csv; PNGs have the official sizes and pixel types."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{prefix}norm.csv", "imgset0000 40.0\nimgset1300 41.5")
        for scene, has_hr in (("train/RED/imgset0000", True), ("test/NIR/imgset1300", False)):
            for i in range(frames):
                lr = (rng.integers(0, 1024, (128, 128)) * 16).astype(np.uint16)
                qm = rng.random((128, 128)) > 0.1
                zf.writestr(f"{prefix}{scene}/LR{i:03d}.png", _png(lr))
                zf.writestr(f"{prefix}{scene}/QM{i:03d}.png", _png(qm))
            if has_hr:
                hr = (rng.integers(0, 1024, (384, 384)) * 16).astype(np.uint16)
                zf.writestr(f"{prefix}{scene}/HR.png", _png(hr))
                zf.writestr(f"{prefix}{scene}/SM.png", _png(rng.random((384, 384)) > 0.05))
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Served:
    """What the server sends and how; ``ranges`` records the Range header of each GET."""

    body: bytes
    mode: str = "normal"  # normal | drop (cut the connection halfway) | norange | 404
    ranges: list[str | None] = field(default_factory=list)
    url: str = ""


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            served.ranges.append(self.headers.get("Range"))
            if served.mode == "404":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, start = served.body, 0
            rng = self.headers.get("Range")
            if rng and served.mode != "norange":
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            chunk = body[start:]
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(chunk)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if served.mode == "drop":
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(chunk)

    return Handler


@contextmanager
def serve(body: bytes, mode: str = "normal", name: str = "probav_data.zip") -> Iterator[Served]:
    """Serve ``body`` at ``http://127.0.0.1:<port>/<name>`` in a background thread."""
    served = Served(body, mode)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/{name}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
