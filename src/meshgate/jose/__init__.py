"""JOSE on the wire: base64url, compact JWS parsing, JWK sets, signature checks and their statuses, as Envoy."""
