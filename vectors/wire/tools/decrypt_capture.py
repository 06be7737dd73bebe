#!/usr/bin/env python3
"""Decrypt the rtmfp-cpp capture and print plain RTMFP packets as YAML vectors.

An implementation independent of the Rust code: it reads the classic pcap in
shared/captures/, undoes the RFC 7016 2.2.2 scrambling, decrypts with the
RFC 7425 profile (AES-128-CBC, zero IV; Default Session Key "Adobe Systems 02"
with the simple checksum, or the session keys from the key log with
HMAC-SHA256 and session sequence numbers, 4.7), verifies checksum or HMAC,
and parses the plain packet's header and chunk framing (RFC 7016 2.2.4) and a
few fields of common chunks on its own.

Re-run (needs Python's `cryptography` package):
    python3 vectors/wire/tools/decrypt_capture.py shared/captures > vectors/wire/capture_rtmfpcpp.yaml
    python3 vectors/wire/tools/decrypt_capture.py shared/captures --multiplex > vectors/wire/capture_rtmfpcpp_multiplex.yaml
"""

import hashlib
import hmac
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DEFAULT_KEY = b"Adobe Systems 02"
NAMES = {0x30: "Initiator Hello", 0x70: "Responder Hello", 0x38: "Initiator Initial Keying",
         0x78: "Responder Initial Keying", 0x10: "User Data", 0x11: "Next User Data",
         0x50: "Data Acknowledgement Bitmap", 0x51: "Data Acknowledgement Ranges",
         0x5e: "Flow Exception Report", 0x0c: "Session Close Request",
         0x4c: "Session Close Acknowledgement", 0x01: "Ping", 0x41: "Ping Reply",
         0x18: "Buffer Probe", 0x7f: "Packet Fragment", 0xec: "Unknown"}


def udp_payloads(pcap: bytes):
    magic = struct.unpack("<I", pcap[:4])[0]
    assert magic == 0xA1B2C3D4, "little-endian microsecond pcap expected"
    linktype = struct.unpack("<I", pcap[20:24])[0]
    assert linktype == 1, "Ethernet link type expected"
    pos = 24
    while pos + 16 <= len(pcap):
        incl = struct.unpack("<I", pcap[pos + 8:pos + 12])[0]
        frame = pcap[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        yield sport, dport, udp[8:ulen]


def vlu(data, pos):
    value = 0
    while True:
        b = data[pos]
        pos += 1
        value = value * 128 + (b & 0x7F)
        if not b & 0x80:
            return value, pos


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def aes_decrypt(key, data):
    d = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    return d.update(data) + d.finalize()


def load_keys(folder: Path):
    keys = {}
    for line in (folder / "rtmfpcpp-fcclient-echoserver.keylog").read_text().splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        keys[fields["role"]] = fields
    return keys


def decrypt(packet, sender, keys):
    """Returns (plain packet, how) or None."""
    # Startup packets: Default Session Key, checksum, no sequence numbers (RFC 7425 4.1).
    if len(packet) % 16 == 0 and packet:
        plain = aes_decrypt(DEFAULT_KEY, packet)
        if struct.unpack(">H", plain[:2])[0] == checksum(plain[2:]):
            return plain[2:], "Default Session Key, checksum verified"
    k = keys[sender]
    hmac_len = len(packet) % 16 or 16
    blocks, tag = packet[:-hmac_len], packet[-hmac_len:]
    mac = hmac.new(bytes.fromhex(k["hmac_tx_key"]), blocks, hashlib.sha256).digest()[:hmac_len]
    if mac != tag:
        return None
    plain = aes_decrypt(bytes.fromhex(k["enc_key"]), blocks)
    _, pos = vlu(plain, 0)  # session sequence number
    return plain[pos:], "session key, HMAC-SHA256 verified"


def parse(plain):
    flags = plain[0]
    header = {"mode": {1: "initiator", 2: "responder", 3: "startup"}[flags & 3],
              "timeCritical": bool(flags & 0x80), "timeCriticalReverse": bool(flags & 0x40)}
    pos = 1
    header["timestamp"] = None
    header["timestampEcho"] = None
    if flags & 0x08:
        header["timestamp"] = struct.unpack(">H", plain[pos:pos + 2])[0]
        pos += 2
    if flags & 0x04:
        header["timestampEcho"] = struct.unpack(">H", plain[pos:pos + 2])[0]
        pos += 2
    chunks = []
    while len(plain) - pos >= 3:
        ctype = plain[pos]
        clen = struct.unpack(">H", plain[pos + 1:pos + 3])[0]
        if len(plain) - pos - 3 < clen:
            break
        payload = plain[pos + 3:pos + 3 + clen]
        c = {"offset": pos, "chunkType": ctype, "chunkLength": clen}
        if ctype in (0x10, 0x50, 0x51, 0x5e, 0x18):
            p = 1 if ctype == 0x10 else 0
            c["flowID"], p = vlu(payload, p)
            if ctype == 0x10:
                c["sequenceNumber"], p = vlu(payload, p)
                c["fsnOffset"], p = vlu(payload, p)
            if ctype in (0x50, 0x51):
                c["bufferBlocksAvailable"], p = vlu(payload, p)
                c["cumulativeAck"], p = vlu(payload, p)
            if ctype == 0x5e:
                c["exception"], p = vlu(payload, p)
        if ctype in (0x38, 0x78):
            key = "initiatorSessionID" if ctype == 0x38 else "responderSessionID"
            c[key] = struct.unpack(">I", payload[:4])[0]
        if ctype == 0x30:
            c["epdLength"], _ = vlu(payload, 0)
        if ctype == 0x70:
            c["tagLength"], p = vlu(payload, 0)
            c["cookieLength"], _ = vlu(payload, p + c["tagLength"])
        chunks.append(c)
        pos += 3 + clen
    return header, chunks, pos


def multiplex_vectors(datagrams, client_port, keys):
    """The first datagrams of each direction and session ID, as multiplex vectors."""
    out = ["# Datagrams from a real rtmfp-cpp session; session IDs unscrambled independently by",
           "# vectors/wire/tools/decrypt_capture.py (see its docstring to re-run).",
           "kind: multiplex", "vectors:"]
    seen = set()
    for index, (sport, _, datagram) in enumerate(datagrams):
        ssid = struct.unpack(">I", datagram[:4])[0]
        packet = datagram[4:]
        first = packet[:8].ljust(8, b"\x00")
        sid = ssid ^ struct.unpack(">I", first[:4])[0] ^ struct.unpack(">I", first[4:])[0]
        sender = "client" if sport == client_port else "server"
        plain, how = decrypt(packet, sender, keys)
        key = (sender, sid, how.split(",")[0])
        if key in seen or len(datagram) > 600:
            continue
        seen.add(key)
        out.append(f"  - name: datagram-{index + 1}-{sender}")
        out.append(f"    source: \"capture shared/captures/rtmfpcpp-fcclient-echoserver.pcap, datagram {index + 1} "
                   f"({sender}); the session ID decrypts it with the {how.split(',')[0]} ({how.split(', ')[1]}); "
                   f"unscrambled by vectors/wire/tools/decrypt_capture.py\"")
        out.append(f"    hex: \"{datagram.hex()}\"")
        out.append(f"    expect: {{ scrambledSessionID: {ssid}, sessionID: {sid}, encryptedPacket: \"{packet.hex()}\" }}")
    return out


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "shared/captures")
    keys = load_keys(folder)
    datagrams = list(udp_payloads((folder / "rtmfpcpp-fcclient-echoserver.pcap").read_bytes()))
    client_port = datagrams[0][0]
    if "--multiplex" in sys.argv:
        print("\n".join(multiplex_vectors(datagrams, client_port, keys)))
        return
    seen = set()
    out = ["# Plain packets from a real rtmfp-cpp session, decrypted and parsed independently by",
           "# vectors/wire/tools/decrypt_capture.py (see its docstring to re-run).",
           "kind: packet", "vectors:"]
    for index, (sport, dport, datagram) in enumerate(datagrams):
        ssid = struct.unpack(">I", datagram[:4])[0]
        packet = datagram[4:]
        first = packet[:8].ljust(8, b"\x00")
        sid = ssid ^ struct.unpack(">I", first[:4])[0] ^ struct.unpack(">I", first[4:])[0]
        sender = "client" if sport == client_port else "server"
        result = decrypt(packet, sender, keys)
        if result is None:
            continue
        plain, how = result
        header, chunks, pad_at = parse(plain)
        signature = (sender, header["mode"], tuple(sorted({c["chunkType"] for c in chunks})))
        if signature in seen:
            continue
        seen.add(signature)
        out.append(f"  - name: datagram-{index + 1}-{sender}")
        out.append(f"    source: \"capture shared/captures/rtmfpcpp-fcclient-echoserver.pcap, datagram {index + 1} "
                   f"({sender} to {'server' if sender == 'client' else 'client'}, session ID {sid}); {how}; "
                   f"fields parsed by vectors/wire/tools/decrypt_capture.py\"")
        out.append(f"    hex: \"{plain.hex()}\"")
        out.append("    expect:")
        h = ", ".join(f"{k}: {'null' if v is None else str(v).lower() if isinstance(v, bool) else v}"
                      for k, v in header.items())
        out.append(f"      header: {{ {h} }}")
        out.append("      chunks:")
        for c in chunks:
            fields = ", ".join(f"{k}: {v}" for k, v in c.items())
            out.append(f"        - {{ {fields} }}")
        out.append(f"      padding: {{ offset: {pad_at}, bytes: \"{plain[pad_at:].hex()}\" }}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
