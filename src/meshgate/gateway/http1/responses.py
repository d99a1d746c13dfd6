"""What an exchange writes to an HTTP/1.1 client: the `send_*` half of the downstream seam (gateway/downstream.py).

Over HTTP/1.1, trailers from an upstream are dropped, as Envoy's HTTP/1 codec does unless `enable_trailers`
is set (observed on Envoy 1.40: an HTTP/1.1 client calling a gRPC upstream gets chunks and no trailers).
"""

from __future__ import annotations

from meshgate.gateway.h2.grpc_reply import grpc_request, http1_grpc_reply
from meshgate.gateway.heads import LAST_CHUNK, chunk_parts, downstream_response_head
from meshgate.gateway.local_reply import CONTINUE_100, local_reply
from meshgate.gateway.request_head import RequestHead
from meshgate.gateway.seam import Headers


class Http1Responses:
    """Mixed into GatewayProtocol, which provides write / writelines / close."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def writelines(self, parts: list[bytes]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def send_continue(self) -> None:
        self.write(CONTINUE_100)

    def send_head(
        self,
        status: int,
        headers: Headers,
        *,
        date_line: bytes,
        service_ms: int | None,
        chunked: bool = False,
        close: bool = False,
        upgrade: bool = False,
        listed: frozenset[bytes] | None = None,
        end: bool = False,
        head_request: bool = False,
    ) -> None:
        self.write(
            downstream_response_head(
                status, headers, date_line=date_line, service_time_ms=service_ms, chunked=chunked,
                close=close, upgrade=upgrade, listed=listed, headers_only=end and not head_request,
            )
        )  # fmt: skip

    def send_data(self, data: bytes, *, chunked: bool) -> None:
        if chunked:
            self.writelines(chunk_parts(data))
        else:
            self.write(data)

    def send_end(self, *, chunked: bool, trailers: Headers | None) -> None:
        if chunked:
            self.write(LAST_CHUNK)

    def send_local_reply(
        self,
        req: RequestHead,
        status: int,
        body: str,
        headers: tuple[tuple[str, str], ...],
        *,
        close: bool,
        content_type: str,
        date_line: bytes,
    ) -> int:
        """Envoy's local reply (gRPC-shaped for a gRPC request); returns the body bytes sent."""
        head = req.method == b"HEAD"
        if grpc_request(req.attr_headers):
            self.write(http1_grpc_reply(status, body, headers, head=head, close=close, date_line=date_line))
            return 0
        self.write(
            local_reply(
                status, body, headers, head=head, close=close, content_type=content_type, date=date_line
            )
        )
        return 0 if head else len(body.encode())

    def abort_response(self) -> None:
        """The response cannot be completed (upstream lost mid-body, timeout): the connection ends."""
        self.close()
