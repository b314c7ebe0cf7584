#!/usr/bin/env python3
"""Seed corpus for fuzz-dnsanswers: a few well-formed responses (A, AAAA,
CNAME chains in and out of order, compression) and the malformations the
parser must refuse (forward and self pointers, cut records, bad rdlength).
Run from the repository root: python3 tests/fuzz/dnsanswers/gen_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "..", "corpus", "dnsanswers")


def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"


def hdr(an, rcode=0, qd=1, flags=0x8180):
    return struct.pack(">HHHHHH", 0x1234, flags | rcode, qd, an, 0, 0)


def q(n, t=1):
    return name(n) + struct.pack(">HH", t, 1)


def rr(owner, t, rdata, cls=1):
    return owner + struct.pack(">HHIH", t, cls, 60, len(rdata)) + rdata


PTR_Q = b"\xc0\x0c"
CASES = {
    "a": hdr(1) + q("api.example.com") + rr(PTR_Q, 1, bytes([93, 184, 216, 34])),
    "a_two": hdr(2) + q("api.example.com") + rr(PTR_Q, 1, bytes([10, 0, 0, 1]))
    + rr(PTR_Q, 1, bytes([10, 0, 0, 2])),
    "aaaa": hdr(1) + q("api.example.com", 28) + rr(PTR_Q, 28, bytes(range(16))),
    "cname_chain": hdr(3) + q("www.example.com") + rr(PTR_Q, 5, name("edge.cdn.net"))
    + rr(name("edge.cdn.net"), 5, name("a1.cdn.net")) + rr(name("a1.cdn.net"), 1, bytes([1, 2, 3, 4])),
    "cname_reordered": hdr(2) + q("www.example.com") + rr(name("edge.cdn.net"), 1, bytes([5, 6, 7, 8]))
    + rr(PTR_Q, 5, name("edge.cdn.net")),
    "unrelated_owner": hdr(1) + q("api.example.com") + rr(name("evil.example.com"), 1, bytes([6, 6, 6, 6])),
    "mixed_case": hdr(1) + q("API.Example.COM") + rr(name("api.example.com"), 1, bytes([9, 9, 9, 9])),
    "nxdomain": hdr(0, rcode=3) + q("nx.example.com"),
    "forward_pointer": hdr(1) + q("api.example.com") + rr(b"\xc0\x40", 1, bytes(4)),
    "self_pointer": hdr(1) + q("api.example.com") + b"\xc0\x21" + struct.pack(">HHIH", 1, 1, 0, 4) + bytes(4),
    "cut_record": (hdr(1) + q("api.example.com") + rr(PTR_Q, 1, bytes([1, 2, 3, 4])))[:-2],
    "bad_rdlength": hdr(1) + q("api.example.com") + rr(PTR_Q, 1, bytes(5)),
    "query_not_response": hdr(0, flags=0x0100) + q("api.example.com"),
    "cname_loop": hdr(2) + q("a.example") + rr(PTR_Q, 5, name("b.example"))
    + rr(name("b.example"), 5, name("a.example")),
}

os.makedirs(OUT, exist_ok=True)
for k, v in CASES.items():
    with open(os.path.join(OUT, k), "wb") as f:
        f.write(v)
