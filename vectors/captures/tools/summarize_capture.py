#!/usr/bin/env python3
"""Summarise the rtmfp-cpp capture independently of the Rust code, as the expected values of
reference/tests/capture_rtmfpcpp.rs.

Decrypts every datagram with vectors/wire/tools/decrypt_capture.py (Python `cryptography`,
RFC 7425 4.7: Default Session Key with checksum for startup, session keys from the key log
with HMAC-SHA256 and session sequence numbers), frames the chunks (RFC 7016 2.2.4, 2.3),
and counts: datagrams per direction, chunk types per direction, User Data sequence numbers
per flow (Next User Data continues the previous chunk's flow with the next sequence number,
RFC 7016 2.3.12) and the cumulative acknowledgements per flow (2.3.13, 2.3.14).

Re-run (from the repository root):
    python3 vectors/captures/tools/summarize_capture.py vectors/captures > vectors/captures/rtmfpcpp-fcclient-echoserver.summary.yaml
"""

import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "wire" / "tools"))
from decrypt_capture import decrypt, load_keys, parse, udp_payloads, vlu  # noqa: E402


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "vectors/captures")
    keys = load_keys(folder)
    datagrams = list(udp_payloads((folder / "rtmfpcpp-fcclient-echoserver.pcap").read_bytes()))
    client_port = datagrams[0][0]
    per_direction = {"client": 0, "server": 0}
    counts = {"client": {}, "server": {}}
    first_chunks = []
    flows = {}  # (sender, flow) -> dict
    acks = {}  # (sender, flow) -> list of cumulative acks in order
    undecrypted = 0
    for sport, _, datagram in datagrams:
        sender = "client" if sport == client_port else "server"
        per_direction[sender] += 1
        result = decrypt(datagram[4:], sender, keys)
        if result is None:
            undecrypted += 1
            continue
        plain, _ = result
        _, chunks, _ = parse(plain)
        if len(first_chunks) < 4:
            first_chunks.append(chunks[0]["chunkType"])
        position = None
        for c in chunks:
            t = c["chunkType"]
            counts[sender][t] = counts[sender].get(t, 0) + 1
            if t == 0x10:
                position = (c["flowID"], c["sequenceNumber"])
            elif t == 0x11 and position is not None:
                position = (position[0], position[1] + 1)
            if t in (0x10, 0x11) and position is not None:
                f = flows.setdefault((sender, position[0]), {"chunks": 0, "seqs": set(), "new_in_order": True, "max": 0})
                f["chunks"] += 1
                if position[1] not in f["seqs"] and position[1] < f["max"]:
                    f["new_in_order"] = False
                f["seqs"].add(position[1])
                f["max"] = max(f["max"], position[1])
            if t in (0x50, 0x51):
                acks.setdefault((sender, c["flowID"]), []).append(c["cumulativeAck"])
    print("# Expected values for reference/tests/capture_rtmfpcpp.rs, computed independently of the")
    print("# Rust code by vectors/captures/tools/summarize_capture.py (see its docstring to re-run).")
    print("name: rtmfpcpp-fcclient-echoserver")
    print('source: "capture vectors/captures/rtmfpcpp-fcclient-echoserver.pcap (rtmfp-cpp 0917f42 fcclient '
          'to echoserver), decrypted with its key log by vectors/wire/tools/decrypt_capture.py"')
    print(f"datagrams: {len(datagrams)}")
    print(f"undecrypted: {undecrypted}")
    print(f"client_datagrams: {per_direction['client']}")
    print(f"server_datagrams: {per_direction['server']}")
    print(f"first_chunk_types: [{', '.join(str(t) for t in first_chunks)}]")
    print("chunk_counts:")
    for sender in ("client", "server"):
        print(f"  {sender}:")
        for t in sorted(counts[sender]):
            print(f"    {t}: {counts[sender][t]}")
    print("flows:")
    for (sender, flow), f in sorted(flows.items()):
        seqs = sorted(f["seqs"])
        contiguous = seqs == list(range(seqs[0], seqs[-1] + 1))
        print(f"  - {{ sender: {sender}, flow_id: {flow}, chunks: {f['chunks']}, first_sequence_number: {seqs[0]}, "
              f"last_sequence_number: {seqs[-1]}, distinct: {len(seqs)}, contiguous: {str(contiguous).lower()}, "
              f"new_numbers_in_order: {str(f['new_in_order']).lower()} }}")
    print("acks:")
    for (sender, flow), values in sorted(acks.items()):
        monotonic = all(a <= b for a, b in zip(values, values[1:]))
        print(f"  - {{ sender: {sender}, flow_id: {flow}, count: {len(values)}, final_cumulative_ack: {values[-1]}, "
              f"never_decreases: {str(monotonic).lower()} }}")


if __name__ == "__main__":
    main()
