"""meshgate: Istio RequestAuthentication + AuthorizationPolicy, enforced by one Python program."""

__version__ = "0.1.0"
