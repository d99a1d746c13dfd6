"""The authentication result memo: a client's repeated token is a lookup, never a stale or borrowed answer."""

from __future__ import annotations

import json

from tests.support.samples import SAMPLES

from meshgate.config.model import Action, AuthorizationPolicy, Condition, JwtRule, RequestAuthentication, Rule
from meshgate.engine.attributes import RequestAttributes, build_headers
from meshgate.engine.engine import Engine
from meshgate.jose.mint import sign_token

ISSUER = "testing@secure.istio.io"
KEY = (SAMPLES / "key.pem").read_bytes()
RA = RequestAuthentication(
    "jwt", "default", (JwtRule(issuer=ISSUER, jwks=(SAMPLES / "jwks.json").read_text()),)
)
NOW = 1_900_000_000


def attrs(token: str | None = None, **headers: str) -> RequestAttributes:
    pairs = [("host", "h"), *headers.items()]
    if token:
        pairs.append(("authorization", f"Bearer {token}"))
    return RequestAttributes("GET", "/p", "h", headers=build_headers(pairs))


def test_a_memoized_allow_expires_with_its_token() -> None:
    engine = Engine([RA], [])
    token = sign_token(KEY, {"iss": ISSUER, "sub": "a", "exp": NOW + 10})
    first = engine.decide(attrs(token), {}, NOW)
    assert first.allowed
    memo = engine.authenticator.result_memo
    assert engine.decide(attrs(token), {}, NOW) == first and memo.hits == 1  # the lookup
    later = engine.decide(attrs(token), {}, NOW + 10 + 61)  # beyond exp + 60 s skew
    assert (later.status, later.body) == (401, "Jwt is expired")


def test_header_conditions_are_part_of_the_key() -> None:
    deny = AuthorizationPolicy(
        "p", "default", Action.DENY, (Rule(when=(Condition("request.headers[x-team]", ("red",)),)),)
    )
    engine = Engine([RA], [deny])
    assert engine.decide(attrs(**{"x-team": "blue"}), {}, NOW).allowed
    assert engine.decide(attrs(**{"x-team": "red"}), {}, NOW).status == 403
    assert engine.decide(attrs(**{"x-team": "blue"}), {}, NOW).allowed


def test_a_new_key_snapshot_is_not_answered_from_the_old_one() -> None:
    uri = "https://issuer.example/jwks.json"
    remote = RequestAuthentication("jwt", "default", (JwtRule(issuer=ISSUER, jwks_uri=uri),))
    engine = Engine([remote], [])
    token = sign_token(KEY, {"iss": ISSUER, "sub": "a"})
    assert engine.decide(attrs(token), {}, NOW).body == "Jwks remote fetch is failed"
    from meshgate.jose.jwks import parse_jwks

    keys = {uri: parse_jwks((SAMPLES / "jwks.json").read_text())}
    assert engine.decide(attrs(token), keys, NOW).allowed
    other = {uri: parse_jwks(json.dumps({"keys": []}))}
    assert not engine.decide(attrs(token), other, NOW).allowed


def test_decisions_read_the_clock_only_through_the_whole_second() -> None:
    """Every validity bound (nbf - skew, exp + skew + 1) is a whole second, so no answer changes inside a
    second: a warm memo answers every instant of a second as a fresh engine does."""
    claims = [{"exp": NOW + d} for d in (-62, -61, -60, -59, 0)] + [
        {"nbf": NOW + d} for d in (59, 60, 61, 62)
    ]
    claims += [{"exp": NOW - 60, "nbf": NOW + 60}, {"exp": 0}]
    for extra in claims:
        token = sign_token(KEY, {"iss": ISSUER, "sub": "a", **extra})
        warm = Engine([RA], [])
        for second in (NOW - 1, NOW, NOW + 1):
            expected = Engine([RA], []).decide(attrs(token), {}, second)
            for now in (second, second + 0.25, second + 0.999999):
                for engine in (Engine([RA], []), warm):  # a fresh engine, and one whose memo is warm
                    got = engine.decide(attrs(token), {}, now)
                    assert (got.status, got.body, got.headers) == (
                        expected.status,
                        expected.body,
                        expected.headers,
                    ), (
                        extra,
                        now,
                    )
