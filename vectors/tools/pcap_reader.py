"""A small reader for classic pcap files holding UDP over IPv4 (no extra packages).

Used by flash_crypto.py to take datagrams out of the rtmfp-cpp capture in
shared/captures/. Handles the link types that capture uses: Ethernet (1),
BSD loopback (0) and raw IPv4 (101/228). Anything else is an error.
"""

import struct
from dataclasses import dataclass


@dataclass
class Datagram:
    index: int  # 1-based frame number, as Wireshark counts
    src: str  # "ip:port"
    dst: str
    payload: bytes


def _ipv4_udp(frame_no, data):
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    total_len = struct.unpack(">H", data[2:4])[0]
    proto = data[9]
    if proto != 17:
        return None
    src_ip = ".".join(str(b) for b in data[12:16])
    dst_ip = ".".join(str(b) for b in data[16:20])
    udp = data[ihl:total_len]
    if len(udp) < 8:
        raise ValueError(f"frame {frame_no}: truncated UDP header")
    sport, dport, ulen = struct.unpack(">HHH", udp[0:6])
    payload = udp[8:ulen]
    if len(payload) != ulen - 8:
        raise ValueError(f"frame {frame_no}: truncated UDP payload")
    return Datagram(frame_no, f"{src_ip}:{sport}", f"{dst_ip}:{dport}", bytes(payload))


def read_udp(path):
    """All UDP/IPv4 datagrams of a classic pcap file, in capture order."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 24:
        raise ValueError("not a pcap file: shorter than its global header")
    magic = blob[0:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("not a classic pcap file (pcapng is not supported)")
    linktype = struct.unpack(endian + "I", blob[20:24])[0]
    out = []
    pos = 24
    frame_no = 0
    while pos < len(blob):
        if pos + 16 > len(blob):
            raise ValueError(f"truncated record header at byte {pos}")
        _, _, incl_len, _ = struct.unpack(endian + "IIII", blob[pos:pos + 16])
        pos += 16
        data = blob[pos:pos + incl_len]
        if len(data) != incl_len:
            raise ValueError(f"truncated record at byte {pos}")
        pos += incl_len
        frame_no += 1
        if linktype == 1:  # Ethernet
            if len(data) < 14:
                continue
            ethertype = struct.unpack(">H", data[12:14])[0]
            if ethertype != 0x0800:
                continue
            ip = data[14:]
        elif linktype == 0:  # BSD loopback: 4-byte address family in host order
            ip = data[4:]
        elif linktype in (101, 228):
            ip = data
        else:
            raise ValueError(f"unsupported link type {linktype}")
        d = _ipv4_udp(frame_no, ip)
        if d is not None:
            out.append(d)
    return out
