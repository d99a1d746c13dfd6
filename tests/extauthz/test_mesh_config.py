"""`--mesh-config`: Istio `extensionProviders` (istio/api mesh/v1alpha1/config.proto) in every accepted shape,
defaults, and istiod-style problems with `file:line`."""

from __future__ import annotations

import pytest

from meshgate.custom.mesh_config import ExtAuthzProvider, header_matches, parse_mesh_config
from meshgate.errors import ConfigError

MESH = """\
extensionProviders:
- name: http-authz
  envoyExtAuthzHttp:
    service: foo/authz.foo.svc.cluster.local
    port: 9192
    timeout: 0.5s
    failOpen: true
    statusOnError: "503"
    pathPrefix: /check
    includeRequestHeadersInCheck: [cookie, "x-ext-*"]
    includeAdditionalHeadersInCheck: {x-real-ip: "%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%"}
    headersToUpstreamOnAllow: [x-user]
    headersToDownstreamOnDeny: [x-reason]
- name: grpc-authz
  envoyExtAuthzGrpc: {service: authz, port: 9191}
- name: zipkin
  zipkin: {service: zipkin, port: 9411}
"""
HTTP_AUTHZ = ExtAuthzProvider(
    name="http-authz",
    kind="http",
    service="foo/authz.foo.svc.cluster.local",
    port=9192,
    timeout_s=0.5,
    fail_open=True,
    status_on_error=503,
    path_prefix="/check",
    include_request_headers_in_check=("cookie", "x-ext-*"),
    include_additional_headers_in_check=(("x-real-ip", "%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%"),),
    headers_to_upstream_on_allow=("x-user",),
    headers_to_downstream_on_deny=("x-reason",),
)
GRPC_AUTHZ = ExtAuthzProvider("grpc-authz", "grpc", "authz", 9191)  # defaults: 600s, fail closed, 403


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in text.splitlines())


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(MESH, id="MeshConfig document"),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |-\n"
            + _indent(MESH, 4),
            id="istio ConfigMap data.mesh",
        ),
        pytest.param(
            "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n"
            + _indent(MESH, 4),
            id="IstioOperator spec.meshConfig",
        ),
        pytest.param("meshConfig:\n" + _indent(MESH, 2), id="Helm values meshConfig"),
    ],
)
def test_shapes_and_defaults(text: str) -> None:
    providers = parse_mesh_config(text, "mesh.yaml")
    assert providers == {"http-authz": HTTP_AUTHZ, "grpc-authz": GRPC_AUTHZ}
    assert providers["http-authz"].host == "authz.foo.svc.cluster.local"


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "extensionProviders:\n- envoyExtAuthzHttp: {service: a, port: 1}\n",
            ["mesh.yaml:2: empty extension provider name"],
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: a, port: 1}\n"
            "- name: a\n  envoyExtAuthzGrpc: {service: a, port: 1}\n",
            ["mesh.yaml:4: duplicate extension provider name 'a'"],
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp:\n    port: 70000\n",
            [
                "mesh.yaml:4: a: service is required",
                "mesh.yaml:4: a: port number 70000 must be in the range 1..65535",
            ],
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: s, port: 1, timeout: soon,"
            " statusOnError: x,"
            " pathPrefix: check}\n",
            [
                "mesh.yaml:3: a: invalid timeout 'soon' (expected a duration such as 0.5s)",
                "mesh.yaml:3: a: invalid statusOnError value 'x'",
                "mesh.yaml:3: a: pathPrefix should begin with `/` but found 'check'",
            ],
        ),
        ("extensionProviders: {}\n", ["mesh.yaml:1: extensionProviders must be a list"]),
        (
            "extensionProviders: [\n",
            ["mesh.yaml:2: invalid YAML: expected the node content, but found '<stream end>'"],
        ),
    ],
)
def test_problems_name_file_and_line(text: str, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_mesh_config(text, "mesh.yaml")
    assert [str(p) for p in err.value.problems] == problems


@pytest.mark.parametrize(
    ("name", "patterns", "matches"),
    [
        ("x-user", ("x-user",), True),
        ("x-user", ("X-USER",), True),
        ("x-auth-a", ("x-auth-*",), True),
        ("a-token", ("*-token",), True),
        ("x-userx", ("x-user",), False),
        ("x", (), False),
    ],
)
def test_header_patterns(name: str, patterns: tuple[str, ...], matches: bool) -> None:
    """Exact, `prefix*`, `*suffix` (config.proto includeRequestHeadersInCheck comment)."""
    assert header_matches(name, patterns) is matches


def test_the_istio_snippet_in_deploy_is_a_valid_mesh_config() -> None:
    """deploy/istio/meshgate-extension-provider.yaml (ConfigMap + CUSTOM policy: two documents) loads."""
    from pathlib import Path

    from meshgate.custom.mesh_config import load_mesh_config

    path = Path(__file__).resolve().parents[2] / "deploy" / "istio" / "meshgate-extension-provider.yaml"
    providers = load_mesh_config(str(path))
    assert {name: (p.kind, p.port, p.timeout_s) for name, p in providers.items()} == {
        "meshgate-grpc": ("grpc", 9191, 0.5),
        "meshgate-http": ("http", 9192, 0.5),
    }
