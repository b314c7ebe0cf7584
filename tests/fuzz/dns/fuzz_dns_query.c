/* fuzz_dns_query.c: arbitrary bytes as a DNS query and as an upstream
 * answer. Whatever parses must hold the documented invariants (a
 * hostname-safe name is plain lower-case labels of at most 253 characters
 * that encode back to the wire form); every query the proxy may answer is
 * answered REFUSED and SERVFAIL, and those replies must parse back as
 * answers that match the query: same id, same question, the rcode asked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static uint8_t fold(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? (uint8_t)(b - 'A' + 'a') : b;
}

/* Encode the text form back to wire: only meaningful for safe names. */
static size_t text_to_wire(const char *text, uint8_t *out)
{
    size_t n = 0;
    if (strcmp(text, ".") != 0) {
        const char *s = text;
        for (;;) {
            const char *dot = strchr(s, '.');
            size_t l = dot ? (size_t)(dot - s) : strlen(s);
            CHECK(l >= 1 && l <= DNS_LABEL_MAX);
            out[n++] = (uint8_t)l;
            memcpy(out + n, s, l);
            n += l;
            if (!dot)
                break;
            s = dot + 1;
        }
    }
    out[n++] = 0;
    return n;
}

static void check_question(const struct dns_question *q)
{
    size_t tlen = strlen(q->name);

    CHECK(q->wire_len >= 1 && q->wire_len <= DNS_NAME_WIRE_MAX);
    CHECK(tlen >= 1 && tlen < DNS_NAME_TEXT_MAX);
    CHECK(q->wire[q->wire_len - 1] == 0);
    if (!q->hostname_safe) {
        CHECK(strchr(q->name, '\\') != NULL);
        return;
    }
    CHECK(tlen <= 253);
    for (size_t i = 0; i < tlen; i++) {
        char c = q->name[i];
        CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.');
    }
    uint8_t wire[DNS_NAME_WIRE_MAX + 1];
    size_t wlen = text_to_wire(q->name, wire);
    CHECK(wlen == q->wire_len);
    for (size_t i = 0; i < wlen; i++)
        CHECK(wire[i] == fold(q->wire[i]));
}

static void check_reply(const struct dns_query *q, uint8_t rcode)
{
    static struct dns_query again;
    static struct dns_answer a;
    uint8_t out[DNS_REPLY_MAX];

    int n = dns_build_reply(q, rcode, out, sizeof(out));
    CHECK(n >= DNS_HEADER_LEN && n <= DNS_REPLY_MAX);
    CHECK(dns_build_reply(q, rcode, out, (size_t)n - 1) == -ENOSPC);
    CHECK(dns_parse_query(out, (size_t)n, &again) == DNS_NOT_QUERY);
    enum dns_status st = dns_parse_answer(out, (size_t)n, &a);
    CHECK(a.hdr.id == q->hdr.id && a.hdr.opcode == q->hdr.opcode && a.hdr.qr);
    CHECK(a.hdr.rd == q->hdr.rd && a.hdr.ra && !a.hdr.tc && !a.hdr.aa);
    CHECK(a.hdr.rcode == rcode && a.hdr.ancount == 0 && a.hdr.nscount == 0);
    if (q->status == DNS_BAD_OPCODE) {
        CHECK(st == DNS_BAD_OPCODE);
        return;
    }
    if (!q->has_question) {
        CHECK(st == DNS_BAD_QDCOUNT && a.hdr.qdcount == 0);
        return;
    }
    CHECK(st == DNS_OK);
    CHECK(dns_answer_matches(q, &a));
    CHECK(a.q.wire_len == q->q.wire_len && memcmp(a.q.wire, q->q.wire, q->q.wire_len) == 0);
    CHECK(strcmp(a.q.name, q->q.name) == 0);
    CHECK(a.records_ok && a.edns.present == q->edns.present && a.rcode == rcode);
    CHECK(!a.edns.present || a.edns.do_bit == q->edns.do_bit);
}

static void fuzz_query(const uint8_t *data, size_t size)
{
    static struct dns_query q;
    enum dns_status st = dns_parse_query(data, size, &q);

    CHECK(st == q.status);
    CHECK((st == DNS_MALFORMED) == (q.reason != NULL));
    CHECK(st != DNS_NOT_RESPONSE);
    if (q.has_question)
        check_question(&q.q);
    if (st == DNS_OK || st == DNS_NAME_UNSAFE) {
        CHECK(q.has_question && q.hdr.opcode == 0 && q.hdr.qdcount == 1);
        CHECK(q.q.hostname_safe == (st == DNS_OK));
    }
    if (st == DNS_OK || st == DNS_NAME_UNSAFE || st == DNS_BAD_OPCODE || st == DNS_BAD_QDCOUNT) {
        CHECK(q.trailing_bytes <= size);
        check_reply(&q, DNS_RCODE_REFUSED);
        check_reply(&q, DNS_RCODE_SERVFAIL);
    } else {
        uint8_t out[DNS_REPLY_MAX];
        CHECK(dns_build_refused(&q, out, sizeof(out)) == -EINVAL);
    }
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
    static struct dns_answer a;
    enum dns_status st = dns_parse_answer(data, size, &a);

    CHECK(st == a.status && st != DNS_NOT_QUERY && st != DNS_NAME_UNSAFE);
    CHECK((st == DNS_MALFORMED) == (a.reason != NULL));
    CHECK(a.has_question == (st == DNS_OK));
    if (a.has_question)
        check_question(&a.q);
    if (st == DNS_OK)
        CHECK(a.rcode <= 0xfff && (a.rcode & 0xf) == a.hdr.rcode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_query(data, size);
    fuzz_answer(data, size);
    return 0;
}
