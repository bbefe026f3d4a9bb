"""A loopback Earth Engine REST API emulator for tests.

``EEEmulator`` is a ``ThreadingHTTPServer`` on ``127.0.0.1`` (ephemeral port) that the REAL
``earthengine-api`` client talks to, unmodified, after ``ee.Initialize(credentials, url=emu.url,
project=...)``. It implements what satsr uses:

* ``GET /$discovery/rest`` — the discovery document shipped inside earthengine-api
  (``ee/tests/cloud_api_discovery_document.json``, read from the installed package at runtime).
  Two patches make it match the production ``v1`` API: method paths use the requested version
  instead of ``v1alpha``, and ``assets.listAssets`` gains the ``filter``/``view`` query
  parameters that the production document has (``ee.data.listImages`` sends its time/region/
  property filters through them).
* ``GET {v}/projects/{p}/algorithms`` — the algorithm list shipped with the client
  (``ee/tests/algorithms.json``), needed by ``ee.Initialize``.
* ``GET {v}/projects/{p}/assets/{id}`` — an asset (image or collection).
* ``GET {v}/projects/{p}/assets/{parent}:listAssets`` and ``:listImages`` — the images of a
  collection, filtered by an AIP-160 subset (``startTime >= "…"``, ``endTime < "…"``,
  ``intersects("<GeoJSON>")``, ``properties.NAME <op> value`` joined by ``AND``), paginated.
* ``POST {v}/projects/{p}/assets/{id}:getPixels`` — ``fileFormat`` ``NPY`` (what
  ``NUMPY_NDARRAY`` sends) or ``GEO_TIFF``, ``bandIds``, explicit ``grid`` (crsCode,
  affineTransform, dimensions); nearest-neighbour onto the grid, 0 outside the image.
  EE's limits are answered with EE's real messages: ``Total request size (N bytes) must be less
  than or equal to 50331648 bytes.`` and ``Pixel grid dimensions (WxH) must be less than or
  equal to 32768.`` Requests above ``assert_max_bytes`` (32 MiB) are served but recorded in
  :attr:`EEEmulator.oversized`.
* ``POST /token`` — an OAuth2 token endpoint (JWT-bearer grant) so a real service-account key
  file whose ``token_uri`` points here (:meth:`EEEmulator.write_service_account_file`) works end
  to end through google-auth.

Every API call needs ``Authorization: Bearer <token>``. :class:`Faults` injects 429/500
answers (a rate or a deterministic schedule), delays and malformed bodies. Every request is
logged (:attr:`EEEmulator.log`) with its size, status and the in-flight count; the maximum
number of concurrent API calls is :attr:`EEEmulator.max_in_flight`.

Asset folder layout (see :mod:`satsr.testing.ee_assets`): ``<root>/<asset id>/asset.json``
(an EE REST ``Image`` resource: ``id``, ``type``, ``startTime``, ``bands[{id, dataType, grid}]``,
``properties``, ``geometry``) and one GeoTIFF per band, ``<root>/<asset id>/<band>.tif``. A
collection is the parent folder of its images; an empty one is a folder holding
``collection.json``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

#: EE's hard per-request limit for getPixels/computePixels (48 MiB)
EE_MAX_REQUEST_BYTES = 48 * 2**20
#: EE's per-side limit of a pixel grid
EE_MAX_GRID_DIMENSION = 32768
#: what satsr promises to stay under (and what the emulator checks by default)
SATSR_MAX_REQUEST_BYTES = 32 * 2**20

_API_PATH = re.compile(r"^/(?P<version>v1\w*)/projects/(?P<project>[^/]+)/(?P<rest>.*)$")


def request_size_bytes(width: int, height: int, dtypes: Sequence[np.dtype[Any] | str]) -> int:
    """Bytes EE charges a getPixels request: pixels × Σ(band bytes + 1 mask byte).

    EE counts a mask byte next to the data bytes of each pixel (see the Xee fix for EE's
    ``enforceRequestedSizeLimits``); counting it per band is the conservative reading."""
    per_pixel = sum(np.dtype(dt).itemsize + 1 for dt in dtypes)
    return int(width) * int(height) * per_pixel


@dataclass
class Faults:
    """Failures to inject into the API calls named in ``endpoints``.

    ``rate``: probability that a call is answered with one of ``statuses`` (chosen by a
    deterministic hash of ``seed`` and the call's sequence number). ``schedule``: call sequence
    number (0-based, counting only calls of ``endpoints``) -> action, where an action is an
    HTTP status (``429``), ``"malformed"`` (a 200 whose body is cut in half) or
    ``"delay:<seconds>"``. ``malformed_rate``: probability of a cut body. ``delay``: seconds
    added to every call. ``memory_limit_pixels``: getPixels requests with more pixels are
    answered ``400 User memory limit exceeded.``
    """

    rate: float = 0.0
    statuses: tuple[int, ...] = (429, 500)
    schedule: Mapping[int, int | str] = field(default_factory=dict)
    malformed_rate: float = 0.0
    delay: float = 0.0
    seed: int = 0
    endpoints: tuple[str, ...] = ("getPixels", "listAssets", "listImages", "getAsset")
    memory_limit_pixels: int | None = None

    def action(self, seq: int) -> int | str | None:
        """The injected action for call number ``seq`` (None: answer normally)."""
        if seq in self.schedule:
            return self.schedule[seq]
        u = _unit_hash(self.seed, seq, "status")
        if u < self.rate:
            return self.statuses[int(_unit_hash(self.seed, seq, "which") * len(self.statuses))]
        if _unit_hash(self.seed, seq, "malformed") < self.malformed_rate:
            return "malformed"
        return None


def _unit_hash(seed: int, seq: int, salt: str) -> float:
    digest = hashlib.sha256(f"{seed}:{seq}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class RequestRecord:
    """One logged request."""

    seq: int
    method: str
    endpoint: str          # discovery | algorithms | getAsset | listAssets | listImages | getPixels | token
    path: str
    query: dict[str, str] = field(default_factory=dict)
    method_override: bool = False   # a POST carrying X-HTTP-Method-Override: GET
    status: int = 0
    asset: str | None = None
    width: int | None = None
    height: int | None = None
    origin: tuple[float, float] | None = None   # (translateX, translateY) of a getPixels grid
    bands: list[str] | None = None
    request_bytes: int | None = None
    response_bytes: int = 0
    fault: str | None = None
    in_flight: int = 0
    user_project: str | None = None
    started: float = 0.0
    finished: float = 0.0


class _ApiError(Exception):
    def __init__(self, code: int, message: str, status: str):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _invalid(message: str) -> _ApiError:
    return _ApiError(400, message, "INVALID_ARGUMENT")


def _ee_package_file(name: str) -> Path:
    import ee

    path = Path(ee.__file__).parent / "tests" / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not shipped with this earthengine-api ({path})")
    return path


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class AssetStore:
    """The image assets of an emulator folder, indexed by asset id."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.images: dict[str, dict[str, Any]] = {}
        for meta_path in sorted(self.root.rglob("asset.json")):
            meta = json.loads(meta_path.read_text())
            asset_id = meta_path.parent.relative_to(self.root).as_posix()
            meta.setdefault("id", asset_id)
            meta.setdefault("type", "IMAGE")
            meta.setdefault("endTime", meta.get("startTime"))
            if "geometry" not in meta:
                meta["geometry"] = self._footprint(meta)
            self.images[asset_id] = meta
        self.collections = {i.rsplit("/", 1)[0] for i in self.images}
        self.collections |= {p.parent.relative_to(self.root).as_posix()
                             for p in self.root.rglob("collection.json")}

    @staticmethod
    def _footprint(meta: Mapping[str, Any]) -> dict[str, Any]:
        import shapely
        import shapely.geometry
        from pyproj import Transformer

        grid = meta["bands"][0]["grid"]
        t = grid["affineTransform"]
        w, h = grid["dimensions"]["width"], grid["dimensions"]["height"]
        x0, y0 = t.get("translateX", 0.0), t.get("translateY", 0.0)
        x1, y1 = x0 + t.get("scaleX", 0.0) * w, y0 + t.get("scaleY", 0.0) * h
        ring = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)).segmentize(
            abs(x1 - x0) / 8)
        tr = Transformer.from_crs(grid["crsCode"], "EPSG:4326", always_xy=True)
        xs, ys = tr.transform(*np.asarray(ring.exterior.coords).T)
        return shapely.geometry.mapping(shapely.Polygon(zip(xs, ys, strict=True)))  # type: ignore[no-any-return]

    def resource(self, asset_id: str, project: str) -> dict[str, Any]:
        """The REST resource of an asset (image or collection)."""
        if asset_id in self.images:
            meta = dict(self.images[asset_id])
            meta["name"] = f"projects/{project}/assets/{asset_id}"
            return meta
        if asset_id in self.collections:
            return {"type": "IMAGE_COLLECTION", "name": f"projects/{project}/assets/{asset_id}",
                    "id": asset_id}
        raise _ApiError(404, f"Asset 'projects/{project}/assets/{asset_id}' does not exist or "
                        "doesn't allow access.", "NOT_FOUND")

    def band_path(self, asset_id: str, band: str) -> Path:
        return self.root / asset_id / f"{band}.tif"


class _Filter:
    """The AIP-160 subset EE accepts in ``listAssets``/``listImages`` filters."""

    _CLAUSE = re.compile(r'^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<=|!=|=|<|>)\s*(?P<value>"[^"]*"|[-+\w.]+)\s*$')

    def __init__(self, text: str):
        self.clauses: list[Any] = []
        for part in self._split_and(text):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r'\s*intersects\(\s*"(?P<geom>.*)"\s*\)\s*', part, flags=re.S)
            if m:
                import shapely.geometry

                try:
                    geom = shapely.geometry.shape(json.loads(m["geom"].replace("'", '"')))
                except (ValueError, TypeError, KeyError) as exc:
                    raise _invalid(f"Invalid GeoJSON geometry in filter: {exc}") from None
                self.clauses.append(("intersects", geom))
                continue
            m = self._CLAUSE.match(part)
            if not m:
                raise _invalid(f"Unable to parse filter: {part!r}")
            value: Any = m["value"]
            if value.startswith('"'):
                value = value[1:-1]
            else:
                try:
                    value = float(value)
                except ValueError:
                    raise _invalid(f"Unable to parse filter value: {value!r}") from None
            self.clauses.append((m["field"], m["op"], value))

    @staticmethod
    def _split_and(text: str) -> list[str]:
        parts: list[str] = []
        buf: list[str] = []
        quoted = False
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == '"':
                quoted = not quoted
            if not quoted and text.startswith(" AND ", i):
                parts.append("".join(buf))
                buf = []
                i += 5
                continue
            buf.append(ch)
            i += 1
        parts.append("".join(buf))
        return parts

    def __call__(self, meta: Mapping[str, Any]) -> bool:
        import shapely.geometry

        for clause in self.clauses:
            if clause[0] == "intersects":
                if not shapely.geometry.shape(meta["geometry"]).intersects(clause[1]):
                    return False
                continue
            name, op, value = clause
            if name in ("startTime", "endTime"):
                actual: Any = _parse_time(meta[name])
                value = _parse_time(str(value))
            elif name.startswith("properties."):
                actual = meta.get("properties", {}).get(name[len("properties."):])
                if actual is None:
                    return False
            else:
                raise _invalid(f"Unsupported filter field {name!r}")
            try:
                ok = {"=": actual == value, "!=": actual != value, "<": actual < value,
                      "<=": actual <= value, ">": actual > value, ">=": actual >= value}[op]
            except TypeError:
                raise _invalid(f"Cannot compare {name} with {value!r}") from None
            if not ok:
                return False
        return True


def _affine(grid: Mapping[str, Any]) -> tuple[float, float, float, float, float, float]:
    t = grid.get("affineTransform", {})
    return (float(t.get("scaleX", 0.0)), float(t.get("shearX", 0.0)), float(t.get("translateX", 0.0)),
            float(t.get("shearY", 0.0)), float(t.get("scaleY", 0.0)), float(t.get("translateY", 0.0)))


def _read_band_on_grid(path: Path, crs: str, transform: tuple[float, ...], width: int,
                       height: int) -> np.ndarray:
    """One band resampled (nearest) onto a grid; 0 where the image has no data."""
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.warp import Resampling, reproject
    from rasterio.windows import Window

    with rasterio.open(path) as ds:
        src = ds.transform
        a, b, c, d, e, f = transform
        same_crs = ds.crs == CRS.from_user_input(crs)
        col_off, row_off = (c - src.c) / src.a, (f - src.f) / src.e
        aligned = (same_crs and b == 0 and d == 0 and math.isclose(a, src.a) and math.isclose(e, src.e)
                   and abs(col_off - round(col_off)) < 1e-6 and abs(row_off - round(row_off)) < 1e-6)
        out = np.zeros((height, width), dtype=ds.dtypes[0])
        if aligned:  # a window of the native grid: copy the overlap, 0 elsewhere
            c0, r0 = round(col_off), round(row_off)
            rs, re_ = max(0, r0), min(ds.height, r0 + height)
            cs, ce = max(0, c0), min(ds.width, c0 + width)
            if rs < re_ and cs < ce:
                out[rs - r0:re_ - r0, cs - c0:ce - c0] = ds.read(1, window=Window(cs, rs, ce - cs, re_ - rs))
            return out
        reproject(source=rasterio.band(ds, 1), destination=out, src_transform=src, src_crs=ds.crs,
                  src_nodata=ds.nodata, dst_transform=Affine(*transform), dst_crs=crs, dst_nodata=0,
                  resampling=Resampling.nearest)
        return out


class EEEmulator:
    """The emulator; use as a context manager: ``with EEEmulator(root) as emu: emu.url``.

    ``token`` is the bearer token every API call must carry (random by default; also what the
    token endpoint hands out). ``project``: when set, calls for another project are refused
    (403). ``request_limit_bytes``/``max_dimension`` are EE's hard limits (lower them to make EE
    refuse smaller requests); ``assert_max_bytes`` is the size above which a served request is
    recorded in :attr:`oversized`. ``page_size``: the most images one list page holds.
    """

    def __init__(self, assets_dir: str | Path, *, token: str | None = None,
                 faults: Faults | None = None, project: str | None = None,
                 request_limit_bytes: int = EE_MAX_REQUEST_BYTES,
                 max_dimension: int = EE_MAX_GRID_DIMENSION,
                 assert_max_bytes: int = SATSR_MAX_REQUEST_BYTES, page_size: int = 1000):
        self.store = AssetStore(assets_dir)
        self.token = token or "emu-" + secrets.token_urlsafe(24)
        self.service_account_email = "satsr-test@emulator.iam.gserviceaccount.com"
        self.faults = faults or Faults()
        self.project = project
        self.request_limit_bytes = request_limit_bytes
        self.max_dimension = max_dimension
        self.assert_max_bytes = assert_max_bytes
        self.page_size = page_size
        self.log: list[RequestRecord] = []
        self.oversized: list[RequestRecord] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._fault_seq = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._discovery: dict[str, bytes] = {}
        self._algorithms: bytes | None = None
        self._service_account: dict[str, Any] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> EEEmulator:
        emulator = self

        class Handler(_Handler):
            emu = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="ee-emulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EEEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to pass as ``ee.Initialize(url=...)`` (``http://127.0.0.1:<port>``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- credentials helpers ---------------------------------------------------------------------
    def credentials(self) -> Any:
        """google-auth credentials carrying the emulator's token (no refresh)."""
        from google.oauth2.credentials import Credentials

        return Credentials(token=self.token)

    def service_account_info(self) -> dict[str, Any]:
        """A service-account key (JSON content) whose token exchange goes to this emulator.

        The RSA key is generated once per emulator. (google-auth ignores ``token_uri`` in
        ``authorized_user`` files, so service-account keys are the file-based way in.)"""
        if self._service_account is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
            self._service_account = {
                "type": "service_account", "project_id": self.project or "test-project",
                "private_key_id": secrets.token_hex(20), "private_key": pem,
                "client_email": self.service_account_email, "client_id": "1234567890",
                "auth_uri": f"{self.url}/auth", "token_uri": f"{self.url}/token"}
        return dict(self._service_account)

    def write_service_account_file(self, path: str | Path) -> Path:
        """Write :meth:`service_account_info` to ``path`` (what ``--credentials``/ADC read)."""
        path = Path(path)
        path.write_text(json.dumps(self.service_account_info()))
        return path

    # -- log queries -----------------------------------------------------------------------------
    def records(self, endpoint: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.log if endpoint is None or r.endpoint == endpoint]

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()
            self.oversized.clear()
            self.max_in_flight = 0

    # -- internals -------------------------------------------------------------------------------
    def _begin(self, rec: RequestRecord, counted: bool) -> None:
        with self._lock:
            rec.seq = len(self.log)
            self.log.append(rec)
            if counted:
                self._in_flight += 1
                rec.in_flight = self._in_flight
                self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _end(self, counted: bool) -> None:
        with self._lock:
            if counted:
                self._in_flight -= 1

    def _next_fault(self, endpoint: str) -> int | str | None:
        if endpoint not in self.faults.endpoints:
            return None
        with self._lock:
            seq = self._fault_seq
            self._fault_seq += 1
        return self.faults.action(seq)

    def discovery_document(self, version: str) -> bytes:
        if version not in self._discovery:
            doc = json.loads(_ee_package_file("cloud_api_discovery_document.json").read_text())
            doc["rootUrl"] = self.url + "/"
            doc["version"] = version

            def patch(resource: dict[str, Any]) -> None:
                for method in resource.get("methods", {}).values():
                    for key in ("path", "flatPath"):
                        if key in method:
                            method[key] = re.sub(r"^v1\w*/", f"{version}/", method[key])
                for sub in resource.get("resources", {}).values():
                    patch(sub)

            patch(doc)
            list_assets = doc["resources"]["projects"]["resources"]["assets"]["methods"]["listAssets"]
            params = list_assets["parameters"]
            params.setdefault("filter", {"location": "query", "type": "string"})
            params.setdefault("view", {"location": "query", "type": "string",
                                       "enum": ["IMAGE_VIEW_UNSPECIFIED", "FULL", "BASIC"]})
            self._discovery[version] = json.dumps(doc).encode()
        return self._discovery[version]

    def algorithms(self) -> bytes:
        if self._algorithms is None:
            self._algorithms = _ee_package_file("algorithms.json").read_bytes()
        return self._algorithms

    def list_images(self, parent: str, query: Mapping[str, str], project: str) -> dict[str, Any]:
        if parent not in self.store.collections:
            if parent in self.store.images:
                raise _invalid(f"Asset '{parent}' is not a collection or folder.")
            raise _ApiError(404, f"Asset 'projects/{project}/assets/{parent}' does not exist or "
                            "doesn't allow access.", "NOT_FOUND")
        clauses = []
        if query.get("startTime"):
            clauses.append(f'startTime >= "{query["startTime"]}"')
        if query.get("endTime"):
            clauses.append(f'endTime < "{query["endTime"]}"')
        if query.get("region"):
            clauses.append(f'intersects("{query["region"].replace(chr(34), chr(39))}")')
        if query.get("filter"):
            clauses.append(query["filter"])
        flt = _Filter(" AND ".join(clauses))
        images = sorted((m for i, m in self.store.images.items() if i.rsplit("/", 1)[0] == parent),
                        key=lambda m: (m["startTime"], m["id"]))
        images = [m for m in images if flt(m)]
        offset = 0
        if query.get("pageToken"):
            try:
                offset = int(base64.urlsafe_b64decode(query["pageToken"].encode()).decode())
            except ValueError:
                raise _invalid("Invalid page token.") from None
        size = min(int(query.get("pageSize") or self.page_size), self.page_size)
        page = images[offset:offset + size]
        body: dict[str, Any] = {}
        basic = query.get("view") == "BASIC"
        body["assets" if query.get("_kind") == "listAssets" else "images"] = [
            self._listed(self.store.resource(m["id"], project), basic) for m in page]
        if offset + size < len(images):
            body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        return body

    @staticmethod
    def _listed(resource: dict[str, Any], basic: bool) -> dict[str, Any]:
        if basic:
            return {k: resource[k] for k in ("type", "name", "id", "updateTime") if k in resource}
        return resource

    def get_pixels(self, asset_id: str, body: Mapping[str, Any], rec: RequestRecord,
                   project: str) -> tuple[bytes, str]:
        meta = self.store.resource(asset_id, project)
        if meta["type"] != "IMAGE":
            raise _invalid(f"Asset '{asset_id}' is not an image.")
        fmt = body.get("fileFormat", "AUTO_JPEG_PNG")
        if fmt not in ("NPY", "GEO_TIFF"):
            raise _invalid(f"Unsupported file format {fmt!r} (the emulator serves NPY and GEO_TIFF).")
        band_ids = list(body.get("bandIds") or [b["id"] for b in meta["bands"]])
        known = {b["id"] for b in meta["bands"]}
        for band in band_ids:
            if band not in known:
                raise _invalid(f"Image.select: Pattern '{band}' did not match any bands.")
        grid = body.get("grid")
        if not grid or "crsCode" not in grid or "dimensions" not in grid:
            raise _invalid("The emulator needs an explicit grid (crsCode, affineTransform, dimensions).")
        width = int(grid["dimensions"].get("width", 0))
        height = int(grid["dimensions"].get("height", 0))
        transform = _affine(grid)
        rec.width, rec.height, rec.bands = width, height, band_ids
        rec.origin = (transform[2], transform[5])
        import rasterio

        dtypes = []
        for band in band_ids:
            with rasterio.open(self.store.band_path(asset_id, band)) as ds:
                dtypes.append(np.dtype(ds.dtypes[0]))
        rec.request_bytes = request_size_bytes(width, height, dtypes)
        if width > self.max_dimension or height > self.max_dimension:
            raise _invalid(f"Pixel grid dimensions ({width}x{height}) must be less than or equal "
                           f"to {self.max_dimension}.")
        if width <= 0 or height <= 0:
            raise _invalid(f"Pixel grid dimensions ({width}x{height}) must be positive.")
        if rec.request_bytes > self.request_limit_bytes:
            raise _invalid(f"Total request size ({rec.request_bytes} bytes) must be less than or "
                           f"equal to {self.request_limit_bytes} bytes.")
        limit_px = self.faults.memory_limit_pixels
        if limit_px is not None and width * height > limit_px:
            raise _ApiError(400, "User memory limit exceeded.", "INVALID_ARGUMENT")
        if rec.request_bytes > self.assert_max_bytes:
            with self._lock:
                self.oversized.append(rec)
        arrays = [_read_band_on_grid(self.store.band_path(asset_id, b), grid["crsCode"], transform,
                                     width, height) for b in band_ids]
        if fmt == "NPY":
            out = np.zeros((height, width), dtype=[(b, a.dtype) for b, a in zip(band_ids, arrays, strict=True)])
            for b, a in zip(band_ids, arrays, strict=True):
                out[b] = a
            buf = io.BytesIO()
            np.save(buf, out, allow_pickle=False)
            return buf.getvalue(), "application/octet-stream"
        from affine import Affine
        from rasterio.io import MemoryFile

        common = np.result_type(*[a.dtype for a in arrays])
        with MemoryFile() as mem:
            with mem.open(driver="GTiff", width=width, height=height, count=len(arrays),
                          dtype=common, crs=grid["crsCode"], transform=Affine(*transform)) as ds:
                for i, (b, a) in enumerate(zip(band_ids, arrays, strict=True), start=1):
                    ds.write(a.astype(common), i)
                    ds.set_band_description(i, b)
            return mem.read(), "image/tiff"

    def token_grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """OAuth2 JWT-bearer grant: a service-account assertion issued by our account -> token."""
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise _ApiError(400, "unsupported_grant_type", "INVALID_ARGUMENT")
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            raise _ApiError(400, "invalid_grant", "INVALID_ARGUMENT")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            raise _ApiError(400, "invalid_grant", "INVALID_ARGUMENT") from None
        if claims.get("iss") != self.service_account_email or claims.get("aud") not in (
                f"{self.url}/token", "https://oauth2.googleapis.com/token"):
            raise _ApiError(400, "invalid_grant", "INVALID_ARGUMENT")
        return {"access_token": self.token, "expires_in": 3600, "token_type": "Bearer"}


class _Handler(BaseHTTPRequestHandler):
    emu: EEEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, err: _ApiError) -> None:
        body = json.dumps({"error": {"code": err.code, "message": err.message, "status": err.status}})
        self._send(err.code, body.encode())

    def _classify(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        if path.startswith("/$discovery/rest"):
            return "discovery", {}
        if path == "/token" and method == "POST":
            return "token", {}
        m = _API_PATH.match(path)
        if not m:
            return "unknown", {}
        info = {"version": m["version"], "project": m["project"]}
        rest = m["rest"]
        if rest == "algorithms" and method == "GET":
            return "algorithms", info
        if rest.startswith("assets/"):
            target = rest[len("assets/"):]
            name, _, verb = target.partition(":")
            info["asset"] = urllib.parse.unquote(name)
            kind = {("GET", ""): "getAsset", ("GET", "listAssets"): "listAssets",
                    ("GET", "listImages"): "listImages", ("POST", "getPixels"): "getPixels"}.get((method, verb))
            if kind:
                return kind, info
        return "unknown", info

    def _dispatch(self, method: str) -> None:
        emu = self.emu
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        endpoint, info = self._classify(method, parsed.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        override = False
        if method == "POST" and self.headers.get("X-HTTP-Method-Override", "").upper() == "GET":
            # googleapiclient turns GETs with URLs over 2 kB into such POSTs (Google APIs accept them)
            method, override = "GET", True
            query = {**query, **{k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}}
            raw = b""
            endpoint, info = self._classify(method, parsed.path)
        counted = endpoint not in ("discovery", "token", "unknown")
        rec = RequestRecord(seq=0, method=method, endpoint=endpoint, path=parsed.path, query=query,
                            method_override=override,
                            asset=info.get("asset"), user_project=self.headers.get("X-Goog-User-Project"),
                            started=time.monotonic())
        emu._begin(rec, counted)
        try:
            status, body, ctype = self._handle(endpoint, info, query, raw, rec)
        except _ApiError as err:
            rec.status = err.code
            rec.finished = time.monotonic()
            emu._end(counted)
            self._send_error(err)
            return
        except Exception as exc:  # a bug in the emulator: answer 500 but keep it visible
            rec.status, rec.fault = 500, f"emulator error: {exc!r}"
            rec.finished = time.monotonic()
            emu._end(counted)
            self._send_error(_ApiError(500, f"emulator error: {exc!r}", "INTERNAL"))
            return
        rec.status, rec.response_bytes = status, len(body)
        rec.finished = time.monotonic()
        emu._end(counted)
        self._send(status, body, ctype)

    def _handle(self, endpoint: str, info: Mapping[str, str], query: Mapping[str, str], raw: bytes,
                rec: RequestRecord) -> tuple[int, bytes, str]:
        emu = self.emu
        if endpoint == "discovery":
            return 200, emu.discovery_document(query.get("version", "v1")), "application/json"
        if endpoint == "token":
            form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            return 200, json.dumps(emu.token_grant(form)).encode(), "application/json"
        if endpoint == "unknown":
            raise _ApiError(404, f"Method not found: {self.command} {self.path.split('?')[0]}", "NOT_FOUND")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not secrets.compare_digest(auth[7:].encode(), emu.token.encode()):
            raise _ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 "
                            "access token, login cookie or other valid authentication credential.",
                            "UNAUTHENTICATED")
        project = info["project"]
        if emu.project is not None and rec.user_project not in (None, emu.project):
            raise _ApiError(403, f"Caller does not have required permission to use project "
                            f"{rec.user_project}.", "PERMISSION_DENIED")
        fault = emu._next_fault(endpoint)
        if emu.faults.delay:
            time.sleep(emu.faults.delay)
        if isinstance(fault, str) and fault.startswith("delay:"):
            rec.fault = fault
            time.sleep(float(fault.split(":", 1)[1]))
            fault = None
        if isinstance(fault, int):
            rec.fault = str(fault)
            status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
                      503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}.get(fault, "UNKNOWN")
            message = {429: "Too Many Requests: Request was rejected because the request rate or "
                            "concurrency limit was exceeded.",
                       500: "An internal error has occurred (emulated)."}.get(fault, "Service unavailable.")
            raise _ApiError(fault, message, status)
        if endpoint == "algorithms":
            body, ctype = emu.algorithms(), "application/json"
        elif endpoint == "getAsset":
            body, ctype = json.dumps(emu.store.resource(info["asset"], project)).encode(), "application/json"
        elif endpoint in ("listAssets", "listImages"):
            result = emu.list_images(info["asset"], {**query, "_kind": endpoint}, project)
            body, ctype = json.dumps(result).encode(), "application/json"
        else:  # getPixels
            try:
                request = json.loads(raw or b"{}")
            except ValueError:
                raise _invalid("Invalid JSON payload received.") from None
            body, ctype = emu.get_pixels(info["asset"], request, rec, project)
        if fault == "malformed":
            rec.fault = "malformed"
            body = body[: len(body) // 2]
        return 200, body, ctype


@contextlib.contextmanager
def ee_session(emu: EEEmulator, project: str = "test-project") -> Iterator[None]:
    """Initialise the real ``ee`` client against ``emu`` for the duration of the block."""
    import ee

    ee.Reset()  # a fresh client: no algorithms or state cached from an earlier session
    ee.Initialize(emu.credentials(), url=emu.url, project=project)
    ee.data.setMaxRetries(0)    # let faults surface instead of googleapiclient's slow retries
    try:
        yield
    finally:
        ee.Reset()


__all__ = ["EE_MAX_GRID_DIMENSION", "EE_MAX_REQUEST_BYTES", "SATSR_MAX_REQUEST_BYTES", "AssetStore",
           "EEEmulator", "Faults", "RequestRecord", "ee_session", "request_size_bytes"]
