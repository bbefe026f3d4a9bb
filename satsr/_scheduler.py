"""Connecting to dask.distributed: a user's ``--scheduler`` address or an in-process cluster.

``satsr fetch`` and ``satsr predict`` both take ``--scheduler ADDRESS``; they connect through
:func:`connect` so a wrong address is refused the same way — one line naming the address and
the fix — within seconds instead of after distributed's own long retry loop.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from satsr.errors import SatsrError

#: dask.distributed's default scheduler port, assumed when an address names none
DEFAULT_PORT = 8786


def _unreachable(address: str, why: str) -> SatsrError:
    return SatsrError(f"cannot reach the dask scheduler at {address} ({why}); "
                      "check the address or drop --scheduler to run locally")


def full_address(address: str) -> str:
    """``address`` with its scheme and, for ``tcp://``/``tls://``, the port made explicit
    (``host`` → ``tcp://host:8786``), as distributed needs it; a malformed address is a
    one-line :class:`SatsrError`. Other schemes are returned as given."""
    text = address if "://" in address else f"tcp://{address}"
    try:
        parsed = urlparse(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise _unreachable(address, "not a valid address") from None
    try:
        port = parsed.port
    except ValueError:  # a non-numeric or out-of-range port
        raise _unreachable(address, "the port is not a number in 0..65535") from None
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname or port is not None:
        return text
    return f"{text.rstrip('/')}:{DEFAULT_PORT}"


def probe(address: str, timeout: float = 2.0) -> None:
    """Raise :class:`SatsrError` (one line) when a ``tcp://``/``tls://`` scheduler ``address``
    (scheme optional, port 8786 by default) does not accept a TCP connection within
    ``timeout`` seconds. Other schemes (``inproc://``, ``ucx://``) are left to distributed."""
    parsed = urlparse(full_address(address))
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname:
        return
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            pass
    except OSError as exc:
        raise _unreachable(address, str(exc.strerror or exc)) from None


async def _handshake(address: str, timeout: float) -> None:
    from distributed.comm import connect as open_comm
    from distributed.security import Security

    # the connection arguments Client() would use (TLS certificates from the dask config)
    args = Security().get_connection_args("client")
    comm = await asyncio.wait_for(open_comm(address, timeout=timeout, **args), timeout)
    await comm.close()


def handshake(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`SatsrError` (one line) unless a dask peer at ``address`` completes the
    protocol handshake within ``timeout`` seconds. distributed waits for the peer's reply
    without a deadline, so a port that accepts connections but never answers (not a
    scheduler) would otherwise hang ``Client()`` forever. Runs on its own thread, so it
    works from inside a running event loop (a notebook) too."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="satsr-handshake") as pool:
        try:
            pool.submit(asyncio.run, _handshake(address, timeout)).result()
        except (OSError, ValueError, TypeError) as exc:  # TypeError: tls:// without TLS config
            raise _unreachable(address, "no dask handshake: " + type(exc).__name__) from None


def connect(address: str, *, timeout: float = 5.0) -> Any:
    """A ``distributed.Client`` for the scheduler at ``address`` (not set as dask's default),
    after :func:`probe` and :func:`handshake`; a connection that fails or exceeds ``timeout``
    seconds is the same one-line :class:`SatsrError`."""
    from distributed import Client

    address = full_address(address)
    probe(address)
    handshake(address, timeout)
    try:
        return Client(address, timeout=f"{timeout:g}s", set_as_default=False)
    except OSError as exc:  # TimeoutError included
        raise _unreachable(address, type(exc).__name__) from None


def local_client(threads: int) -> Any:
    """A ``distributed.Client`` on a new in-process cluster: one worker with ``threads``
    threads (no extra processes, dashboard on a free port). Close it with :func:`close`."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=threads, processes=False,
                           dashboard_address=":0")
    return Client(cluster, set_as_default=False)


def close(client: Any) -> None:
    """Close ``client`` and the cluster it owns, if any (one made by :func:`local_client`)."""
    client.close()
    cluster = getattr(client, "cluster", None)
    if cluster is not None:
        cluster.close()


__all__ = ["DEFAULT_PORT", "close", "connect", "full_address", "handshake", "local_client",
           "probe"]
