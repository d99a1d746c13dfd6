"""The pure, synchronous policy engine: attributes in, Decision out. No I/O, no clock, no asyncio."""
