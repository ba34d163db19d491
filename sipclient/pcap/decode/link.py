"""Link layers: where the network packet starts in a frame, and what it is.

:func:`network_start` returns ``(ethertype, offset)`` for a frame of a given LINKTYPE
(https://www.tcpdump.org/linktypes.html), ``ethertype`` 0x0800 (IPv4) or 0x86DD (IPv6);
``None`` for what is not IP (ARP, LCP, STP ...): noise, skipped quietly. Truncated headers
raise :class:`~sipclient.pcap.decode.errors.DecodeError`.
"""

from __future__ import annotations

from sipclient.pcap.decode.errors import DecodeError

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_WIRESHARK_UPPER_PDU = 252
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_ALIASES = (LINKTYPE_RAW, 12, 14)     # 12/14: raw IP on some BSDs (DLT_RAW)

IPV4 = 0x0800
IPV6 = 0x86DD
_VLAN = (0x8100, 0x88A8, 0x9100, 0x9200)
_PPPOE_SESSION = 0x8864
_MPLS = (0x8847, 0x8848)
_PPP_PROTOCOLS = {0x0021: IPV4, 0x0057: IPV6}
_NULL_FAMILIES = {2: IPV4, 24: IPV6, 28: IPV6, 30: IPV6}   # AF_INET, AF_INET6 (BSDs, macOS)

SUPPORTED = (LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, 12, 14, LINKTYPE_LOOP,
             LINKTYPE_LINUX_SLL, LINKTYPE_WIRESHARK_UPPER_PDU, LINKTYPE_IPV4, LINKTYPE_IPV6,
             LINKTYPE_LINUX_SLL2)


def ethernet_payload(data: bytes, offset: int = 0) -> tuple[int, int] | None:
    """An Ethernet II frame from ``offset``: skips 802.1Q/802.1ad tags, PPPoE session
    headers and MPLS labels."""
    if len(data) < offset + 14:
        raise DecodeError("Ethernet header cut short")
    ethertype = (data[offset + 12] << 8) | data[offset + 13]
    offset += 14
    return _after_ethertype(data, ethertype, offset)


def _after_ethertype(data: bytes, ethertype: int, offset: int) -> tuple[int, int] | None:
    for _ in range(8):                       # stacked tags: QinQ, PPPoE over VLAN ...
        if ethertype == IPV4 or ethertype == IPV6:
            return ethertype, offset
        if ethertype in _VLAN:
            if len(data) < offset + 4:
                raise DecodeError("802.1Q tag cut short")
            ethertype = (data[offset + 2] << 8) | data[offset + 3]
            offset += 4
        elif ethertype == _PPPOE_SESSION:
            if len(data) < offset + 8:
                raise DecodeError("PPPoE header cut short")
            ethertype = _PPP_PROTOCOLS.get((data[offset + 6] << 8) | data[offset + 7], 0)
            offset += 8
        elif ethertype in _MPLS:
            while True:
                if len(data) < offset + 4:
                    raise DecodeError("MPLS label cut short")
                bottom = data[offset + 2] & 1
                offset += 4
                if bottom:
                    break
            if len(data) <= offset:
                return None
            version = data[offset] >> 4
            return ({4: IPV4, 6: IPV6}[version], offset) if version in (4, 6) else None
        else:
            return None
    return None


def network_start(linktype: int, data: bytes) -> tuple[int, int] | None:
    """``(ethertype, offset)`` of the IP packet in a frame, or ``None`` when it carries
    something else. Raises :class:`DecodeError` for a truncated header or an unknown link."""
    if linktype == LINKTYPE_ETHERNET:
        return ethernet_payload(data)
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            raise DecodeError("Linux cooked (SLL) header cut short")
        return _after_ethertype(data, (data[14] << 8) | data[15], 16)
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            raise DecodeError("Linux cooked (SLL2) header cut short")
        return _after_ethertype(data, (data[0] << 8) | data[1], 20)
    if linktype in _RAW_ALIASES or linktype == LINKTYPE_IPV4 or linktype == LINKTYPE_IPV6:
        if not data:
            raise DecodeError("empty raw IP packet")
        version = data[0] >> 4
        if version == 4:
            return IPV4, 0
        if version == 6:
            return IPV6, 0
        raise DecodeError(f"raw IP packet of version {version}")
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            raise DecodeError("loopback header cut short")
        family = int.from_bytes(data[:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if family > 0xFFFF:                  # written on a host of the other byte order
            family = int.from_bytes(data[:4], "big" if linktype != LINKTYPE_LOOP else "little")
        ethertype = _NULL_FAMILIES.get(family)
        return (ethertype, 4) if ethertype else None
    raise DecodeError(f"link type {linktype} is not supported (supported: Ethernet, Linux "
                      f"cooked SLL/SLL2, raw IP, null/loopback, Wireshark upper PDU)")
