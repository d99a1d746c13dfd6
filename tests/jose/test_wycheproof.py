"""Every Wycheproof vector (C2SP/wycheproof testvectors_v1) decided by meshgate as Wycheproof says.

Path under test: jose/jwks.py `parse_jwks` → jose/signature.py `verify()` (tests/jose/wycheproof_vectors.py).
`valid` → OK; `invalid` → any other status, never an exception; `acceptable` → the decision in
ACCEPTABLE below, per flag (docs/security.md "Signature test vectors"). A failure lists every tcId that
disagrees. Mutations caught, e.g.: PSS with the salt length recovered from the signature (cryptography's
PSS.AUTO) → PS256 tcIds 67-72 of both PSS files; the ECDSA r‖s split at half of any length (Envoy's
verify.cc) → the SignatureSize vectors of the three ECDSA files.
"""

from __future__ import annotations

import functools
import json

import pytest
from tests.jose.wycheproof_vectors import (
    DATA,
    FILES,
    REFUSED,
    Vector,
    decide,
    file_sha256,
    load,
    pem_to_jwk,
)

# `acceptable` flag → (meshgate answers OK?, why). Only flags that occur on an acceptable vector belong here.
ACCEPTABLE = {
    "MissingNull": (
        False,
        "PKCS#1 v1.5 DigestInfo without the NULL parameters: BoringSSL's RSA_verify compares the full "
        "encoding with NULL, so Envoy 1.40 answers 401 `Jwt verification fails` (observed); so does meshgate",
    ),
}

# (file, group index) whose key meshgate refuses at JWKS parse. None: every key is 2048-4096 bits with
# e = 65537 or e = 3, which envoyproxy/envoy:source/common/jwt/jwks.cc accepts (the e = 3 groups' vectors
# are `valid` and verify).
REFUSED_GROUPS: frozenset[tuple[str, int]] = frozenset()

# Where each file's keys come from (see wycheproof_vectors.py and tests/data/wycheproof/README.md).
KEY_SOURCES = {
    "RS": {"keyJwk"},
    "PS": {"publicKeyJwk"},
    "ES": {"publicKeyJwk", "publicKeyPem"},
    "Ed": {"publicKeyJwk"},
    "HS": {"key"},
}
TOTAL_VECTORS = 3042  # the sum of every file's numberOfTests


@functools.cache
def outcomes(name: str) -> dict[int, str]:
    """tcId → meshgate's answer, computed once per file."""
    return {v.tc_id: decide(v) for v in load(name)[0]}


def result_class(vector: Vector) -> str:
    return vector.result if vector.full_length else "truncated-tag"


def expected(vector: Vector) -> str:
    """ "OK", "not OK" or REFUSED: what meshgate must answer for this vector."""
    if (vector.file, vector.group) in REFUSED_GROUPS:
        return REFUSED
    if not vector.full_length:
        return "not OK"  # RFC 7518 §3.2: an HS* signature is the whole MAC; a truncated tag is no JWS
    if vector.result == "valid":
        return "OK"
    if vector.result == "invalid":
        return "not OK"
    decided = {ACCEPTABLE[flag][0] for flag in vector.flags if flag in ACCEPTABLE}
    if len(decided) != 1:
        return f"undecided: add {vector.flags} to ACCEPTABLE"
    return "OK" if decided.pop() else "not OK"


def mismatch(vector: Vector, answer: str) -> str | None:
    want = expected(vector)
    if answer.startswith("raised "):
        return f"{vector.describe()}: {answer}"
    got = answer if answer in ("OK", REFUSED) else "not OK"
    return None if got == want else f"{vector.describe()}: expected {want}, meshgate answered {answer}"


CLASSES = [
    (name, cls)
    for name in FILES
    for cls in ("valid", "invalid", "acceptable", "truncated-tag")
    if any(result_class(v) == cls for v in load(name)[0])
]


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[f"{n[:-10]}-{c}" for n, c in CLASSES])
def test_every_vector_decided_as_wycheproof_says(name: str, cls: str) -> None:
    vectors = [v for v in load(name)[0] if result_class(v) == cls]
    answers = outcomes(name)
    wrong = [m for v in vectors if (m := mismatch(v, answers[v.tc_id])) is not None]
    if wrong:
        pytest.fail(f"{name} {cls}: {len(wrong)} of {len(vectors)} disagree:\n" + "\n".join(wrong), False)


@pytest.mark.parametrize("name", FILES)
def test_files_are_the_pinned_copies(name: str) -> None:
    assert file_sha256(name) == FILES[name][1]


def test_every_vector_is_run() -> None:
    """Nothing is skipped: each file yields its numberOfTests vectors with unique tcIds."""
    for name in FILES:
        vectors, declared = load(name)
        assert len(vectors) == declared == len({v.tc_id for v in vectors}), name
    assert sum(len(load(name)[0]) for name in FILES) == TOTAL_VECTORS
    assert sorted(p.name for p in DATA.glob("*.json")) == sorted(FILES)


def test_acceptable_table_covers_exactly_the_flags_in_the_files() -> None:
    seen = {flag for name in FILES for v in load(name)[0] if v.result == "acceptable" for flag in v.flags}
    assert seen == set(ACCEPTABLE)


def test_refused_keys_are_exactly_the_pinned_groups() -> None:
    refused = {
        (v.file, v.group) for name in FILES for v in load(name)[0] if outcomes(name)[v.tc_id] == REFUSED
    }
    assert refused == REFUSED_GROUPS


@pytest.mark.parametrize("name", FILES)
def test_key_sources(name: str) -> None:
    assert {v.key_source for v in load(name)[0]} == KEY_SOURCES[FILES[name][0][:2]]


@pytest.mark.parametrize("name", [n for n in FILES if n.startswith("ecdsa")])
def test_pem_conversion_agrees_with_the_files_own_jwks(name: str) -> None:
    """The PEM → JWK conversion used for groups without a JWK reproduces every JWK the file does give."""
    groups = json.loads((DATA / name).read_bytes())["testGroups"]
    pairs = [(pem_to_jwk(g), g["publicKeyJwk"]) for g in groups if "publicKeyJwk" in g]
    assert pairs
    for converted, given in pairs:
        assert converted == {k: given[k] for k in ("kty", "crv", "x", "y")}
