"""Google Earth Engine as an imagery source (the real ``earthengine-api`` client).

``EarthEngineSource(project)`` searches ``LANDSAT/LC08/C02/T1_L2`` + ``LANDSAT/LC09/C02/T1_L2``
(collection ``"landsat"``) and ``COPERNICUS/S2_SR_HARMONIZED`` (``"sentinel2"``, each image
matched with its Cloud Score+ image ``GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED/<index>``) with
``ee.data.listImages``, and reads pixels with ``ee.data.getPixels`` on an explicit grid.

* Credentials: a path names a service-account key (or an ``authorized_user`` JSON file); a
  google-auth credentials object is used as is; ``None`` uses ``$SATSR_EE_CREDENTIALS`` (a key
  file path) if set, else the persistent Earth Engine credentials (``earthengine
  authenticate``), else Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``).
* Project: ``project``, else ``$EE_PROJECT``, else ``$GOOGLE_CLOUD_PROJECT``, else the quota
  project stored with the credentials.
* Endpoint (testing/advanced): ``url`` or ``$SATSR_EE_API_URL`` replaces the Earth Engine REST
  base URL, e.g. a :class:`satsr.testing.ee_emulator.EEEmulator`.
* Requests: each getPixels request stays under ``max_request_bytes`` (32 MiB; EE refuses
  > 48 MiB; bytes = pixels × Σ(band bytes + 1 mask byte)) and 32768 px a side. Requests EE
  refuses for size or memory are split in four, never retried as they are. 429, 5xx, timeouts,
  dropped connections and cut or garbled bodies are retried with jittered exponential backoff,
  the same for every call (listing or pixels). An endpoint that refuses connections or whose
  host does not resolve gets two quick retries (~1.5 s), then one line: retrying does not fix
  a wrong ``--ee-url``; a URL that is not http(s) is refused before any request. At most
  ``max_concurrent`` requests run at once per process (a semaphore), or across a whole dask
  cluster (a ``distributed.Semaphore`` named ``satsr-ee-requests``) inside dask workers.
* The source is picklable; ``ee.Initialize`` runs lazily, once per process, on first use.
  Tokens and keys never appear in logs, errors or ``repr``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from satsr.errors import ConfigError, SatsrError
from satsr.fetch.types import Acquisition, Grid

log = logging.getLogger(__name__)

#: satsr collection name -> Earth Engine image collections
COLLECTIONS: dict[str, tuple[str, ...]] = {
    "landsat": ("LANDSAT/LC08/C02/T1_L2", "LANDSAT/LC09/C02/T1_L2"),
    "sentinel2": ("COPERNICUS/S2_SR_HARMONIZED",),
}
CLOUD_SCORE_COLLECTION = "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED"
CLOUD_SCORE_BANDS = ("cs", "cs_cdf")
CLOUD_PROPERTY = {"landsat": "CLOUD_COVER", "sentinel2": "CLOUDY_PIXEL_PERCENTAGE"}
#: reference band whose grid is the acquisition's native grid
REFERENCE_BAND = {"landsat": "SR_B2", "sentinel2": "B2"}
API_URL_ENV = "SATSR_EE_API_URL"
CREDENTIALS_ENV = "SATSR_EE_CREDENTIALS"
PROJECT_ENVS = ("EE_PROJECT", "GOOGLE_CLOUD_PROJECT")
SEMAPHORE_NAME = "satsr-ee-requests"
EE_MAX_REQUEST_BYTES = 48 * 2**20
EE_MAX_GRID_DIMENSION = 32768
EE_MAX_CONCURRENT = 40

_SENSORS = {"LANDSAT_8": "landsat8", "LANDSAT_9": "landsat9", "SENTINEL-2A": "sentinel2a",
            "SENTINEL-2B": "sentinel2b", "SENTINEL-2C": "sentinel2c"}
_SIZE_ERRORS = re.compile(r"Total request size|User memory limit exceeded|Pixel grid dimensions|"
                          r"too many pixels|Request payload size", re.IGNORECASE)
#: listImages sends the region inside the query: larger outlines are replaced by their bbox
MAX_REGION_VERTICES = 200
_TRANSIENT_ERRORS = re.compile(r"Too Many Requests|rate limit|concurrency limit|Quota exceeded|"
                               r"internal error|Service unavailable|backend error|deadline exceeded|"
                               r"timed out|try again", re.IGNORECASE)
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}

T = TypeVar("T")


class EarthEngineError(SatsrError):
    """Earth Engine cannot be used or refused a request; the message says how to fix it."""


class _TooLarge(Exception):
    """EE refused a request for its size or memory use: split it."""


class _CorruptResponse(Exception):
    """A response body that does not decode (cut or garbled): retry."""


#: connection failures that more waiting does not fix (nothing listens, no such host)
_UNREACHABLE = re.compile(r"Connection refused|Name or service not known|nodename nor servname|"
                          r"No address associated with hostname|getaddrinfo failed|"
                          r"Temporary failure in name resolution|No route to host|"
                          r"Network is unreachable", re.IGNORECASE)
#: retries (and their delays, s) for an unreachable endpoint: a blip passes, a wrong URL fails fast
UNREACHABLE_DELAYS = (0.5, 1.0)
#: what ``ee`` raises when a JSON body did not decode (googleapiclient hands it the raw text)
_UNDECODED_JSON = re.compile(r"^Unexpected response type of", re.IGNORECASE)


# -- secrets scrubbing -----------------------------------------------------------------------------
_SECRET_PATTERNS = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9\-._~+/]+=*"), "Bearer ***"),
    (re.compile(r"ya29\.[A-Za-z0-9\-._]+"), "***"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), "***"),
    (re.compile(r"(?i)((?:access_token|refresh_token|client_secret|private_key|assertion|id_token)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"), r"\1***"),
]
_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def _remember_secrets(credentials: Any) -> None:
    values = [getattr(credentials, name, None) for name in
              ("token", "refresh_token", "client_secret", "_client_secret", "_refresh_token")]
    with _secrets_lock:
        _known_secrets.update(v for v in values if isinstance(v, str) and len(v) >= 8)


def scrub(text: str) -> str:
    """``text`` with access tokens, refresh tokens, client secrets and private keys masked."""
    creds = _ACTIVE_CREDENTIALS
    if creds is not None:
        _remember_secrets(creds)
    with _secrets_lock:
        for secret in _known_secrets:
            text = text.replace(secret, "***")
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


# -- process-wide client state ---------------------------------------------------------------------
_INIT_LOCK = threading.Lock()
_ACTIVE_KEY: tuple[Any, ...] | None = None
_ACTIVE_CREDENTIALS: Any = None
_ACTIVE_PROJECT: str | None = None
_LOCAL_SEMAPHORES: dict[int, threading.BoundedSemaphore] = {}
_DIST_SEMAPHORES: dict[tuple[str, int, str], Any] = {}
_SEM_LOCK = threading.Lock()


def _local_semaphore(limit: int) -> threading.BoundedSemaphore:
    with _SEM_LOCK:
        if limit not in _LOCAL_SEMAPHORES:
            _LOCAL_SEMAPHORES[limit] = threading.BoundedSemaphore(limit)
        return _LOCAL_SEMAPHORES[limit]


def _distributed_semaphore(limit: int) -> Any | None:
    """The cluster-wide semaphore when running inside a dask worker, else None."""
    from distributed import Semaphore, get_worker  # a core dependency

    try:
        worker = get_worker()
    except ValueError:
        return None
    # one semaphore object per cluster: a process may serve several clusters one after another
    key = (SEMAPHORE_NAME, limit, str(worker.scheduler.address))
    with _SEM_LOCK:
        if key not in _DIST_SEMAPHORES:
            _DIST_SEMAPHORES[key] = Semaphore(max_leases=limit, name=SEMAPHORE_NAME)
        return _DIST_SEMAPHORES[key]


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of the googleapiclient error behind an EEException, if any."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        resp = getattr(cur, "resp", None)
        status = getattr(resp, "status", None) or getattr(cur, "status_code", None)
        if isinstance(status, int):
            return status
        cur = cur.__cause__ or cur.__context__
    return None


def _unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception behind it) says the endpoint cannot be reached at all."""
    import socket

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError | socket.gaierror):
            return True
        cur = cur.__cause__ or cur.__context__
    return bool(_UNREACHABLE.search(str(exc)))


def _classify(exc: BaseException) -> str:
    """``"split"``, ``"unreachable"``, ``"transient"`` or ``"fatal"``."""
    if isinstance(exc, _TooLarge):
        return "split"
    if _unreachable(exc):
        return "unreachable"
    if _UNDECODED_JSON.search(str(exc)):
        return "transient"  # a cut or garbled JSON body, like _CorruptResponse for pixels
    if isinstance(exc, _CorruptResponse | TimeoutError | ConnectionError):
        return "transient"
    import requests  # a core dependency

    if isinstance(exc, requests.exceptions.RequestException):
        return "transient"
    import http.client
    import json as _json

    if isinstance(exc, http.client.HTTPException | _json.JSONDecodeError):
        return "transient"
    message = str(exc)
    status = _http_status(exc)
    if _SIZE_ERRORS.search(message):
        return "split"
    if status in _TRANSIENT_STATUS:
        return "transient"
    if status is None and _TRANSIENT_ERRORS.search(message):
        return "transient"
    return "fatal"


def _checked_url(url: str, origin: str) -> str:
    """``url`` without a trailing slash; a ConfigError (no request made) unless it is http(s)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        ok = False
    if not ok:
        raise ConfigError(f"Earth Engine endpoint {url!r} (from {origin}) is not an http(s) URL "
                          "with a host; pass e.g. http://127.0.0.1:8080, or leave it unset for "
                          "Google's endpoint")
    return url.strip().rstrip("/")


def _reason(exc: BaseException) -> str:
    """A short name for why a connection failed ("connection refused", "host not found", …)."""
    text = str(exc)
    if isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
        return "connection refused"
    if re.search(r"name|servname|address associated|getaddrinfo", text, re.IGNORECASE):
        return "host not found"
    return "network unreachable"


def _json_object(response: Any) -> dict[str, Any]:
    """A listing response, which must be a JSON object; anything else is a cut body (retried)."""
    if not isinstance(response, dict):
        raise _CorruptResponse(f"unexpected listing response type {type(response).__name__}")
    return response


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _ee_dtype(data_type: dict[str, Any] | None) -> str:
    """numpy dtype name of an EE band ``dataType`` (``{precision, range}``)."""
    if not data_type:
        return "float64"
    precision = data_type.get("precision", "INT")
    if precision == "FLOAT":
        return "float32"
    if precision == "DOUBLE":
        return "float64"
    rng = data_type.get("range", {})
    lo, hi = float(rng.get("min", 0)), float(rng.get("max", 0))
    for name in ("uint8", "int8", "uint16", "int16", "uint32", "int32"):
        info = np.iinfo(name)
        if info.min <= lo and hi <= info.max:
            return name
    return "int64"


class EarthEngineSource:
    """Landsat C2 L2 / Sentinel-2 SR (+ Cloud Score+) from Google Earth Engine.

    Parameters: ``project`` (Google Cloud project registered for Earth Engine),
    ``credentials`` (None, a key-file path, or google-auth credentials), ``url`` (REST base URL
    override, for emulators), ``max_concurrent`` (simultaneous requests, ≤ 40), ``max_request_bytes``
    (per getPixels request, ≤ 48 MiB), ``retries`` (per request, for transient failures),
    ``backoff_s``/``max_backoff_s`` (first/largest retry delay), ``timeout_s`` (per request),
    ``file_format`` (``"NPY"``, the wire format of ``NUMPY_NDARRAY``, or ``"GEO_TIFF"``),
    ``page_size`` (images per list page).
    """

    name = "ee"

    def __init__(self, project: str | None = None, *, credentials: Any = None,
                 url: str | None = None, max_concurrent: int = 8,
                 max_request_bytes: int = 32 * 2**20, retries: int = 6, backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0, timeout_s: float = 300.0, file_format: str = "NPY",
                 page_size: int = 500):
        if not 1 <= int(max_concurrent) <= EE_MAX_CONCURRENT:
            raise ConfigError(f"max_concurrent={max_concurrent} is outside 1..{EE_MAX_CONCURRENT} "
                              "(Earth Engine allows 40 concurrent requests per project); pick a "
                              "smaller value")
        if not 1024 <= int(max_request_bytes) <= EE_MAX_REQUEST_BYTES:
            raise ConfigError(f"max_request_bytes={max_request_bytes} is outside 1 KiB..48 MiB "
                              "(Earth Engine's limit); the default 32 MiB is safe")
        file_format = {"NUMPY_NDARRAY": "NPY", "GEOTIFF": "GEO_TIFF"}.get(file_format.upper(),
                                                                           file_format.upper())
        if file_format not in ("NPY", "GEO_TIFF"):
            raise ConfigError(f"file_format={file_format!r} is not supported; use 'NPY' or 'GEO_TIFF'")
        if retries < 0:
            raise ConfigError(f"retries={retries} must be >= 0")
        env_project = next((os.environ[e] for e in PROJECT_ENVS if os.environ.get(e)), None)
        self.project = project or env_project
        self.url = (url or os.environ.get(API_URL_ENV) or None)
        if self.url:
            self.url = _checked_url(self.url, "--ee-url" if url else f"${API_URL_ENV}")
        if isinstance(credentials, str | Path):
            credentials = Path(credentials).expanduser()
            if not credentials.is_file():
                raise EarthEngineError(f"Earth Engine credentials file {credentials} does not exist; "
                                       "pass the path of a service-account key (JSON) or run "
                                       "`earthengine authenticate`")
        self.credentials = credentials
        self.max_concurrent = int(max_concurrent)
        self.max_request_bytes = int(max_request_bytes)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.timeout_s = float(timeout_s)
        self.file_format = file_format
        self.page_size = int(page_size)

    # -- presentation ------------------------------------------------------------------------------
    def _credentials_kind(self) -> str:
        if self.credentials is None:
            return "persistent"
        if isinstance(self.credentials, Path):
            return f"key file {self.credentials}"
        return type(self.credentials).__name__

    def __repr__(self) -> str:
        return (f"EarthEngineSource(project={self.project!r}, credentials={self._credentials_kind()!r}, "
                f"url={self.url!r}, max_concurrent={self.max_concurrent}, "
                f"max_request_bytes={self.max_request_bytes})")

    def describe(self) -> dict[str, Any]:
        """Provenance of this source (no secrets): project, endpoint, collections, limits."""
        try:
            import ee

            version = ee.__version__
        except ImportError:  # pragma: no cover
            version = None
        return {"source": "ee", "project": self.project or _ACTIVE_PROJECT,
                "api_url": self.url or "https://earthengine.googleapis.com",
                "credentials": self._credentials_kind().split(" ")[0],
                "collections": {k: list(v) for k, v in COLLECTIONS.items()},
                "cloud_score_collection": CLOUD_SCORE_COLLECTION,
                "max_concurrent": self.max_concurrent, "max_request_bytes": self.max_request_bytes,
                "file_format": self.file_format, "earthengine_api": version}

    # -- initialisation ----------------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        cred = self.credentials
        cred_key = (str(cred) if isinstance(cred, Path) else id(cred) if cred is not None else None)
        return (self.url, self.project, cred_key, self.timeout_s)

    def _resolve_credentials(self) -> Any:
        import ee

        cred = self.credentials
        if cred is None and os.environ.get(CREDENTIALS_ENV):
            cred = Path(os.environ[CREDENTIALS_ENV]).expanduser()
            if not cred.is_file():
                raise EarthEngineError(f"${CREDENTIALS_ENV} names {cred}, which does not exist; "
                                       "point it at a service-account key (JSON) or unset it")
        if cred is None:
            try:
                cred = ee.data.get_persistent_credentials()
            except ee.EEException:
                raise EarthEngineError(
                    "no Earth Engine credentials found: run `earthengine authenticate` (or set "
                    "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file) and retry") from None
            except Exception as exc:
                raise EarthEngineError(f"Earth Engine credentials could not be loaded "
                                       f"({scrub(str(exc))}); run `earthengine authenticate`") from None
        elif isinstance(cred, Path):
            try:
                info = json.loads(cred.read_text())
                kind = info.get("type")
            except (OSError, ValueError, AttributeError):
                raise EarthEngineError(f"{cred} is not a JSON credentials file; pass a service-account "
                                       "key (JSON) or run `earthengine authenticate`") from None
            if kind == "service_account":
                cred = ee.ServiceAccountCredentials(None, key_file=str(cred))
            elif kind == "authorized_user":
                from google.oauth2.credentials import Credentials

                cred = Credentials.from_authorized_user_info(info, scopes=ee.oauth.SCOPES)
            else:
                raise EarthEngineError(f"{cred} holds credentials of type {kind!r}; pass a "
                                       "service-account key or an authorized_user file")
        if getattr(cred, "requires_scopes", False):
            cred = cred.with_scopes(ee.oauth.SCOPES)
        return cred

    def _ensure_initialized(self) -> None:
        """``ee.Initialize`` once per process and configuration (lazily, also on dask workers)."""
        global _ACTIVE_KEY, _ACTIVE_CREDENTIALS, _ACTIVE_PROJECT
        key = self._key()
        try:
            import ee
        except ImportError:
            raise ConfigError("the Earth Engine source needs earthengine-api; install it with "
                              "`pip install 'satsr[ee]'`") from None
        if key == _ACTIVE_KEY and ee.data.is_initialized():
            return
        with _INIT_LOCK:
            if key == _ACTIVE_KEY and ee.data.is_initialized():
                return
            cred = self._resolve_credentials()
            project = self.project or getattr(cred, "quota_project_id", None)
            if not project:
                raise EarthEngineError(
                    "no Google Cloud project for Earth Engine: pass --project PROJECT (or set "
                    "EE_PROJECT) with a project registered for Earth Engine")

            def initialise() -> None:
                # satsr retries itself: without this, googleapiclient retries the discovery
                # request 5 times with its own backoff (~20 s per failed initialisation)
                ee.data.setMaxRetries(0)
                try:
                    ee.Initialize(cred, url=self.url, project=project)
                except ee.EEException as exc:
                    if "no project found" in str(exc):
                        raise EarthEngineError(
                            f"Earth Engine does not accept project {project!r}: pass --project "
                            "with a project registered for Earth Engine") from None
                    raise
                ee.data.setMaxRetries(0)        # satsr retries itself (jittered, outside its slots)
                ee.data.setDeadline(self.timeout_s * 1000.0)

            self._call("initialisation", initialise, limit=False)
            _remember_secrets(cred)
            _ACTIVE_KEY, _ACTIVE_CREDENTIALS, _ACTIVE_PROJECT = key, cred, project
            log.info("Earth Engine initialised (project %s%s)", project,
                     f", endpoint {self.url}" if self.url else "")

    # -- request machinery -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        dist = _distributed_semaphore(self.max_concurrent)
        if dist is not None:
            with dist:
                yield
        else:
            with _local_semaphore(self.max_concurrent):
                yield

    def _call(self, what: str, fn: Callable[[], T], *, limit: bool = True) -> T:
        """Run ``fn`` in a concurrency slot; retry transient failures; raise _TooLarge to split."""
        attempt = 0
        while True:
            try:
                if limit:
                    with self._slot():
                        return fn()
                return fn()
            except SatsrError:
                raise
            except Exception as exc:
                kind = _classify(exc)
                message = scrub(str(exc) or type(exc).__name__)
                if kind == "split":
                    raise _TooLarge(message) from None
                delay = self._retry_delay(kind, attempt)
                if delay is not None:
                    attempt += 1
                    log.info("Earth Engine %s failed (%s); retry %d in %.2f s", what,
                             message[:200], attempt, delay)
                    time.sleep(delay)
                    continue
                if len(message) > 300:  # e.g. a cut JSON body quoted in full
                    message = message[:300] + "…"
                status = _http_status(exc)
                hint = ""
                if kind == "unreachable":
                    raise EarthEngineError(
                        f"cannot reach the Earth Engine endpoint {self.url or 'of Google'} "
                        f"({_reason(exc)}, {what}); check --ee-url / ${API_URL_ENV} and the "
                        "network") from None
                if type(exc).__name__ == "RefreshError" or status == 401:
                    hint = "; the credentials were refused: run `earthengine authenticate` again"
                elif status == 403:
                    hint = ("; check that the project is registered for Earth Engine and that "
                            "you may use it (--project)")
                elif kind == "transient":
                    hint = f" after {self.retries} retries; try again later or lower --max-concurrent"
                raise EarthEngineError(f"Earth Engine {what} failed: {message}{hint}") from None

    def _retry_delay(self, kind: str, attempt: int) -> float | None:
        """Seconds to wait before retry ``attempt + 1`` of a failure of ``kind``; None: give up.

        Transient failures (429, 5xx, timeouts, dropped connections, cut bodies) back off
        exponentially with jitter up to ``retries`` times, the same for every call; an
        unreachable endpoint gets at most two short retries (:data:`UNREACHABLE_DELAYS`)."""
        if kind == "transient" and attempt < self.retries:
            cap = min(self.max_backoff_s, self.backoff_s * 2 ** attempt)
            return cap / 2 + random.uniform(0, cap / 2)
        if kind == "unreachable" and attempt < min(self.retries, len(UNREACHABLE_DELAYS)):
            return UNREACHABLE_DELAYS[attempt]
        return None

    # -- search ------------------------------------------------------------------------------------
    def _list_images(self, parent: str, start: date, end: date, region: str,
                     flt: str | None) -> list[dict[str, Any]]:
        import ee

        params: dict[str, Any] = {"parent": parent, "startTime": _iso(start),
                                  "endTime": _iso(end + timedelta(days=1)), "region": region,
                                  "pageSize": self.page_size}
        if flt:
            params["filter"] = flt
        images: list[dict[str, Any]] = []
        while True:
            page = self._call(f"listImages of {parent}",
                              lambda: _json_object(ee.data.listImages(dict(params))))
            images.extend(page.get("images") or [])
            token = page.get("nextPageToken")
            if not token:
                return images
            params["pageToken"] = token

    @staticmethod
    def _band_dtypes(image: dict[str, Any]) -> dict[str, str]:
        return {b["id"]: _ee_dtype(b.get("dataType")) for b in image.get("bands", [])}

    def _acquisition(self, image: dict[str, Any], collection: str) -> Acquisition:
        bands = image.get("bands") or []
        if not bands:
            raise EarthEngineError(f"Earth Engine image {image.get('id')} lists no bands")
        ref = next((b for b in bands if b["id"] == REFERENCE_BAND[collection]), None)
        if ref is None:
            ref = min(bands, key=lambda b: abs(b["grid"].get("affineTransform", {}).get("scaleX", 1e9)))
        grid = ref["grid"]
        t = grid.get("affineTransform", {})
        transform = (float(t.get("scaleX", 0.0)), float(t.get("shearX", 0.0)),
                     float(t.get("translateX", 0.0)), float(t.get("shearY", 0.0)),
                     float(t.get("scaleY", 0.0)), float(t.get("translateY", 0.0)))
        props = dict(image.get("properties") or {})
        asset_id = image.get("id") or image["name"].split("/assets/", 1)[1]
        craft = str(props.get("SPACECRAFT_ID") or props.get("SPACECRAFT_NAME") or "").upper()
        sensor = _SENSORS.get(craft)
        if sensor is None:  # fall back on the collection / product id
            product = str(props.get("PRODUCT_ID", ""))[:3].upper()
            sensor = ("landsat8" if "/LC08/" in asset_id else "landsat9" if "/LC09/" in asset_id
                      else {"S2B": "sentinel2b", "S2C": "sentinel2c"}.get(product, "sentinel2a"))
        extra: dict[str, Any] = {"band_dtypes": self._band_dtypes(image),
                                 "bands": [b["id"] for b in bands],
                                 "index": asset_id.rsplit("/", 1)[-1]}
        if asset_id.startswith("COPERNICUS/S2_SR_HARMONIZED/"):
            extra["harmonized"] = True      # EE removed the baseline-04.00 offset (DN/10000)
        if "PROCESSING_BASELINE" in props:
            extra["processing_baseline"] = str(props["PROCESSING_BASELINE"])
        return Acquisition(
            id=asset_id, collection=collection, sensor=sensor, time=_parse_time(image["startTime"]),
            cloud_cover=float(props.get(CLOUD_PROPERTY[collection], 0.0)), crs=grid["crsCode"],
            transform=transform, width=int(grid["dimensions"]["width"]),
            height=int(grid["dimensions"]["height"]), properties={**props, **extra},
            footprint=image.get("geometry"))

    def search(self, geometry: Any, start: date, end: date, collection: str, *,
               max_cloud: float = 100.0) -> list[Acquisition]:
        """Acquisitions of ``collection`` over ``geometry`` (WGS84) with start <= date <= end
        (UTC, inclusive) and scene cloud cover <= ``max_cloud`` %, sorted by time. Sentinel-2
        acquisitions carry ``properties["cloud_score_id"]`` when Cloud Score+ has the image."""
        import shapely
        import shapely.geometry

        if collection not in COLLECTIONS:
            raise ConfigError(f"unknown collection {collection!r}; choose one of "
                              f"{', '.join(COLLECTIONS)}")
        if end < start:
            raise ConfigError(f"the end date {end} is before the start date {start}; swap them")
        self._ensure_initialized()
        if shapely.get_num_coordinates(geometry) > MAX_REGION_VERTICES:
            geometry = geometry.envelope          # a superset: the pipeline clips to the AOI
        region = json.dumps(shapely.geometry.mapping(geometry))
        prop = CLOUD_PROPERTY[collection]
        flt = f"properties.{prop} <= {float(max_cloud)}" if max_cloud < 100 else None
        acqs = [self._acquisition(img, collection)
                for parent in COLLECTIONS[collection]
                for img in self._list_images(parent, start, end, region, flt)]
        acqs = [a for a in acqs if a.cloud_cover <= max_cloud]
        if collection == "sentinel2" and acqs:
            scores = {img["id"].rsplit("/", 1)[-1]: img for img in
                      self._list_images(CLOUD_SCORE_COLLECTION, start, end, region, None)}
            matched = []
            for acq in acqs:
                score = scores.get(acq.properties["index"])
                if score is not None:
                    acq = acq.with_properties(
                        cloud_score_id=score["id"],
                        bands=acq.properties["bands"] + [b for b in CLOUD_SCORE_BANDS
                                                         if b in self._band_dtypes(score)],
                        band_dtypes={**acq.properties["band_dtypes"], **self._band_dtypes(score)})
                matched.append(acq)
            acqs = matched
        acqs.sort(key=lambda a: (a.time, a.id))
        log.info("Earth Engine: %d %s acquisitions from %s to %s", len(acqs), collection, start, end)
        return acqs

    # -- read --------------------------------------------------------------------------------------
    def read(self, acq: Acquisition, bands: Sequence[str], grid: Grid) -> np.ndarray:
        """Raw band values of ``acq`` on ``grid`` (nearest), shape (band, height, width), in the
        bands' common native dtype; ``cs``/``cs_cdf`` come from the matched Cloud Score+ image."""
        bands = list(bands)
        if not bands:
            raise ConfigError("read() needs at least one band")
        self._ensure_initialized()
        score_bands = [b for b in bands if b in CLOUD_SCORE_BANDS]
        image_bands = [b for b in bands if b not in CLOUD_SCORE_BANDS]
        groups: list[tuple[str, list[str]]] = []
        if image_bands:
            groups.append((acq.id, image_bands))
        if score_bands:
            score_id = acq.properties.get("cloud_score_id")
            if not score_id:
                raise EarthEngineError(f"{acq.id} has no matched Cloud Score+ image, so "
                                       f"{'/'.join(score_bands)} cannot be read; use SCL masks or "
                                       "pick another acquisition")
            groups.append((score_id, score_bands))
        dtypes = acq.properties.get("band_dtypes") or {}
        parts = {}
        for asset_id, group in groups:
            arr = self._read_asset(asset_id, group, grid, dtypes)
            parts.update({b: arr[i] for i, b in enumerate(group)})
        dtype = np.result_type(*[parts[b].dtype for b in bands])
        out = np.empty((len(bands), grid.height, grid.width), dtype=dtype)
        for i, b in enumerate(bands):
            out[i] = parts[b]
        return out

    def request_bytes(self, bands: Sequence[str], width: int, height: int,
                      dtypes: dict[str, str]) -> int:
        """EE's size of a getPixels request (unknown band types count as 8 bytes)."""
        per_pixel = sum(np.dtype(dtypes.get(b, "float64")).itemsize + 1 for b in bands)
        return int(width) * int(height) * per_pixel

    def _tiles(self, grid: Grid, bands: Sequence[str], dtypes: dict[str, str]) -> list[tuple[int, int, int, int]]:
        """(row, col, height, width) windows covering ``grid``, each within the request limits."""
        per_pixel = self.request_bytes(bands, 1, 1, dtypes)
        max_px = max(1, self.max_request_bytes // per_pixel)
        if grid.width * grid.height <= max_px and max(grid.width, grid.height) <= EE_MAX_GRID_DIMENSION:
            return [(0, 0, grid.height, grid.width)]
        side = max(1, min(int(max_px ** 0.5), EE_MAX_GRID_DIMENSION))
        tile_w = min(grid.width, side)
        tile_h = max(1, min(grid.height, max_px // tile_w, EE_MAX_GRID_DIMENSION))
        return [(r, c, min(tile_h, grid.height - r), min(tile_w, grid.width - c))
                for r in range(0, grid.height, tile_h) for c in range(0, grid.width, tile_w)]

    def _read_asset(self, asset_id: str, bands: list[str], grid: Grid,
                    dtypes: dict[str, str]) -> np.ndarray:
        tiles = self._tiles(grid, bands, dtypes)
        if len(tiles) == 1:
            return self._fetch_tile(asset_id, bands, grid)
        results: dict[tuple[int, int, int, int], np.ndarray] = {}

        def fetch(win: tuple[int, int, int, int]) -> None:
            r, c, h, w = win
            results[win] = self._fetch_tile(asset_id, bands, grid.window(r, c, h, w))

        with ThreadPoolExecutor(max_workers=min(self.max_concurrent, len(tiles))) as pool:
            list(pool.map(fetch, tiles))
        dtype = np.result_type(*[a.dtype for a in results.values()])
        out = np.empty((len(bands), grid.height, grid.width), dtype=dtype)
        for (r, c, h, w), arr in results.items():
            out[:, r:r + h, c:c + w] = arr
        return out

    def _fetch_tile(self, asset_id: str, bands: list[str], grid: Grid) -> np.ndarray:
        """One getPixels request; split in four (recursively) when EE finds it too large."""
        try:
            return self._call(f"getPixels of {asset_id}", lambda: self._get_pixels(asset_id, bands, grid))
        except _TooLarge as exc:
            if grid.width <= 1 and grid.height <= 1:
                raise EarthEngineError(f"Earth Engine refused a 1-pixel request of {asset_id}: "
                                       f"{exc}; request fewer bands") from None
            log.info("Earth Engine refused %dx%d px of %s (%s); splitting", grid.width,
                     grid.height, asset_id, str(exc)[:120])
            h2, w2 = (grid.height + 1) // 2, (grid.width + 1) // 2
            wins = [(r, c, h, w)
                    for r, h in ((0, h2), (h2, grid.height - h2)) if h > 0
                    for c, w in ((0, w2), (w2, grid.width - w2)) if w > 0]
            parts = [(win, self._fetch_tile(asset_id, bands, grid.window(*win))) for win in wins]
            dtype = np.result_type(*[a.dtype for _, a in parts])
            out = np.empty((len(bands), grid.height, grid.width), dtype=dtype)
            for (r, c, h, w), arr in parts:
                out[:, r:r + h, c:c + w] = arr
            return out

    def _get_pixels(self, asset_id: str, bands: list[str], grid: Grid) -> np.ndarray:
        import ee

        a, b, c, d, e, f = grid.transform
        request = {"assetId": asset_id, "fileFormat": self.file_format, "bandIds": list(bands),
                   "grid": {"crsCode": grid.crs,
                            "affineTransform": {"scaleX": a, "shearX": b, "translateX": c,
                                                "shearY": d, "scaleY": e, "translateY": f},
                            "dimensions": {"width": grid.width, "height": grid.height}}}
        raw = ee.data.getPixels(request)
        return self._decode(raw, bands, grid.height, grid.width)

    def _decode(self, raw: Any, bands: list[str], height: int, width: int) -> np.ndarray:
        if not isinstance(raw, bytes | bytearray):
            raise _CorruptResponse(f"unexpected getPixels response type {type(raw).__name__}")
        try:
            if self.file_format == "NPY":
                arr = np.load(io.BytesIO(raw), allow_pickle=False)
                if arr.dtype.names is not None:
                    missing = [b for b in bands if b not in arr.dtype.names]
                    if missing:
                        raise _CorruptResponse(f"getPixels response lacks bands {missing}")
                    dtype = np.result_type(*[arr.dtype[b] for b in bands])
                    out = np.stack([arr[b].astype(dtype, copy=False) for b in bands])
                else:
                    out = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
            else:
                from rasterio.io import MemoryFile

                with MemoryFile(bytes(raw)) as mem, mem.open() as ds:
                    out = ds.read()
        except _CorruptResponse:
            raise
        except Exception as exc:
            raise _CorruptResponse(f"undecodable getPixels response ({type(exc).__name__})") from None
        if out.shape != (len(bands), height, width):
            raise _CorruptResponse(f"getPixels returned shape {out.shape}, expected "
                                   f"{(len(bands), height, width)}")
        return out


__all__ = [
    "API_URL_ENV",
    "CLOUD_SCORE_COLLECTION",
    "COLLECTIONS",
    "CREDENTIALS_ENV",
    "SEMAPHORE_NAME",
    "EarthEngineError",
    "EarthEngineSource",
    "scrub",
]
