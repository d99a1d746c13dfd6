"""A case's `request:` (all fields optional: `GET /`) and its `token:`, read with their lines."""

from __future__ import annotations

import os

from meshgate.config.yamlnodes import YEntry, YMap, YNode, YScalar, type_name
from meshgate.jose.mint import SUPPORTED_ALGS
from meshgate.policytest.model import DEFAULT_EXPIRES_IN_S, RequestSpec, TokenSpec
from meshgate.policytest.nodes import Reader, plain

REQUEST_FIELDS = frozenset({"method", "path", "host", "scheme", "port", "headers", "token", "source_ip"})
TOKEN_FIELDS = frozenset({"file", "key", "new_key", "claims", "alg", "kid", "expires_in"})
TOKEN_SOURCES = ("file", "key", "new_key")
NEW_KEY_ALGS = ("RS256", "PS256", "ES256", "ES384", "EdDSA")  # what tokens.generate_key makes as a PEM
TOKEN_FORMS = (
    "request.token: a JWT string, or a mapping with exactly one of file (a file holding a JWT), "
    "key (a PEM private key signing `claims`) or new_key (an alg: a fresh key that no JWKS holds)"
)


def read_request(r: Reader, entry: YEntry | None, base: str) -> RequestSpec | None:
    if entry is None:
        return RequestSpec()
    m = r.mapping(entry.value, "request", REQUEST_FIELDS)
    if m is None:
        return None
    before = len(r.problems)
    d = RequestSpec()
    port = r.integer(e.value, "request.port") if (e := m.get("port")) is not None else None
    headers = _headers(r, e.value) if (e := m.get("headers")) is not None else ()
    token = _token(r, e.value, base) if (e := m.get("token")) is not None else None
    scheme = _text(r, m, "scheme", d.scheme)
    if scheme not in ("http", "https"):
        r.problem(m.line, f"request.scheme: http or https, not {scheme!r}")
    spec = RequestSpec(
        method=_text(r, m, "method", d.method),
        path=_text(r, m, "path", d.path),
        host=_text(r, m, "host", d.host),
        scheme=scheme,
        port=d.port if port is None else port,
        headers=headers,
        source_ip=_text(r, m, "source_ip", d.source_ip),
        token=token,
    )
    return spec if len(r.problems) == before else None


def _text(r: Reader, m: YMap, name: str, default: str) -> str:
    entry = m.get(name)
    if entry is None:
        return default
    return r.text(entry.value, f"request.{name}") or default


def _headers(r: Reader, node: YNode) -> tuple[tuple[str, str], ...]:
    """`{name: value}` or `{name: [v1, v2]}` (a repeated header), in the order written."""
    if not isinstance(node, YMap):
        r.problem(node.line, f"request.headers: expected a mapping, got {type_name(node)}")
        return ()
    pairs: list[tuple[str, str]] = []
    for entry in node.entries:
        for value in r.texts(entry.value, f"request.headers.{entry.key}") or []:
            pairs.append((entry.key, value))
    return tuple(pairs)


def _token(r: Reader, node: YNode, base: str) -> TokenSpec | None:
    if isinstance(node, YScalar):
        literal = r.text(node, "request.token")
        return None if literal is None else TokenSpec(node.line, literal=literal.strip())
    m = r.mapping(node, "request.token", TOKEN_FIELDS)
    if m is None:
        return None
    given = [e for e in (m.get(name) for name in TOKEN_SOURCES) if e is not None]
    if len(given) != 1:
        r.problem(m.line, TOKEN_FORMS)
        return None
    source = given[0]
    text = r.text(source.value, f"request.token.{source.key}")
    if text is None:
        return None
    if source.key == "new_key":
        if text not in NEW_KEY_ALGS:
            r.problem(
                source.key_line, f"request.token.new_key: one of {', '.join(NEW_KEY_ALGS)}, not {text!r}"
            )
        return _minted(r, m, TokenSpec(m.line, new_key=text))
    path = os.path.normpath(os.path.join(base, text)) if base else text
    if not os.path.isfile(path):
        r.problem(source.key_line, f"request.token.{source.key}: no such file {path}")
    if source.key == "file":
        for name in ("claims", "alg", "kid", "expires_in"):
            if (e := m.get(name)) is not None:
                r.problem(e.key_line, f"request.token.{name}: only for a minted token (key or new_key)")
        return TokenSpec(m.line, file=path)
    return _minted(r, m, TokenSpec(m.line, key=path))


def _minted(r: Reader, m: YMap, spec: TokenSpec) -> TokenSpec:
    claims: dict[str, object] = {}
    if (e := m.get("claims")) is not None:
        if isinstance(e.value, YMap):
            claims = plain(e.value)
        else:
            r.problem(e.value.line, f"request.token.claims: expected a mapping, got {type_name(e.value)}")
    alg = kid = None
    if (e := m.get("alg")) is not None:
        alg = r.text(e.value, "request.token.alg")
        if alg is not None and alg not in SUPPORTED_ALGS:
            r.problem(e.key_line, f"request.token.alg: one of {', '.join(SUPPORTED_ALGS)}, not {alg!r}")
    if (e := m.get("kid")) is not None:
        kid = r.text(e.value, "request.token.kid")
    expires_in = DEFAULT_EXPIRES_IN_S
    if (e := m.get("expires_in")) is not None:
        value = r.integer(e.value, "request.token.expires_in")
        expires_in = expires_in if value is None else value
    return TokenSpec(
        spec.line, key=spec.key, new_key=spec.new_key, claims=claims, alg=alg, kid=kid, expires_in=expires_in
    )
