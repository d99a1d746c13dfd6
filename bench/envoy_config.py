"""Envoy 1.40 bootstrap for the bench: jwt_authn + RBAC configured for the seed as istiod would.

Owns only the configuration value (a dict, written as JSON, which Envoy reads as YAML). Shapes follow
istio-semantics.md §1.3 and istiod's generators:
- jwt_authn: `istio/istio:pilot/pkg/security/authn/policy_applier.go` (convertToEnvoyJwtConfig): provider
  `origins-0`, `payload_in_metadata: payload`, `forward: false`, space-delimited `permission`/`scope`,
  requirement `requires_any [origins-0, allow_missing]`, `bypass_cors_preflight`, no `jwt_cache_config`.
- RBAC DENY for `notRequestPrincipals: ["*"]`: `istio/istio:pilot/pkg/security/authz/model/generator.go`
  (requestPrincipalGenerator.extendedPrincipal: `*` → and_ids[iss `.+`, sub `.+`] on the jwt_authn payload)
  wrapped by model.go `rule.principal` in `not_id`, then `and_ids`; permissions `and_rules[any]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# istio/istio:pilot/pkg/xds/filters/filters.go (EnvoyJwtFilterName, EnvoyJwtFilterPayload).
JWT_FILTER = "envoy.filters.http.jwt_authn"
JWT_PAYLOAD_KEY = "payload"
# istio/istio:pilot/pkg/security/authn/policy_applier.go: providers are `origins-<index>`.
PROVIDER = "origins-0"
# istio/istio:pilot/pkg/security/authz/builder/builder.go: `ns[<ns>]-policy[<name>]-rule[<index>]`.
POLICY_ID = "ns[{namespace}]-policy[{name}]-rule[0]"
# istio/istio:pilot/pkg/networking/util/proxy_headers.go (ServerName).
SERVER_NAME = "istio-envoy"
UPSTREAM_CLUSTER = "upstream"

_TYPE = "type.googleapis.com/envoy.extensions."
Config = dict[str, Any]


def _socket(port: int) -> Config:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def jwt_authn_filter(issuer: str, jwks: str) -> Config:
    provider = {
        "issuer": issuer,
        "local_jwks": {"inline_string": jwks},
        "payload_in_metadata": JWT_PAYLOAD_KEY,
        "forward": False,
        "normalize_payload_in_metadata": {"space_delimited_claims": ["permission", "scope"]},
    }
    requires = {"requires_any": {"requirements": [{"provider_name": PROVIDER}, {"allow_missing": {}}]}}
    return {
        "name": JWT_FILTER,
        "typed_config": {
            "@type": _TYPE + "filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {PROVIDER: provider},
            "rules": [{"match": {"prefix": "/"}, "requires": requires}],
            "bypass_cors_preflight": True,
        },
    }


def _claim_present(claim: str) -> Config:
    return {
        "metadata": {
            "filter": JWT_FILTER,
            "path": [{"key": JWT_PAYLOAD_KEY}, {"key": claim}],
            "value": {"string_match": {"safe_regex": {"regex": ".+"}}},
        }
    }


def rbac_deny_filter(namespace: str, policy: str) -> Config:
    """DENY `from: [{source: {notRequestPrincipals: ["*"]}}]`, exactly as istiod nests it."""
    any_principal = {"and_ids": {"ids": [_claim_present("iss"), _claim_present("sub")]}}
    rule = {
        "permissions": [{"and_rules": {"rules": [{"any": True}]}}],
        "principals": [{"and_ids": {"ids": [{"not_id": any_principal}]}}],
    }
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": _TYPE + "filters.http.rbac.v3.RBAC",
            "rules": {
                "action": "DENY",
                "policies": {POLICY_ID.format(namespace=namespace, name=policy): rule},
            },
        },
    }


def bootstrap(
    *,
    listen_port: int,
    upstream_port: int,
    admin_port: int,
    issuer: str,
    jwks: str,
    namespace: str,
    policy: str,
) -> Config:
    """The whole static bootstrap: one listener → jwt_authn → RBAC → router → the shared upstream."""
    hcm = {
        "@type": _TYPE + "filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "inbound",
        "server_name": SERVER_NAME,
        "normalize_path": True,
        "route_config": {
            "name": "bench",
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {"match": {"prefix": "/"}, "route": {"cluster": UPSTREAM_CLUSTER, "timeout": "0s"}}
                    ],
                }
            ],
        },
        "http_filters": [
            jwt_authn_filter(issuer, jwks),
            rbac_deny_filter(namespace, policy),
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": _TYPE + "filters.http.router.v3.Router"},
            },
        ],
    }
    cluster = {
        "name": UPSTREAM_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": UPSTREAM_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket(upstream_port)}}]}],
        },
    }
    listener = {
        "name": "ingress",
        "address": _socket(listen_port),
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }
    return {
        "admin": {"address": _socket(admin_port)},
        "static_resources": {"listeners": [listener], "clusters": [cluster]},
    }


def write(path: Path, config: Config) -> Path:
    path.write_text(json.dumps(config, indent=1) + "\n")
    return path


def command(envoy: str, config_path: Path, concurrency: int) -> list[str]:
    """Envoy argv; hot restart off so parallel Envoys on this machine never share memory segments."""
    return [
        envoy,
        "-c",
        str(config_path),
        "--concurrency",
        str(concurrency),
        "--disable-hot-restart",
        "-l",
        "error",
    ]
