#!/usr/bin/env python3
"""Write the seed corpora of the DNS fuzz targets: real-looking queries and
answers built by hand (no DNS library), and TCP streams of framed messages.

    python3 tests/fuzz/dns/gen_corpus.py      # from the repository root

Files are named after what they hold; rerunning rewrites the same bytes."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, '..', 'corpus')

QR, TC, RD, RA, CD = 0x8000, 0x0200, 0x0100, 0x0080, 0x0010
A, NS, CNAME, MX, TXT, AAAA, SRV, OPT, HTTPS = 1, 2, 5, 15, 16, 28, 33, 41, 65


def name(dotted):
    out = b''
    for label in dotted.strip('.').split('.') if dotted.strip('.') else []:
        raw = label.encode('latin-1')
        out += bytes([len(raw)]) + raw
    return out + b'\0'


def header(qid, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack('>HHHHHH', qid, flags, qd, an, ns, ar)


def question(dotted, qtype, qclass=1):
    return name(dotted) + struct.pack('>HH', qtype, qclass)


def opt(udp=1232, ext=0, version=0, do=False, options=b''):
    return b'\0' + struct.pack('>HHBBHH', OPT, udp, ext, version,
                               0x8000 if do else 0, len(options)) + options


def rr(owner, rtype, rdata, ttl=300):
    return owner + struct.pack('>HHIH', rtype, 1, ttl, len(rdata)) + rdata


PTR_Q = b'\xc0\x0c'   # pointer to the question name

QUERIES = {
    'a': header(0x1a2b, RD) + question('www.example.com', A),
    'aaaa': header(0x0001, RD) + question('api.example.com', AAAA),
    'https': header(0xffff, RD) + question('cdn.example.net', HTTPS),
    'upper': header(0x2020, RD) + question('WwW.ExAmPlE.CoM', A),
    'root_ns': header(0x0002, 0) + question('.', NS),
    'srv': header(0x0003, RD) + question('_ldap._tcp.corp.example', SRV),
    'edns_do': header(0x0004, RD | CD, ar=1) + question('example.org', A) + opt(4096, do=True),
    'edns_cookie': header(0x0005, RD, ar=1) + question('example.org', AAAA)
                   + opt(1232, options=struct.pack('>HH', 10, 8) + bytes(range(8))),
    'max_name': header(0x0006, RD) + question('.'.join(['a' * 63] * 3 + ['b' * 61]), A),
    'many_labels': header(0x0007, RD) + question('.'.join(['x'] * 127), A),
    'unsafe_dot': header(0x0008, RD) + b'\x03a.b' + name('example.com') + struct.pack('>HH', A, 1),
    'unsafe_bytes': header(0x0009, RD) + b'\x04\x00 *\xff' + name('example.com') + struct.pack('>HH', A, 1),
    'qd0': header(0x000a, RD, qd=0),
    'qd2': header(0x000b, RD, qd=2) + question('a.example.com', A) + b'\x01b\xc0\x0e' + struct.pack('>HH', A, 1),
    'opcode_update': header(0x000c, 5 << 11, qd=1, ns=1) + question('example.com', 6)
                     + rr(PTR_Q, A, b'\x0a\x00\x00\x01'),
    'opcode_status': header(0x000d, 2 << 11 | RD) + question('example.com', A),
    'tc_query': header(0x000e, RD | TC) + question('example.com', TXT),
    'pointer_loop': header(0x000f, RD) + b'\xc0\x0c' + struct.pack('>HH', A, 1),
    'pointer_after_label': header(0x0010, RD) + b'\x01a\xc0\x0c' + struct.pack('>HH', A, 1),
    'label_64': header(0x0011, RD) + b'\x40' + b'a' * 64 + b'\0' + struct.pack('>HH', A, 1),
    'trailing': header(0x0012, RD) + question('example.com', MX) + b'garbage',
    'two_opt': header(0x0013, RD, ar=2) + question('example.com', A) + opt() + opt(),
    'short': header(0x0014, RD)[:7],
    'class_chaos': header(0x0015, 0) + question('version.bind', TXT, 3),
}

ANSWERS = {
    'answer_a': header(0x1a2b, QR | RD | RA, an=2) + question('www.example.com', A)
                + rr(PTR_Q, A, bytes([192, 0, 2, 1])) + rr(PTR_Q, A, bytes([192, 0, 2, 2])),
    'answer_cname': header(0x0101, QR | RD | RA, an=2, ar=1) + question('www.example.com', A)
                    + rr(PTR_Q, CNAME, b'\x03cdn\xc0\x10') + rr(b'\xc0\x2d', A, bytes([198, 51, 100, 7]))
                    + opt(1232),
    'answer_nxdomain_soa': header(0x0202, QR | RD | RA | 3, ns=1, ar=1) + question('nope.example.com', AAAA)
                           + rr(b'\xc0\x11', 6, name('ns1.example.com') + name('admin.example.com')
                                + struct.pack('>IIIII', 1, 7200, 3600, 1209600, 300)) + opt(4096, do=True),
    'answer_badvers': header(0x0303, QR | RA, ar=1) + question('example.com', A) + opt(1232, ext=1),
    'answer_tc_cut': (header(0x0404, QR | RD | RA | TC, an=3) + question('big.example.com', TXT)
                      + rr(PTR_Q, TXT, b'\x20' + b't' * 32) * 3)[:-10],
    'answer_refused': header(0x0505, QR | RD | RA | 5) + question('blocked.example', A),
    'answer_servfail_edns': header(0x0606, QR | RD | RA | 2, ar=1) + question('x.y', HTTPS) + opt(1232),
}


def write(directory, files):
    os.makedirs(directory, exist_ok=True)
    for fname, data in files.items():
        with open(os.path.join(directory, fname), 'wb') as f:
            f.write(data)


def frame(msg):
    return struct.pack('>H', len(msg)) + msg


def tcp_seeds():
    # byte 0: size limit (< 128: 65535), bytes 1-2: split seed, then the stream
    q = QUERIES
    return {
        'one': b'\x00\x01\x02' + frame(q['a']),
        'three': b'\x00\x11\x22' + frame(q['a']) + frame(q['edns_do']) + frame(q['https']),
        'answers': b'\x00\x33\x44' + frame(ANSWERS['answer_a']) + frame(ANSWERS['answer_cname']),
        'cut_last': b'\x00\x55\x66' + frame(q['a']) + frame(q['aaaa'])[:9],
        'too_big_for_limit': b'\x90\x01\x01' + frame(q['a']) + frame(q['max_name']),
        'short_prefix': b'\x00\x02\x02' + frame(q['a']) + b'\x00\x05hello',
        'zero_prefix': b'\x00\x03\x03' + b'\x00\x00',
    }


if __name__ == '__main__':
    write(os.path.join(CORPUS, 'dns_query'), {**QUERIES, **ANSWERS})
    write(os.path.join(CORPUS, 'dns_tcp'), tcp_seeds())
