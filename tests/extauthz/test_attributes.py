"""CheckRequest / forwarded headers → RequestAttributes, and the per-request workload."""

from __future__ import annotations

import pytest
from tests.extauthz.conftest import needs_grpc

from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.extauthz.attributes import (
    ExtAuthzRequest,
    WorkloadOverride,
    attributes_from_check,
    parse_labels,
    workload_override,
)
from meshgate.extauthz.http_request import HttpMode, RefusedRequest, read_http_request

PEER = "10.0.0.7"


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("", {}),
        ("istio=ingressgateway", {"istio": "ingressgateway"}),
        (" app = web , version=v1 ", {"app": "web", "version": "v1"}),
        ("app", None),  # no '=': malformed, reported as a problem rather than raised
        ("=v", None),
    ],
)
def test_labels_parse_or_report(text: str, labels: dict[str, str] | None) -> None:
    assert parse_labels(text) == labels


@pytest.mark.parametrize(
    ("namespace", "labels", "override", "problem"),
    [
        (None, None, None, None),
        ("foo", None, WorkloadOverride("foo", None), None),
        (None, "app=x", WorkloadOverride(None, {"app": "x"}), None),
        ("foo", "bad", None, "malformed workload labels 'bad' (expected k=v[,k=v...])"),
        ("  ", None, None, "empty workload namespace"),
    ],
)
def test_workload_override(
    namespace: str | None, labels: str | None, override: WorkloadOverride | None, problem: str | None
) -> None:
    assert workload_override(namespace, labels) == (override, problem)


# One row per way an HTTP authorization request describes the original request.
HTTP_ROWS = [
    pytest.param(
        "GET",
        "/a/b?x=1",
        [("Host", "h.example"), ("Authorization", "Bearer t")],
        "auto",
        RequestAttributes(
            "GET",
            "/a/b?x=1",
            "h.example",
            headers=build_headers([("host", "h.example"), ("authorization", "Bearer t")]),
            peer_ip=PEER,
            local_port=9192,
        ),
        id="envoy http mode: the request line is the original request",
    ),
    pytest.param(
        "GET",
        "/_auth",
        [
            ("Host", "h.example"),
            ("X-Original-URI", "/admin?q"),
            ("X-Original-Method", "POST"),
            ("X-Real-IP", "1.2.3.4"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Port", "8443"),
        ],
        "auto",
        RequestAttributes(
            "POST",
            "/admin?q",
            "h.example",
            "https",
            build_headers([("host", "h.example"), ("x-forwarded-proto", "https")]),
            peer_ip="1.2.3.4",
            local_port=8443,
        ),
        id="nginx auth_request: x-original-uri/-method, x-real-ip; control headers not seen by policies",
    ),
    pytest.param(
        "GET",
        "/",
        [
            ("Host", "authz:9192"),
            ("X-Forwarded-Uri", "/p"),
            ("X-Forwarded-Method", "DELETE"),
            ("X-Forwarded-Host", "app.example"),
        ],
        "auto",
        RequestAttributes(
            "DELETE",
            "/p",
            "app.example",
            headers=build_headers([("host", "app.example")]),
            peer_ip=PEER,
            local_port=9192,
        ),
        id="traefik forwardauth: x-forwarded-uri/-method/-host",
    ),
    pytest.param(
        "GET",
        "/_auth",
        [("Host", "h"), ("X-Original-URI", "/admin"), ("X-Real-IP", "1.2.3.4")],
        "envoy",
        RequestAttributes(
            "GET", "/_auth", "h", headers=build_headers([("host", "h")]), peer_ip=PEER, local_port=9192
        ),
        id="envoy mode ignores control headers a client could have sent through Envoy",
    ),
    pytest.param(
        "GET",
        "/check/admin",
        [("Host", "h")],
        "auto",
        RequestAttributes(
            "GET", "/admin", "h", headers=build_headers([("host", "h")]), peer_ip=PEER, local_port=9192
        ),
        id="istio pathPrefix /check is stripped",
    ),
]


@pytest.mark.parametrize(("method", "target", "headers", "mode", "attrs"), HTTP_ROWS)
def test_http_request_to_attributes(
    method: str, target: str, headers: list[tuple[str, str]], mode: HttpMode, attrs: RequestAttributes
) -> None:
    req = read_http_request(method, target, headers, PEER, 9192, "/check", mode)
    assert isinstance(req, ExtAuthzRequest)
    assert req.attrs == attrs
    assert req.problem is None


@pytest.mark.parametrize(
    ("headers", "mode", "override", "problem"),
    [
        (
            [("x-meshgate-namespace", "shop"), ("x-meshgate-labels", "app=cart")],
            "auto",
            WorkloadOverride("shop", {"app": "cart"}),
            None,
        ),
        ([("x-meshgate-namespace", "shop")], "envoy", None, None),
        (
            [("x-meshgate-labels", "oops")],
            "auto",
            None,
            "malformed workload labels 'oops' (expected k=v[,k=v...])",
        ),
    ],
)
def test_http_workload_and_problems(
    headers: list[tuple[str, str]], mode: HttpMode, override: WorkloadOverride | None, problem: str | None
) -> None:
    req = read_http_request("GET", "/", [("host", "h"), *headers], PEER, 9192, "", mode)
    assert isinstance(req, ExtAuthzRequest)
    assert (req.workload, req.problem) == (override, problem)


@pytest.mark.parametrize(
    ("mode", "headers", "missing"),
    [
        ("nginx", [("x-forwarded-uri", "/p")], "X-Original-Uri"),
        ("nginx", [("x-original-uri", " ")], "X-Original-Uri"),
        (
            "forward-auth",
            [("x-forwarded-uri", "/p"), ("x-forwarded-method", "GET")],
            "X-Forwarded-Proto, X-Forwarded-Host",
        ),
    ],
)
def test_http_mode_refuses_a_request_without_its_headers(
    mode: HttpMode, headers: list[tuple[str, str]], missing: str
) -> None:
    """Not decided as `/`: a 400 naming what the proxy should have set (extauthz/http_request.py)."""
    req = read_http_request("GET", "/x", [("host", "h"), *headers], PEER, 9192, "", mode)
    assert isinstance(req, RefusedRequest)
    decision = req.decision
    assert (decision.allowed, decision.status) == (False, 400)
    assert decision.body == f"--http-mode {mode}: the authorization request lacks {missing}"
    assert (req.req.attrs.path, req.req.attrs.authority) == ("/x", "h")  # what the access log shows


@needs_grpc
def test_check_request_from_envoy_to_attributes() -> None:
    """Fields as a real Envoy 1.40 sends them (pseudo-headers in the map, `path` with the query)."""
    from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2

    ctx = attribute_context_pb2.AttributeContext
    http = ctx.HttpRequest(
        method="GET",
        path="/b%2Fc?q=1",
        host="h.example:8080",
        scheme="http",
        protocol="HTTP/1.1",
        headers={
            ":authority": "h.example:8080",
            ":method": "GET",
            ":path": "/b%2Fc?q=1",
            ":scheme": "http",
            "foo": "a,b",
            "x-forwarded-for": "1.2.3.4",
        },
    )
    request = external_auth_pb2.CheckRequest(
        attributes=ctx(
            source=ctx.Peer(address={"socket_address": {"address": "10.1.2.3", "port_value": 5555}}),
            destination=ctx.Peer(address={"socket_address": {"address": "10.9.9.9", "port_value": 8080}}),
            request=ctx.Request(http=http),
            context_extensions={"namespace": "shop", "labels": "app=cart"},
        )
    )
    req = attributes_from_check(request)
    assert req.attrs == RequestAttributes(
        "GET",
        "/b%2Fc?q=1",
        "h.example:8080",
        "http",
        build_headers([("host", "h.example:8080"), ("foo", "a,b"), ("x-forwarded-for", "1.2.3.4")]),
        peer_ip="10.1.2.3",
        local_port=8080,
        local_ip="10.9.9.9",
    )
    assert req.workload == WorkloadOverride("shop", {"app": "cart"})
