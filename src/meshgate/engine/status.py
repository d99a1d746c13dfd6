"""Envoy's exact reply strings, each with its source, and the HTTP mapping of a JWT failure (one place).

The JWT statuses themselves are jose/status.py's; the reason phrase of every status code Envoy writes is here
too, since a local reply, the ext_authz HTTP answer and `meshgate check` all print it.
"""

from __future__ import annotations

from meshgate.jose.status import JwtStatus

# envoyproxy/envoy:source/extensions/filters/http/rbac/rbac_filter.cc
RBAC_ACCESS_DENIED = "RBAC: access denied"
# istio/istio:pilot/pkg/networking/util/proxy_headers.go ServerName
SERVER_NAME = "istio-envoy"
# envoyproxy/envoy:source/common/http/utility.cc prepareLocalReply default content type
LOCAL_REPLY_CONTENT_TYPE = "text/plain"


def www_authenticate(realm: str, status: JwtStatus) -> str:
    """Envoy's `www-authenticate` for a JWT failure; JwtMissed carries no error part (filter.cc)."""
    if status is JwtStatus.JWT_MISSED:
        return f'Bearer realm="{realm}"'
    return f'Bearer realm="{realm}", error="invalid_token"'


# envoyproxy/envoy:source/common/http/codes.cc CodeUtility::toString (the phrase Envoy writes for any
# status, proxied responses included — the upstream's own reason phrase is not kept).
ENVOY_REASON_PHRASES: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
    422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
    507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended",
    511: "Network Authentication Required",
}  # fmt: skip
UNKNOWN_REASON = "Unknown"  # codes.cc: any other code


def reason_phrase(status: int) -> str:
    return ENVOY_REASON_PHRASES.get(status, UNKNOWN_REASON)
