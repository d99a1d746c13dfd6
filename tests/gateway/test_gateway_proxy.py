"""Proxying over real sockets: the upstream sees the engine's edits and Envoy's forwarding headers;
keep-alive, pipelining, chunked bodies both ways, HEAD, a dying upstream, WebSocket, TLS, the built-in app.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.gateway.conftest import DEMO_JWT, RawClient, Upstream, get
from tests.support.jwks_server import make_test_ca

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DEMO_PAYLOAD = json.loads(base64.urlsafe_b64decode(DEMO_JWT.split(".")[1] + "=="))


@pytest.mark.e2e
def test_allowed_request_reaches_upstream_with_edits(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    extra = (
        "X-Jwt-Payload: forged\r\nX-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: https\r\n"
        "Connection: keep-alive, Foo\r\nFoo: hop\r\nX-Padded:  a b \t \r\n"
    )
    response = client.request(get("/a/./b/../c?q=1", token=DEMO_JWT, extra=extra))
    assert response.status == 200
    assert response.header("server") == "istio-envoy"  # server_header_transformation OVERWRITE
    assert response.header("x-envoy-upstream-service-time") is not None
    [seen] = upstream.seen
    assert seen.target == "/a/c?q=1"  # the normalized path is the request-target sent upstream
    assert seen.header("Host") == ["ex.com"]  # Host preserved
    assert seen.header("Authorization") == []  # forwardOriginalToken false: the token is removed
    [payload] = seen.header("X-Jwt-Payload")  # outputPayloadToHeader replaced the spoofed value
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == DEMO_PAYLOAD
    assert seen.header("X-Forwarded-For") == ["10.1.2.3,127.0.0.1"]  # Envoy appendXff: `,` no space
    assert seen.header("X-Forwarded-Proto") == ["http"]  # a gateway overwrites it
    [request_id] = seen.header("X-Request-Id")
    assert UUID.match(request_id)
    assert seen.header("Foo") == [] and seen.header("Connection") == []  # hop-by-hop (RFC 9110 §7.6.1)
    assert seen.header("X-Padded") == ["a b"]  # surrounding whitespace is not part of the value (Envoy)
    client.close()


@pytest.mark.e2e
def test_keep_alive_and_pipelining_answer_in_order(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    for i in range(3):
        assert json.loads(client.request(get(f"/k{i}", token=DEMO_JWT)).body)["path"] == f"/k{i}"
    pipelined = get("/p1", token=DEMO_JWT) + get("/bad", token="abc.def") + get("/p3?slow", token=DEMO_JWT)
    client.send(pipelined)
    first, second, third = (client.read_response() for _ in range(3))
    assert json.loads(first.body)["path"] == "/p1"
    assert second.status == 401
    assert json.loads(third.body)["path"] == "/p3?slow"
    client.close()


@pytest.mark.e2e
def test_chunked_upload_and_chunked_response(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (b"a" * 100, b"b" * 5000, b"c")) + b"0\r\n\r\n"
    head = get("/upload", token=DEMO_JWT, method="POST", extra="Transfer-Encoding: chunked\r\n")
    response = client.request(head + chunks)
    assert json.loads(response.body)["received"] == 5101
    assert upstream.seen[-1].header("Transfer-Encoding") == ["chunked"]
    response = client.request(get("/chunked", token=DEMO_JWT))
    assert response.header("transfer-encoding") == "chunked"
    assert response.body == b"y" * 3000
    client.close()


@pytest.mark.e2e
def test_head_and_expect_continue(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    head = client.request(get("/h", token=DEMO_JWT, method="HEAD"), head=True)
    assert head.status == 200 and head.body == b"" and head.header("content-length") is not None
    client.send(
        get("/e", token=DEMO_JWT, method="POST", extra="Content-Length: 3\r\nExpect: 100-continue\r\n")
    )
    assert client.read_response().status == 100  # Envoy answers 100-continue itself
    client.send(b"abc")
    assert json.loads(client.read_response().body)["received"] == 3
    assert upstream.seen[-1].header("Expect") == []
    assert client.request(get("/after", token=DEMO_JWT)).status == 200  # the connection is still usable
    client.close()


@pytest.mark.e2e
def test_upstream_dying_mid_response_closes_downstream(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    client.send(get("/die", token=DEMO_JWT))
    with pytest.raises(ConnectionError):
        while True:  # the head promises 1000 bytes; only 10 come before the close
            client.read_response()
    assert " UC " in gw.log.getvalue()


@pytest.mark.e2e
def test_websocket_is_tunnelled_after_the_decision(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)

    async def scenario() -> tuple[str, int]:
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {DEMO_JWT}"}
            async with session.ws_connect(f"http://127.0.0.1:{gw.port}/ws", headers=headers) as ws:
                await ws.send_str("hello")
                echoed = (await ws.receive()).data
            with pytest.raises(aiohttp.WSServerHandshakeError) as denied:
                await session.ws_connect(
                    f"http://127.0.0.1:{gw.port}/ws", headers={"Authorization": "Bearer a.b"}
                )
            return echoed, denied.value.status

    assert asyncio.run(scenario()) == ("echo: hello", 401)


@pytest.mark.e2e
def test_tls_listener(start_gateway: Any, upstream: Upstream, tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path)
    gw = start_gateway(upstream.url, tls_cert=ca.cert_file, tls_key=ca.key_file)
    client = RawClient(gw.port, tls=ssl.create_default_context(cafile=ca.ca_file))
    assert client.request(get("/tls", token=DEMO_JWT)).status == 200
    assert upstream.seen[-1].header("X-Forwarded-Proto") == ["https"]
    denied = client.request(get("/p", token="abc.def"))
    assert denied.header("www-authenticate") == 'Bearer realm="https://ex.com/p", error="invalid_token"'
    client.close()


@pytest.mark.e2e
def test_builtin_app_answers_hello_world_without_the_query(start_gateway: Any) -> None:
    gw = start_gateway(None)
    client = RawClient(gw.port)
    response = client.request(get("/some/./path?x=1", token=DEMO_JWT))
    assert (response.status, response.body) == (200, b"Hello World! /some/path")
    assert response.header("content-type") == "text/plain"
    client.close()


@pytest.mark.e2e
def test_access_log_line_per_request(start_gateway: Any, upstream: Upstream) -> None:
    gw = start_gateway(upstream.url)
    client = RawClient(gw.port)
    client.request(get("/logged", token=DEMO_JWT, extra="User-Agent: probe\r\n"))
    client.request(get("/x", token="abc.def"))
    client.close()
    lines = gw.log.getvalue().splitlines()
    fields = r'"GET /logged HTTP/1.1" 200 - 0 \d+ \d+ \d+ "127.0.0.1" "probe" "[0-9a-f-]{36}" "ex.com" '
    assert re.search(fields + rf'"127.0.0.1:{upstream.port}"', lines[0])
    assert lines[1].endswith(
        'reason="Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"'
    )
