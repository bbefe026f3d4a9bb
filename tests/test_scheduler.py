"""satsr._scheduler: one way for fetch and predict to reach a dask scheduler, one-line refusals."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from satsr._scheduler import close, connect, full_address, local_client, probe
from satsr.errors import SatsrError


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections but never speaks (not a dask scheduler)."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        yield srv.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # released on close: nothing listens there now


def _assert_one_line(exc: SatsrError, address: str) -> None:
    text = str(exc)
    assert "\n" not in text
    assert text.startswith(f"cannot reach the dask scheduler at {address} (")
    assert text.endswith("check the address or drop --scheduler to run locally")


@pytest.mark.parametrize("form", ["tcp://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_probe_refuses_a_closed_port_in_one_line(form: str) -> None:
    address = form.format(port=_closed_port())
    with pytest.raises(SatsrError) as err:
        probe(address)
    _assert_one_line(err.value, address)


def test_probe_refuses_a_port_that_is_not_a_number() -> None:
    with pytest.raises(SatsrError, match="port is not a number") as err:
        probe("tcp://127.0.0.1:99999")
    _assert_one_line(err.value, "tcp://127.0.0.1:99999")


@pytest.mark.parametrize(("given", "full"), [
    ("10.0.0.5", "tcp://10.0.0.5:8786"), ("tls://sched.example", "tls://sched.example:8786"),
    ("tcp://10.0.0.5:9000", "tcp://10.0.0.5:9000"), ("inproc://a/1/2", "inproc://a/1/2")])
def test_addresses_get_the_default_port(given: str, full: str) -> None:
    assert full_address(given) == full  # what probe, the handshake and Client all use


def test_a_malformed_address_is_one_line() -> None:
    with pytest.raises(SatsrError, match="not a valid address") as err:
        connect("tcp://[::1")
    _assert_one_line(err.value, "tcp://[::1")


def test_probe_accepts_a_listening_port(silent_port: int) -> None:
    probe(f"tcp://127.0.0.1:{silent_port}")  # nothing raised


def test_probe_leaves_other_schemes_to_distributed() -> None:
    probe("inproc://nowhere/1/2")  # not TCP: no socket opened, nothing raised


def test_connect_refuses_a_port_that_never_answers(silent_port: int) -> None:
    """The TCP probe passes, the dask handshake times out: the same one line, not a traceback."""
    address = f"tcp://127.0.0.1:{silent_port}"
    with pytest.raises(SatsrError) as err:
        connect(address, timeout=1.0)
    _assert_one_line(err.value, address)


def test_connect_reaches_a_running_scheduler_and_close_leaves_it_running() -> None:
    own = local_client(threads=1)
    try:
        client = connect(own.scheduler.address)
        try:
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
            assert client.cluster is None  # not ours: close() must not stop the scheduler
        finally:
            close(client)
        assert own.submit(sum, [4, 5]).result(timeout=30) == 9
    finally:
        close(own)
    assert own.cluster.status.name == "closed"
