"""One bounded HTTP POST: no redirects, a cap on the body, a deadline on the whole attempt.

``requests`` bounds each socket read, not a reply: a server that sends one
byte every half second never times out, and a small gzip body may inflate to
gigabytes. :class:`Transport` bounds each attempt on all three axes:

* **bytes**: the body is read in chunks after decompression (urllib3 >= 2.6
  inflates at most what is asked for), and reading stops past ``max_bytes``;
  a ``Content-Length`` above it is refused before any body is read;
* **seconds**: every attempt has a deadline of ``connect + read`` seconds.
  A watchdog shuts the attempt's socket down when it passes, which ends a
  read blocked in the headers or the body. The watch belongs to the
  connection while it serves the attempt: the pool takes the connection back
  only after the watch is finished, so a late watchdog can never reach a
  connection that another request is using;
* **hosts**: redirects are never followed (``allow_redirects=False``); the
  caller sees the 3xx itself.

Sessions: ``requests.Session`` is not documented as thread-safe (its cookie
jar is shared state), so each thread gets its own session; all of them send
through one ``HTTPAdapter``, whose urllib3 pools are thread-safe, so the
connections are still pooled across threads.

Nothing here knows the API key; errors carry texts the caller redacts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

__all__ = ["Reply", "Transport", "TransportError"]

_CHUNK = 1 << 16
_local = threading.local()


class TransportError(Exception):
    """An attempt that gave no usable reply. ``kind`` is "timeout", "connection" or "too_large".

    The text is built from ``requests``' message, which holds the full URL:
    the caller redacts it before it reaches a user.
    """

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole reply: status, headers and the (decompressed) body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes | bytearray
    truncated: bool = False  # only for error bodies, read up to a smaller cap


class _Watch:
    """The deadline of one attempt: when it passes, the attempt's socket is shut down."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._conn: HTTPConnection | None = None
        self.expired = False
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, conn: HTTPConnection) -> None:
        with self._lock:
            self._conn = conn
            conn._segmask_watch = self  # type: ignore[attr-defined]

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self._conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        """End the watch; from here on the watchdog does nothing. Idempotent."""
        with self._lock:
            self._done = True
            self._timer.cancel()
            if self._conn is not None and getattr(self._conn, "_segmask_watch", None) is self:
                self._conn._segmask_watch = None  # type: ignore[attr-defined]


class _WatchedConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        watch: _Watch | None = getattr(_local, "watch", None)
        if watch is not None:
            watch.attach(self)
        super().request(*args, **kwargs)


class _WatchedTLSConnection(HTTPSConnection):
    request = _WatchedConnection.request


class _PoolMixin:
    def _put_conn(self, conn: Any) -> None:
        # The watch ends before the connection can serve another request.
        watch: _Watch | None = getattr(conn, "_segmask_watch", None)
        if watch is not None:
            watch.finish()
            if watch.expired:
                conn.close()
        super()._put_conn(conn)  # type: ignore[misc]


class _Pool(_PoolMixin, HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _TLSPool(_PoolMixin, HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


_POOLS = {"http": _Pool, "https": _TLSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools are their own classes
            manager.pool_classes_by_scheme = _POOLS
        return manager


class Transport:
    """Pooled, bounded POSTs; one ``requests.Session`` per thread over one shared adapter."""

    def __init__(self, max_connections: int, user_agent: str) -> None:
        self._adapter = _Adapter(pool_connections=4, pool_maxsize=max_connections, max_retries=0)
        self._user_agent = user_agent
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", self._adapter)
            session.mount("https://", self._adapter)
            session.headers["User-Agent"] = self._user_agent
            self._local.session = session
        return session

    def close(self) -> None:
        self._adapter.close()

    def post(
        self,
        url: str,
        *,
        params: Mapping[str, str],
        data: bytes | None,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
        max_bytes: int,
        error_bytes: int = 1 << 16,
    ) -> Reply:
        """One attempt, done within ``sum(timeout)`` seconds.

        A 200 body over ``max_bytes`` raises ``TransportError("too_large")``;
        other bodies (error messages) are read up to ``error_bytes`` and cut there.
        """
        watch = _Watch(timeout[0] + timeout[1])
        _local.watch = watch
        failure: TransportError | None = None
        try:
            response = self._session().post(
                url, params=params, data=data, headers=headers, timeout=timeout, stream=True, allow_redirects=False
            )
            try:
                cap = max_bytes if response.status_code == 200 else error_bytes
                body, truncated = _read(response, cap, watch, strict=response.status_code == 200)
            finally:
                response.close()
        except TransportError as exc:
            failure = exc
        except (requests.Timeout, ReadTimeoutError):
            failure = TransportError("timeout", "")
        except (requests.RequestException, Urllib3Error) as exc:
            # A read cut by the watchdog surfaces as a broken connection.
            failure = TransportError("timeout", "") if watch.expired else _connection_error(exc)
        finally:
            _local.watch = None
            watch.finish()
        if failure is not None:
            raise failure  # outside the except blocks: no context holding requests' message
        if watch.expired:
            raise TransportError("timeout", "")
        return Reply(response.status_code, response.reason or "", dict(response.headers), body, truncated)


def _connection_error(exc: Exception) -> TransportError:
    return TransportError("connection", f"{type(exc).__name__}: {exc}")


def _read(response: requests.Response, cap: int, watch: _Watch, strict: bool) -> tuple[bytearray, bool]:
    """The body, decompressed, up to ``cap`` bytes: past it an error (``strict``) or a cut.

    One growing buffer, never a list joined at the end: the peak stays near the cap.
    """
    declared = response.headers.get("Content-Length", "")
    if strict and declared.isdigit() and response.headers.get("Content-Encoding") is None and int(declared) > cap:
        raise TransportError("too_large", f"the reply announces {int(declared)} bytes")
    body = bytearray()
    while True:
        chunk = response.raw.read(_CHUNK, decode_content=True)
        if not chunk:
            return body, False
        if watch.expired:
            raise TransportError("timeout", "")
        if len(body) + len(chunk) > cap:
            if strict:
                raise TransportError("too_large", f"the reply is longer than {cap} bytes")
            body += chunk[: cap - len(body)]
            return body, True
        body += chunk
