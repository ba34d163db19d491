"""Decoding captures, one layer per module, bottom up:

    files      pcap (both byte orders, micro/nano seconds) and pcapng (SHB/IDB/EPB/SPB/PB,
               several interfaces, each with its link type and timestamp resolution)
    link       link layers -> network packets: Ethernet (802.1Q/QinQ, PPPoE), Linux cooked
               SLL/SLL2, raw IP, null/loopback, Wireshark upper PDU (252)
    ip         IPv4/IPv6 (extension headers), fragment reassembly, GRE/ERSPAN I/II/III,
               IP-in-IP -> UDP/TCP segments
    tcp        per-direction stream reassembly (sequence numbers, retransmissions, overlap,
               out of order)
    websocket  RFC 6455 frames (masking, fragmentation) for SIP over WebSocket (RFC 7118)

Everything here is pure (bytes in, values out); damaged input raises or reports
:class:`~sipclient.pcap.decode.errors.DecodeError`, never anything else.
"""
