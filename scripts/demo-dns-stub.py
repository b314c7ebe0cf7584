#!/usr/bin/env python3
"""A tiny upstream DNS server for `make demo`: answers every A query with
203.0.113.7 (a documentation address), on 127.0.0.1 at the port given, in
the supervisor's network namespace. Runs until killed."""
import socket
import struct
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = sock.recvfrom(512)
    end = 12
    while data[end]:
        end += data[end] + 1
    qtype = struct.unpack(">H", data[end + 1:end + 3])[0]
    end += 5
    records = 1 if qtype == 1 else 0
    reply = data[:2] + struct.pack(">HHHHH", 0x8180, 1, records, 0, 0) + data[12:end]
    if records:
        reply += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 7])
    sock.sendto(reply, peer)
