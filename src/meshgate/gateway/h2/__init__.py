"""HTTP/2 and gRPC at the gateway: the h2 downstream protocol, its streams, the h2 upstream pool, gRPC replies."""
