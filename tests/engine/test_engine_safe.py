"""Safe answers through `Engine.decide` (docs/security.md): output headers, remote.ip, claim values, 400s.

Sources: jwt_authn extractor.cc sanitizeHeaders / authenticator.cc handleGoodJwt (edits before RBAC),
utility.cc getLastAddressFromXFF (xff_num_trusted_hops), RFC 9110 §5.5 (field values).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshgate.config.load import load_text
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.engine import Engine
from meshgate.engine.options import EngineOptions
from meshgate.engine.remote_ip import remote_ip
from meshgate.jose.mint import generate_key, sign_token

NOW = 1_700_000_000
ISS = "https://issuer.example"
PEM, JWK = generate_key("RS256")


def token(**claims: Any) -> str:
    return sign_token(PEM, {"iss": ISS, "sub": "alice", "exp": NOW + 3600, **claims})


CONFIG = f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: ns}}
spec:
  jwtRules:
  - issuer: {ISS}
    jwks: {json.dumps(json.dumps({"keys": [JWK]}))}
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - {{header: x-sub, claim: sub}}
    - {{header: x-note, claim: note}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: admins, namespace: ns}}
spec:
  action: ALLOW
  rules:
  - to: [{{operation: {{paths: ["/admin"]}}}}]
    when: [{{key: "request.headers[x-sub]", values: ["admin"]}}]
  - to: [{{operation: {{paths: ["/payload"]}}}}]
    when: [{{key: "request.headers[x-jwt-payload]", values: ["*"]}}]
  - to: [{{operation: {{notPaths: ["/admin", "/payload"]}}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: no-raw-token, namespace: ns}}
spec:
  action: DENY
  rules:
  - to: [{{operation: {{paths: ["/raw"]}}}}]
    when: [{{key: "request.headers[authorization]", values: ["*"]}}]
"""


def engine(**options: Any) -> Engine:
    result = load_text(CONFIG, "<safe>")
    assert result.ok, [str(p) for p in result.problems]
    return Engine(
        result.resources.request_authentications,
        result.resources.authorization_policies,
        EngineOptions(**options),
    )


def attrs(
    path: str, *headers: tuple[str, str], tok: str | None = None, method: str = "GET"
) -> RequestAttributes:
    pairs = list(headers) + ([("authorization", f"Bearer {tok}")] if tok else [])
    return RequestAttributes(method, path, "svc", headers=build_headers(pairs))


PREFLIGHT = (("origin", "https://o.example"), ("access-control-request-method", "GET"))
SPOOF_SUB = ("x-sub", "admin")
SPOOF_PAYLOAD = ("x-jwt-payload", "eyJzdWIiOiJhZG1pbiJ9")


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        pytest.param(attrs("/admin", SPOOF_SUB), 403, id="no-token-spoofed-claim-header"),
        pytest.param(attrs("/admin", SPOOF_SUB, tok=token()), 403, id="alice-spoofed-claim-header"),
        pytest.param(attrs("/admin", SPOOF_SUB, SPOOF_SUB, tok=token()), 403, id="alice-two-spoofed-lines"),
        pytest.param(attrs("/admin", tok=token(sub="admin")), 200, id="admin-token-sets-the-header"),
        pytest.param(attrs("/admin", SPOOF_SUB, *PREFLIGHT, method="OPTIONS"), 403, id="preflight-spoofed"),
        pytest.param(attrs("/payload", SPOOF_PAYLOAD), 403, id="no-token-spoofed-payload"),
        pytest.param(
            attrs("/payload", SPOOF_PAYLOAD, *PREFLIGHT, method="OPTIONS"), 403, id="preflight-payload"
        ),
        pytest.param(attrs("/payload", tok=token()), 200, id="payload-header-from-the-token"),
        pytest.param(attrs("/raw", tok=token()), 200, id="verified-token-header-removed-before-rbac"),
        pytest.param(attrs("/raw", ("authorization", "Basic x")), 403, id="other-authorization-seen"),
        pytest.param(attrs("/other", tok=token(exp=0)), 401, id="exp-0-is-expired"),
    ],
)
def test_authorization_sees_headers_as_jwt_authn_left_them(request_: RequestAttributes, status: int) -> None:
    decision = engine().decide(request_, {}, NOW)
    assert decision.status == status, decision.trace


def test_spoofed_output_headers_never_reach_the_upstream() -> None:
    decision = engine().decide(attrs("/other", SPOOF_SUB, SPOOF_PAYLOAD, tok=token()), {}, NOW)
    assert decision.upstream is not None
    assert {"x-sub", "x-jwt-payload", "x-note", "authorization"} <= set(decision.upstream.remove)
    assert dict(decision.upstream.set)["x-sub"] == "alice"


@pytest.mark.parametrize(
    ("note", "forwarded"),
    [
        pytest.param("plain text", "plain text", id="plain"),
        pytest.param("tab\there", "tab\there", id="htab-allowed"),
        pytest.param("a\r\nx-admin: true", None, id="crlf-injection"),
        pytest.param("a\nb", None, id="lf"),
        pytest.param("a\x00b", None, id="nul"),
        pytest.param("a\x7fb", None, id="del"),
        pytest.param("\ud800", None, id="lone-surrogate"),
    ],
)
def test_claim_header_values_are_field_values(note: str, forwarded: str | None) -> None:
    decision = engine().decide(attrs("/other", tok=token(note=note)), {}, NOW)
    assert decision.upstream is not None
    assert dict(decision.upstream.set).get("x-note") == forwarded


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/a#b", "a fragment (#) in the request-target"),
        ("/a;b", "a path parameter (; or %3B)"),
        ("//admin", "an empty path segment (//) the path normalization mode keeps"),
    ],
)
def test_refused_paths_are_400_with_the_reason_in_the_trace(path: str, reason: str) -> None:
    decision = engine().decide(attrs(path, tok="garbage"), {}, NOW)
    assert (decision.status, decision.body, decision.upstream) == (400, "", None)
    assert decision.trace.path.endswith(reason)


# remote.ip = the N-th X-Forwarded-For entry from the right for N trusted hops, else the TCP peer
@pytest.mark.parametrize(
    ("trusted", "xff", "expected"),
    [
        pytest.param(0, ("1.1.1.1",), "10.0.0.1", id="untrusted-xff-ignored"),
        pytest.param(1, ("1.1.1.1",), "1.1.1.1", id="one-hop"),
        pytest.param(1, ("6.6.6.6, 1.1.1.1",), "1.1.1.1", id="spoofed-left-entry-ignored"),
        pytest.param(1, ("6.6.6.6", "1.1.1.1"), "1.1.1.1", id="spoofed-earlier-line-ignored"),
        pytest.param(2, ("6.6.6.6,7.7.7.7, 2.2.2.2, 1.1.1.1",), "2.2.2.2", id="two-hops"),
        pytest.param(2, ("1.1.1.1",), "10.0.0.1", id="too-short-falls-back-to-peer"),
        pytest.param(1, ("not-an-ip",), "10.0.0.1", id="garbage-falls-back"),
        pytest.param(1, ("1.1.1.1:80",), "10.0.0.1", id="port-is-not-an-ip"),
        pytest.param(1, ("",), "10.0.0.1", id="empty"),
        pytest.param(1, ("6.6.6.6, ",), "10.0.0.1", id="empty-last-entry"),
        pytest.param(1, ("6.6.6.6,2001:db8::1",), "2001:db8::1", id="ipv6"),
        pytest.param(-1, ("1.1.1.1",), "10.0.0.1", id="negative-hops"),
    ],
)
def test_remote_ip_trusts_only_n_hops(trusted: int, xff: tuple[str, ...], expected: str) -> None:
    request_ = RequestAttributes("GET", "/", headers={"x-forwarded-for": xff}, peer_ip="10.0.0.1")
    assert remote_ip(request_, trusted) == expected
