"""Istio CUSTOM action, client side: `apply_custom` asks the provider and combines its answer with the
engine's (docs/istio-semantics.md §5.9; istio/api config.proto EnvoyExternalAuthorizationHttpProvider)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from aiohttp import web
from tests.extauthz.conftest import LoopThread, free_port, needs_grpc, start_authz
from tests.golden.cases import OTHER_ISSUER_JWT, SEED_YAML

from meshgate.authn.result import AuthnTrace
from meshgate.authz.result import AuthzTrace
from meshgate.custom.apply import apply_custom
from meshgate.custom.mesh_config import ExtAuthzProvider
from meshgate.custom.providers import CustomProviders
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.decision import Decision, Trace, UpstreamEdits

TRACE = Trace(AuthnTrace("verified"), AuthzTrace("allowed", action="CUSTOM"), path="/a/b")
ENGINE_ALLOWS = Decision(
    True,
    200,
    "",
    (),
    UpstreamEdits("/a/b", ("authorization",), (("x-jwt-payload", "p"),)),
    TRACE,
    custom_provider="ext",
    path="/a/b",
)
ENGINE_401 = Decision(
    False,
    401,
    "Jwt is expired",
    (("www-authenticate", "Bearer"),),
    None,
    TRACE,
    custom_provider="ext",
    path="/a/b",
)
ATTRS = RequestAttributes(
    "POST",
    "/a/../a/b?x=1",
    "app.example",
    headers=build_headers(
        [
            ("host", "app.example"),
            ("authorization", "Bearer t"),
            ("cookie", "c"),
            ("x-ext-id", "7"),
            ("x-other", "o"),
        ]
    ),
)


@dataclass
class Provider:
    """A scripted envoyExtAuthzHttp provider that records what it was asked."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay_s: float = 0.0
    port: int = 0
    asked: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.asked.append(
                (request.method, request.raw_path, {k.lower(): v for k, v in request.headers.items()})
            )
            await asyncio.sleep(self.delay_s)
            return web.Response(status=self.status, headers=self.headers, text=self.body)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = int(self.runner.addresses[0][1])


@pytest.fixture
def provider(loop_thread: LoopThread) -> Iterator[Provider]:
    p = Provider()
    loop_thread.run(p.start())
    yield p
    assert p.runner is not None
    loop_thread.run(p.runner.cleanup())


def _config(port: int, **kw: object) -> ExtAuthzProvider:
    base: dict[str, object] = {
        "name": "ext",
        "kind": "http",
        "service": "ns/127.0.0.1",
        "port": port,
        "path_prefix": "/check",
        "include_request_headers_in_check": ("x-ext-*",),
        "headers_to_upstream_on_allow": ("x-user",),
    }
    base.update(kw)
    return ExtAuthzProvider(**base)  # type: ignore[arg-type]


def _apply(lt: LoopThread, decision: Decision, config: ExtAuthzProvider | None) -> Decision:
    async def go() -> Decision:
        providers = CustomProviders({"ext": config} if config else {})
        try:
            return await apply_custom(decision, ATTRS, providers)
        finally:
            await providers.close()

    return lt.run(go())


def _answer(d: Decision) -> tuple[bool, int, str, tuple[tuple[str, str], ...], str]:
    return d.allowed, d.status, d.body, d.headers, d.content_type


def test_provider_sees_the_request_as_envoy_sends_it(loop_thread: LoopThread, provider: Provider) -> None:
    """Method, pathPrefix + normalized path, Host, Authorization, includeRequestHeadersInCheck only."""
    _apply(loop_thread, ENGINE_ALLOWS, _config(provider.port))
    (method, path, headers), *_ = provider.asked
    assert (method, path) == ("POST", "/check/a/b")
    assert {k: v for k, v in headers.items() if k != "content-length"} == {
        "host": "app.example",
        "authorization": "Bearer t",
        "x-ext-id": "7",
    }


@pytest.mark.parametrize(
    ("engine", "status", "headers", "body", "answer"),
    [
        pytest.param(
            ENGINE_ALLOWS,
            403,
            {"x-reason": "nope", "content-type": "text/html"},
            "<b>no</b>",
            (False, 403, "<b>no</b>", (("x-reason", "nope"),), "text/html; charset=utf-8"),
            id="provider denial wins over the engine's allow (CUSTOM runs first)",
        ),
        pytest.param(
            ENGINE_401,
            403,
            {},
            "denied",
            (False, 403, "denied", (), "text/plain; charset=utf-8"),
            id="provider denial wins over a JWT failure too (ext_authz before jwt_authn)",
        ),
        pytest.param(
            ENGINE_401,
            200,
            {"x-user": "al"},
            "",
            _answer(ENGINE_401),
            id="provider allows: the engine's 401 stands",
        ),
    ],
)
def test_provider_answers(
    loop_thread: LoopThread,
    provider: Provider,
    engine: Decision,
    status: int,
    headers: dict[str, str],
    body: str,
    answer: tuple[object, ...],
) -> None:
    provider.status, provider.headers, provider.body = status, headers, body
    assert _answer(_apply(loop_thread, engine, _config(provider.port))) == answer


def test_allow_adds_provider_headers_and_engine_edits_win(
    loop_thread: LoopThread, provider: Provider
) -> None:
    provider.headers = {"x-user": "al", "x-jwt-payload": "forged", "x-other": "not allowed"}
    final = _apply(loop_thread, ENGINE_ALLOWS, _config(provider.port, headers_to_upstream_on_allow=("x-*",)))
    assert final.allowed and final.custom_provider is None
    assert final.upstream == UpstreamEdits(
        "/a/b", ("authorization",), (("x-user", "al"), ("x-other", "not allowed"), ("x-jwt-payload", "p"))
    )


@pytest.mark.parametrize(
    ("config_kw", "answer"),
    [
        pytest.param({}, (False, 403, "", (), ""), id="down: fail closed with 403 (statusOnError default)"),
        pytest.param({"status_on_error": 503}, (False, 503, "", (), ""), id="down: statusOnError 503"),
        pytest.param({"fail_open": True}, _answer(ENGINE_ALLOWS), id="down + failOpen: the engine decides"),
    ],
)
def test_provider_down(
    loop_thread: LoopThread, config_kw: dict[str, object], answer: tuple[object, ...]
) -> None:
    assert _answer(_apply(loop_thread, ENGINE_ALLOWS, _config(free_port(), **config_kw))) == answer


def test_provider_timeout_fails_closed(loop_thread: LoopThread, provider: Provider) -> None:
    provider.delay_s = 2.0
    final = _apply(loop_thread, ENGINE_ALLOWS, _config(provider.port, timeout_s=0.2))
    assert _answer(final) == (False, 403, "", (), "")
    assert final.trace.authz.reason.startswith("TimeoutError")


def test_unknown_provider_is_denied(loop_thread: LoopThread) -> None:
    """istio extauthz.go: a CUSTOM policy naming an undeclared provider becomes a deny rule."""
    assert _answer(_apply(loop_thread, ENGINE_ALLOWS, None)) == (
        False,
        403,
        "RBAC: access denied",
        (),
        "text/plain",
    )


def test_no_custom_provider_is_a_no_op(loop_thread: LoopThread) -> None:
    plain = replace(ENGINE_ALLOWS, custom_provider=None)
    assert _apply(loop_thread, plain, None) is plain


@needs_grpc
def test_grpc_provider_is_another_meshgate(loop_thread: LoopThread, tmp_path: Path) -> None:
    """envoyExtAuthzGrpc provider: a meshgate authz-server running the seed; its 401 reaches the client."""
    config = tmp_path / "seed.yaml"
    config.write_text(SEED_YAML)
    server = start_authz(loop_thread, config, http="", admin="")
    try:
        attrs = replace(
            ATTRS,
            headers=build_headers([("host", "app.example"), ("authorization", f"Bearer {OTHER_ISSUER_JWT}")]),
        )

        async def go() -> Decision:
            assert server.grpc_port is not None
            providers = CustomProviders({"ext": _config(server.grpc_port, kind="grpc")})
            try:
                return await apply_custom(ENGINE_ALLOWS, attrs, providers)
            finally:
                await providers.close()

        final = loop_thread.run(go())
        assert _answer(final) == (
            False,
            401,
            "Jwt issuer is not configured",
            (("www-authenticate", 'Bearer realm="http://app.example/a/b", error="invalid_token"'),),
            "text/plain",
        )
    finally:
        loop_thread.run(server.stop())
