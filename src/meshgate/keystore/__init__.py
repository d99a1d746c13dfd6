"""JWKS sources, fetching and the key store; it never decides."""
