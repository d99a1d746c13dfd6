"""A real grpcio server for gateway tests, and a grpcio client helper.

`GrpcServer().start()` serves on a loopback port (plaintext HTTP/2, as an Istio GRPC ServiceEntry port is
reached by the ingress):
- the standard health service `grpc.health.v1.Health` (grpcio-health-checking): `Check` unary and `Watch`
  server-streaming; `set_health(service, status)` changes what Watch streams next;
- `meshgate.test.Probe`, generic handlers with bytes in and out (no protoc):
  `Count` (server-streaming: request b"N" → N messages b"message 0" .. b"message N-1"),
  `Fail` (unary: request b"CODE:message" → that status code with that details text),
  `Echo` (unary: answers the JSON of the invocation metadata it received, so a test sees what the gateway
  forwarded: `[[key, value], ...]`),
  `Slow` (unary: request b"SECONDS" → sleeps, then answers b"late").

`call_unary` / `call_stream` call through a real grpcio channel (plaintext or TLS with a test CA) and return
an `Outcome` — the status code, details, trailing metadata and messages — whatever the status.
`grpc_headers` / `grpc_frame` / `grpc_messages` speak gRPC's wire format for raw HTTP/2 clients (h2_client.py).
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

PROBE = "meshgate.test.Probe"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _identity(b: bytes) -> bytes:
    return b


def _count(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    for i in range(int(request or b"0")):
        yield f"message {i}".encode()


def _fail(request: bytes, context: grpc.ServicerContext) -> bytes:
    code, _, message = request.decode("utf-8").partition(":")
    status = next(s for s in grpc.StatusCode if s.value[0] == int(code))
    context.abort(status, message)
    raise AssertionError("abort returns only by raising")


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    pairs = [[k, v if isinstance(v, str) else v.decode("latin-1")] for k, v in context.invocation_metadata()]
    return json.dumps(pairs).encode()


def _slow(request: bytes, context: grpc.ServicerContext) -> bytes:
    time.sleep(float(request or b"0"))
    return b"late"


def probe_handler() -> grpc.GenericRpcHandler:
    """The `meshgate.test.Probe` service with bytes serializers."""
    unary = {"Fail": _fail, "Echo": _echo, "Slow": _slow}
    handlers: dict[str, grpc.RpcMethodHandler] = {
        name: grpc.unary_unary_rpc_method_handler(fn, _identity, _identity) for name, fn in unary.items()
    }
    handlers["Count"] = grpc.unary_stream_rpc_method_handler(_count, _identity, _identity)
    return grpc.method_handlers_generic_handler(PROBE, handlers)


class GrpcServer:
    """grpcio on 127.0.0.1 (plaintext HTTP/2): health + Probe. `stop()` closes the port at once."""

    def __init__(self) -> None:
        self.health = health.HealthServicer()
        self.server: Any = None
        self.port = 0

    def start(self) -> GrpcServer:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.server.add_generic_rpc_handlers((probe_handler(),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.set_health("", SERVING)
        return self

    def set_health(self, service: str, status: int) -> None:
        self.health.set(service, status)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(grace=None).wait(5)
            self.server = None


# --- the client side -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What a grpcio client saw for one call."""

    code: grpc.StatusCode
    details: str | None
    messages: list[bytes] = field(default_factory=list)
    initial_metadata: tuple[tuple[str, str | bytes], ...] = ()
    trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()

    def trailing(self, key: str) -> list[str | bytes]:
        return [v for k, v in self.trailing_metadata if k == key]


def channel(port: int, ca_file: str | None = None, authority: str | None = None) -> grpc.Channel:
    """A channel to 127.0.0.1:`port`; TLS verified against `ca_file` (the test CA names `localhost`)."""
    options = [("grpc.default_authority", authority)] if authority else []
    if ca_file is not None:  # verify the certificate's name whatever `:authority` says
        options.append(("grpc.ssl_target_name_override", "localhost"))
    if ca_file is None:
        return grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    with open(ca_file, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    return grpc.secure_channel(f"localhost:{port}", creds, options=options)


def bearer(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("authorization", f"Bearer {token}")]


def call_unary(
    ch: grpc.Channel,
    method: str,
    request: bytes,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 5.0,
) -> Outcome:
    """One unary call with bytes in and out (serialize a protobuf request yourself)."""
    rpc = ch.unary_unary(method, request_serializer=_identity, response_deserializer=_identity)
    try:
        response, call = rpc.with_call(request, metadata=list(metadata), timeout=timeout)
    except grpc.RpcError as err:
        return _failed(err)
    return Outcome(call.code(), call.details(), [response], tuple(call.initial_metadata() or ()),
                   tuple(call.trailing_metadata() or ()))  # fmt: skip


def call_stream(
    ch: grpc.Channel,
    method: str,
    request: bytes,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 5.0,
    limit: int | None = None,
) -> Outcome:
    """A server-streaming call: every message (or the first `limit`, then the call is cancelled)."""
    rpc = ch.unary_stream(method, request_serializer=_identity, response_deserializer=_identity)
    call = rpc(request, metadata=list(metadata), timeout=timeout)
    messages: list[bytes] = []
    try:
        for message in call:
            messages.append(message)
            if limit is not None and len(messages) >= limit:
                call.cancel()
                break
    except grpc.RpcError as err:
        out = _failed(err)
        out.messages = messages
        return out
    return Outcome(call.code(), call.details(), messages, tuple(call.initial_metadata() or ()),
                   tuple(call.trailing_metadata() or ()))  # fmt: skip


def _failed(err: grpc.RpcError) -> Outcome:
    call: Any = err
    return Outcome(call.code(), call.details(), [], tuple(call.initial_metadata() or ()),
                   tuple(call.trailing_metadata() or ()))  # fmt: skip


def health_request(service: str = "") -> bytes:
    return bytes(health_pb2.HealthCheckRequest(service=service).SerializeToString())


def health_status(message: bytes) -> int:
    return int(health_pb2.HealthCheckResponse.FromString(message).status)


# --- gRPC on the wire (for raw HTTP/2 clients) --------------------------------------------------------
def grpc_headers(token: str | None = None, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The headers a gRPC client sends after the pseudo-headers (grpc-go/grpcio order), token in metadata."""
    out = [("content-type", "application/grpc"), ("te", "trailers")]
    if token is not None:
        out.append(("authorization", f"Bearer {token}"))
    return out + list(extra)


def grpc_frame(message: bytes) -> bytes:
    """One length-prefixed gRPC message (uncompressed)."""
    return struct.pack(">BI", 0, len(message)) + message


def grpc_messages(data: bytes) -> list[bytes]:
    """The length-prefixed messages in a gRPC body."""
    out, i = [], 0
    while i + 5 <= len(data):
        (length,) = struct.unpack(">I", data[i + 1 : i + 5])
        out.append(data[i + 5 : i + 5 + length])
        i += 5 + length
    return out
