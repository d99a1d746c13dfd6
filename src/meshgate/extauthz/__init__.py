"""meshgate as an external authorizer: Envoy ext_authz gRPC and HTTP, nginx auth_request, Traefik ForwardAuth."""
