"""asyncio adapters around the pure core: transports, endpoint driver (issue 4)."""
