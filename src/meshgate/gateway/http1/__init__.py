"""HTTP/1.1 on both sides of the gateway: the client connection (httptools), its response bytes, the upstream pool."""
