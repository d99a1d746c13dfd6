"""Decision → ext_authz answers (gRPC CheckResponse, HTTP answer), and provider answers → verdicts."""

from __future__ import annotations

import re

import pytest
from tests.extauthz.conftest import needs_grpc

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.custom.http_client import http_verdict
from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.custom.verdict import ProviderVerdict
from meshgate.engine.decision import Decision, Trace, UpstreamEdits
from meshgate.extauthz.http_server import encode_answer

TRACE = Trace(AuthnTrace("verified"), AuthzTrace("allowed"))
WWW = 'Bearer realm="http://h/", error="invalid_token"'
ALLOWED = Decision(
    True,
    200,
    "",
    (),
    UpstreamEdits("/p", remove=("authorization", "x-jwt-payload"), set=(("x-jwt-payload", "eyJ"),)),
    TRACE,
)
DENIED_401 = Decision(False, 401, "Jwt issuer is not configured", (("www-authenticate", WWW),), None, TRACE)
DENIED_RBAC = Decision(False, 403, "RBAC: access denied", (), None, TRACE)
BAD_PATH = Decision(False, 400, "", (), None, TRACE)


def _strip_date(raw: bytes) -> str:
    return re.sub(r"date: [^\r]*\r\n", "", raw.decode())


@pytest.mark.parametrize(
    ("decision", "kwargs", "answer"),
    [
        pytest.param(
            ALLOWED,
            {},
            "HTTP/1.1 200 OK\r\nx-jwt-payload: eyJ\r\nx-envoy-auth-headers-to-remove: "
            "authorization\r\ncontent-length: 0\r\n\r\n",
            id="allowed: set headers; remove list without the ones being set (ext_authz.h)",
        ),
        pytest.param(
            ALLOWED,
            {"path_header": True},
            "HTTP/1.1 200 OK\r\nx-jwt-payload: eyJ\r\n"
            "x-envoy-auth-headers-to-remove: authorization\r\nx-meshgate-path: /p\r\n"
            "content-length: 0\r\n\r\n",
            id="allowed, forward-auth: the normalized path for the proxy",
        ),
        pytest.param(
            DENIED_401,
            {},
            f"HTTP/1.1 401 Unauthorized\r\ncontent-length: 28\r\ncontent-type: text/plain\r\n"
            f"www-authenticate: {WWW}\r\n\r\nJwt issuer is not configured",
            id="401 with www-authenticate",
        ),
        pytest.param(
            DENIED_RBAC,
            {"body_header": True},
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\n"
            "content-type: text/plain\r\nx-meshgate-body: RBAC: access denied\r\n\r\nRBAC: access denied",
            id="nginx: the body repeated in x-meshgate-body (auth_request drops bodies)",
        ),
        pytest.param(
            DENIED_RBAC,
            {"head": True},
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n\r\n",
            id="HEAD: no body",
        ),
        pytest.param(BAD_PATH, {}, "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", id="400 empty"),
    ],
)
def test_http_answer_bytes(decision: Decision, kwargs: dict[str, bool], answer: str) -> None:
    assert _strip_date(encode_answer(decision, **kwargs)) == answer


@needs_grpc
@pytest.mark.parametrize(
    ("decision", "grpc_code", "http_status", "headers", "body"),
    [
        (DENIED_401, 16, 401, [("www-authenticate", WWW)], "Jwt issuer is not configured"),
        # no content-type: Envoy's local reply adds text/plain after content-length, as jwt_authn's does
        (DENIED_RBAC, 7, 403, [], "RBAC: access denied"),
        (BAD_PATH, 7, 400, [], ""),
    ],
)
def test_grpc_denied_response(
    decision: Decision, grpc_code: int, http_status: int, headers: list[tuple[str, str]], body: str
) -> None:
    from meshgate.extauthz.grpc_server import check_response

    resp = check_response(decision)
    assert resp.status.code == grpc_code
    denied = resp.denied_response
    assert (denied.status.code, [(h.header.key, h.header.value) for h in denied.headers], denied.body) == (
        http_status,
        headers,
        body,
    )


@needs_grpc
def test_grpc_ok_response_sets_and_removes() -> None:
    from envoy.config.core.v3 import base_pb2

    from meshgate.custom.grpc_client import verdict_from_check_response
    from meshgate.extauthz.grpc_server import check_response

    resp = check_response(ALLOWED)
    assert resp.status.code == 0
    assert [(h.header.key, h.header.value, h.append_action) for h in resp.ok_response.headers] == [
        ("x-jwt-payload", "eyJ", base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD)
    ]
    assert list(resp.ok_response.headers_to_remove) == ["authorization"]
    # and the client side reads it back (a CUSTOM envoyExtAuthzGrpc provider answering meshgate)
    assert verdict_from_check_response(resp) == ProviderVerdict(
        True, upstream_set=(("x-jwt-payload", "eyJ"),), upstream_remove=("authorization",)
    )
    assert verdict_from_check_response(check_response(DENIED_401)) == ProviderVerdict(
        False, 401, "Jwt issuer is not configured", (("www-authenticate", WWW),)
    )


PROVIDER = ExtAuthzProvider("p", "http", "authz", 9192, headers_to_upstream_on_allow=("x-user", "x-auth-*"))


@pytest.mark.parametrize(
    ("provider", "status", "answer", "verdict"),
    [
        pytest.param(
            PROVIDER,
            200,
            [
                ("x-user", "al"),
                ("x-auth-role", "r"),
                ("x-other", "o"),
                ("x-envoy-auth-headers-to-remove", "cookie, x-a"),
            ],
            ProviderVerdict(
                True, upstream_set=(("x-user", "al"), ("x-auth-role", "r")), upstream_remove=("cookie", "x-a")
            ),
            id="200: headersToUpstreamOnAllow patterns (exact, prefix*), remove list",
        ),
        pytest.param(
            PROVIDER,
            403,
            [("content-type", "text/html"), ("x-reason", "no"), ("date", "d")],
            ProviderVerdict(False, 403, "body", (("x-reason", "no"),), content_type="text/html"),
            id="denied: status/body/headers to the client (all but hop-by-hop when no list)",
        ),
        pytest.param(
            ExtAuthzProvider("p", "http", "a", 1, headers_to_downstream_on_deny=("x-keep",)),
            401,
            [("x-keep", "1"), ("x-drop", "2"), ("www-authenticate", "Basic")],
            ProviderVerdict(False, 401, "body", (("x-keep", "1"), ("www-authenticate", "Basic"))),
            id="headersToDownstreamOnDeny filters; www-authenticate always passes",
        ),
        pytest.param(
            PROVIDER,
            503,
            [],
            ProviderVerdict(False, 403, "", error="provider answered 503", content_type=""),
            id="5xx is an error: statusOnError (403), empty body",
        ),
        pytest.param(
            ExtAuthzProvider("p", "http", "a", 1, fail_open=True),
            500,
            [],
            ProviderVerdict(True, error="provider answered 500"),
            id="5xx with failOpen allows",
        ),
    ],
)
def test_http_provider_verdict(
    provider: ExtAuthzProvider, status: int, answer: list[tuple[str, str]], verdict: ProviderVerdict
) -> None:
    assert http_verdict(provider, status, answer, b"body") == verdict
