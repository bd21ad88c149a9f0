"""The REST client turns every way a connection can fail into an `ApiError` with status 0 and a sentence, never a
raw socket traceback (the CLI prints these)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from client.api import ApiError, GatewayClient
from tests.loopback import JsonHandler, serve_http


@pytest.fixture
def resetting_server() -> Iterator[str]:
    """Accepts each connection, reads the request and closes with a TCP reset (SO_LINGER 0)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_a_reset_connection_is_an_api_error(resetting_server: str) -> None:
    with pytest.raises(ApiError) as failure:
        GatewayClient(resetting_server, "token", timeout=5).unlocked()
    assert failure.value.status == 0
    assert "connection" in failure.value.message and "retry" in failure.value.message


def test_nothing_listening_is_an_api_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ApiError) as failure:
        GatewayClient(f"http://127.0.0.1:{port}", None, timeout=5).health()
    assert failure.value.status == 0
    assert "cannot reach the gateway" in failure.value.message


@pytest.fixture
def error_server() -> Iterator[str]:
    """Answers every request with the gateway's error shape: 400, FAILED_PRECONDITION with an ErrorInfo reason."""

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            self.send_json(
                400,
                {
                    "code": 9,
                    "message": "the captions of @x are still being embedded; retry shortly",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "EMBEDDING_PENDING"},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"},
                    ],
                },
            )

    with serve_http(Handler) as url:
        yield url


def test_an_api_error_carries_the_machine_readable_reason_of_the_answer(error_server: str) -> None:
    with pytest.raises(ApiError) as raised:
        GatewayClient(error_server, "token", timeout=5).similar("x")
    assert raised.value.status == 400
    assert raised.value.reason == "EMBEDDING_PENDING"
    assert "still being embedded" in raised.value.message
