"""The header memo an authenticator keeps (jose/jws.py HeaderMemo): it never changes an answer, and it is
bounded by dropping its oldest entry, not by being wiped.

Mutations caught: a memo keyed by something else than the header segment (a token with another header gets
the first one's alg/kid), a memoized failure answered for a good header, a memo that grows past its bound,
a full memo cleared (the newest header would be gone too).
"""

from __future__ import annotations

import pytest
from tests.jose.test_jws import GOOD_HEADER, seg, tok

from meshgate.jose.jws import HeaderMemo, parse_jwt
from meshgate.jose.status import JwtStatus as S

TOKENS = [
    tok(),
    tok(header={"alg": "ES256", "kid": "other"}),
    tok(header={"alg": "RS256", "crit": ["x"]}),  # meshgate's refusal rides on the header info
    tok(header={"alg": "none"}),  # a failure is memoized as such
    f"{seg(GOOD_HEADER)}.{seg({'sub': 'a'})}.c2ln",
    tok(header="not json"),
]


@pytest.mark.parametrize(
    "order", [TOKENS, TOKENS[::-1], TOKENS + TOKENS], ids=["forward", "backward", "twice"]
)
def test_the_memo_never_changes_an_answer(order: list[str]) -> None:
    memo = HeaderMemo()
    for token in order:
        assert parse_jwt(token, memo) == parse_jwt(token)


def test_the_oldest_header_goes_first() -> None:
    memo = HeaderMemo(max_entries=2)
    first, second, third = (tok(header={"alg": "RS256", "kid": k}) for k in ("a", "b", "c"))
    for token in (first, second, third):
        parse_jwt(token, memo)
    assert len(memo) == 2
    parsed = parse_jwt(first, memo)  # re-parsed, and the answer is still its own
    assert not isinstance(parsed, S) and parsed.kid == "a"
    assert len(memo) == 2
