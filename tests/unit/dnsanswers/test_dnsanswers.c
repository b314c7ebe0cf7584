/* test_dnsanswers.c: addresses from a DNS response's answer section (the
 * chain from the question through CNAMEs, compression, the refusals) and
 * the per-run name -> addresses table the L7 proxy asks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/answers.h"
#include "tap.h"

struct msg {
    uint8_t b[1024];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
    uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(m, x, 2);
}

static void name(struct msg *m, const char *n)
{
    while (*n) {
        const char *dot = strchr(n, '.');
        size_t l = dot ? (size_t)(dot - n) : strlen(n);
        uint8_t lb = (uint8_t)l;
        put(m, &lb, 1);
        put(m, n, l);
        n += l + (dot ? 1 : 0);
    }
    put(m, "", 1);
}

/* Header (id 7, QR RD RA, rcode) and the question IN A. */
static void start(struct msg *m, const char *q, unsigned flags, unsigned an)
{
    m->n = 0;
    put16(m, 7);
    put16(m, flags);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
    name(m, q);
    put16(m, 1);
    put16(m, 1);
}

/* owner: NULL for a pointer to the question (offset 12). */
static void rr(struct msg *m, const char *owner, unsigned type, const void *rdata, size_t len)
{
    if (owner)
        name(m, owner);
    else
        put16(m, 0xC00C);
    put16(m, type);
    put16(m, 1);
    put16(m, 0);
    put16(m, 60);
    put16(m, (unsigned)len);
    put(m, rdata, len);
}

static void rr_cname(struct msg *m, const char *owner, const char *target)
{
    struct msg t = { .n = 0 };
    name(&t, target);
    rr(m, owner, 5, t.b, t.n);
}

static const uint8_t A1[4] = { 192, 0, 2, 1 }, A2[4] = { 192, 0, 2, 2 };

TEST(a_records_of_the_question)
{
    struct msg m;
    start(&m, "api.example.com", 0x8180, 3);
    rr(&m, NULL, 1, A1, 4);
    rr(&m, NULL, 1, A2, 4);
    rr(&m, NULL, 1, A1, 4);   /* duplicate */
    struct dns_answer_addrs o;
    is_int(dns_answers_extract(m.b, m.n, &o), 2, "two distinct addresses");
    ok(o.addrs[0].family == AF_INET && memcmp(o.addrs[0].addr, A1, 4) == 0, "first");
    ok(memcmp(o.addrs[1].addr, A2, 4) == 0, "second");
    is_int(o.n_names, 1, "no CNAME");
}

TEST(cname_chain_in_any_order_and_case)
{
    uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };
    struct msg m;
    start(&m, "www.Example.com", 0x8180, 4);
    rr(&m, "A1.CDN.net", 1, A1, 4);              /* before the CNAME that reaches it */
    rr_cname(&m, "edge.cdn.net", "a1.cdn.net");
    rr_cname(&m, NULL, "edge.cdn.net");
    rr(&m, "a1.cdn.net", 28, v6, 16);
    struct dns_answer_addrs o;
    is_int(dns_answers_extract(m.b, m.n, &o), 2, "A and AAAA at the end of the chain");
    is_int(o.n_names, 3, "question + two targets");
    ok(o.addrs[1].family == AF_INET6 && memcmp(o.addrs[1].addr, v6, 16) == 0, "AAAA");
}

TEST(records_of_other_owners_are_ignored)
{
    struct msg m;
    start(&m, "api.example.com", 0x8180, 2);
    rr(&m, "evil.example.com", 1, A1, 4);
    rr_cname(&m, "evil.example.com", "api.example.com");  /* a CNAME into the chain, not from it */
    struct dns_answer_addrs o;
    is_int(dns_answers_extract(m.b, m.n, &o), 0, "nothing for the question");
}

TEST(error_rcodes_and_queries_give_nothing)
{
    struct msg m;
    start(&m, "nx.example.com", 0x8183, 1);
    rr(&m, NULL, 1, A1, 4);
    struct dns_answer_addrs o;
    is_int(dns_answers_extract(m.b, m.n, &o), 0, "NXDOMAIN: nothing");
    start(&m, "api.example.com", 0x0100, 1);
    rr(&m, NULL, 1, A1, 4);
    is_int(dns_answers_extract(m.b, m.n, &o), -EBADMSG, "a query is not a response");
}

TEST(malformations_reject_the_whole_message)
{
    struct msg m;
    struct dns_answer_addrs o;
    start(&m, "api.example.com", 0x8180, 2);
    rr(&m, NULL, 1, A1, 4);
    rr(&m, NULL, 1, A1, 3);
    is_int(dns_answers_extract(m.b, m.n, &o), -EBADMSG, "an A with rdlength 3");
    start(&m, "api.example.com", 0x8180, 1);
    rr(&m, NULL, 1, A1, 4);
    is_int(dns_answers_extract(m.b, m.n - 1, &o), -EBADMSG, "cut record");
    start(&m, "api.example.com", 0x8180, 1);
    size_t at = m.n;
    put16(&m, 0xC000 | (unsigned)at);    /* a pointer to itself */
    put16(&m, 1); put16(&m, 1); put16(&m, 0); put16(&m, 0); put16(&m, 4);
    put(&m, A1, 4);
    is_int(dns_answers_extract(m.b, m.n, &o), -EBADMSG, "self pointer");
    start(&m, "api.example.com", 0x8180, 1);
    put16(&m, 0xC000 | 0x200);           /* forward */
    is_int(dns_answers_extract(m.b, m.n, &o), -EBADMSG, "forward pointer");
}

TEST(table_admits_exactly_what_was_returned_for_the_name)
{
    struct dns_resolved *t = dns_resolved_new(0);
    struct msg m;
    start(&m, "api.example.com", 0x8180, 1);
    rr(&m, NULL, 1, A1, 4);
    is_int(dns_resolved_add_response(t, "api.example.com", m.b, m.n), 1, "one new pair");
    is_int(dns_resolved_add_response(t, "api.example.com", m.b, m.n), 0, "known");
    ok(dns_resolved_has(t, "api.example.com", AF_INET, A1), "admitted");
    ok(!dns_resolved_has(t, "api.example.com", AF_INET, A2), "another address is not");
    ok(!dns_resolved_has(t, "other.example.com", AF_INET, A1), "another name is not");
    uint8_t v6[16] = { 192, 0, 2, 1 };    /* the same first bytes, as IPv6 */
    ok(!dns_resolved_has(t, "api.example.com", AF_INET6, v6), "family matters");
    struct dns_resolved_counts c;
    dns_resolved_get_counts(t, &c);
    is_int(c.names, 1, "names");
    is_int(c.pairs, 1, "pairs");
    dns_resolved_free(t);
}

TEST(table_grows_and_stops_at_its_bound)
{
    struct dns_resolved *t = dns_resolved_new(1000);
    char n[32];
    for (unsigned i = 0; i < 1200; i++) {
        struct dns_addr a = { .family = AF_INET, .addr = { 10, (uint8_t)(i >> 8), (uint8_t)i, 1 } };
        snprintf(n, sizeof(n), "h%u.example.com", i % 300);
        int r = dns_resolved_add(t, n, &a);
        ok(i < 1000 ? r == 1 : r == -ENOSPC, "add %u: %d", i, r);
    }
    unsigned found = 0;
    for (unsigned i = 0; i < 1200; i++) {
        uint8_t a[4] = { 10, (uint8_t)(i >> 8), (uint8_t)i, 1 };
        snprintf(n, sizeof(n), "h%u.example.com", i % 300);
        found += dns_resolved_has(t, n, AF_INET, a);
    }
    is_int(found, 1000, "every recorded pair, none of the dropped");
    struct dns_resolved_counts c;
    dns_resolved_get_counts(t, &c);
    is_int(c.dropped, 200, "dropped counted");
    is_int(c.names, 300, "names interned once");
    dns_resolved_free(t);
}

TAP_MAIN
