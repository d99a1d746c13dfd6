"""The engine-side attack table: one row per attack variant, the answer meshgate gives, and its source.

Sources: RFC 8725 (JWT BCP) §2–§3, RFC 7515/7519, and the CVE classes of PyJWT (CVE-2022-29217),
python-jose (CVE-2016-10555 class, CVE-2024-33663), jwcrypto (CVE-2022-3102), node-jose (CVE-2018-0114),
jsonwebtoken (CVE-2015-9235), Java ECDSA (CVE-2022-21449), Envoy/Istio (CVE-2019-9901, CVE-2021-31920,
CVE-2021-39155, CVE-2021-39156, CVE-2026-73551). `envoy:` in a source names what Envoy 1.40 answers
where it differs (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from meshgate.jose.b64 import b64url_encode
from meshgate.jose.mint import generate_key, load_private_key, sign_token

DATA = Path(__file__).resolve().parents[2] / "src" / "meshgate" / "data"
SAMPLE_JWKS = (DATA / "jwks.json").read_text()
SAMPLE_PEM = (DATA / "key.pem").read_bytes()
SAMPLE_KID = json.loads(SAMPLE_JWKS)["keys"][0]["kid"]
ISSUER = "testing@secure.istio.io"
SECOND = "second@example.com"
SECOND_PEM, SECOND_JWK = generate_key("ES256")
FAR = 4685989700  # demo.jwt's exp

CONFIG = f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: istio-system}}
spec:
  jwtRules:
  - issuer: "{ISSUER}"
    jwks: {json.dumps(SAMPLE_JWKS)}
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - {{header: x-jwt-sub, claim: sub}}
    - {{header: x-jwt-note, claim: note}}
  - issuer: "{SECOND}"
    jwks: {json.dumps(json.dumps({"keys": [SECOND_JWK]}))}
    fromHeaders: [{{name: x-second-token}}]
    fromCookies: [session]
    forwardOriginalToken: true
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: deny, namespace: istio-system}}
spec:
  action: DENY
  rules:
  - to: [{{operation: {{paths: ["/admin", "/admin/*"]}}}}]
  - to: [{{operation: {{hosts: ["secret.example.com"]}}}}]
  - when: [{{key: "request.headers[x-block]", values: ["yes"]}}]
  - from: [{{source: {{remoteIpBlocks: ["203.0.113.0/24"]}}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: allow, namespace: istio-system}}
spec:
  action: ALLOW
  rules:
  - to: [{{operation: {{paths: ["/private/*"]}}}}]
    from: [{{source: {{requestPrincipals: ["{ISSUER}/{ISSUER}"]}}}}]
  - to: [{{operation: {{paths: ["/role/*"]}}}}]
    when: [{{key: "request.headers[x-role]", values: ["admin"]}}]
  - to: [{{operation: {{paths: ["/claim/*"]}}}}]
    when: [{{key: "request.headers[x-jwt-sub]", values: ["admin"]}}]
  - to: [{{operation: {{notPaths: ["/private/*", "/role/*", "/claim/*"]}}}}]
"""


def claims(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"iss": ISSUER, "sub": ISSUER, "exp": FAR}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def signed(**extra: Any) -> str:
    return sign_token(SAMPLE_PEM, claims(**extra))


def seg(value: Any) -> str:
    return b64url_encode(value if isinstance(value, bytes) else json.dumps(value).encode())


def raw_signed(header: dict[str, Any], payload: str | dict[str, Any], pem: bytes = SAMPLE_PEM) -> str:
    """A token signed over exactly this header and payload JSON text (RS256 for RSA keys, else ES256)."""
    key = load_private_key(pem)
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    body = payload if isinstance(payload, str) else json.dumps(payload)
    data = f"{seg({'alg': alg, **header})}.{seg(body.encode())}".encode()
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{data.decode()}.{b64url_encode(sig)}"


def hmac_token(secret: bytes, alg: str = "HS256", header: dict[str, Any] | None = None) -> str:
    head = seg({"alg": alg, "kid": SAMPLE_KID, **(header or {})})
    signing_input = f"{head}.{seg(claims(sub='admin'))}"
    digest = getattr(hashlib, "sha" + alg[2:])
    return f"{signing_input}.{b64url_encode(hmac.new(secret, signing_input.encode(), digest).digest())}"


_PUBLIC = load_private_key(SAMPLE_PEM).public_key()
PUBLIC_PEM = _PUBLIC.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
PUBLIC_PKCS1 = _PUBLIC.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
ATTACKER_PEM, ATTACKER_JWK = generate_key("RS256")
GOOD = signed()
GOOD_SECOND = sign_token(SECOND_PEM, {"iss": SECOND, "sub": "s", "exp": FAR})
H, P, S = GOOD.split(".")
# RS256 signatures are 256 bytes = 342 characters: the last one carries 2 bits and 4 unused ones
_LAST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TRAILING_BITS = f"{H}.{P}.{S[:-1]}{_LAST[_LAST.index(S[-1]) | 1]}"


def attacker_signed(header: dict[str, Any]) -> str:
    return raw_signed({"kid": SAMPLE_KID, **header}, claims(sub="admin"), ATTACKER_PEM)


@dataclass(frozen=True)
class Attack:
    """One request, and what meshgate must answer; for a 200, what the upstream may (not) receive."""

    id: str
    source: str
    target: str
    status: int
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    host: str = "frontend.example.com"
    upstream_path: str | None = None  # a 200 must reach the upstream with exactly this target
    absent: tuple[str, ...] = ()  # header names the upstream must not receive


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
VERIFY_FAIL = "Jwt verification fails"
BAD_HEADER_JSON = "Jwt header is an invalid JSON"
BAD_PAYLOAD_JSON = "Jwt payload is an invalid JSON"
NOT_SUPPORTED = "Jwt header [alg] is not supported"
DENIED = "RBAC: access denied"


LONG = signed(pad="x" * 17000)
DEEP = raw_signed({}, '{"iss":"' + ISSUER + '","d":' + "[" * 40 + "]" * 40 + "}")
NESTED = raw_signed({"cty": "JWT"}, claims())
DUPLICATE_SUB = raw_signed(
    {"kid": SAMPLE_KID}, f'{{"iss":"{ISSUER}","sub":"x","exp":{FAR},"sub":"{ISSUER}"}}'
)
CRLF_NOTE = signed(note="a\r\nx-injected: 1")
PREFLIGHT = (("origin", "https://evil.example"), ("access-control-request-method", "GET"))

ATTACKS: tuple[Attack, ...] = (
    # --- RFC 8725 §2.1/§3.1, CVE-2015-9235: alg none and friends (Envoy already safe) ---
    Attack("alg none, empty signature", "CVE-2015-9235", "/", 401, BAD_FORMAT,
           bearer(f"{seg({'alg': 'none'})}.{P}.")),
    *(Attack(f"alg {alg}", "CVE-2015-9235; RFC 8725 §3.1", "/", 401, NOT_SUPPORTED,
             bearer(f"{seg({'alg': alg})}.{P}.{S}")) for alg in ("none", "None", "NONE", "nOnE")),
    # --- algorithm confusion: HMAC keyed with the RSA public key (no HMAC key from a public key) ---
    *(Attack(f"HS256 keyed with the public key ({form})", cve, "/private/x", 401, VERIFY_FAIL,
             bearer(hmac_token(secret))) for form, secret, cve in (
        ("PEM", PUBLIC_PEM, "CVE-2016-10555; CVE-2022-29217 PyJWT"),
        ("PKCS1 PEM", PUBLIC_PKCS1, "CVE-2024-33663 python-jose"),
        ("JWKS text", SAMPLE_JWKS.encode(), "RFC 8725 §2.1"),
    )),
    Attack("HS512 keyed with the public key", "CVE-2022-29217", "/private/x", 401, VERIFY_FAIL,
           bearer(hmac_token(PUBLIC_PEM, "HS512"))),
    # --- key hints in the header are never trusted or fetched (RFC 8725 §3.10, CVE-2018-0114) ---
    Attack("embedded jwk", "CVE-2018-0114 node-jose", "/private/x", 401, VERIFY_FAIL,
           bearer(attacker_signed({"jwk": ATTACKER_JWK}))),
    Attack("jku to the attacker", "RFC 8725 §3.10", "/private/x", 401, VERIFY_FAIL,
           bearer(attacker_signed({"jku": "http://127.0.0.1:9/jwks.json"}))),
    Attack("x5u to the attacker", "RFC 8725 §3.10", "/private/x", 401, VERIFY_FAIL,
           bearer(attacker_signed({"x5u": "http://127.0.0.1:9/cert.pem"}))),
    Attack("x5c chain", "RFC 7515 §4.1.6", "/private/x", 401, VERIFY_FAIL,
           bearer(attacker_signed({"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}))),
    Attack("kid path traversal", "RFC 8725 §3.10", "/private/x", 401,
           "Jwks doesn't have key to match kid or alg from Jwt", bearer(attacker_signed({"kid": "../../dev/null"}))),
    Attack("kid SQL injection", "RFC 8725 §3.10", "/private/x", 401,
           "Jwks doesn't have key to match kid or alg from Jwt", bearer(attacker_signed({"kid": "x' OR '1'='1"}))),
    # --- parsing strictness (envoy: accepts every one of these, correctly signed) ---
    Attack("crit header", "RFC 7515 §4.1.11; envoy: 200", "/private/x", 401, BAD_HEADER_JSON,
           bearer(raw_signed({"kid": SAMPLE_KID, "crit": ["exp"]}, claims()))),
    Attack("nested token cty JWT", "RFC 7519 §5.2; envoy: 200", "/private/x", 401, BAD_HEADER_JSON, bearer(NESTED)),
    Attack("JWE five segments", "CVE-2022-3102 jwcrypto token type", "/private/x", 401, BAD_FORMAT,
           bearer(f"{H}.{P}.{S}.{S}.{S}")),
    Attack("extra empty segment", "RFC 7515 §7.1; envoy: 200", "/private/x", 401, BAD_FORMAT, bearer(f"{H}..{P}.{S}")),
    Attack("leading dot", "RFC 7515 §7.1; envoy: 200", "/private/x", 401, BAD_FORMAT, bearer(f".{GOOD}")),
    Attack("padded signature (query)", "RFC 7515 §2; envoy: 200", f"/private/x?access_token={GOOD}==", 401,
           "Jwt signature is an invalid Base64url encoded"),
    Attack("padded signature (header)", "RFC 7515 §2; envoy: 200 (extractor.cc reads to the end)", "/private/x",
           401, "Jwt signature is an invalid Base64url encoded", bearer(f"{GOOD}==")),
    Attack("padded signature, forged", "envoy: the same", "/private/x", 401, VERIFY_FAIL, bearer(f"{GOOD[:-4]}AAAA==")),
    Attack("non-zero trailing bits", "RFC 4648 §3.5; envoy: 200", "/private/x", 401,
           "Jwt signature is an invalid Base64url encoded", bearer(TRAILING_BITS)),
    Attack("duplicate sub claim", "RFC 7515 §4, RFC 8725 §3.9; envoy: the same", "/private/x", 401, BAD_PAYLOAD_JSON,
           bearer(DUPLICATE_SUB)),
    Attack("exp 0", "RFC 7519 §4.1.4; envoy: no expiry", "/private/x", 401, "Jwt is expired", bearer(signed(exp=0))),
    Attack("exp with a fraction", "RFC 7519 §2; struct_utils.cc truncates", "/private/x", 200,
           headers=bearer(signed(exp=FAR + 0.5)), upstream_path="/private/x", absent=("authorization",)),
    Attack("past exp with a fraction", "struct_utils.cc truncates", "/private/x", 401, "Jwt is expired",
           bearer(signed(exp=1_000_000_000.9))),
    Attack("exp true", "struct_utils.cc", "/private/x", 401, "Jwt payload [exp] field is not an integer",
           bearer(signed(exp=True))),
    Attack("exp as a string", "struct_utils.cc", "/private/x", 401, "Jwt payload [exp] field is not an integer",
           bearer(signed(exp=str(FAR)))),
    Attack("expired", "jwt.cc", "/private/x", 401, "Jwt is expired", bearer(signed(exp=1_000_000_000))),
    Attack("token over 16 KiB", "meshgate size limit", "/private/x", 401, BAD_FORMAT, bearer(LONG)),
    Attack("payload nested 40 deep", "meshgate depth limit", "/private/x", 401, BAD_PAYLOAD_JSON, bearer(DEEP)),
    Attack("ECDSA r = s = 0", "CVE-2022-21449", "/", 401, VERIFY_FAIL,
           (("x-second-token", ".".join(GOOD_SECOND.split(".")[:2]) + "." + b64url_encode(bytes(64))),)),
    # --- more than one token: none is ignored and forwarded ---
    Attack("header + forged access_token", "jwt_test.go invalid-token-set", f"/?access_token={GOOD[:-4]}AAAA",
           401, VERIFY_FAIL, bearer(GOOD)),
    Attack("header + garbage in another provider's header", "envoy: 200, forwarded", "/", 401, BAD_FORMAT,
           (*bearer(GOOD), ("x-second-token", "garbage"))),
    Attack("header + garbage cookie", "envoy: 200, forwarded", "/", 401, BAD_FORMAT,
           (*bearer(GOOD), ("cookie", "session=garbage"))),
    Attack("good + garbage lines of a no-prefix header", "extractor.cc: a token per line", "/", 401, BAD_FORMAT,
           (("x-second-token", GOOD_SECOND), ("x-second-token", "garbage"))),
    Attack("good + forged Authorization lines", "header_map_impl: joined; envoy: the same", "/private/x", 401,
           BAD_FORMAT, (*bearer(GOOD), *bearer(f"{GOOD[:-4]}AAAA"))),
    Attack("good Authorization + trailing junk", "extractor.cc reads to the end; envoy: the same", "/private/x",
           401, VERIFY_FAIL, (("authorization", f"Bearer {GOOD} junk"),)),
    Attack("good + garbage access_token", "envoy: 200, the second unread", f"/?access_token={GOOD}&access_token=x",
           401, BAD_FORMAT),
    # --- a verified token in the query never reaches the upstream's access log (extractor.cc removeJwt) ---
    Attack("valid access_token, other parameters kept in order", "extractor.cc JwtParamLocation::removeJwt",
           f"/private/x?b=2&access_token={GOOD}&a=%26", 200, upstream_path="/private/x?b=2&a=%26"),
    *(Attack(f"valid access_token {how}", "envoy: the same", f"/private/x?{query}", 200, upstream_path="/private/x")
      for how, query in (("twice", f"access_token={GOOD}&access_token={GOOD}"),
                         ("with an encoded name", f"access%5Ftoken={GOOD}"))),
    Attack("good + garbage session cookies", "envoy: 200, forwarded", "/", 401, BAD_FORMAT,
           (("cookie", f"session={GOOD_SECOND}; session=x"),)),
    # --- output headers are the gateway's own ---
    Attack("spoofed payload header, no token", "extractor.cc sanitizeHeaders", "/public", 200,
           headers=(("x-jwt-payload", seg(claims(sub="admin"))),), upstream_path="/public", absent=("x-jwt-payload",)),
    Attack("spoofed claim header", "sanitizeHeaders before RBAC", "/claim/x", 403, DENIED,
           (*bearer(GOOD), ("x-jwt-sub", "admin"))),
    Attack("spoofed claim header on a CORS preflight", "filter.cc bypass; meshgate strips", "/claim/x", 403, DENIED,
           (("x-jwt-sub", "admin"), *PREFLIGHT), method="OPTIONS"),
    Attack("spoofed payload on a CORS preflight", "filter.cc bypass; meshgate strips", "/public", 200,
           headers=(("x-jwt-payload", "e30"), *PREFLIGHT), method="OPTIONS", upstream_path="/public",
           absent=("x-jwt-payload",)),
    Attack("claim with CRLF", "RFC 9110 §5.5", "/public", 200, headers=bearer(CRLF_NOTE), upstream_path="/public",
           absent=("x-injected", "x-jwt-note", "authorization")),
    Attack("verified token is not forwarded", "authenticator.cc forward=false", "/private/x", 200,
           headers=bearer(GOOD), upstream_path="/private/x", absent=("authorization",)),
    # --- repeated headers ---
    Attack("DENY header on a second line", "RBAC any line", "/public", 403, DENIED,
           (("x-block", "no"), ("x-block", "yes"))),
    Attack("ALLOW header on one line of two", "envoy: 200", "/role/x", 403, DENIED,
           (("x-role", "user"), ("x-role", "admin"))),
    # --- paths: one normalized path for authorization and the upstream ---
    Attack("dot-dot into /admin", "CVE-2019-9901", "/public/../admin", 403, DENIED),
    Attack("encoded dot-dot", "CVE-2019-9901", "/public/%2e%2e/admin", 403, DENIED),
    Attack("backslash dot-dot", "CVE-2019-9901", "/public\\..\\admin", 403, DENIED),
    Attack("encoded letter", "Chromium unescape", "/%61dmin", 403, DENIED),
    Attack("double-encoded dots", "envoy: forwards", "/public/%252e%252e/admin", 400, ""),
    Attack("overlong UTF-8 dots", "envoy: forwards", "/public/%c0%ae%c0%ae/admin", 400, ""),
    Attack("dot-dot path parameter", "CVE-2026-73551", "/public/..;/admin", 400, ""),
    Attack("path parameter", "Tomcat ;jsessionid", "/admin;x=1", 400, ""),
    Attack("encoded path parameter", "envoy: forwards", "/public/..%3B/admin", 400, ""),
    Attack("double slash", "CVE-2021-31920; envoy: forwards //admin", "//admin", 400, ""),
    Attack("encoded slash", "CVE-2021-31920", "/admin%2Fx", 400, ""),
    Attack("encoded backslash", "CVE-2021-31920", "/public%5C..%5Cadmin", 400, ""),
    Attack("fragment", "CVE-2021-39156; envoy: strips", "/admin#x", 400, ""),
    Attack("NUL", "conn_manager_utility.cc", "/admin%00", 400, ""),
    Attack("invalid escape", "envoy: forwards", "/admin%zz", 400, ""),
    # --- hosts ---
    *(Attack(f"host {host}", cve, "/", 403, DENIED, host=host) for host, cve in (
        ("SECRET.example.com", "CVE-2021-39155"),
        ("secret.example.com.", "envoy: 200"),
        ("secret.example.com:8080", "envoy: 200"),
        ("Secret.Example.COM.:443", "envoy: 200"),
    )),
    # --- X-Forwarded-For: the gateway trusts one hop ---
    Attack("spoofed left XFF entry", "getLastAddressFromXFF", "/", 403, DENIED,
           (("x-forwarded-for", "198.51.100.7, 203.0.113.5"),)),
    Attack("spoofed earlier XFF line", "getLastAddressFromXFF", "/", 403, DENIED,
           (("x-forwarded-for", "198.51.100.7"), ("x-forwarded-for", "203.0.113.5"))),
    Attack("XFF beyond the trusted hop", "getLastAddressFromXFF", "/public", 200,
           headers=(("x-forwarded-for", "203.0.113.5, 198.51.100.7"),), upstream_path="/public"),
)  # fmt: skip
