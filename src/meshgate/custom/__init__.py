"""Istio's CUSTOM action, client side: the mesh config's ext_authz providers, and asking them."""
