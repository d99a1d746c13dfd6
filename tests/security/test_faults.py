"""Faults around a live `meshgate serve`, over real sockets: broken JWKS endpoints and a resetting upstream.

JWKS (Envoy: any failed fetch is `JwksFetchFail`, jwks_cache.cc; docs/istio-semantics.md §3.6): a token of an
issuer whose key set cannot be had gets 401 `Jwks remote fetch is failed`; no token is left to the policy;
other issuers and other connections are served meanwhile. Keys come only from the configured `jwksUri`,
never from a token's `jku`/`x5u`. Upstream (Envoy router, observed on 1.40): a reset before the response
head is 503 `... reset reason: connection termination` (UC); after it, the downstream connection closes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.gateway.conftest import (
    DEMO_JWT,
    POLICY,
    RawClient,
    ServeProcess,
    mask_date,
    spawn_serve,
    wait_until,
)
from tests.security.conftest import RESET_HEAD, RESET_MID_BODY, LoopThread, RawUpstream, exchange
from tests.support.jwks_server import ISTIO_JWKS, ISTIO_KID, JwksServer, free_port, make_test_ca
from tests.support.samples import SAMPLES

from meshgate.jose.mint import b64url_encode, build_claims, load_private_key

D = b"date: <DATE>\r\n"
SERVER = b"server: istio-envoy\r\n"
RULE_TIMEOUT_S = 2.0  # jwtRules[].timeout of every remote rule below; the slow server answers far later
KEY_PEM = (SAMPLES / "key.pem").read_bytes()


def token(issuer: str, **header: str) -> str:
    """An RS256 token from Istio's sample key; `header` adds fields (kid defaults to the sample's)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    fields = {"alg": "RS256", "kid": ISTIO_KID, "typ": "JWT", **header}
    claims = build_claims(issuer, "tester", [], {}, 3600, None, int(time.time()))
    signing_input = ".".join(b64url_encode(json.dumps(p).encode()) for p in (fields, claims))
    key = load_private_key(KEY_PEM)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url_encode(signature)}"


def get(path: str, tok: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {tok}\r\n" if tok else ""
    return f"GET {path} HTTP/1.1\r\nHost: ex.com\r\n{auth}\r\n".encode()


def unauthorized(body: bytes, path: str = "/x") -> bytes:
    """jwt_authn's 401 (filter.cc onComplete), as in tests/gateway/test_gateway_replies.py."""
    return (
        b'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="http://ex.com%b", error="invalid_token"\r\n'
        b"content-length: %d\r\ncontent-type: text/plain\r\n" % (path.encode(), len(body))
        + D + SERVER + b"\r\n" + body
    )  # fmt: skip


FETCH_FAILED = unauthorized(b"Jwks remote fetch is failed")
RBAC_DENIED = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n" + D + SERVER
RBAC_DENIED += b"\r\nRBAC: access denied"


class JwksFaults:
    """One JWKS server per fault (and a good one), each behind its own issuer."""

    def __init__(self, tmp: Path) -> None:
        ca, other_ca = make_test_ca(tmp / "ca"), make_test_ca(tmp / "other", name="some other CA")
        self.trusted_ca = (
            other_ca.ca_file
        )  # the gateway trusts another CA than the one that signed `wrong-ca`
        huge = json.dumps(json.loads(ISTIO_JWKS), indent=1).ljust(2 << 20)  # 2 MiB > the 1 MiB limit
        self.servers = {
            "good": JwksServer(),
            "slow": JwksServer(),
            "garbage": JwksServer(document="<html>this is not a JWKS</html>"),
            "not-found": JwksServer(),
            "huge": JwksServer(document=huge),
            "wrong-ca": JwksServer(tls=ca),
            "jku-target": JwksServer(),  # never configured: only a token header names it
        }
        self.servers["slow"].delay_s = 30 * RULE_TIMEOUT_S
        self.servers["not-found"].status = 404
        self.refused_url = f"http://127.0.0.1:{free_port()}/jwks.json"  # nothing listens there

    def policy(self) -> str:
        uris = {name: s.url() for name, s in self.servers.items() if name != "jku-target"}
        uris["refused"] = self.refused_url
        rules = "".join(
            f"  - issuer: {name}@faults\n    jwksUri: {uri}\n    timeout: {RULE_TIMEOUT_S:g}s\n"
            for name, uri in uris.items()
        )
        return (
            "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n"
            f"metadata: {{name: jwt, namespace: default}}\nspec:\n  jwtRules:\n{rules}---\n"
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
            "metadata: {name: deny-anonymous, namespace: default}\n"
            "spec:\n  action: DENY\n  rules:\n  - from:\n    - source:\n        notRequestPrincipals: ['*']\n"
        )


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory, loop_thread: LoopThread) -> Iterator[JwksFaults]:
    setup = JwksFaults(tmp_path_factory.mktemp("jwks"))
    for server in setup.servers.values():
        loop_thread.run(server.start())
    yield setup
    for server in setup.servers.values():
        loop_thread.run(server.stop())


@pytest.fixture(scope="module")
def jwks_gateway(
    tmp_path_factory: pytest.TempPathFactory, faults: JwksFaults, raw_upstream: RawUpstream
) -> Iterator[ServeProcess]:
    """--jwks-min-refresh 0: every request with a failing issuer's token really waits for a refetch."""
    policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
    policy.write_text(faults.policy())
    gw = spawn_serve(
        ["-c", str(policy), "--listen", "127.0.0.1:0", "--upstream", raw_upstream.url, "--admin", "",
         "--ca-file", faults.trusted_ca, "--jwks-min-refresh", "0"]
    )  # fmt: skip
    yield gw
    assert gw.stop() == 0
    assert b"Traceback" not in b"".join(gw.stderr)


JWKS_FAULTS = [
    # (id, issuer, expected answer) — every failed fetch is JwksFetchFail (jwks_cache.cc)
    ("slow-beyond-rule-timeout", "slow@faults", FETCH_FAILED),
    ("garbage-document", "garbage@faults", FETCH_FAILED),
    ("http-404", "not-found@faults", FETCH_FAILED),
    ("huge-beyond-size-limit", "huge@faults", FETCH_FAILED),
    ("https-wrong-ca", "wrong-ca@faults", FETCH_FAILED),
    ("connection-refused", "refused@faults", FETCH_FAILED),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("issuer", "answer"), [f[1:] for f in JWKS_FAULTS], ids=[f[0] for f in JWKS_FAULTS])
def test_jwks_fault_answers_401_and_no_token_is_left_to_policy(
    jwks_gateway: ServeProcess, issuer: str, answer: bytes
) -> None:
    assert mask_date(exchange(jwks_gateway.port, get("/x", token(issuer)), responses=1).raw) == answer
    assert mask_date(exchange(jwks_gateway.port, get("/x"), responses=1).raw) == RBAC_DENIED
    assert exchange(jwks_gateway.port, get("/x", token("good@faults")), responses=1).statuses == [200]


@pytest.mark.e2e
def test_gateway_serves_others_while_a_fetch_hangs(
    tmp_path: Path, loop_thread: LoopThread, raw_upstream: RawUpstream
) -> None:
    """A request waiting on a hanging key set (up to its rule timeout) holds up nobody else. A gateway of
    its own: the request arrives before the refresh loop's next attempt, so it starts a fetch of its own."""
    hanging = JwksServer()
    hanging.delay_s = 60
    loop_thread.run(hanging.start())
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        POLICY.format(jwks=ISTIO_JWKS).replace(
            "  jwtRules:\n",
            f"  jwtRules:\n  - issuer: hanging@faults\n    jwksUri: {hanging.url()}\n"
            f"    timeout: {RULE_TIMEOUT_S:g}s\n",
        )
    )
    gw = spawn_serve(
        ["-c", str(policy), "--listen", "127.0.0.1:0", "--upstream", raw_upstream.url, "--admin", ""]
    )
    try:
        waiting = RawClient(gw.port, timeout=5 * RULE_TIMEOUT_S)
        waiting.send(get("/x", token("hanging@faults")))
        others = [DEMO_JWT, "not.a.token", None]  # a valid token, an invalid one, none
        statuses = []
        for tok in others * 3:
            client = RawClient(gw.port)
            statuses.append(client.request(get("/x", tok)).status)
            client.close()
        waiting.sock.settimeout(0.01)
        with pytest.raises(TimeoutError):  # the first request is still waiting for its key set
            waiting.sock.recv(1)
        assert statuses == [200, 401, 403] * 3
        waiting.sock.settimeout(5 * RULE_TIMEOUT_S)
        assert mask_date(waiting.read_response().raw) == FETCH_FAILED
        waiting.close()
    finally:
        assert gw.stop() == 0
        loop_thread.run(hanging.stop())


@pytest.mark.e2e
def test_keys_come_only_from_the_configured_uri(jwks_gateway: ServeProcess, faults: JwksFaults) -> None:
    """An unknown kid refetches the configured jwksUri; `jku`/`x5u` in the token header are never fetched."""
    good, elsewhere = faults.servers["good"], faults.servers["jku-target"]
    before = good.hits
    forged = token("good@faults", kid="not-in-the-set", jku=elsewhere.url(), x5u=elsewhere.url("/x5u"))
    out = exchange(jwks_gateway.port, get("/x", forged), responses=1)
    assert mask_date(out.raw) == unauthorized(b"Jwks doesn't have key to match kid or alg from Jwt")
    assert good.hits > before and elsewhere.hits == 0


# --- the upstream resetting --------------------------------------------------------------------------
RESET_BEFORE_HEAD = (
    b"upstream connect error or disconnect/reset before headers. reset reason: connection termination"
)


def service_unavailable(close: bool) -> bytes:
    return (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n"
        % len(RESET_BEFORE_HEAD)
        + D + SERVER + (b"connection: close\r\n" if close else b"") + b"\r\n" + RESET_BEFORE_HEAD
    )  # fmt: skip


def request(path: bytes, *, body_length: int = 0, sent: int = 0) -> bytes:
    auth = b"Authorization: Bearer " + DEMO_JWT.encode() + b"\r\n"
    length = b"Content-Length: %d\r\n" % body_length if body_length else b""
    return b"POST " + path + b" HTTP/1.1\r\nHost: ex.com\r\n" + auth + length + b"\r\n" + b"b" * sent


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("data", "answer", "closed"),
    [
        (request(RESET_HEAD), service_unavailable(close=False), False),  # router: UC before headers
        # the upstream resets while the request body is still coming: 503, and the unread body closes
        (request(RESET_HEAD, body_length=1 << 20, sent=4096), service_unavailable(close=True), True),
    ],
    ids=["reset-before-response-head", "reset-mid-request-body"],
)
def test_upstream_reset_before_response_head(
    live_gateway: ServeProcess, raw_upstream: RawUpstream, data: bytes, answer: bytes, closed: bool
) -> None:
    out = exchange(live_gateway.port, data, responses=None if closed else 1)
    assert mask_date(out.raw) == answer
    assert out.closed is closed
    assert exchange(live_gateway.port, request(b"/after"), responses=1).statuses == [200]


@pytest.mark.e2e
def test_upstream_reset_mid_response_body_closes_downstream(
    live_gateway: ServeProcess, raw_upstream: RawUpstream
) -> None:
    out = exchange(live_gateway.port, request(RESET_MID_BODY))
    head, _, body = out.raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 1000\r\n" in head
    assert body == b"z" * 10 and out.closed  # truncated: the client can tell from content-length
    assert wait_until(lambda: any(t == RESET_MID_BODY.decode() for t, _ in raw_upstream.requests))
    assert exchange(live_gateway.port, request(b"/after"), responses=1).statuses == [200]
