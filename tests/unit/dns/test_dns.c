/* test_dns.c: the DNS wire code over hand-built packets, one branch each:
 * query classification, name decoding and bounds, EDNS, the REFUSED /
 * SERVFAIL builders byte by byte, upstream answers, and TCP framing split at
 * every byte boundary. Query types are plain numbers (1 A, 28 AAAA, 65
 * HTTPS); their names belong to src/spec. */
#include "tap.h"

#include "dns/wire.h"

#define T_A 1
#define T_NS 2
#define T_AAAA 28
#define T_HTTPS 65
#define F_QR 0x8000
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080
#define F_CD 0x0010

struct pkt {
    uint8_t b[70000];
    size_t n;
};

static void p8(struct pkt *p, uint8_t v) { p->b[p->n++] = v; }

static void p16(struct pkt *p, uint16_t v)
{
    p8(p, (uint8_t)(v >> 8));
    p8(p, (uint8_t)v);
}

static void pbytes(struct pkt *p, const void *d, size_t n)
{
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

/* A dotted name as plain labels; "" and "." are the root. */
static void pname(struct pkt *p, const char *dotted)
{
    const char *s = dotted;
    while (*s && strcmp(s, ".") != 0) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        p8(p, (uint8_t)n);
        pbytes(p, s, n);
        s += n + (dot ? 1 : 0);
    }
    p8(p, 0);
}

static void pheader(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                    uint16_t ns, uint16_t ar)
{
    p->n = 0;
    p16(p, id);
    p16(p, flags);
    p16(p, qd);
    p16(p, an);
    p16(p, ns);
    p16(p, ar);
}

static void pquestion(struct pkt *p, const char *name, uint16_t type, uint16_t qclass)
{
    pname(p, name);
    p16(p, type);
    p16(p, qclass);
}

static void popt(struct pkt *p, uint16_t udp, uint8_t ext, uint8_t version, bool dnssec_ok)
{
    p8(p, 0);
    p16(p, 41);
    p16(p, udp);
    p8(p, ext);
    p8(p, version);
    p16(p, dnssec_ok ? 0x8000 : 0);
    p16(p, 0);
}

/* The usual stub query: RD set, class IN, one question, nothing else. */
static void make_query(struct pkt *p, uint16_t id, const char *name, uint16_t type)
{
    pheader(p, id, F_RD, 1, 0, 0, 0);
    pquestion(p, name, type, 1);
}

static enum dns_status parse(const struct pkt *p, struct dns_query *q)
{
    return dns_parse_query(p->b, p->n, q);
}

static bool bytes_eq(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    if (got_len != want_len) {
        printf("# length %zu, want %zu\n", got_len, want_len);
        return false;
    }
    for (size_t i = 0; i < want_len; i++)
        if (got[i] != want[i]) {
            printf("# byte %zu: 0x%02x, want 0x%02x\n", i, got[i], want[i]);
            return false;
        }
    return true;
}

/* ---- queries ---- */

TEST(query_a)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 0x1234, "www.example.com", T_A);
    is_int(parse(&p, &q), DNS_OK, "plain A query");
    ok(q.reason == NULL, "no reason when ok");
    is_int(q.hdr.id, 0x1234, "id");
    ok(!q.hdr.qr && q.hdr.rd && !q.hdr.tc && q.hdr.opcode == 0, "flags");
    is_int(q.hdr.qdcount, 1, "qdcount");
    ok(q.has_question, "question read");
    is_str(q.q.name, "www.example.com", "name");
    ok(q.q.hostname_safe, "safe");
    is_int(q.q.qtype, T_A, "qtype");
    is_int(q.q.qclass, 1, "qclass");
    is_int(q.q.wire_len, 17, "wire length");
    ok(bytes_eq(q.q.wire, q.q.wire_len, p.b + 12, 17), "wire copied");
    ok(!q.edns.present, "no EDNS");
    is_int(q.records, 0, "no records");
    is_int(q.trailing_bytes, 0, "no trailing bytes");
}

TEST(query_aaaa_and_https)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 7, "api.example.com", T_AAAA);
    is_int(parse(&p, &q), DNS_OK, "AAAA");
    is_int(q.q.qtype, T_AAAA, "AAAA type");
    make_query(&p, 8, "_443._https.cdn.example.com", T_HTTPS);
    is_int(parse(&p, &q), DNS_OK, "HTTPS with underscore labels");
    is_int(q.q.qtype, T_HTTPS, "HTTPS type");
    is_str(q.q.name, "_443._https.cdn.example.com", "underscores kept");
    make_query(&p, 9, "xn--bcher-kva.example", T_A);
    is_int(parse(&p, &q), DNS_OK, "punycode");
    is_str(q.q.name, "xn--bcher-kva.example", "hyphens kept");
}

TEST(query_upper_case)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 1, "WwW.ExAmPlE.COM", T_A);
    is_int(parse(&p, &q), DNS_OK, "mixed case is fine");
    is_str(q.q.name, "www.example.com", "text folded to lower case");
    ok(memcmp(q.q.wire + 1, "WwW", 3) == 0, "wire keeps the case (0x20 clients check it)");
}

TEST(query_root)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 2, ".", T_NS);
    is_int(parse(&p, &q), DNS_OK, "root priming query");
    is_str(q.q.name, ".", "root text");
    is_int(q.q.wire_len, 1, "one zero byte");
}

static void label_of(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

TEST(query_max_label_and_name)
{
    struct pkt p;
    struct dns_query q;
    char l63[64], l61[63], name[300];
    label_of(l63, 63, 'a');
    label_of(l61, 61, 'b');
    make_query(&p, 3, l63, T_A);
    is_int(parse(&p, &q), DNS_OK, "63-byte label");
    is_int(strlen(q.q.name), 63, "text length");
    /* 63+63+63+61 content, 4 length bytes, final 0: exactly 255 */
    snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, l61);
    make_query(&p, 4, name, T_A);
    is_int(parse(&p, &q), DNS_OK, "255-byte name");
    is_int(q.q.wire_len, 255, "wire length at the bound");
    is_int(strlen(q.q.name), 253, "longest hostname text");
    is_str(q.q.name, name, "text");
    /* one more byte: 256 */
    label_of(l61, 62, 'b');
    snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, l61);
    make_query(&p, 5, name, T_A);
    is_int(parse(&p, &q), DNS_MALFORMED, "256-byte name");
    is_str(q.reason, "name longer than 255 bytes", "reason");
    ok(!q.has_question, "no question on failure");
}

TEST(query_many_short_labels)
{
    struct pkt p;
    struct dns_query q;
    char name[400] = "";
    for (int i = 0; i < 127; i++)
        strcat(name, i ? ".a" : "a");
    make_query(&p, 6, name, T_A);
    is_int(parse(&p, &q), DNS_OK, "127 one-byte labels (255 wire bytes)");
    is_int(strlen(q.q.name), 253, "text");
    strcat(name, ".a");
    make_query(&p, 6, name, T_A);
    is_int(parse(&p, &q), DNS_MALFORMED, "128 labels exceed 255 bytes");
}

TEST(query_label_too_long)
{
    struct pkt p;
    struct dns_query q;
    static const uint8_t kinds[] = { 64, 0x40 | 1, 0x80, 0xBF };
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        pheader(&p, 1, F_RD, 1, 0, 0, 0);
        p8(&p, kinds[i]);
        for (int j = 0; j < 70; j++)
            p8(&p, 'a');
        p8(&p, 0);
        p16(&p, 1);
        p16(&p, 1);
        is_int(parse(&p, &q), DNS_MALFORMED, "length byte 0x%02x", kinds[i]);
        is_str(q.reason, "label longer than 63 bytes", "reason for 0x%02x", kinds[i]);
    }
}

TEST(query_truncated_header)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 1, "example.com", T_A);
    for (size_t n = 0; n < 12; n++) {
        is_int(dns_parse_query(p.b, n, &q), DNS_MALFORMED, "%zu bytes", n);
        is_str(q.reason, "message shorter than a header", "reason at %zu", n);
    }
}

TEST(query_truncated_question)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 1, "example.com", T_A);
    for (size_t n = 12; n < p.n; n++) {
        is_int(dns_parse_query(p.b, n, &q), DNS_MALFORMED, "cut at %zu", n);
        ok(q.reason != NULL, "a reason at %zu", n);
    }
    dns_parse_query(p.b, 12 + 5, &q);
    is_str(q.reason, "name runs past the message", "cut inside the name");
    dns_parse_query(p.b, p.n - 1, &q);
    is_str(q.reason, "question runs past the message", "cut inside qclass");
}

TEST(query_too_big)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 1, "example.com", T_A);
    memset(p.b + p.n, 0, 65536 - p.n);
    is_int(dns_parse_query(p.b, 65535, &q), DNS_OK, "65535 bytes with trailing zeros");
    is_int(q.trailing_bytes, 65535 - p.n, "trailing noted");
    is_int(dns_parse_query(p.b, 65536, &q), DNS_MALFORMED, "65536 bytes");
    is_str(q.reason, "message longer than 65535 bytes", "reason");
}

/* Every way a compression pointer could appear in the first question. */
TEST(query_pointers_rejected)
{
    static const uint8_t cases[][6] = {
        { 0xC0, 0x0C },                 /* to itself: a loop */
        { 0xC0, 0x00 },                 /* into the header */
        { 0xC0, 0x20 },                 /* forward */
        { 0x01, 'a', 0xC0, 0x0C },      /* after a label, back to its start */
        { 0xFF, 0xFF },                 /* far away */
    };
    static const size_t lens[] = { 2, 2, 2, 4, 2 };
    struct pkt p;
    struct dns_query q;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        pheader(&p, 1, F_RD, 1, 0, 0, 0);
        pbytes(&p, cases[i], lens[i]);
        p16(&p, T_A);
        p16(&p, 1);
        for (int j = 0; j < 40; j++)
            p8(&p, 0);
        is_int(parse(&p, &q), DNS_MALFORMED, "pointer case %zu", i);
        is_str(q.reason, "compression pointer in question", "reason %zu", i);
    }
}

TEST(query_qr_set)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 9, F_QR | F_RD | F_RA, 1, 0, 0, 0);
    pquestion(&p, "example.com", T_A, 1);
    is_int(parse(&p, &q), DNS_NOT_QUERY, "a response");
    is_int(q.hdr.id, 9, "header still read");
    uint8_t out[DNS_REPLY_MAX];
    is_int(dns_build_refused(&q, out, sizeof(out)), -EINVAL, "never answer a response");
    p.n = 12;
    is_int(parse(&p, &q), DNS_NOT_QUERY, "not walked further");
}

TEST(query_opcode)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 10, (uint16_t)(2 << 11) | F_RD, 1, 0, 0, 0);   /* STATUS */
    pquestion(&p, "example.com", T_A, 1);
    is_int(parse(&p, &q), DNS_BAD_OPCODE, "opcode 2");
    is_int(q.hdr.opcode, 2, "opcode read");
    ok(q.has_question, "question still read for the reply");
    pheader(&p, 11, (uint16_t)(5 << 11), 1, 0, 0, 0);          /* UPDATE */
    pquestion(&p, "example.com", 6, 1);
    is_int(parse(&p, &q), DNS_BAD_OPCODE, "opcode 5");
    p.n -= 1;
    is_int(parse(&p, &q), DNS_MALFORMED, "malformed wins over opcode");
}

TEST(query_qdcount)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 12, F_RD, 0, 0, 0, 0);
    is_int(parse(&p, &q), DNS_BAD_QDCOUNT, "qdcount 0");
    ok(!q.has_question, "no question");
    pheader(&p, 13, F_RD, 2, 0, 0, 0);
    pquestion(&p, "a.example.com", T_A, 1);
    p8(&p, 1);                          /* b + pointer to example.com */
    p8(&p, 'b');
    p16(&p, 0xC000 | 14);
    p16(&p, T_A);
    p16(&p, 1);
    is_int(parse(&p, &q), DNS_BAD_QDCOUNT, "qdcount 2, second compressed");
    ok(!q.has_question, "questions only stepped over");
    is_int(q.trailing_bytes, 0, "walked to the end");
    p.n -= 2;
    is_int(parse(&p, &q), DNS_MALFORMED, "second question cut");
    pheader(&p, 14, F_RD, 2, 0, 0, 0);
    pquestion(&p, "a.example.com", T_A, 1);
    is_int(parse(&p, &q), DNS_MALFORMED, "second question missing");
}

TEST(query_edns)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 15, "example.com", T_A);
    p.b[11] = 1;                        /* arcount */
    popt(&p, 4096, 0, 0, true);
    is_int(parse(&p, &q), DNS_OK, "query with OPT");
    ok(q.edns.present, "OPT found");
    is_int(q.edns.udp_size, 4096, "udp size");
    is_int(q.edns.version, 0, "version");
    ok(q.edns.do_bit, "DO");
    is_int(q.records, 1, "one record");
    /* with an option (cookie) in its rdata */
    make_query(&p, 16, "example.com", T_A);
    p.b[11] = 1;
    popt(&p, 1232, 0, 0, false);
    p.b[p.n - 1] = 12;                  /* rdlength */
    p16(&p, 10);                        /* COOKIE */
    p16(&p, 8);
    pbytes(&p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    is_int(parse(&p, &q), DNS_OK, "OPT with an option");
    ok(q.edns.present && !q.edns.do_bit, "no DO");
    p.n -= 1;
    is_int(parse(&p, &q), DNS_MALFORMED, "OPT rdata cut");
    is_str(q.reason, "record runs past the message", "reason");
}

TEST(query_edns_bad)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 17, "example.com", T_A);
    p.b[11] = 2;
    popt(&p, 4096, 0, 0, false);
    popt(&p, 4096, 0, 0, false);
    is_int(parse(&p, &q), DNS_MALFORMED, "two OPT");
    is_str(q.reason, "more than one OPT record", "reason");
    make_query(&p, 18, "example.com", T_A);
    p.b[11] = 1;
    p16(&p, 0xC00C);                    /* owner: the question name */
    p16(&p, 41);
    p16(&p, 4096);
    p16(&p, 0);
    p16(&p, 0);
    p16(&p, 0);
    is_int(parse(&p, &q), DNS_MALFORMED, "OPT owned by a name");
    is_str(q.reason, "OPT record with a non-root owner", "reason");
    make_query(&p, 19, "example.com", T_A);
    p.b[7] = 1;                         /* ancount: an OPT in the answer section */
    popt(&p, 4096, 0, 0, false);
    is_int(parse(&p, &q), DNS_OK, "OPT outside additional is just a record");
    ok(!q.edns.present, "not taken as EDNS");
    make_query(&p, 20, "example.com", T_A);
    p.b[11] = 1;
    is_int(parse(&p, &q), DNS_MALFORMED, "arcount 1 without a record");
}

TEST(query_tc_and_trailing)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 21, F_RD | F_TC, 1, 0, 0, 0);
    pquestion(&p, "example.com", T_A, 1);
    is_int(parse(&p, &q), DNS_OK, "TC in a query is only noted");
    ok(q.hdr.tc, "TC read");
    pbytes(&p, "xyz", 3);
    is_int(parse(&p, &q), DNS_OK, "trailing bytes ignored");
    is_int(q.trailing_bytes, 3, "and noted");
}

TEST(query_unsafe_names)
{
    struct {
        const char *label;
        size_t len;
        const char *text;
    } cases[] = {
        { "a.b", 3, "a\\046b.example.com" },
        { "a\0b", 3, "a\\000b.example.com" },
        { "a b", 3, "a\\032b.example.com" },
        { "*", 1, "\\042.example.com" },
        { "a\\b", 3, "a\\092b.example.com" },
        { "\xff", 1, "\\255.example.com" },
        { "A/B", 3, "a\\047b.example.com" },
    };
    struct pkt p;
    struct dns_query q;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        pheader(&p, 22, F_RD, 1, 0, 0, 0);
        p8(&p, (uint8_t)cases[i].len);
        pbytes(&p, cases[i].label, cases[i].len);
        pname(&p, "example.com");
        p16(&p, T_A);
        p16(&p, 1);
        is_int(parse(&p, &q), DNS_NAME_UNSAFE, "case %zu", i);
        ok(!q.q.hostname_safe, "flag %zu", i);
        ok(q.has_question, "question kept for the reply %zu", i);
        is_str(q.q.name, cases[i].text, "escaped text %zu", i);
    }
    uint8_t out[DNS_REPLY_MAX];
    ok(dns_build_refused(&q, out, sizeof(out)) > 0, "can still be refused");
}

TEST(query_worst_case_escaping)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 23, F_RD, 1, 0, 0, 0);
    for (int l = 0; l < 4; l++) {
        uint8_t n = l < 3 ? 63 : 61;
        p8(&p, n);
        for (int j = 0; j < n; j++)
            p8(&p, '.');
    }
    p8(&p, 0);
    p16(&p, T_A);
    p16(&p, 1);
    is_int(parse(&p, &q), DNS_NAME_UNSAFE, "every byte escaped");
    is_int(strlen(q.q.name), 250 * 4 + 3, "fits the text buffer");
    ok(strlen(q.q.name) < DNS_NAME_TEXT_MAX, "bound holds");
}

/* ---- replies ---- */

TEST(build_refused_bytes)
{
    struct pkt p;
    struct dns_query q;
    make_query(&p, 0xBEEF, "Ab.cd", T_AAAA);
    is_int(parse(&p, &q), DNS_OK, "parsed");
    uint8_t out[DNS_REPLY_MAX];
    static const uint8_t want[] = {
        0xBE, 0xEF,             /* id */
        0x81, 0x85,             /* QR, opcode 0, RD | RA, rcode 5 */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        2, 'A', 'b', 2, 'c', 'd', 0,
        0x00, 28, 0x00, 0x01,
    };
    int n = dns_build_refused(&q, out, sizeof(out));
    is_int(n, sizeof(want), "length");
    ok(n > 0 && bytes_eq(out, (size_t)n, want, sizeof(want)), "bytes");
}

TEST(build_servfail_bytes_edns)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 0x0102, F_CD, 1, 0, 0, 1);     /* no RD, CD set */
    pquestion(&p, "x.y", T_HTTPS, 1);
    popt(&p, 4096, 0, 0, true);
    is_int(parse(&p, &q), DNS_OK, "parsed");
    uint8_t out[DNS_REPLY_MAX];
    static const uint8_t want[] = {
        0x01, 0x02,
        0x80, 0x92,             /* QR | RA | CD, rcode 2, RD clear */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        1, 'x', 1, 'y', 0,
        0x00, 65, 0x00, 0x01,
        0x00, 0x00, 41, 0x04, 0xD0,    /* root, OPT, 1232 */
        0x00, 0x00, 0x80, 0x00,        /* ext rcode 0, version 0, DO */
        0x00, 0x00,
    };
    int n = dns_build_servfail(&q, out, sizeof(out));
    is_int(n, sizeof(want), "length");
    ok(n > 0 && bytes_eq(out, (size_t)n, want, sizeof(want)), "bytes");
}

TEST(build_reply_header_only)
{
    struct pkt p;
    struct dns_query q;
    pheader(&p, 0x4242, F_RD, 0, 0, 0, 0);
    is_int(parse(&p, &q), DNS_BAD_QDCOUNT, "qdcount 0");
    uint8_t out[DNS_REPLY_MAX];
    static const uint8_t want[] = {
        0x42, 0x42, 0x81, 0x85, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    int n = dns_build_refused(&q, out, sizeof(out));
    ok(n > 0 && bytes_eq(out, (size_t)n, want, sizeof(want)), "header only");
    pheader(&p, 0x4343, (uint16_t)(4 << 11), 1, 0, 0, 0);      /* NOTIFY */
    pquestion(&p, "z", 6, 1);
    is_int(parse(&p, &q), DNS_BAD_OPCODE, "opcode 4");
    static const uint8_t want2[] = {
        0x43, 0x43, 0xA0, 0x85, 0, 1, 0, 0, 0, 0, 0, 0,  /* opcode 4 echoed */
        1, 'z', 0, 0, 6, 0, 1,
    };
    n = dns_build_refused(&q, out, sizeof(out));
    ok(n > 0 && bytes_eq(out, (size_t)n, want2, sizeof(want2)), "opcode echoed");
}

TEST(build_reply_errors)
{
    struct pkt p;
    struct dns_query q;
    uint8_t out[DNS_REPLY_MAX];
    make_query(&p, 1, "example.com", T_A);
    parse(&p, &q);
    int need = dns_build_refused(&q, out, sizeof(out));
    is_int(need, 12 + 13 + 4, "length");
    for (int cap = 0; cap < need; cap++)
        is_int(dns_build_refused(&q, out, (size_t)cap), -ENOSPC, "cap %d", cap);
    is_int(dns_build_reply(&q, 16, out, sizeof(out)), -EINVAL, "rcode above 15");
    dns_parse_query(p.b, 5, &q);
    is_int(dns_build_refused(&q, out, sizeof(out)), -EINVAL, "malformed query");
}

TEST(build_reply_round_trip)
{
    struct pkt p;
    struct dns_query q, again;
    struct dns_answer a;
    uint8_t out[DNS_REPLY_MAX];
    make_query(&p, 0x5151, "Mixed.Case.example", T_HTTPS);
    p.b[11] = 1;
    popt(&p, 512, 0, 0, false);
    parse(&p, &q);
    int n = dns_build_servfail(&q, out, sizeof(out));
    ok(n > 0, "built");
    is_int(dns_parse_answer(out, (size_t)n, &a), DNS_OK, "reply parses as an answer");
    ok(dns_answer_matches(&q, &a), "and matches the query");
    is_int(a.rcode, DNS_RCODE_SERVFAIL, "rcode");
    ok(a.edns.present && a.edns.udp_size == DNS_EDNS_UDP_SIZE, "our OPT");
    ok(memcmp(a.q.wire, q.q.wire, q.q.wire_len) == 0, "case preserved");
    is_int(dns_parse_query(out, (size_t)n, &again), DNS_NOT_QUERY, "a reply is no query");
}

/* ---- upstream answers ---- */

static void make_answer(struct pkt *p, uint16_t id, uint16_t flags, const char *name)
{
    pheader(p, id, F_QR | F_RD | F_RA | flags, 1, 2, 0, 0);
    pquestion(p, name, T_A, 1);
    for (int i = 0; i < 2; i++) {
        p16(p, 0xC00C);                 /* owner: the question name */
        p16(p, T_A);
        p16(p, 1);
        p16(p, 0);
        p16(p, 300);
        p16(p, 4);
        pbytes(p, "\xc0\x00\x02\x01", 4);
    }
}

TEST(answer_basic)
{
    struct pkt qp, ap;
    struct dns_query q;
    struct dns_answer a;
    make_query(&qp, 0x7777, "www.Example.com", T_A);
    parse(&qp, &q);
    make_answer(&ap, 0x7777, 0, "www.example.COM");
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_OK, "answer");
    ok(a.records_ok, "records walk (compressed owners)");
    is_int(a.rcode, 0, "NOERROR");
    ok(!a.hdr.tc, "no TC");
    ok(dns_answer_matches(&q, &a), "case-insensitive match");
    make_answer(&ap, 0x7778, 0, "www.example.com");
    dns_parse_answer(ap.b, ap.n, &a);
    ok(!dns_answer_matches(&q, &a), "other id");
    make_answer(&ap, 0x7777, 0, "ww.example.com");
    dns_parse_answer(ap.b, ap.n, &a);
    ok(!dns_answer_matches(&q, &a), "other name");
    make_answer(&ap, 0x7777, 0, "www.example.com");
    ap.b[12 + 17 + 1] = T_AAAA;
    dns_parse_answer(ap.b, ap.n, &a);
    ok(!dns_answer_matches(&q, &a), "other type");
    make_answer(&ap, 0x7777, 0, "www.example.com");
    ap.b[12 + 17 + 3] = 3;
    dns_parse_answer(ap.b, ap.n, &a);
    ok(!dns_answer_matches(&q, &a), "other class");
}

TEST(answer_rcode_tc_edns)
{
    struct pkt ap;
    struct dns_answer a;
    make_answer(&ap, 1, F_TC | 3, "example.com");
    ap.n -= 3;                          /* cut inside the second record */
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_OK, "truncated answer still relayed");
    ok(a.hdr.tc, "TC");
    ok(!a.records_ok, "records did not walk");
    is_int(a.rcode, DNS_RCODE_NXDOMAIN, "header rcode");
    pheader(&ap, 2, F_QR | F_RA, 1, 0, 0, 1);
    pquestion(&ap, "example.com", T_A, 1);
    popt(&ap, 1232, 1, 0, false);       /* BADVERS = 16: ext 1, header 0 */
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_OK, "answer with OPT");
    is_int(a.rcode, 16, "extended rcode");
}

TEST(answer_classes)
{
    struct pkt ap;
    struct dns_answer a;
    make_query(&ap, 3, "example.com", T_A);
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_NOT_RESPONSE, "QR=0");
    pheader(&ap, 4, F_QR | 5, 0, 0, 0, 0);
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_BAD_QDCOUNT, "no question");
    is_int(a.rcode, 5, "rcode still read");
    pheader(&ap, 5, F_QR | (1 << 11), 1, 0, 0, 0);
    pquestion(&ap, "example.com", T_A, 1);
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_BAD_OPCODE, "opcode 1");
    is_int(dns_parse_answer(ap.b, 11, &a), DNS_MALFORMED, "short");
    make_answer(&ap, 6, 0, "example.com");
    is_int(dns_parse_answer(ap.b, 12 + 6, &a), DNS_MALFORMED, "question cut");
    ap.b[12] = 0xC0;
    is_int(dns_parse_answer(ap.b, ap.n, &a), DNS_MALFORMED, "pointer in the question");
}

TEST(msg_id_and_names)
{
    uint8_t m[12] = { 0xAB, 0xCD };
    uint16_t id = 0;
    is_int(dns_msg_id(m, 12, &id), 0, "read");
    is_int(id, 0xABCD, "id");
    is_int(dns_msg_set_id(m, 12, 0x0102), 0, "write");
    ok(m[0] == 1 && m[1] == 2, "written");
    is_int(dns_msg_id(m, 11, &id), -EBADMSG, "short");
    is_int(dns_msg_set_id(m, 0, 1), -EBADMSG, "short write");
    is_str(dns_status_name(DNS_OK), "ok", "ok");
    is_str(dns_status_name(DNS_NAME_UNSAFE), "name_unsafe", "unsafe");
    is_str(dns_status_name((enum dns_status)99), "unknown", "unknown");
}

/* ---- TCP ---- */

/* Three framed queries back to back: the stream the tests cut up. */
static size_t make_stream(uint8_t *s, size_t lens[3], struct pkt msgs[3])
{
    static const char *const names[] = { "a.example.com", "bb.example.org", "." };
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        make_query(&msgs[i], (uint16_t)(100 + i), names[i], T_A);
        lens[i] = msgs[i].n;
        n += (size_t)dns_tcp_frame(msgs[i].b, msgs[i].n, s + n, 1000);
    }
    return n;
}

/* Feed chunks with the caller's loop; collect what comes out. */
static int feed_all(struct dns_tcp_reasm *r, const uint8_t *d, size_t n, int got,
                    const size_t lens[3], const struct pkt msgs[3])
{
    size_t off = 0;
    while (off < n) {
        const uint8_t *m;
        size_t ml;
        ssize_t used = dns_tcp_reasm_feed(r, d + off, n - off, &m, &ml);
        if (used <= 0)
            return -1000;
        off += (size_t)used;
        if (m) {
            if (got >= 3 || ml != lens[got] || memcmp(m, msgs[got].b, ml) != 0)
                return -2000;
            got++;
        }
    }
    return got;
}

TEST(tcp_frame)
{
    uint8_t out[20], pre[2];
    is_int(dns_tcp_frame((const uint8_t *)"0123456789ab", 12, out, sizeof(out)), 14, "framed");
    ok(out[0] == 0 && out[1] == 12 && memcmp(out + 2, "0123456789ab", 12) == 0, "bytes");
    is_int(dns_tcp_frame(out, 12, out, 13), -ENOSPC, "too small");
    memcpy(out, "0123456789ab", 12);
    is_int(dns_tcp_frame(out, 12, out, 14), 14, "in place");
    ok(out[1] == 12 && memcmp(out + 2, "0123456789ab", 12) == 0, "in place bytes");
    is_int(dns_tcp_prefix(65535, pre), 0, "max");
    ok(pre[0] == 0xff && pre[1] == 0xff, "max prefix");
    is_int(dns_tcp_prefix(65536, pre), -EMSGSIZE, "too long");
    is_int(dns_tcp_frame(out, 65536, out, 70000), -EMSGSIZE, "too long frame");
}

TEST(tcp_split_everywhere)
{
    static struct dns_tcp_reasm r;
    uint8_t s[1000];
    size_t lens[3];
    struct pkt msgs[3];
    size_t n = make_stream(s, lens, msgs);
    dns_tcp_reasm_init(&r, 512);
    is_int(feed_all(&r, s, n, 0, lens, msgs), 3, "one read");
    for (size_t cut = 0; cut <= n; cut++) {
        dns_tcp_reasm_init(&r, 512);
        int got = feed_all(&r, s, cut, 0, lens, msgs);
        got = feed_all(&r, s + cut, n - cut, got, lens, msgs);
        is_int(got, 3, "cut at %zu", cut);
        is_int(dns_tcp_reasm_pending(&r), 0, "nothing left at %zu", cut);
    }
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++) {
            dns_tcp_reasm_init(&r, 512);
            int got = feed_all(&r, s, a, 0, lens, msgs);
            got = feed_all(&r, s + a, b - a, got, lens, msgs);
            got = feed_all(&r, s + b, n - b, got, lens, msgs);
            if (got != 3)
                is_int(got, 3, "cuts at %zu and %zu", a, b);
        }
    dns_tcp_reasm_init(&r, 512);
    int got = 0;
    for (size_t i = 0; i < n; i++)
        got = feed_all(&r, s + i, 1, got, lens, msgs);
    is_int(got, 3, "byte by byte");
}

TEST(tcp_pending_and_errors)
{
    static struct dns_tcp_reasm r;
    const uint8_t *m;
    size_t ml;
    uint8_t s[1000];
    size_t lens[3];
    struct pkt msgs[3];
    make_stream(s, lens, msgs);
    dns_tcp_reasm_init(&r, 512);
    is_int(dns_tcp_reasm_feed(&r, s, 0, &m, &ml), 0, "empty read");
    is_int(dns_tcp_reasm_feed(&r, s, 5, &m, &ml), 5, "partial");
    ok(m == NULL, "no message yet");
    is_int(dns_tcp_reasm_pending(&r), 5, "5 held: a cut message at EOF");

    static const uint8_t big[] = { 0x02, 0x01 };       /* 513 > 512 */
    dns_tcp_reasm_init(&r, 512);
    is_int(dns_tcp_reasm_feed(&r, big, 2, &m, &ml), -EMSGSIZE, "too long");
    is_int(dns_tcp_reasm_feed(&r, s, 10, &m, &ml), -EMSGSIZE, "sticky");
    dns_tcp_reasm_init(&r, 513);
    is_int(dns_tcp_reasm_feed(&r, big, 2, &m, &ml), 2, "513 accepted at max 513");
    static const uint8_t tiny[] = { 0x00, 0x0B };
    dns_tcp_reasm_init(&r, 512);
    is_int(dns_tcp_reasm_feed(&r, tiny, 1, &m, &ml), 1, "half a prefix");
    is_int(dns_tcp_reasm_feed(&r, tiny + 1, 1, &m, &ml), -EBADMSG, "11 bytes: no DNS message");
    static const uint8_t zero[] = { 0x00, 0x00 };
    dns_tcp_reasm_init(&r, 512);
    is_int(dns_tcp_reasm_feed(&r, zero, 2, &m, &ml), -EBADMSG, "zero length");
    dns_tcp_reasm_init(&r, 1);
    is_int(r.max_msg, DNS_HEADER_LEN, "clamped up");
    dns_tcp_reasm_init(&r, 1u << 20);
    is_int(r.max_msg, DNS_MSG_MAX, "clamped down");
}

TEST(tcp_largest_message)
{
    static struct dns_tcp_reasm r;
    static uint8_t s[2 + DNS_MSG_MAX];
    static struct pkt p;
    const uint8_t *m;
    size_t ml;
    make_query(&p, 1, "example.com", T_A);
    memset(p.b + p.n, 0, DNS_MSG_MAX - p.n);
    is_int(dns_tcp_frame(p.b, DNS_MSG_MAX, s, sizeof(s)), 2 + DNS_MSG_MAX, "framed");
    dns_tcp_reasm_init(&r, DNS_MSG_MAX);
    is_int(dns_tcp_reasm_feed(&r, s, sizeof(s), &m, &ml), sizeof(s), "whole");
    ok(m && ml == DNS_MSG_MAX, "65535-byte message");
    struct dns_query q;
    is_int(dns_parse_query(m, ml, &q), DNS_OK, "parses");
}

TAP_MAIN
