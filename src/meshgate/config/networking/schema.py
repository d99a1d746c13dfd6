"""The field schema of networking.istio.io Gateway, VirtualService and ServiceEntry (v1, v1beta1, v1alpha3).

Field lists, types, enums, `required` and `oneOf`: istio/api networking/v1alpha3/gateway.proto,
virtual_service.proto, service_entry.proto and kubernetes/customresourcedefinitions.gen.yaml. Fields meshgate
does not act on (retries, fault, CORS, mirrors, TCP/TLS routes) are still decoded strictly, so a typo in
them is a problem like any other; what meshgate then does with them is routing/validate_*.py's business.
"""

from __future__ import annotations

from meshgate.config.networking.codecs import INT32, UINT32, Base64, Checked, Enum, ListOf, MapOf, Number
from meshgate.config.schema import BOOL, STRING, STRLIST, STRMAP, Message

TLS_MODES = ("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL")
TLS_VERSIONS = ("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
RESOLUTIONS = ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")

# --- Gateway -------------------------------------------------------------------------------------
SERVER_PORT = Checked(
    Message("Port", {"number": UINT32, "protocol": STRING, "name": STRING, "targetPort": UINT32}),
    required=("number", "protocol", "name"),
)
TLS_CERTIFICATE = Message(
    "ServerTLSSettings.TLSCertificate",
    {"serverCertificate": STRING, "privateKey": STRING, "caCertificates": STRING},
)
SERVER_TLS = Message(
    "ServerTLSSettings",
    {
        "httpsRedirect": BOOL, "mode": Enum(TLS_MODES), "serverCertificate": STRING, "privateKey": STRING,
        "caCertificates": STRING, "caCrl": STRING, "credentialName": STRING, "credentialNames": STRLIST,
        "tlsCertificates": ListOf(TLS_CERTIFICATE), "subjectAltNames": STRLIST,
        "verifyCertificateSpki": STRLIST, "verifyCertificateHash": STRLIST,
        "minProtocolVersion": Enum(TLS_VERSIONS), "maxProtocolVersion": Enum(TLS_VERSIONS),
        "cipherSuites": STRLIST, "insecureSkipVerify": BOOL, "caCertCredentialName": STRING,
    },
)  # fmt: skip
SERVER = Checked(
    Message(
        "Server",
        {
            "port": SERVER_PORT,
            "bind": STRING,
            "hosts": STRLIST,
            "tls": SERVER_TLS,
            "defaultEndpoint": STRING,
            "name": STRING,
        },
    ),
    required=("port", "hosts"),
)
GATEWAY = Message("Gateway", {"servers": ListOf(SERVER), "selector": STRMAP})

# --- VirtualService ------------------------------------------------------------------------------
STRING_MATCH = Checked(
    Message("StringMatch", {"exact": STRING, "prefix": STRING, "regex": STRING}),
    one_of=("exact", "prefix", "regex"),
)
HEADER_OPERATIONS = Message("Headers.HeaderOperations", {"set": STRMAP, "add": STRMAP, "remove": STRLIST})
HEADERS = Message("Headers", {"request": HEADER_OPERATIONS, "response": HEADER_OPERATIONS})
DESTINATION = Checked(
    Message(
        "Destination", {"host": STRING, "subset": STRING, "port": Message("PortSelector", {"number": UINT32})}
    ),
    required=("host",),
)
HTTP_ROUTE_DESTINATION = Checked(
    Message("HTTPRouteDestination", {"destination": DESTINATION, "weight": INT32, "headers": HEADERS}),
    required=("destination",),
)
HTTP_MATCH = Message(
    "HTTPMatchRequest",
    {
        "name": STRING, "uri": STRING_MATCH, "scheme": STRING_MATCH, "method": STRING_MATCH,
        "authority": STRING_MATCH, "headers": MapOf(STRING_MATCH), "port": UINT32, "sourceLabels": STRMAP,
        "gateways": STRLIST, "queryParams": MapOf(STRING_MATCH), "ignoreUriCase": BOOL,
        "withoutHeaders": MapOf(STRING_MATCH), "sourceNamespace": STRING, "statPrefix": STRING,
    },
)  # fmt: skip
REDIRECT = Checked(
    Message(
        "HTTPRedirect",
        {
            "uri": STRING,
            "authority": STRING,
            "port": UINT32,
            "derivePort": Enum(("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT")),
            "scheme": STRING,
            "redirectCode": UINT32,
            "prefixRewrite": STRING,
        },
    ),
    one_of=("port", "derivePort"),
)
DIRECT_RESPONSE = Checked(
    Message(
        "HTTPDirectResponse",
        {
            "status": UINT32,
            "body": Checked(
                Message("HTTPBody", {"string": STRING, "bytes": Base64()}), one_of=("string", "bytes")
            ),
        },
    ),
    required=("status",),
)
REWRITE = Message(
    "HTTPRewrite",
    {"uri": STRING, "authority": STRING, "uriRegexRewrite": Message("RegexRewrite", {"match": STRING,
                                                                                     "rewrite": STRING})},
)  # fmt: skip
PERCENT = Message("Percent", {"value": Number()})
CORS = Message(
    "CorsPolicy",
    {
        "allowOrigin": STRLIST, "allowOrigins": ListOf(STRING_MATCH), "allowMethods": STRLIST,
        "allowHeaders": STRLIST, "exposeHeaders": STRLIST, "maxAge": STRING, "allowCredentials": BOOL,
        "unmatchedPreflights": Enum(("UNSPECIFIED", "FORWARD", "IGNORE")),
    },
)  # fmt: skip
FAULT = Message(
    "HTTPFaultInjection",
    {
        "delay": Checked(
            Message("HTTPFaultInjection.Delay", {"fixedDelay": STRING, "exponentialDelay": STRING,
                                                 "percentage": PERCENT, "percent": INT32}),
            one_of=("fixedDelay", "exponentialDelay"),
        ),
        "abort": Checked(
            Message("HTTPFaultInjection.Abort", {"httpStatus": INT32, "grpcStatus": STRING,
                                                 "http2Error": STRING, "percentage": PERCENT}),
            one_of=("httpStatus", "grpcStatus", "http2Error"),
        ),
    },
)  # fmt: skip
RETRIES = Message(
    "HTTPRetry",
    {"attempts": INT32, "perTryTimeout": STRING, "retryOn": STRING, "retryRemoteLocalities": BOOL,
     "retryIgnorePreviousHosts": BOOL, "backoff": STRING},
)  # fmt: skip
MIRROR = Checked(Message("HTTPMirrorPolicy", {"destination": DESTINATION, "percentage": PERCENT}),
                 required=("destination",))  # fmt: skip
HTTP_ROUTE = Message(
    "HTTPRoute",
    {
        "name": STRING, "match": ListOf(HTTP_MATCH), "route": ListOf(HTTP_ROUTE_DESTINATION),
        "redirect": REDIRECT, "directResponse": DIRECT_RESPONSE,
        "delegate": Message("Delegate", {"name": STRING, "namespace": STRING}), "rewrite": REWRITE,
        "timeout": STRING, "retries": RETRIES, "fault": FAULT, "mirror": DESTINATION,
        "mirrors": ListOf(MIRROR), "mirrorPercent": UINT32, "mirrorPercentage": PERCENT, "corsPolicy": CORS,
        "headers": HEADERS,
    },
)  # fmt: skip
ROUTE_DESTINATION = Checked(Message("RouteDestination", {"destination": DESTINATION, "weight": INT32}),
                            required=("destination",))  # fmt: skip
L4_MATCH = Message(
    "L4MatchAttributes",
    {"destinationSubnets": STRLIST, "port": UINT32, "sourceLabels": STRMAP, "gateways": STRLIST,
     "sourceNamespace": STRING, "sourceSubnet": STRING},
)  # fmt: skip
TLS_MATCH = Checked(
    Message("TLSMatchAttributes", {"sniHosts": STRLIST, "destinationSubnets": STRLIST, "port": UINT32,
                                   "sourceLabels": STRMAP, "gateways": STRLIST, "sourceNamespace": STRING}),
    required=("sniHosts",),
)  # fmt: skip
VIRTUAL_SERVICE = Message(
    "VirtualService",
    {
        "hosts": STRLIST, "gateways": STRLIST, "http": ListOf(HTTP_ROUTE),
        "tls": ListOf(Checked(Message("TLSRoute", {"match": ListOf(TLS_MATCH),
                                                   "route": ListOf(ROUTE_DESTINATION)}), required=("match",))),
        "tcp": ListOf(Message("TCPRoute", {"match": ListOf(L4_MATCH), "route": ListOf(ROUTE_DESTINATION)})),
        "exportTo": STRLIST,
    },
)  # fmt: skip

# --- ServiceEntry --------------------------------------------------------------------------------
SERVICE_PORT = Checked(
    Message("ServicePort", {"number": UINT32, "protocol": STRING, "name": STRING, "targetPort": UINT32}),
    required=("number", "name"),
)
WORKLOAD_ENTRY = Message(
    "WorkloadEntry",
    {"address": STRING, "ports": MapOf(UINT32), "labels": STRMAP, "network": STRING, "locality": STRING,
     "weight": UINT32, "serviceAccount": STRING},
)  # fmt: skip
SERVICE_ENTRY = Checked(
    Message(
        "ServiceEntry",
        {
            "hosts": STRLIST,
            "addresses": STRLIST,
            "ports": ListOf(SERVICE_PORT),
            "location": Enum(("MESH_EXTERNAL", "MESH_INTERNAL")),
            "resolution": Enum(RESOLUTIONS),
            "endpoints": ListOf(WORKLOAD_ENTRY),
            "workloadSelector": Message("WorkloadSelector", {"labels": STRMAP}),
            "exportTo": STRLIST,
            "subjectAltNames": STRLIST,
        },
    ),
    required=("hosts",),
)

NETWORKING_KINDS: dict[str, Message | Checked] = {
    "Gateway": GATEWAY,
    "VirtualService": VIRTUAL_SERVICE,
    "ServiceEntry": SERVICE_ENTRY,
}
