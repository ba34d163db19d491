"""The pure SIP protocol core (RFC 3261): no sockets, no threads, no wall clock.

Everything here takes bytes and ``now`` in and hands bytes, events and deadlines out.
Only the standard library is imported.
"""
