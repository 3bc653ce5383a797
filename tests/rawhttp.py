"""A raw-socket HTTP server for the tests: each connection gets a handler that writes whatever bytes it likes.

``FakeRoboflowServer`` speaks correct HTTP; the bounds of the client are
tested against replies no well-behaved server sends (gzip bombs, endless
chunked bodies, bodies that trickle, redirects), written byte by byte here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[socket.socket, bytes], None]


def read_request(conn: socket.socket) -> bytes:
    """The request's head and its body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def raw_server(handler: Handler) -> Iterator[dict]:
    """Serve on 127.0.0.1; yields ``{"url": ..., "requests": [raw request bytes, ...]}``."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    state: dict = {"url": f"http://127.0.0.1:{listener.getsockname()[1]}", "requests": []}
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                request = read_request(conn)
                state["requests"].append(request)
                handler(conn, request)
            except OSError:
                pass  # the client hung up: what the bounds are for

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join()
        listener.close()


def reply(status: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode() + body


def trickle(conn: socket.socket, data: bytes, every: float, stop_after: float = 30.0) -> None:
    """Send ``data`` one byte every ``every`` seconds (until the client hangs up)."""
    end = time.monotonic() + stop_after
    for b in data:
        if time.monotonic() > end:
            return
        conn.sendall(bytes([b]))
        time.sleep(every)
