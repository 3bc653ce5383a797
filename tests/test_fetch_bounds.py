"""The client's bounds against hostile replies, written byte by byte by a raw-socket server.

Bytes (a gzip bomb, an endless chunked body), seconds (a body or headers
that trickle), hosts (redirects) and secrets (passwords in the URL, bodies
echoing the key on an exception's chain).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import segmask as sm
from segmask.testing import FakeRoboflowServer, sample_image_path

from .rawhttp import raw_server, reply, trickle

KEY = "SENTINEL-KEY-b41d0e"
MODEL = "shapes/1"
IMAGE = b"\x89PNG not really an image, the raw servers do not look"
RESPONSE = json.dumps({"predictions": [], "image": {"width": 4, "height": 3}}).encode()


def client(url: str, **kw: object) -> sm.RoboflowClient:
    kw.setdefault("retries", 0)
    kw.setdefault("backoff", 0.01)
    return sm.RoboflowClient(api_key=KEY, api_url=url, **kw)  # type: ignore[arg-type]


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything on its context and cause chains."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [c for c in (e.__context__, e.__cause__) if c is not None]


def assert_secret_free(exc: BaseException, *secrets: str) -> None:
    texts = ["".join(traceback.format_exception(exc))]
    for e in chain(exc):
        texts += [str(e), repr(e), repr(e.args), repr(vars(e) if hasattr(e, "__dict__") else {})]
        texts += [str(getattr(e, name, "")) for name in ("doc", "request", "response")]
    for secret in secrets:
        for text in texts:
            assert secret not in text


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of ``inflated`` zero bytes: the same small member, repeated."""
    block = 1 << 24
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = c.compress(b"\0" * block) + c.flush()
    return member * (inflated // block)


# --- bytes -----------------------------------------------------------------------------------


CHILD = textwrap.dedent(
    """
    import resource, sys
    import segmask as sm
    client = sm.RoboflowClient(api_key="k", api_url=sys.argv[1], retries=0, max_response_bytes=int(sys.argv[2]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        client.infer(b"image", "shapes/1")
    except sm.BadResponseError as exc:
        print("error:", exc, file=sys.stderr)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)
    """
)


def peak_growth_mb(url: str, cap: int) -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(cap)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip()), done.stderr


@pytest.mark.bounds
def test_a_gzip_bomb_stops_at_the_cap_with_memory_near_it() -> None:
    bomb = gzip_bomb(1 << 30)  # about 1 MB that inflates to 1 GiB
    assert len(bomb) < 2 << 20

    def handler(conn: socket.socket, _: bytes) -> None:
        head = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(bomb))}
        conn.sendall(reply("200 OK", head, bomb))

    with raw_server(handler) as server:
        growth, err = peak_growth_mb(server["url"], 8 << 20)
    assert "longer than 8388608 bytes, over max_response_bytes=8388608" in err
    assert growth < 120, f"the client's peak grew by {growth:.0f} MB reading a body capped at 8 MB"


def test_an_endless_chunked_body_stops_at_the_cap() -> None:
    piece = b"x" * 65536

    def handler(conn: socket.socket, _: bytes) -> None:
        conn.sendall(reply("200 OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, b""))
        frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
        for _ in range(10_000):  # 640 MB, unless the client hangs up first
            conn.sendall(frame)

    with raw_server(handler) as server, pytest.raises(sm.BadResponseError, match="over max_response_bytes=1048576"):
        client(server["url"], max_response_bytes=1 << 20).infer(IMAGE, MODEL)


def test_an_announced_length_over_the_cap_is_refused_before_reading() -> None:
    def handler(conn: socket.socket, _: bytes) -> None:
        conn.sendall(reply("200 OK", {"Content-Type": "application/json", "Content-Length": str(10**10)}, b"{"))
        time.sleep(5)  # and never sends the rest

    with raw_server(handler) as server:
        start = time.monotonic()
        with pytest.raises(sm.BadResponseError, match="announces 10000000000 bytes"):
            client(server["url"], timeout=(2, 4)).infer(IMAGE, MODEL)
        assert time.monotonic() - start < 2


def test_a_gzip_reply_of_honest_size_is_read() -> None:
    body = zlib.compress(RESPONSE, wbits=31)

    def handler(conn: socket.socket, _: bytes) -> None:
        head = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(body))}
        conn.sendall(reply("200 OK", head, body))

    with raw_server(handler) as server:
        preds = client(server["url"]).infer(IMAGE, MODEL)
    assert preds.image_size == (3, 4) and len(preds) == 0


# --- seconds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_reply_that_trickles_ends_within_connect_plus_read(where: str) -> None:
    def handler(conn: socket.socket, _: bytes) -> None:
        whole = reply("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(RESPONSE))}, RESPONSE)
        if where == "body":
            head, body = whole[: -len(RESPONSE)], RESPONSE
            conn.sendall(head)
            trickle(conn, body, every=0.2)
        else:
            trickle(conn, whole, every=0.2)

    with raw_server(handler) as server:
        start = time.monotonic()
        with pytest.raises(sm.APIConnectionError, match=r"no whole reply within 1\.5 s") as info:
            client(server["url"], timeout=(0.5, 1.0)).infer(IMAGE, MODEL)
        took = time.monotonic() - start
    # each read came in well within the read timeout: only a deadline on the whole attempt ends it
    assert 1.4 < took < 2.5, took
    assert_secret_free(info.value, KEY)


def test_a_trickling_attempt_is_retried_and_a_good_one_then_wins() -> None:
    calls = []

    def handler(conn: socket.socket, _: bytes) -> None:
        calls.append(1)
        whole = reply("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(RESPONSE))}, RESPONSE)
        if len(calls) == 1:
            trickle(conn, whole, every=0.2)
        else:
            conn.sendall(whole)

    with raw_server(handler) as server:
        preds = client(server["url"], timeout=(0.3, 0.5), retries=1).infer(IMAGE, MODEL)
    assert len(calls) == 2 and preds.image_size == (3, 4)


def test_the_watchdog_never_touches_a_pooled_connection_in_use() -> None:
    # Many quick calls on two pooled keep-alive connections with deadlines just
    # long enough: a late watchdog that shut a reused connection down would fail one.
    with FakeRoboflowServer(api_keys={KEY}) as server:
        c = client(server.url, timeout=(0.05, 0.25), max_connections=2)
        results = c.infer_many([sample_image_path()] * 60, MODEL, workers=2, progress=False)
    assert all(isinstance(r, sm.Predictions) for r in results), [r for r in results if isinstance(r, Exception)][:1]


# --- hosts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "307 Temporary Redirect", "308 Permanent"])
def test_redirects_are_never_followed(status: str) -> None:
    def elsewhere(conn: socket.socket, _: bytes) -> None:
        conn.sendall(reply("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(RESPONSE))},
                           RESPONSE))  # fmt: skip

    with raw_server(elsewhere) as other:
        target = f"{other['url']}/steal?api_key={KEY}"

        def handler(conn: socket.socket, _: bytes) -> None:
            conn.sendall(reply(status, {"Location": target, "Content-Length": "0"}, b""))

        with raw_server(handler) as server, pytest.raises(sm.APIError) as info:
            client(server["url"], retries=3).infer(IMAGE, MODEL)
        time.sleep(0.1)
        assert other["requests"] == []  # nothing went to the other host
    code = int(status[:3])
    assert info.value.status == code and type(info.value) is sm.APIError
    assert f"answered {code}, a redirect to '{other['url']}/steal?api_key=***', which segmask does not follow" in str(
        info.value
    )
    assert len(server["requests"]) == 1  # and a redirect is not retried
    assert_secret_free(info.value, KEY)


# --- secrets ---------------------------------------------------------------------------------


def test_a_password_in_the_url_is_secret_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    password = "PASSWORD-93ab"

    def handler(conn: socket.socket, request: bytes) -> None:
        body = json.dumps({"message": f"crashed on {request[:200]!r}"}).encode()
        conn.sendall(reply("500 Internal Server Error", {"Content-Length": str(len(body))}, body))

    with raw_server(handler) as server:
        url = server["url"].replace("http://", f"http://user:{password}@")
        c = client(url, retries=1)
        assert password not in repr(c) and "http://***@127.0.0.1" in repr(c)
        with pytest.raises(sm.ServerError) as info:
            c.infer(IMAGE, MODEL)
        assert b"Authorization: Basic" in server["requests"][0]  # it was sent, as HTTP basic auth
    assert_secret_free(info.value, KEY, password)
    assert password not in caplog.text and KEY not in caplog.text
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(sm.APIConnectionError) as info:
        client(f"http://user:{password}@127.0.0.1:{port}").infer(IMAGE, MODEL)
    assert_secret_free(info.value, KEY, password)
    with pytest.raises(sm.InputError) as info2:
        client(f"http://user:{password}@host:notaport")
    assert_secret_free(info2.value, password)


@pytest.mark.parametrize("body", [b"<html>echo: api_key=%s</html>", b'{"predictions": "%s"}', b'[{"echo": "%s"}]'])
def test_no_exception_on_the_chain_keeps_a_body_that_echoes_the_key(body: bytes) -> None:
    data = body % KEY.encode()

    def handler(conn: socket.socket, _: bytes) -> None:
        conn.sendall(reply("200 OK", {"Content-Type": "text/html", "Content-Length": str(len(data))}, data))

    with raw_server(handler) as server, pytest.raises(sm.BadResponseError) as info:
        client(server["url"]).infer(IMAGE, MODEL)
    assert_secret_free(info.value, KEY)
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_the_key_can_travel_in_a_header_and_stay_out_of_urls() -> None:
    def handler(conn: socket.socket, _: bytes) -> None:
        conn.sendall(reply("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(RESPONSE))},
                           RESPONSE))  # fmt: skip

    with raw_server(handler) as server:
        client(server["url"], key_in="header").infer(IMAGE, MODEL)
    [request] = server["requests"]
    line = request.split(b"\r\n", 1)[0]
    assert KEY.encode() not in line and b"api_key" not in line
    assert f"Authorization: Bearer {KEY}".encode() in request


# --- arguments and the cache --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be a finite number of seconds > 0"),
        ({"timeout": (0, 5)}, "timeout[0] (connect) must be a finite number of seconds > 0"),
        ({"timeout": float("inf")}, "timeout must be"),
        ({"max_response_bytes": 0}, "max_response_bytes must be an integer >= 1"),
        ({"key_in": "cookie"}, "key_in must be 'query' or 'header'"),
        ({"api_url": "http://"}, "api_url must be http(s)://host"),
        ({"api_url": "http://host/?x=1"}, "api_url must be http(s)://host"),
    ],
)
def test_bad_client_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(sm.InputError) as info:
        sm.RoboflowClient(api_key=KEY, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("model", ["x/1\n", "x/1\r", "x/1 ", "\nx/1", "x/1/2", "ws/x/1"])
def test_model_ids_must_match_whole(model: str) -> None:
    with pytest.raises(sm.InputError, match="model must be 'project/version'"):
        client("http://127.0.0.1:9").infer(IMAGE, model)


@pytest.mark.parametrize("status", [500, 501, 505, 520, 599, 408])
def test_every_5xx_and_408_is_retried(status: int) -> None:
    with FakeRoboflowServer(api_keys={KEY}) as server:
        server.push(status)
        preds = client(server.url, retries=1).infer(sample_image_path(), MODEL)
    assert len(preds) == 5 and [r.status for r in server.requests] == [status, 200]


def test_the_cache_never_mixes_workspaces(tmp_path: Path) -> None:
    other = "OTHER-KEY-55aa"
    with FakeRoboflowServer(api_keys={KEY, other}) as server:
        a = sm.RoboflowClient(api_key=KEY, api_url=server.url, cache_dir=tmp_path)
        b = sm.RoboflowClient(api_key=other, api_url=server.url, cache_dir=tmp_path)
        a.infer(sample_image_path(), MODEL)
        b.infer(sample_image_path(), MODEL)  # the same project/version and image, another workspace
        a.infer(sample_image_path(), MODEL)
        b.infer(sample_image_path(), MODEL)
        assert server.count == 2
    entries = sorted(p for p in tmp_path.rglob("*.json"))
    assert len(entries) == 2
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes() and other.encode() not in p.read_bytes()
            assert KEY not in p.name and other not in p.name


def test_salt_made_by_many_threads_at_once_is_one(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    salts = []

    def make() -> None:
        barrier.wait()
        c = sm.RoboflowClient(api_key=KEY, cache_dir=tmp_path)
        salts.append(c._cache._fingerprint)  # type: ignore[union-attr]

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(salts)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [".segmask-salt"]


def test_a_cache_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(sm.InputError, match=r"cache_dir .* is not a usable folder"):
        sm.RoboflowClient(api_key=KEY, cache_dir=tmp_path / "file")
