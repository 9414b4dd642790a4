"""Connections that hold nothing: idle and header-trickling sockets are closed on their deadlines,
never hold up other clients, and many keep-alive clients are all served.

Issue 12: on cheroot's fixed pool of 16 threads, 16-20 sockets that sent nothing made the next
PutItem take 8 s, and 500 idle or trickling ones stopped every request for 60 s. These run an
endpoint with short deadlines (ServerSettings) so the deadlines can be watched happen; nothing
here asserts on how fast anything is, only on what is answered and what is closed.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from streamlab.emulator.endpoint import EmbeddedEndpoint
from streamlab.emulator.http_server import ServerSettings

HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def endpoint() -> Iterator[EmbeddedEndpoint]:
    settings = ServerSettings(header_timeout=HEADER_TIMEOUT, idle_timeout=IDLE_TIMEOUT)
    with EmbeddedEndpoint(port=0, server_settings=settings) as running:
        yield running


def dynamodb(url: str, pool: int = 10) -> object:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(max_pool_connections=pool, retries={"max_attempts": 1}, read_timeout=30),
    )


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True if the server closes ``sock`` (recv returns b"" or the connection resets) within ``within`` s."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_silent_and_trickling_sockets_hold_nothing_and_are_closed(endpoint: EmbeddedEndpoint) -> None:
    idle = [socket.create_connection((endpoint.host, endpoint.port)) for _ in range(300)]
    tricklers = [socket.create_connection((endpoint.host, endpoint.port)) for _ in range(50)]
    stop = threading.Event()

    def trickle() -> None:
        request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        for byte in request:
            if stop.wait(0.05):
                return
            for sock in tricklers:
                with contextlib.suppress(OSError):
                    sock.send(bytes([byte]))

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        # With every one of them open, a client is still answered, at once and repeatedly.
        ddb = dynamodb(endpoint.url)
        for _ in range(5):
            assert "TableNames" in ddb.list_tables()
        # Each is closed on its header deadline (from connecting, or from its first byte).
        assert all(closed_by_server(sock, HEADER_TIMEOUT + 5) for sock in idle[:20])
        assert all(closed_by_server(sock, HEADER_TIMEOUT + 5) for sock in tricklers[:20])
    finally:
        stop.set()
        for sock in idle + tricklers:
            sock.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(endpoint: EmbeddedEndpoint) -> None:
    with socket.create_connection((endpoint.host, endpoint.port)) as sock:
        sock.sendall(b"GET /_streamlab/health HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        answer = b""
        while b'"status"' not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        assert closed_by_server(sock, IDLE_TIMEOUT + 5)
        assert time.monotonic() - began >= IDLE_TIMEOUT - 0.5  # not before its idle deadline


def test_200_keep_alive_clients_are_all_served(endpoint: EmbeddedEndpoint) -> None:
    ddb = dynamodb(endpoint.url, pool=200)
    failures: list[BaseException] = []
    barrier = threading.Barrier(200)

    def client() -> None:
        try:
            barrier.wait(30)
            for _ in range(3):
                ddb.list_tables()
        except BaseException as error:  # collected: the assertion below names them
            failures.append(error)

    threads = [threading.Thread(target=client) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", b"400"),
    ],
)
def test_malformed_http_is_answered_and_closed(endpoint: EmbeddedEndpoint, request_bytes: bytes, status: bytes) -> None:
    with socket.create_connection((endpoint.host, endpoint.port)) as sock:
        sock.sendall(request_bytes)
        sock.settimeout(10)
        answer = sock.recv(65536)
        assert answer.split(b" ")[1] == status
        assert closed_by_server(sock, 5)


def test_pipelined_and_chunked_requests_are_answered_in_order(endpoint: EmbeddedEndpoint) -> None:
    body = b'{"Limit": 1}'
    chunked = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        b"X-Amz-Date: 20260101T000000Z\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/dynamodb/aws4_request, "
        b"SignedHeaders=host, Signature=0\r\n\r\n" + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    health = b"GET /_streamlab/health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection((endpoint.host, endpoint.port)) as sock:
        sock.sendall(health + chunked + b"HEAD /_streamlab/health HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        answer = b""
        while answer.count(b"HTTP/1.1 ") < 3:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"200", b"200"]
    assert b'"TableNames"' in answer
