"""A verified token's query parameter leaves the URL before proxying (authn/query.py; asked of Envoy 1.40
in tests/parity/test_query_token.py).

Envoy 1.40's jwt_authn removes it when `forwardOriginalToken` is false (extractor.cc JwtParamLocation::
removeJwt). The `envoy` column is what a real Envoy 1.40 forwarded upstream for the same target
(tests/parity/test_query_token.py asks it again); where it differs, Envoy re-serialized the whole query
(sorted by name, values percent-decoded) and meshgate keeps the other pieces byte for byte
(docs/security.md "Where meshgate answers differently").
"""

from __future__ import annotations

import json

import pytest
from tests.authn.test_authn import ISS1, JWK1, NOW, token

from meshgate.authn.query import removed_names, without_params
from meshgate.config.model import JwtRule, RequestAuthentication
from meshgate.engine.attributes import RequestAttributes
from meshgate.engine.engine import Engine

NAMES = frozenset({"access_token"})


@pytest.mark.parametrize(
    ("target", "meshgate", "envoy"),
    [
        ("/data?x=1&access_token=T&y=2", "/data?x=1&y=2", "/data?x=1&y=2"),
        ("/data?access_token=T&y=2", "/data?y=2", "/data?y=2"),
        ("/data?x=1&access_token=T", "/data?x=1", "/data?x=1"),
        ("/data?access_token=T", "/data", "/data"),  # no `?` left behind
        ("/data?access_token=T&access_token=T", "/data", "/data"),  # every occurrence
        ("/data?x=1&access_token=T&y=2&access_token=T", "/data?x=1&y=2", "/data?x=1&y=2"),
        ("/data?access%5Ftoken=T&x=1", "/data?x=1", "/data?x=1"),  # the name compared decoded
        ("/data?access_token=T&", "/data", "/data"),  # a trailing `&` is no parameter
        ("/data?x=1&&access_token=T&", "/data?x=1", "/data?=&x=1"),  # Envoy: `&&` is a parameter ""
        ("/data?x&access_token=T&y=", "/data?x&y=", "/data?x=&y="),  # Envoy writes `name=`
        ("/data?b=2&access_token=T&a=1", "/data?b=2&a=1", "/data?a=1&b=2"),  # Envoy sorts by name
        ("/data?a=1&a=2&access_token=T", "/data?a=1&a=2", "/data?a=1&a=2"),
        (
            "/data?x=a%26admin%3D1&access_token=T",
            "/data?x=a%26admin%3D1",
            "/data?x=a&admin=1",
        ),  # Envoy decodes
        ("/data?access_token=T&x=%zz", "/data?x=%zz", "/data?x=%zz"),
        ("/data?x=1;y=2&access_token=T", "/data?x=1;y=2", "/data?x=1;y=2"),
        ("/data?x=1", "/data?x=1", "/data?x=1"),  # nothing to remove: untouched
    ],
)
def test_without_params(target: str, meshgate: str, envoy: str) -> None:
    assert without_params(target, NAMES) == meshgate


@pytest.mark.parametrize(
    ("before", "after", "names"),
    [
        ("/d?x=1&access_token=T", "/d?x=1", ("access_token",)),
        ("/d?access%5Ftoken=T&x=1", "/d?x=1", ("access%5Ftoken", "access_token")),
        ("/d?a=1", "/d?a=1", ()),
        ("/d", "/d", ()),
    ],
)
def test_removed_names_raw_and_decoded(before: str, after: str, names: tuple[str, ...]) -> None:
    """What the ext_authz gRPC front asks Envoy to remove (query_parameters_to_remove)."""
    assert removed_names(before, after) == names


def _engine(**rule: object) -> Engine:
    jwks = json.dumps({"keys": [JWK1]})
    ra = RequestAuthentication("jwt", "default", (JwtRule(issuer=ISS1, jwks=jwks, **rule),))  # type: ignore[arg-type]
    return Engine([ra], [])


GOOD = token()


@pytest.mark.parametrize(
    ("rule", "target", "upstream"),
    [
        pytest.param({}, f"/a?x=1&access_token={GOOD}&y=2", "/a?x=1&y=2", id="default-location"),
        pytest.param({"forward_original_token": True}, f"/a?access_token={GOOD}", f"/a?access_token={GOOD}",
                     id="forwarded-kept"),
        pytest.param({"from_params": ("tk",)}, f"/a?tk={GOOD}&access_token=x", "/a?access_token=x",
                     id="fromParams-only-its-own"),
        pytest.param({"from_params": ("tk",)}, f"/a/../b?tk={GOOD}", "/b", id="after-normalization"),
        pytest.param({}, f"/a?access_token={GOOD}&access_token={GOOD}", "/a", id="same-token-twice"),
    ],
)  # fmt: skip
def test_engine_upstream_path(rule: dict[str, object], target: str, upstream: str) -> None:
    decision = _engine(**rule).decide(RequestAttributes("GET", target), {}, NOW)
    assert decision.allowed and decision.upstream is not None
    assert decision.upstream.path == upstream
    assert decision.trace.path.startswith(upstream.split("?")[0])  # the trace keeps the path authorized


def test_denied_request_keeps_its_realm_path() -> None:
    """A refusal edits nothing: the realm names the path as received, its first 256 characters (filter.cc)."""
    forged = GOOD[:-4] + ("AAAA" if not GOOD.endswith("AAAA") else "BBBB")
    decision = _engine().decide(RequestAttributes("GET", f"/a?access_token={forged}"), {}, NOW)
    assert decision.status == 401 and decision.upstream is None
    realm = f'realm="http:///a?access_token={forged}'[: 256 + len('realm="http://')]
    assert dict(decision.headers)["www-authenticate"].startswith(f"Bearer {realm}")
