"""Authorization as Envoy's RBAC filters run Istio's AuthorizationPolicies: compiled predicates, then a verdict."""
