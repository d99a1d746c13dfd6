"""networking.istio.io Gateway, VirtualService, ServiceEntry and TLS Secrets: decoded, checked, built as values."""
