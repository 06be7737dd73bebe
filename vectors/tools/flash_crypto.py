#!/usr/bin/env python3
"""Independent computation of the RFC 7425 section 4 (Flash profile) test vectors.

Writes vectors/crypto/*.yaml. Nothing here uses the Rust implementation: AES-CBC
and Diffie-Hellman come from Python's `cryptography` package (OpenSSL),
SHA-256 and HMAC from hashlib/hmac, and the RFC's formats, checksum, key
selection, negotiation and EPD rules are written out again here from the RFC
text. Vectors whose source is the capture take their bytes from
shared/captures/ (rtmfp-cpp) and their expected keys from its key log; this
script checks that its own derivation agrees with the log before writing them.

Usage (from the repository root):
    python3 vectors/tools/flash_crypto.py            # regenerate
    python3 vectors/tools/flash_crypto.py --check    # diff against the committed files

Output is deterministic: every "random" value comes from SHA-256 of a label.
"""

import argparse
import difflib
import hashlib
import hmac
import os
import re
import struct
import sys

import cryptography
from cryptography.hazmat.primitives.asymmetric import dh
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcap_reader  # noqa: E402

TOOL = "vectors/tools/flash_crypto.py"
LIBS = f"Python cryptography {cryptography.__version__}, hashlib, hmac"
COMPUTED = f"computed by {TOOL} ({LIBS})"
CAPTURE = "shared/captures/rtmfpcpp-fcclient-echoserver.pcap"
KEYLOG = "shared/captures/rtmfpcpp-fcclient-echoserver.keylog"

# ---------------------------------------------------------------- helpers


def prf(label, n):
    """n deterministic pseudo-random bytes named by label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"rtmfp-lab:{label}:{i}".encode()).digest()
        i += 1
    return out[:n]


def vlu(n):
    """RFC 7016 2.1.2 VLU, shortest form."""
    groups = [n & 0x7F]
    n >>= 7
    while n:
        groups.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(groups))


def read_vlu(b, i):
    v = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated VLU")
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def opt(t, value=b""):
    """RFC 7016 2.1.3 Option: length, type, value."""
    body = vlu(t) + value
    return vlu(len(body)) + body


MARKER = b"\x00"


def parse_options(b):
    """Options and markers: list of (offset, type, value), type None for a marker.

    Raises ValueError("malformed") when the sequence itself is broken.
    """
    out = []
    i = 0
    try:
        while i < len(b):
            start = i
            n, i = read_vlu(b, i)
            if n == 0:
                out.append((start, None, None))
                continue
            if i + n > len(b):
                raise ValueError("option overruns its container")
            body = b[i:i + n]
            i += n
            t, j = read_vlu(body, 0)
            out.append((start, t, body[j:]))
    except ValueError:
        raise ValueError("malformed") from None
    return out


def value_vlu(v, exact):
    """A VLU at the start of an option value; bad_option if absent (or followed by bytes, if exact)."""
    try:
        n, j = read_vlu(v, 0)
    except ValueError:
        raise ValueError("bad_option") from None
    if exact and j != len(v):
        raise ValueError("bad_option")
    return n, v[j:]


def hmac256(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def aes_cbc(key, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(bytes(16)))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def checksum(data):
    """RFC 7425 4.7.3.1: odd final byte is the LOW 8 bits of a zero-topped word."""
    s = 0
    for i in range(0, len(data) - 1, 2):
        s += (data[i] << 8) | data[i + 1]
    if len(data) % 2:
        s += data[-1]
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


DEFAULT_KEY = "Adobe Systems 02".encode("utf-8")  # RFC 7425 4.1


def flash_encrypt(key, plain, hmac_key=None, hmac_len=None, seq=None):
    """RFC 7425 4.7.2 assembly, written out again."""
    body = b""
    if seq is not None:
        body += vlu(seq)
    ck_at = len(body)
    if hmac_len is None:
        body += b"\x00\x00"
    body += plain
    if len(body) == 0 or len(body) % 16:
        body += b"\xff" * (16 - len(body) % 16)
    if hmac_len is None:
        c = checksum(body[ck_at + 2:])
        body = body[:ck_at] + struct.pack(">H", c) + body[ck_at + 2:]
    enc = aes_cbc(key, body, True)
    if hmac_len is not None:
        enc += hmac256(hmac_key, enc)[:hmac_len]
    return enc


def flash_decrypt(key, enc, hmac_key=None, hmac_len=None, sseq=False):
    """Returns (seq, plain packet incl. padding) or raises ValueError(kind)."""
    h = hmac_len or 0
    if len(enc) < 16 + h:
        raise ValueError("too_short")
    blocks, tag = enc[:len(enc) - h], enc[len(enc) - h:]
    if len(blocks) % 16:
        raise ValueError("not_block_aligned")
    if hmac_len is not None and not hmac.compare_digest(hmac256(hmac_key, blocks)[:h], tag):
        raise ValueError("bad_hmac")
    plain = aes_cbc(key, blocks, False)
    i = 0
    seq = None
    if sseq:
        seq, i = read_vlu(plain, i)
    if hmac_len is None:
        (found,) = struct.unpack(">H", plain[i:i + 2])
        i += 2
        if found != checksum(plain[i:]):
            raise ValueError("bad_checksum")
    return seq, plain[i:]


def session_id_of(ssid, enc):
    first = (enc[:8] + bytes(8))[:8]
    w0, w1 = struct.unpack(">II", first)
    return ssid ^ w0 ^ w1


def multiplex(sid, enc):
    return struct.pack(">I", session_id_of(sid, enc)) + enc


# ---------------------------------------------------------------- DH groups


def pi_scaled(bits):
    """floor(pi * 2^bits), by Machin's formula in integers."""
    guard = 64
    one = 1 << (bits + guard)

    def atan_inv(x):
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (16 * atan_inv(5) - 4 * atan_inv(239)) >> guard


def modp_prime(n, k):
    """RFC 2409 6.2 / RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)."""
    return 2**n - 2**(n - 64) - 1 + 2**64 * (pi_scaled(n - 130) + k)


GROUPS = {
    2: (1024, 129093, "RFC 7296 appendix B.2 (= RFC 2409 6.2)"),
    5: (1536, 741804, "RFC 3526 section 2"),
    14: (2048, 124476, "RFC 3526 section 3"),
    16: (4096, 240904, "RFC 3526 section 5"),
}
PRIMES = {g: modp_prime(n, k) for g, (n, k, _) in GROUPS.items()}


def to_bytes(n):
    """DH_SECRET encoding (RFC 7425 4.6.2): big-endian, no leading zero bytes."""
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def dh_public(group, x):
    return to_bytes(pow(2, x, PRIMES[group]))


def dh_secret(group, x, far_public):
    """The shared secret by OpenSSL (cryptography), cross-checked with pow()."""
    p = PRIMES[group]
    pn = dh.DHParameterNumbers(p, 2)
    priv = dh.DHPrivateNumbers(x, dh.DHPublicNumbers(pow(2, x, p), pn)).private_key()
    peer = dh.DHPublicNumbers(int.from_bytes(far_public, "big"), pn).public_key()
    padded = priv.exchange(peer)  # padded to the modulus length
    assert int.from_bytes(padded, "big") == pow(int.from_bytes(far_public, "big"), x, p)
    return padded.lstrip(b"\x00") or b"\x00"


def key_problem(group, key):
    """RFC 7425 4.6.2 checks, in the order the vectors name them."""
    y = int.from_bytes(key, "big")
    if y < 2**24:
        return "too_small"
    if y > PRIMES[group] - 2**24:
        return "too_large"
    ones = bin(y).count("1")
    if ones < 16:
        return "too_few_ones"
    if y.bit_length() - ones < 16:
        return "too_few_zeros"
    return None


def exponent(label, bits):
    x = int.from_bytes(prf(label, bits // 8), "big")
    return x | (1 << (bits - 1))


EXP_BITS = {2: 256, 5: 256, 14: 320, 16: 480}

# ---------------------------------------------------------------- RFC 7425 structures


def certificate(hostname=None, ancillary=False, ephemeral=(), static=(), randomness=None, tail=b""):
    c = b""
    if hostname is not None:
        c += opt(0x00, hostname)
    if ancillary:
        c += opt(0x0A)
    for g in ephemeral:
        c += opt(0x15, vlu(g))
    for g, key in static:
        c += opt(0x1D, vlu(g) + key)
    if randomness is not None:
        c += opt(0x0E, randomness)
    return c + tail


def parse_certificate(c):
    """RFC 7425 4.3: the fields a receiver reads, or ValueError(kind)."""
    out = {"hostname": None, "ancillary": False, "ephemeral": [], "static": []}
    canonical_len = len(c)
    for start, t, v in parse_options(c):
        if t is None:
            canonical_len = min(canonical_len, start)
            continue
        if start >= canonical_len:
            continue  # outside the canonical section
        if t == 0x00:
            if out["hostname"] is not None:
                raise ValueError("duplicate_option")
            out["hostname"] = v
        elif t == 0x0A:
            out["ancillary"] = True
        elif t == 0x15:
            out["ephemeral"].append(value_vlu(v, True)[0])
        elif t == 0x1D:
            out["static"].append(value_vlu(v, False))
    if out["ephemeral"] and out["static"]:
        raise ValueError("mixed_key_modes")
    out["canonical_len"] = canonical_len
    out["fingerprint"] = hashlib.sha256(c[:canonical_len]).digest()
    return out


def canonical_epd(fingerprint):
    return bytes([0x21, 0x0F]) + fingerprint  # RFC 7425 4.4.4


def epd_selects(epd, cert):
    """RFC 7425 4.4.3 Figure 1, written out again."""
    fields = {}
    for _, t, v in parse_options(epd):
        if t in (0x00, 0x0A, 0x0F):
            if t in fields:
                raise ValueError("duplicate_option")
            if t == 0x0F and len(v) != 32:
                raise ValueError("bad_option")
            fields[t] = v
    c = parse_certificate(cert)
    if 0x0F in fields:
        return fields[0x0F] == c["fingerprint"]
    if 0x00 in fields:
        if c["hostname"] is None or c["hostname"] != fields[0x00]:
            return False
    if 0x0A in fields:
        if not c["ancillary"]:
            return False
    elif 0x00 not in fields:
        return False
    return True


SND, SOR, REQ = 0x04, 0x02, 0x01


def keying_component(public_key=None, group_select=None, randomness=None, hmac_flags=None,
                     hmac_len=None, sseq_flags=None):
    c = b""
    if public_key is not None:
        g, key = public_key
        c += opt(0x0D, vlu(g) + key)
    if group_select is not None:
        c += opt(0x1D, vlu(group_select))
    if randomness is not None:
        c += opt(0x0E, randomness)
    if hmac_flags is not None:
        c += opt(0x1A, bytes([hmac_flags]) + vlu(hmac_len))
    if sseq_flags is not None:
        c += opt(0x1E, bytes([sseq_flags]))
    return c


def parse_component(c):
    out = {"public_key": None, "group_select": None, "hmac": (0, 0), "sseq": 0}
    seen = set()
    for _, t, v in parse_options(c):
        if t is None:
            continue
        if t in (0x0D, 0x1D) and t in seen:
            raise ValueError("duplicate_option")
        first = t not in seen
        seen.add(t)
        if t == 0x0D:
            out["public_key"] = value_vlu(v, False)
        elif t == 0x1D:
            out["group_select"] = value_vlu(v, True)[0]
        elif t == 0x1A and first:
            n, _ = read_vlu(v, 1)
            out["hmac"] = (v[0], n)
        elif t == 0x1E and first:
            out["sseq"] = v[0]
    return out


def sends(mine, theirs):
    """RFC 7425 4.6.4 / 4.6.6: SND, or SOR and the other end's REQ."""
    return bool(mine & SND) or (bool(mine & SOR) and bool(theirs & REQ))


def negotiate(near, far, require_hmac=False, require_sseq=False):
    """Returns (send, receive) settings dicts or raises ValueError(kind)."""
    (nf, nl), (ff, fl) = near["hmac"], far["hmac"]
    far_sseq = sends(far["sseq"], near["sseq"])
    if require_sseq and not far_sseq:
        raise ValueError("sequence_numbers_refused")
    far_hmac = sends(ff, nf)
    if require_hmac and not far_hmac:
        raise ValueError("hmac_refused")
    if far_hmac and not 4 <= fl <= 32:
        raise ValueError("bad_hmac_length")
    return (
        {"hmac_length": nl if sends(nf, ff) else None, "sequence_numbers": sends(near["sseq"], far["sseq"])},
        {"hmac_length": fl if far_hmac else None, "sequence_numbers": far_sseq},
    )


def derive(secret, sknc, skfc):
    """RFC 7425 4.6.3 to 4.6.5."""
    enc = hmac256(secret, hmac256(skfc, sknc))
    dec = hmac256(secret, hmac256(sknc, skfc))
    return {
        "encrypt_key": enc,
        "decrypt_key": dec,
        "aes_encrypt_key": enc[:16],
        "aes_decrypt_key": dec[:16],
        "hmac_send_key": hmac256(secret, enc),
        "hmac_recv_key": hmac256(secret, dec),
        "near_nonce": hmac256(secret, sknc),
        "far_nonce": hmac256(secret, skfc),
    }


# ---------------------------------------------------------------- RTMFP packet parsing (capture)


def chunks(plain):
    """RFC 7016 2.2.4: flags, optional timestamps, chunks up to padding."""
    flags = plain[0]
    i = 1
    if flags & 0x08:
        i += 2
    if flags & 0x04:
        i += 2
    out = []
    while len(plain) - i > 2:
        t = plain[i]
        (n,) = struct.unpack(">H", plain[i + 1:i + 3])
        if len(plain) - i - 3 < n:
            break
        out.append((t, plain[i + 3:i + 3 + n]))
        i += 3 + n
    return flags, out


def vlu_field(b, i):
    n, i = read_vlu(b, i)
    return b[i:i + n], i + n


# ---------------------------------------------------------------- YAML output


def yq(s):
    """A YAML double-quoted scalar (ASCII, JSON-style escapes)."""
    out = '"'
    for ch in s:
        if ch in '"\\':
            out += "\\" + ch
        elif 0x20 <= ord(ch) < 0x7F:
            out += ch
        else:
            out += "\\u%04x" % ord(ch)
    return out + '"'


def yscalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return yq(v.hex())
    if isinstance(v, str):
        return yq(v)
    raise TypeError(type(v))


def yflow(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {yflow(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, list):
        return "[" + ", ".join(yflow(x) for x in v) + "]"
    return yscalar(v)


def yblock(d, indent):
    lines = []
    pad = " " * indent
    for k, v in d.items():
        if isinstance(v, dict) and v and any(isinstance(x, (dict, list)) and x for x in v.values()):
            lines.append(f"{pad}{k}:")
            lines.extend(yblock(v, indent + 2))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            lines.append(f"{pad}{k}:")
            for item in v:
                sub = yblock(item, indent + 4)
                sub[0] = pad + "  - " + sub[0].lstrip()
                lines.extend(sub)
        else:
            lines.append(f"{pad}{k}: {yflow(v)}")
    return lines


def render(kind, description, vectors):
    names = set()
    for v in vectors:
        assert v["name"] not in names, v["name"]
        names.add(v["name"])
    out = [
        f"# {description}",
        f"# Generated by {TOOL}; do not edit by hand. Regenerate: python3 {TOOL}",
        f"kind: {kind}",
        "vectors:",
    ]
    for v in vectors:
        sub = yblock(v, 4)
        sub[0] = "  - " + sub[0].lstrip()
        out.extend(sub)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- vector sets


def checksum_vectors():
    vs = [
        {"name": "rfc1071-section-3-example", "source": "RFC 1071 section 3 (its worked sum 0xddf2); "
         + COMPUTED, "hex": bytes.fromhex("0001f203f4f5f6f7")},
        {"name": "empty", "source": "RFC 7425 4.7.3.1; " + COMPUTED, "hex": b""},
        {"name": "one-odd-byte-is-low-bits", "source": "RFC 7425 4.7.3.1 (odd byte as low 8 bits); "
         + COMPUTED, "hex": b"\xab"},
        {"name": "three-bytes", "source": "RFC 7425 4.7.3.1; " + COMPUTED, "hex": b"\x01\x02\x03"},
        {"name": "end-around-carry", "source": "RFC 7425 4.7.3.1; " + COMPUTED, "hex": b"\xff\xff\x00\x01"},
        {"name": "all-ones-14", "source": "RFC 7425 4.7.3.1; " + COMPUTED, "hex": b"\xff" * 14},
    ]
    for n in (13, 14, 15, 29, 30, 1187):
        vs.append({"name": f"pseudo-random-{n}", "source": "RFC 7425 4.7.3.1; " + COMPUTED,
                   "hex": prf(f"checksum-{n}", n)})
    for v in vs:
        v["expect"] = {"checksum": struct.pack(">H", checksum(v["hex"]))}
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF ^ 0xDDF2
    return vs


def dh_group_vectors():
    vs = []
    for g, (n, k, ref) in GROUPS.items():
        p = PRIMES[g]
        assert p.bit_length() == n and pow(2, p - 1, p) == 1
        vs.append({
            "name": f"group-{g}",
            "source": f"{ref}: p = 2^{n} - 2^{n - 64} - 1 + 2^64 * (floor(2^{n - 130} pi) + {k}), "
                      f"pi by Machin's formula; {COMPUTED}",
            "group": g,
            "expect": {"bits": n, "generator": 2, "prime": to_bytes(p)},
        })
    return vs


def dh_vectors():
    vs = []
    for g in GROUPS:
        a = exponent(f"dh-{g}-a", EXP_BITS[g])
        b = exponent(f"dh-{g}-b", EXP_BITS[g])
        A, B = dh_public(g, a), dh_public(g, b)
        s = dh_secret(g, a, B)
        assert s == dh_secret(g, b, A)
        vs.append({"name": f"group-{g}", "source": "RFC 7425 4.2, 4.6.2; " + COMPUTED, "group": g,
                   "private_a": to_bytes(a), "private_b": to_bytes(b),
                   "expect": {"public_a": A, "public_b": B, "dh_secret": s}})
    # A shared secret with a leading zero byte: DH_SECRET drops it (RFC 7425 4.6.2).
    g = 2
    b = exponent("dh-lz-b", 256)
    B = dh_public(g, b)
    for i in range(100000):
        a = exponent(f"dh-lz-a-{i}", 256)
        A = dh_public(g, a)
        if key_problem(g, A) is None and pow(int.from_bytes(B, "big"), a, PRIMES[g]) < 2**(1024 - 8):
            break
    s = dh_secret(g, a, B)
    assert len(s) < 128
    vs.append({"name": "group-2-secret-with-leading-zero-byte",
               "source": "RFC 7425 4.6.2 (no leading zero bytes); exponents searched for a short "
                         "secret; " + COMPUTED,
               "group": g, "private_a": to_bytes(a), "private_b": to_bytes(b),
               "expect": {"public_a": A, "public_b": B, "dh_secret": s}})
    return vs


def dh_encoding_vectors():
    return [
        {"name": "rfc7425-4-6-2-example", "source": "RFC 7425 4.6.2: 4886718345 is 01 23 45 67 89",
         "value": bytes.fromhex("0123456789"), "expect": {"dh_secret": bytes.fromhex("0123456789")}},
        {"name": "leading-zero-bytes-dropped", "source": "RFC 7425 4.6.2, derived by hand",
         "value": bytes.fromhex("00000123456789"), "expect": {"dh_secret": bytes.fromhex("0123456789")}},
        {"name": "leading-zero-nibble-kept", "source": "RFC 7425 4.6.2, derived by hand (only whole "
         "zero bytes are dropped)", "value": bytes.fromhex("000abc"), "expect": {"dh_secret": bytes.fromhex("0abc")}},
    ]


def public_key_vectors():
    p2 = PRIMES[2]
    cases = [
        ("empty-is-zero", 2, b""),
        ("2^24-minus-1", 2, to_bytes(2**24 - 1)),
        ("2^24-has-one-bit", 2, to_bytes(2**24)),
        ("16-ones-16-zeros", 2, bytes.fromhex("ffff0000")),
        ("17-ones-15-zeros", 2, bytes.fromhex("ffff8000")),
        ("15-ones-17-zeros", 2, bytes.fromhex("fffe0000")),
        ("leading-zero-bytes-are-not-zero-bits", 2, bytes.fromhex("0000ffff8000")),
        ("leading-zero-bytes-allowed", 2, bytes.fromhex("0000ffff0000")),
        ("p-minus-2^24", 2, to_bytes(p2 - 2**24)),
        ("p-minus-2^24-plus-1", 2, to_bytes(p2 - 2**24 + 1)),
        ("p-minus-1", 2, to_bytes(p2 - 1)),
        ("p", 2, to_bytes(p2)),
        ("longer-than-p", 2, to_bytes(p2 * 7)),
        ("group-16-p-minus-2^24", 16, to_bytes(PRIMES[16] - 2**24)),
        ("group-16-above-group-2-prime", 16, to_bytes(p2 + 2**100)),
        ("group-2-generated", 2, dh_public(2, exponent("pk-2", 256))),
        ("group-14-generated", 14, dh_public(14, exponent("pk-14", 320))),
    ]
    vs = []
    for name, g, key in cases:
        v = {"name": name, "source": "RFC 7425 4.6.2; " + COMPUTED, "group": g, "key": key}
        problem = key_problem(g, key)
        if problem:
            v["error"] = {"kind": "unacceptable_public_key", "reason": problem}
        else:
            v["expect"] = {"valid": True}
        vs.append(v)
    return vs


def certificate_vectors(capture):
    fp_cases = [
        ("ephemeral-server", certificate(b"example.com", True, (16, 14, 2), randomness=prf("cert-x", 64))),
        ("static-client", certificate(static=((2, dh_public(2, exponent("cert-s2", 256))),
                                              (14, dh_public(14, exponent("cert-s14", 320)))))),
        ("canonical-section-ends-at-marker",
         certificate(b"a", True, (2,), tail=MARKER + opt(0x00, b"ignored") + opt(0x0A) + opt(0x15, vlu(5)))),
        ("options-after-marker-ignored", certificate(ephemeral=(2,), tail=MARKER + opt(0x1D, vlu(14) + b"k"))),
        ("unknown-options-ignored", opt(0x33, b"??") + certificate(ephemeral=(5,)) + opt(0x7F)),
        ("empty", b""),
        ("only-a-marker", MARKER),
        ("two-byte-vlu-group", opt(0x15, vlu(300)) + opt(0x15, vlu(2))),
    ]
    vs = []
    for name, c in fp_cases + capture:
        src = ("RFC 7425 4.3; " + COMPUTED) if not name.startswith("capture") else \
            f"{CAPTURE} (rtmfp-cpp); fingerprint {COMPUTED}"
        v = {"name": name, "source": src, "hex": c}
        parsed = parse_certificate(c)
        v["expect"] = {
            "canonical_len": parsed["canonical_len"],
            "fingerprint": parsed["fingerprint"],
            "canonical_epd": canonical_epd(parsed["fingerprint"]),
            "hostname": parsed["hostname"],
            "accepts_ancillary_data": parsed["ancillary"],
            "ephemeral_groups": parsed["ephemeral"],
            "static_key_groups": [g for g, _ in parsed["static"]],
        }
        vs.append(v)
    for name, c, kind in [
        ("duplicate-hostname", opt(0x00, b"a") + opt(0x00, b"a"), "duplicate_option"),
        ("static-and-ephemeral", opt(0x15, vlu(2)) + opt(0x1D, vlu(2) + b"\x07"), "mixed_key_modes"),
        ("truncated-option", bytes([0x05, 0x00]) + b"ab", "malformed"),
        ("group-not-a-vlu", opt(0x15, b"\x80"), "bad_option"),
        ("group-with-trailing-byte", opt(0x15, b"\x02\x00"), "bad_option"),
    ]:
        try:
            parse_certificate(c)
            raise AssertionError(name)
        except ValueError as e:
            assert str(e) == kind, (name, e)
        vs.append({"name": name, "source": "RFC 7425 4.3.1, 4.3.3; " + COMPUTED, "hex": c,
                   "error": {"kind": kind}})
    return vs


def epd_vectors(capture_epd, capture_cert):
    server = certificate(b"example.com", True, (16, 2), randomness=prf("epd-server", 32))
    peer = certificate(b"peer.example", False, (2,), randomness=prf("epd-peer", 32))
    nohost = certificate(None, True, (2,))
    fp = parse_certificate(server)["fingerprint"]
    cases = [
        ("empty-epd-selects-nothing", b"", server),
        ("fingerprint-match", opt(0x0F, fp), server),
        ("fingerprint-mismatch", opt(0x0F, fp), peer),
        ("fingerprint-wins-over-wrong-hostname", opt(0x0F, fp) + opt(0x00, b"nope"), server),
        ("fingerprint-loses-despite-right-hostname", opt(0x0F, fp) + opt(0x00, b"peer.example"), peer),
        ("canonical-epd", canonical_epd(fp), server),
        ("hostname-match", opt(0x00, b"example.com"), server),
        ("hostname-case-differs", opt(0x00, b"Example.com"), server),
        ("hostname-certificate-has-none", opt(0x00, b"example.com"), nohost),
        ("ancillary-accepted", opt(0x0A, b"rtmfp://example.com/app"), server),
        ("ancillary-not-accepted", opt(0x0A, b"rtmfp://example.com/app"), peer),
        ("hostname-and-ancillary", opt(0x00, b"example.com") + opt(0x0A, b"rtmfp://x"), server),
        ("hostname-ok-ancillary-refused", opt(0x00, b"peer.example") + opt(0x0A, b"rtmfp://x"), peer),
        ("unknown-options-only", opt(0x42, b"x"), server),
        ("unknown-option-ignored", opt(0x42, b"x") + opt(0x00, b"peer.example"), peer),
        ("capture-ihello-epd-selects-rhello-certificate", capture_epd, capture_cert),
    ]
    vs = []
    for name, epd, cert in cases:
        src = "RFC 7425 4.4.3 Figure 1; " + COMPUTED
        if name.startswith("capture"):
            src = f"{CAPTURE}: IHello EPD and RHello certificate (rtmfp-cpp selected it); " + COMPUTED
        vs.append({"name": name, "source": src, "epd": epd, "certificate": cert,
                   "expect": {"selected": epd_selects(epd, cert)}})
    for name, epd, kind in [
        ("duplicate-hostname", opt(0x00, b"a") + opt(0x00, b"a"), "duplicate_option"),
        ("duplicate-ancillary", opt(0x0A, b"a") + opt(0x0A, b"b"), "duplicate_option"),
        ("short-fingerprint", opt(0x0F, fp[:31]), "bad_option"),
        ("truncated", b"\x09\x0a", "malformed"),
    ]:
        try:
            epd_selects(epd, server)
            raise AssertionError(name)
        except ValueError as e:
            assert str(e) == kind, (name, e)
        vs.append({"name": name, "source": "RFC 7425 4.4.2 (at most once; 32-byte fingerprint); " + COMPUTED,
                   "epd": epd, "certificate": server, "error": {"kind": kind}})
    return vs


def glare_vectors(capture_client, capture_server):
    cases = [
        ("first-byte-decides", b"\x01\x02", b"\x01\x03"),
        ("first-byte-decides-reversed", b"\x01\x03", b"\x01\x02"),
        ("unsigned-bytes", b"\x7f", b"\x80"),
        ("unsigned-bytes-reversed", b"\x80", b"\x7f"),
        ("shorter-prefix-first", b"\x05\x06", b"\x05\x06\x00"),
        ("longer-loses", b"\x05\x06\x00", b"\x05\x06"),
        ("identical-near-prevails", b"\x05\x06", b"\x05\x06"),
        ("empty-first", b"", b"\x00"),
        ("capture-client-vs-server", capture_client, capture_server),
        ("capture-server-vs-client", capture_server, capture_client),
    ]
    vs = []
    for name, near, far in cases:
        src = "RFC 7425 4.3.6, 4.3.7; " + COMPUTED + " (bytes comparison)"
        if name.startswith("capture"):
            src = f"{CAPTURE} certificates; " + src
        vs.append({"name": name, "source": src, "near": near, "far": far,
                   "expect": {"near_prevails": near <= far, "overrides": near == far}})
    return vs


def signature_vectors(capture_sigs):
    msg = prf("sig-msg", 77)
    pw = {"id": b"app", "secret": b"s3cret"}
    old = {"id": b"v1", "secret": b"old password"}
    good = opt(0x1D, hmac256(pw["secret"], msg) + pw["id"])
    bad = opt(0x1D, hmac256(b"wrong", msg) + pw["id"])
    unknown = opt(0x1D, hmac256(b"x", msg) + b"someone")
    both = opt(0x1D, hmac256(old["secret"], msg) + old["id"]) + good
    cases = [
        ("good-password", good, [pw], True, None, [pw]),
        ("two-passwords-signed-and-verified", both, [pw, old], True, None, [old, pw]),
        ("wrong-password", bad, [pw], True, "bad_password", None),
        ("wrong-password-not-required", bad, [pw], False, None, None),
        ("unknown-id-ignored", unknown, [pw], True, "signature_required", None),
        ("unknown-id-then-good", unknown + good, [pw], True, None, None),
        ("x-means-empty", b"X", [pw], True, "signature_required", None),
        ("x-not-required", b"X", [], False, None, None),
        ("empty-not-required", b"", [], False, None, None),
        ("malformed-read-as-empty", b"\x7f\x1d", [pw], True, "signature_required", None),
        ("malformed-not-required", b"\x7f\x1d", [], False, None, None),
        ("short-password-option-is-malformed", opt(0x1D, b"\x00" * 31), [pw], True, "signature_required", None),
        ("unknown-option-types-ignored", opt(0x05, b"zz") + good, [pw], True, None, None),
    ]
    vs = []
    for name, sig, verify_with, require, err, sign_with in cases:
        v = {"name": name, "source": "RFC 7425 4.3.5, 4.3.5.1.1; " + COMPUTED, "message": msg,
             "signature": sig, "verify_with": verify_with, "require": require}
        if sign_with:
            v["sign_with"] = sign_with
        if err:
            v["error"] = {"kind": err}
        else:
            v["expect"] = {"valid": True}
        vs.append(v)
    for name, message, sig in capture_sigs:
        vs.append({"name": name, "source": f"{CAPTURE} (rtmfp-cpp signs with X)", "message": message,
                   "signature": sig, "verify_with": [], "require": False, "expect": {"valid": True}})
    return vs


def settings(hmac_len, sseq):
    return {"hmac_length": hmac_len, "sequence_numbers": sseq}


def default_packet_vectors(startup):
    vs = []
    plains = [
        ("ihello-like", bytes.fromhex("0b0102") + b"\x30\x00\x05" + b"\x04\x0a\x02ab" ),
        ("one-byte", b"\x0b"),
        ("exactly-14-bytes-no-padding", bytes(range(1, 15))),
        ("fifteen-bytes", bytes(range(1, 16))),
        ("long", prf("default-long", 300)),
    ]
    for i, (name, plain) in enumerate(plains):
        enc = flash_encrypt(DEFAULT_KEY, plain)
        sid = [0, 0, 0, 0x02000000, 0][i]
        padded = flash_decrypt(DEFAULT_KEY, enc)[1]
        assert padded[:len(plain)] == plain
        vs.append({"name": name, "source": "RFC 7425 4.1, 4.7 (0xff padding, checksum); RFC 7016 2.2.2; " + COMPUTED,
                   "key": DEFAULT_KEY, "settings": settings(None, False),
                   "datagram": multiplex(sid, enc), "session_id": sid,
                   "expect": {"sequence": None, "plain": padded}})
    short = flash_encrypt(DEFAULT_KEY, b"\x0b")[:5]
    vs.append({"name": "scrambled-id-of-a-short-packet",
               "source": "RFC 7016 2.2.2 (a packet under 8 bytes is zero-padded for scrambling); " + COMPUTED,
               "key": DEFAULT_KEY, "settings": settings(None, False),
               "datagram": bytes.fromhex("01020304") + short, "session_id": session_id_of(0x01020304, short),
               "error": {"kind": "too_short"}})
    for name, datagram, sid, plain in startup:
        vs.append({"name": name, "source": f"{CAPTURE} (rtmfp-cpp), decrypted by {TOOL} ({LIBS})",
                   "key": DEFAULT_KEY, "settings": settings(None, False), "datagram": datagram,
                   "session_id": sid, "expect": {"sequence": None, "plain": plain}})
    return vs


def session_packet_vectors(captured):
    vs = []
    key = prf("pkt-key", 16)
    hk = prf("pkt-hmac", 32)
    plain = bytes.fromhex("89") + prf("pkt-plain", 40)
    for hmac_len in (None, 4, 10, 16, 32):
        for sseq in (None, 0, 1, 127, 128, 2**64 - 1):
            enc = flash_encrypt(key, plain, hk, hmac_len, sseq)
            seq, padded = flash_decrypt(key, enc, hk, hmac_len, sseq is not None)
            name = f"hmac-{hmac_len or 'off'}-sseq-{'off' if sseq is None else sseq}"
            v = {"name": name, "source": "RFC 7425 4.7.2, 4.7.3; " + COMPUTED, "key": key,
                 "hmac_key": hk, "settings": settings(hmac_len, sseq is not None), "encrypted": enc,
                 "expect": {"sequence": seq, "plain": padded}}
            vs.append(v)
    # Odd checksum lengths: sequence numbers with a 1-, 2- and 3-byte VLU and no HMAC.
    for sseq in (5, 200, 20000):
        for n in (0, 12, 13):
            enc = flash_encrypt(key, plain[:n + 1], None, None, sseq)
            seq, padded = flash_decrypt(key, enc, None, None, True)
            vs.append({"name": f"checksum-sseq-{sseq}-plain-{n + 1}", "source": "RFC 7425 4.7.3.1 (odd lengths), 4.7.2; " + COMPUTED,
                       "key": key, "hmac_key": b"", "settings": settings(None, True), "encrypted": enc,
                       "expect": {"sequence": seq, "plain": padded}})
    good = flash_encrypt(key, plain, hk, 16, 3)
    ck = flash_encrypt(key, plain, None, None, None)

    def flip(b, i):
        b = bytearray(b)
        b[i] ^= 0x01
        return bytes(b)

    errors = [
        ("bad-hmac-in-tag", flip(good, len(good) - 1), 16, True, "bad_hmac"),
        ("bad-hmac-in-blocks", flip(good, 0), 16, True, "bad_hmac"),
        ("hmac-too-short", good[:16 + 15], 16, True, "too_short"),
        ("hmac-not-block-aligned", good[1:], 16, True, "not_block_aligned"),
        ("checksum-wrong", flip(ck, len(ck) - 1), None, False, "bad_checksum"),
        ("checksum-not-block-aligned", ck[:-1], None, False, "not_block_aligned"),
        ("checksum-too-short", ck[:15], None, False, "too_short"),
        ("checksum-empty", b"", None, False, "too_short"),
    ]
    # A block whose sequence-number VLU never ends.
    bad_vlu = aes_cbc(key, b"\x80" * 16, True)
    errors.append(("sequence-number-vlu-unterminated", bad_vlu, None, True, "bad_sequence_number"))
    for name, enc, hl, sseq, kind in errors:
        for check in [kind]:
            try:
                flash_decrypt(key, enc, hk, hl, sseq)
                raise AssertionError(name)
            except ValueError as e:
                assert str(e) in (check, "truncated VLU"), (name, e)
        vs.append({"name": name, "source": "RFC 7425 4.7.2, 4.7.3 (discard what fails verification); " + COMPUTED,
                   "key": key, "hmac_key": hk, "settings": settings(hl, sseq), "encrypted": enc,
                   "error": {"kind": kind}})
    vs.extend(captured)
    return vs


def session_key_vectors(capture):
    vs = []
    for i, (ls, la, lb) in enumerate([(1, 10, 12), (128, 70, 9), (512, 300, 600)]):
        secret = prf(f"sk-secret-{i}", ls).lstrip(b"\x00")
        sknc, skfc = prf(f"sk-n-{i}", la), prf(f"sk-f-{i}", lb)
        vs.append({"name": f"synthetic-{i}", "source": "RFC 7425 4.6.3 to 4.6.5; " + COMPUTED,
                   "dh_secret": secret, "sknc": sknc, "skfc": skfc, "expect": derive(secret, sknc, skfc)})
    return vs + capture


def key_agreement_vectors():
    """All four public key selections (RFC 7425 4.6.1), from both ends, plus refusals."""
    vs = []
    full = SND | SOR | REQ
    g = 14
    i_eph = certificate(None, False, (16, 14, 2), randomness=prf("ka-i-cert", 64))
    r_eph = certificate(b"server", True, (14, 2), randomness=prf("ka-r-cert", 64))
    xi_s = exponent("ka-i-static", EXP_BITS[g])
    xr_s = exponent("ka-r-static", EXP_BITS[g])
    i_static = certificate(static=((16, dh_public(16, exponent("ka-i-static-16", 480))), (g, dh_public(g, xi_s))))
    r_static = certificate(b"server", True, static=((2, dh_public(2, exponent("ka-r-static-2", 256))), (g, dh_public(g, xr_s))))
    for imode in ("ephemeral", "static"):
        for rmode in ("ephemeral", "static"):
            xi = exponent(f"ka-{imode}-{rmode}-i", EXP_BITS[g]) if imode == "ephemeral" else xi_s
            xr = exponent(f"ka-{imode}-{rmode}-r", EXP_BITS[g]) if rmode == "ephemeral" else xr_s
            icert = i_eph if imode == "ephemeral" else i_static
            rcert = r_eph if rmode == "ephemeral" else r_static
            if imode == "ephemeral":
                skic = keying_component(public_key=(g, dh_public(g, xi)), hmac_flags=full, hmac_len=16, sseq_flags=full)
            else:
                skic = keying_component(group_select=g, randomness=prf(f"ka-{rmode}-skic-x", 64), hmac_flags=full,
                                        hmac_len=16, sseq_flags=full)
            if rmode == "ephemeral":
                skrc = keying_component(public_key=(g, dh_public(g, xr)), hmac_flags=SOR | REQ, hmac_len=10,
                                        sseq_flags=SOR)
            else:
                skrc = keying_component(randomness=prf(f"ka-{imode}-skrc-x", 64), hmac_flags=SOR | REQ,
                                        hmac_len=10, sseq_flags=SOR)
            secret = dh_secret(g, xi, dh_public(g, xr))
            assert secret == dh_secret(g, xr, dh_public(g, xi))
            for role in ("initiator", "responder"):
                if role == "initiator":
                    near_c, far_c, x, sknc, skfc = icert, rcert, xi, skic, skrc
                    near_k, far_k = parse_component(skic), parse_component(skrc)
                else:
                    near_c, far_c, x, sknc, skfc = rcert, icert, xr, skrc, skic
                    near_k, far_k = parse_component(skrc), parse_component(skic)
                send, recv = negotiate(near_k, far_k)
                expect = {"group": g, "dh_secret": secret}
                expect.update({k: v for k, v in derive(secret, sknc, skfc).items()
                               if k not in ("encrypt_key", "decrypt_key")})
                expect["send"] = send
                expect["receive"] = recv
                vs.append({"name": f"initiator-{imode}-responder-{rmode}-at-{role}",
                           "source": f"RFC 7425 4.6.1 ({imode} initiator, {rmode} responder), 4.6.2 to 4.6.6; "
                                     + COMPUTED,
                           "role": role, "near_certificate": near_c, "near_private": to_bytes(x),
                           "far_certificate": far_c, "skic": skic, "skrc": skrc,
                           "require": {"hmac": False, "sequence_numbers": False}, "expect": expect})
    # Refusals, each breaking one rule.
    xi = exponent("ka-err-i", EXP_BITS[g])
    xr = exponent("ka-err-r", EXP_BITS[g])
    good_skic = keying_component(public_key=(g, dh_public(g, xi)), hmac_flags=full, hmac_len=16, sseq_flags=full)
    good_skrc = keying_component(public_key=(g, dh_public(g, xr)), hmac_flags=full, hmac_len=16, sseq_flags=full)
    no_hmac_skrc = keying_component(public_key=(g, dh_public(g, xr)), sseq_flags=full)
    errs = [
        ("static-initiator-sends-ephemeral-key", "responder", r_eph, xr, i_static,
         keying_component(public_key=(g, dh_public(g, xi)), group_select=g, hmac_flags=full, hmac_len=16),
         good_skrc, {}, "unexpected_keying_option", "RFC 7425 4.5.2.1 (MUST NOT send with a static certificate)"),
        ("static-initiator-without-group-select", "responder", r_eph, xr, i_static,
         keying_component(randomness=b"r" * 16, hmac_flags=full, hmac_len=16), good_skrc, {},
         "missing_keying_option", "RFC 7425 4.5.2.3 (MUST send with a static certificate)"),
        ("ephemeral-initiator-sends-group-select", "responder", r_eph, xr, i_eph,
         keying_component(public_key=(g, dh_public(g, xi)), group_select=g), good_skrc, {},
         "unexpected_keying_option", "RFC 7425 4.5.2.3 (MUST NOT send with an ephemeral key)"),
        ("ephemeral-initiator-without-public-key", "responder", r_eph, xr, i_eph,
         keying_component(hmac_flags=full, hmac_len=16), good_skrc, {}, "missing_keying_option",
         "RFC 7425 4.5.2.1 (MUST send without a static key)"),
        ("unsupported-group", "responder", r_eph, xr, i_eph,
         keying_component(public_key=(3, dh_public(g, xi))), good_skrc, {}, "unsupported_group",
         "RFC 7425 4.2 (group 3 is not a MODP group here)"),
        ("static-key-missing-for-group", "responder", r_eph, xr, i_static,
         keying_component(group_select=2, randomness=b"r" * 16), good_skrc, {}, "missing_static_key",
         "RFC 7425 4.6.1.3 (the initiator's certificate has no group-2 key)"),
        ("public-key-too-small", "responder", r_eph, xr, i_eph,
         keying_component(public_key=(g, to_bytes(2**24 - 1))), good_skrc, {}, "unacceptable_public_key",
         "RFC 7425 4.6.2"),
        ("public-key-p-minus-1", "initiator", i_eph, xi, r_eph, good_skic,
         keying_component(public_key=(g, to_bytes(PRIMES[g] - 1))), {}, "unacceptable_public_key",
         "RFC 7425 4.6.2"),
        ("responder-key-in-another-group", "initiator", i_eph, xi, r_eph, good_skic,
         keying_component(public_key=(2, dh_public(2, xr))), {}, "unexpected_keying_option",
         "RFC 7425 4.6.1.1 (same group as the initiator's)"),
        ("responder-without-public-key", "initiator", i_eph, xi, r_eph, good_skic,
         keying_component(hmac_flags=full, hmac_len=16), {}, "missing_keying_option", "RFC 7425 4.6.1.1"),
        ("static-responder-sends-ephemeral-key", "initiator", i_eph, xi, r_static, good_skic,
         good_skrc, {}, "unexpected_keying_option", "RFC 7425 4.5.2.1, 4.6.1.2"),
        ("hmac-required-but-refused", "initiator", i_eph, xi, r_eph, good_skic, no_hmac_skrc,
         {"hmac": True}, "hmac_refused", "RFC 7425 4.6.4"),
        ("sseq-required-but-refused", "responder", r_eph, xr, i_eph,
         keying_component(public_key=(g, dh_public(g, xi)), hmac_flags=full, hmac_len=16), good_skrc,
         {"sequence_numbers": True}, "sequence_numbers_refused", "RFC 7425 4.6.6"),
        ("hmac-length-3", "initiator", i_eph, xi, r_eph, good_skic,
         keying_component(public_key=(g, dh_public(g, xr)), hmac_flags=SND, hmac_len=3), {}, "bad_hmac_length",
         "RFC 7425 4.5.2.4 (4 to 32)"),
        ("hmac-length-33", "responder", r_eph, xr, i_eph,
         keying_component(public_key=(g, dh_public(g, xi)), hmac_flags=SOR, hmac_len=33), good_skrc, {},
         "bad_hmac_length", "RFC 7425 4.5.2.4 (4 to 32; SOR with our REQ means it would send)"),
        ("duplicate-public-key", "responder", r_eph, xr, i_eph,
         keying_component(public_key=(g, dh_public(g, xi))) + opt(0x0D, vlu(g) + dh_public(g, xi)), good_skrc, {},
         "duplicate_option", "RFC 7425 4.5.2.1 (MUST NOT be sent more than once)"),
    ]
    for name, role, near_c, x, far_c, skic, skrc, req, kind, why in errs:
        vs.append({"name": name, "source": why + "; derived by hand, built by " + TOOL, "role": role,
                   "near_certificate": near_c, "near_private": to_bytes(x), "far_certificate": far_c,
                   "skic": skic, "skrc": skrc,
                   "require": {"hmac": req.get("hmac", False), "sequence_numbers": req.get("sequence_numbers", False)},
                   "error": {"kind": kind}})
    return vs


def negotiation_vectors(capture):
    vs = []
    flags = [0, SND, SOR, REQ, SND | REQ, SOR | REQ, SND | SOR | REQ]
    for nf in flags:
        for ff in flags:
            near = {"hmac": (nf, 8 if nf & (SND | SOR) else 0), "sseq": nf}
            far = {"hmac": (ff, 20 if ff & (SND | SOR) else 0), "sseq": ff}
            send, recv = negotiate(near, far)
            vs.append({"name": f"near-{nf:03b}-far-{ff:03b}",
                       "source": "RFC 7425 4.6.4, 4.6.6 (SND, or SOR with the other's REQ); " + COMPUTED,
                       "near": keying_component(hmac_flags=nf, hmac_len=near["hmac"][1], sseq_flags=nf),
                       "far": keying_component(hmac_flags=ff, hmac_len=far["hmac"][1], sseq_flags=ff),
                       "require": {"hmac": False, "sequence_numbers": False},
                       "expect": {"send": send, "receive": recv}})
    vs.append({"name": "absent-options-mean-no-flags", "source": "RFC 7425 4.5.2.4, 4.5.2.5; derived by hand",
               "near": keying_component(hmac_flags=REQ | SOR, hmac_len=16, sseq_flags=REQ | SOR), "far": b"",
               "require": {"hmac": False, "sequence_numbers": False},
               "expect": {"send": settings(None, False), "receive": settings(None, False)}})
    vs.append({"name": "reserved-bits-ignored", "source": "RFC 7425 3 (reserved bits ignored), 4.5.2.4; derived by hand",
               "near": keying_component(hmac_flags=0xF8 | REQ, hmac_len=0, sseq_flags=0xF8 | REQ),
               "far": keying_component(hmac_flags=0xF8 | SOR, hmac_len=12, sseq_flags=0xF8 | SOR),
               "require": {"hmac": True, "sequence_numbers": True},
               "expect": {"send": settings(None, False), "receive": settings(12, True)}})
    return vs + capture


def replay_vectors(server, key, hk):
    """RFC 7425 4.7.3.3 through real packets: order, duplicates, reordering by up to 32.

    `server` is the server's session packets as (encrypted packet, sequence number)."""
    def step(enc, result):
        return {"encrypted": enc, "result": result}
    in_order = [step(e, "ok") for e, _ in server[:40]]
    dup = in_order + [step(server[5][0], "duplicate_sequence"), step(server[39][0], "duplicate_sequence")]
    # 33 packets with consecutive numbers, the last delivered first: reordering by 32.
    start = next(i for i in range(len(server) - 32) if server[i + 32][1] - server[i][1] == 32)
    block = [e for e, _ in server[start:start + 33]]
    reordered = [step(block[-1], "ok")] + [step(e, "ok") for e in reversed(block[:-1])] + \
                [step(block[10], "duplicate_sequence")]
    base = {"source": f"{CAPTURE} small server packets (rtmfp-cpp); outcomes from RFC 7425 4.7.3.3 "
                      "(duplicates discarded, reordering by 32 tolerated)",
            "key": key, "hmac_key": hk, "settings": settings(16, True)}
    return [dict(name="in-order", **base, steps=in_order),
            dict(name="duplicates-discarded", **base, steps=dup),
            dict(name="reordered-by-32", **base, steps=reordered)]


# ---------------------------------------------------------------- the capture


def load_capture(captures):
    pcap = os.path.join(captures, os.path.basename(CAPTURE))
    keylog_path = os.path.join(captures, os.path.basename(KEYLOG))
    ds = pcap_reader.read_udp(pcap)
    logs = {}
    lines = {}
    with open(keylog_path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("RTMFP_KEYLOG"):
                continue
            fields = dict(w.split("=", 1) for w in line.split()[1:])
            logs[fields["role"]] = fields
            lines[fields["role"]] = line
    server_port = ds[0].dst
    out = {"datagrams": ds, "logs": logs, "lines": lines, "server": server_port}
    startup = []
    for d in ds[:4]:
        ssid, enc = struct.unpack(">I", d.payload[:4])[0], d.payload[4:]
        sid = session_id_of(ssid, enc)
        _, plain = flash_decrypt(DEFAULT_KEY, enc)
        flags, chs = chunks(plain)
        assert flags & 0x03 == 3, "startup packets have mode 3"
        startup.append((d, sid, plain, chs))
    (ih, rh, ii, ri) = [s[3][0] for s in startup]
    assert [c[0] for c in (ih, rh, ii, ri)] == [0x30, 0x70, 0x38, 0x78]
    epd, i = vlu_field(ih[1], 0)
    tag, i = vlu_field(rh[1], 0)
    cookie, i = vlu_field(rh[1], i)
    server_cert = rh[1][i:]
    isid = struct.unpack(">I", ii[1][:4])[0]
    _, i = vlu_field(ii[1], 4)
    client_cert, i = vlu_field(ii[1], i)
    skic, i = vlu_field(ii[1], i)
    isig = ii[1][i:]
    signed_i = ii[1][:i]
    skrc, j = vlu_field(ri[1], 4)
    rsig = ri[1][j:]
    signed_r = ri[1][:j] + skic
    assert startup[3][1] == isid
    out.update(startup=startup, epd=epd, server_cert=server_cert, client_cert=client_cert, skic=skic,
               skrc=skrc, isig=isig, rsig=rsig, signed_i=signed_i, signed_r=signed_r)
    # The derivation from the logged secret must reproduce every logged key.
    for role, sknc, skfc in (("server", skrc, skic), ("client", skic, skrc)):
        log = logs[role]
        k = derive(bytes.fromhex(log["dh_secret"]), sknc, skfc)
        assert k["aes_encrypt_key"].hex() == log["enc_key"], role
        assert k["aes_decrypt_key"].hex() == log["dec_key"], role
        assert k["hmac_send_key"].hex() == log["hmac_tx_key"], role
        assert k["hmac_recv_key"].hex() == log["hmac_rx_key"], role
        assert k["near_nonce"].hex() == log["near_nonce"], role
        assert k["far_nonce"].hex() == log["far_nonce"], role
    # Every session packet verifies, with 16-byte HMACs and increasing sequence numbers.
    c = logs["client"]
    dirs = {
        "client": (bytes.fromhex(c["enc_key"]), bytes.fromhex(c["hmac_tx_key"])),
        "server": (bytes.fromhex(c["dec_key"]), bytes.fromhex(c["hmac_rx_key"])),
    }
    session = {"client": [], "server": []}
    last = {"client": -1, "server": -1}
    for d in ds[4:]:
        sender = "server" if d.src == server_port else "client"
        key, hk = dirs[sender]
        enc = d.payload[4:]
        seq, plain = flash_decrypt(key, enc, hk, 16, True)
        assert seq > last[sender], (d.index, seq)
        last[sender] = seq
        session[sender].append((d, seq, plain))
    out["session"] = session
    out["dirs"] = dirs
    return out


def capture_sets(cap):
    """The capture's contribution to each file."""
    names = ["capture-ihello", "capture-rhello", "capture-iikeying", "capture-rikeying-nonzero-session-id"]
    startup = [(n, d.payload, sid, plain) for n, (d, sid, plain, _) in zip(names, cap["startup"])]
    packets = []
    for sender in ("client", "server"):
        key, hk = cap["dirs"][sender]
        items = cap["session"][sender]
        picks = sorted(set(list(range(4)) + list(range(50, len(items), 100)) + [len(items) - 2, len(items) - 1]))
        for i in picks:
            d, seq, plain = items[i]
            packets.append({
                "name": f"capture-{sender}-frame-{d.index}",
                "source": f"{CAPTURE} frame {d.index} (rtmfp-cpp); keys from {KEYLOG}; "
                          f"verified and decrypted by {TOOL} ({LIBS})",
                "key": key, "hmac_key": hk, "settings": settings(16, True), "datagram": d.payload,
                "session_id": session_id_of(struct.unpack(">I", d.payload[:4])[0], d.payload[4:]),
                "expect": {"sequence": seq, "plain": plain}})
    logs = cap["logs"]
    session_keys = []
    for role, sknc, skfc in (("server", cap["skrc"], cap["skic"]), ("client", cap["skic"], cap["skrc"])):
        log = logs[role]
        session_keys.append({
            "name": f"capture-{role}",
            "source": f"{CAPTURE} IIKeying SKIC and RIKeying SKRC, DH_SECRET and expected keys from "
                      f"{KEYLOG} (rtmfp-cpp)",
            "dh_secret": bytes.fromhex(log["dh_secret"]), "sknc": sknc, "skfc": skfc,
            "expect": {
                "aes_encrypt_key": bytes.fromhex(log["enc_key"]),
                "aes_decrypt_key": bytes.fromhex(log["dec_key"]),
                "hmac_send_key": bytes.fromhex(log["hmac_tx_key"]),
                "hmac_recv_key": bytes.fromhex(log["hmac_rx_key"]),
                "near_nonce": bytes.fromhex(log["near_nonce"]),
                "far_nonce": bytes.fromhex(log["far_nonce"]),
            }})
    negotiation = []
    for role, near, far in (("server", cap["skrc"], cap["skic"]), ("client", cap["skic"], cap["skrc"])):
        log = logs[role]
        send, recv = negotiate(parse_component(near), parse_component(far))
        assert (send["hmac_length"] is not None) == (log["hmac_send"] == "1")
        assert (recv["hmac_length"] is not None) == (log["hmac_recv"] == "1")
        assert send["sequence_numbers"] == (log["sseq_send"] == "1")
        assert recv["sequence_numbers"] == (log["sseq_recv"] == "1")
        negotiation.append({"name": f"capture-{role}", "source": f"{CAPTURE} keying components; "
                            f"flags as in {KEYLOG} (rtmfp-cpp), lengths from the components",
                            "near": near, "far": far, "require": {"hmac": True, "sequence_numbers": True},
                            "expect": {"send": send, "receive": recv}})
    keylog = []
    for role in ("server", "client"):
        log = logs[role]
        keylog.append({"name": f"capture-{role}", "source": f"{KEYLOG} (rtmfp-cpp)", "line": cap["lines"][role],
                       "expect": {
                           "role": "initiator" if role == "client" else "responder",
                           "dh_group": int(log["dh_group"]),
                           "enc_key": bytes.fromhex(log["enc_key"]),
                           "dec_key": bytes.fromhex(log["dec_key"]),
                           "hmac_send": log["hmac_send"] == "1", "hmac_recv": log["hmac_recv"] == "1",
                           "sseq_send": log["sseq_send"] == "1", "sseq_recv": log["sseq_recv"] == "1",
                           "dh_secret_len": len(log["dh_secret"]) // 2}})
    inspect = []
    client_line = cap["lines"]["client"]
    for label, d, key, seq in (
        [("ihello", cap["startup"][0][0], "default", None),
         ("rikeying", cap["startup"][3][0], "default", None)]
        + [(f"client-frame-{d.index}", d, "key_log_sent", s) for d, s, _ in cap["session"]["client"][:2]]
        + [(f"server-frame-{d.index}", d, "key_log_received", s) for d, s, _ in cap["session"]["server"][:2]]
    ):
        ssid, enc = struct.unpack(">I", d.payload[:4])[0], d.payload[4:]
        inspect.append({"name": f"capture-{label}", "source": f"{CAPTURE} frame {d.index} with the client line of "
                        f"{KEYLOG} (rtmfp-cpp); HMAC length not logged, so inferred",
                        "datagram": d.payload, "key_logs": [client_line],
                        "expect": {"session_id": session_id_of(ssid, enc), "key": key, "sequence": seq}})
    server = [(d.payload[4:], seq) for d, seq, _ in cap["session"]["server"] if len(d.payload) <= 52]
    key, hk = cap["dirs"]["server"]
    return {
        "startup": startup, "packets": packets, "session_keys": session_keys, "negotiation": negotiation,
        "keylog": keylog, "inspect": inspect, "replay": replay_vectors(server, key, hk),
        "certs": [("capture-rhello-server-certificate", cap["server_cert"]),
                  ("capture-iikeying-client-certificate", cap["client_cert"])],
        "epd": (cap["epd"], cap["server_cert"]),
        "sigs": [("capture-iikeying-signature", cap["signed_i"], cap["isig"]),
                 ("capture-rikeying-signature", cap["signed_r"], cap["rsig"])],
        "glare": (cap["client_cert"], cap["server_cert"]),
    }


# ---------------------------------------------------------------- main


def find_captures(start):
    d = os.path.abspath(start)
    while True:
        cand = os.path.join(d, "shared", "captures")
        if os.path.isfile(os.path.join(cand, os.path.basename(CAPTURE))):
            return cand
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def build(captures):
    cap = capture_sets(load_capture(captures))
    files = {
        "checksum.yaml": ("checksum", "RFC 7425 4.7.3.1 simple checksum, even and odd lengths", checksum_vectors()),
        "dh_groups.yaml": ("dh_group", "RFC 7425 4.2 MODP groups, primes recomputed from their formula",
                           dh_group_vectors()),
        "dh_shared_secret.yaml": ("dh_shared_secret", "RFC 7425 4.6.2 Diffie-Hellman public keys and DH_SECRET",
                                  dh_vectors()),
        "dh_secret_encoding.yaml": ("dh_secret_encoding", "RFC 7425 4.6.2 DH_SECRET encoding",
                                    dh_encoding_vectors()),
        "public_key_validity.yaml": ("dh_public_key", "RFC 7425 4.6.2 public key acceptability",
                                     public_key_vectors()),
        "certificates.yaml": ("certificate", "RFC 7425 4.3 certificates: canonical section, fingerprint, "
                              "options, canonical EPD", certificate_vectors(cap["certs"])),
        "epd_selection.yaml": ("epd_selection", "RFC 7425 4.4.3 certificate selection (Figure 1)",
                               epd_vectors(*cap["epd"])),
        "glare.yaml": ("glare", "RFC 7425 4.3.6 glare ordering and 4.3.7 session override",
                       glare_vectors(*cap["glare"])),
        "signatures.yaml": ("signature", "RFC 7425 4.3.5 signatures and Simple Password",
                            signature_vectors(cap["sigs"])),
        "session_keys.yaml": ("session_keys", "RFC 7425 4.6.3 to 4.6.5 key and nonce derivation",
                              session_key_vectors(cap["session_keys"])),
        "negotiation.yaml": ("negotiation", "RFC 7425 4.5.2.4, 4.5.2.5, 4.6.4, 4.6.6 HMAC and sequence "
                             "number negotiation", negotiation_vectors(cap["negotiation"])),
        "key_agreement.yaml": ("key_agreement", "RFC 7425 4.6 complete key computation for all four public "
                               "key selections, from each end", key_agreement_vectors()),
        "default_key_packets.yaml": ("packet", "RFC 7425 4.1 Default Session Key packets, RFC 7016 2.2.2 "
                                     "scrambled session IDs", default_packet_vectors(cap["startup"])),
        "session_packets.yaml": ("packet", "RFC 7425 4.7 packets with HMAC, checksums and session sequence "
                                 "numbers", session_packet_vectors(cap["packets"])),
        "replay.yaml": ("packet_sequence", "RFC 7425 4.7.3.3 anti-replay on captured packets", cap["replay"]),
        "keylog.yaml": ("keylog", "Key-log lines (shared/captures/README.md format)", cap["keylog"]),
        "inspect.yaml": ("inspect", "Decrypting captured datagrams with a key-log line (crypto::inspect)",
                         cap["inspect"]),
    }
    return {name: render(kind, desc, vs) for name, (kind, desc, vs) in files.items()}


def normalise(text):
    return re.sub(r"cryptography \d+(\.\d+)*", "cryptography *", text)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    ap.add_argument("--out", default=os.path.join(root, "vectors", "crypto"))
    ap.add_argument("--captures", default=None, help="directory of the rtmfp-cpp capture (default: the nearest "
                    "shared/captures above the repository)")
    args = ap.parse_args()
    captures = args.captures or find_captures(root)
    if not captures:
        sys.exit("cannot find shared/captures/; pass --captures DIR")
    files = build(captures)
    if args.check:
        bad = 0
        for name, text in files.items():
            path = os.path.join(args.out, name)
            try:
                with open(path) as f:
                    old = f.read()
            except FileNotFoundError:
                print(f"missing: {path}")
                bad += 1
                continue
            if normalise(old) != normalise(text):
                bad += 1
                sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                           path, "regenerated", n=1))
            elif old != text:
                print(f"note: {name} was made with another version of cryptography; values agree")
        extra = sorted(set(os.listdir(args.out)) - set(files)) if os.path.isdir(args.out) else []
        for name in extra:
            if name.endswith(".yaml"):
                print(f"not generated by this tool: {name}")
        print(f"{len(files) - bad} of {len(files)} files match")
        sys.exit(1 if bad else 0)
    os.makedirs(args.out, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(args.out, name), "w") as f:
            f.write(text)
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
