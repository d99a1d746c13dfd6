"""Request authentication as Envoy's jwt_authn filter runs it under Istio: providers, extraction, verification."""
