"""The gateway's HTTP/1 data path: downstream protocol, exchanges, upstream pool, heads, local replies."""
