"""Networking documents for the routing tests: a spec snippet wrapped so its first line is line 7, the
resources it may name (a Gateway `gw`, ServiceEntries for `svc`/`svc2`, a TLS Secret `cert`) appended after
it, and a real self-signed certificate for Secrets."""

from __future__ import annotations

import base64
import datetime
import functools
import textwrap

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshgate.config.load import LoadResult, load_text

SPEC_FIRST_LINE = 7
SUPPORT = """
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc, namespace: default}
spec:
  hosts: [svc.default.svc.cluster.local, svc2.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 8080, name: http-alt, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, labels: {app: svc}}]
"""


def document(kind: str, spec: str, name: str = "r", namespace: str = "default") -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    api = "v1" if kind == "Secret" else "networking.istio.io/v1"
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{body}\n"


def load(kind: str, spec: str, support: bool = True, **meta: str) -> LoadResult:
    text = document(kind, spec, **meta) + (SUPPORT if support else "")
    return load_text(text, "t.yaml")


def problems(kind: str, spec: str, support: bool = True) -> list[tuple[int, str, bool]]:
    """(line, message, is_warning) of every problem, in report order."""
    return [(p.line, p.message, p.warning) for p in load(kind, spec, support).problems]


@functools.cache
def cert_and_key(host: str = "example.com") -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 certificate for `host` and its key, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def secret(name: str, namespace: str, host: str = "example.com", kind: str = "kubernetes.io/tls") -> str:
    cert, key = cert_and_key(host)
    data = {k: base64.b64encode(v).decode() for k, v in (("tls.crt", cert), ("tls.key", key))}
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\ntype: {kind}\n"
        f"data:\n  tls.crt: {data['tls.crt']}\n  tls.key: {data['tls.key']}\n"
    )
