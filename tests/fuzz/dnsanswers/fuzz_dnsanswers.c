/* fuzz_dnsanswers.c: arbitrary bytes as an upstream DNS response. Whatever
 * dns_answers_extract finds must hold its documented bounds (at most
 * DNS_ANSWERS_MAX_ADDRS distinct addresses, 1..DNS_ANSWERS_MAX_NAMES chain
 * names), every address must be bytes of the message, a response that is
 * not QR / one question / opcode 0 must be refused, and the per-run table
 * must then admit exactly those addresses under the name it was given. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/answers.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static bool occurs(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_answer_addrs o;
    memset(&o, 0xA5, sizeof(o));
    int n = dns_answers_extract(data, size, &o);
    if (n < 0) {
        CHECK(n == -EBADMSG);
        return 0;
    }
    /* Accepted: a response with one question and opcode QUERY. */
    CHECK(size >= 12 && (data[2] & 0x80) && (data[2] & 0x78) == 0);
    CHECK(data[4] == 0 && data[5] == 1);
    CHECK((size_t)n == o.n && o.n <= DNS_ANSWERS_MAX_ADDRS);
    CHECK(o.n_names >= 1 && o.n_names <= DNS_ANSWERS_MAX_NAMES);
    if ((data[3] & 0x0F) != 0)
        CHECK(o.n == 0 && o.n_names == 1);
    for (size_t i = 0; i < o.n; i++) {
        CHECK(o.addrs[i].family == AF_INET || o.addrs[i].family == AF_INET6);
        size_t k = o.addrs[i].family == AF_INET ? 4 : 16;
        CHECK(occurs(data + 12, size - 12, o.addrs[i].addr, k));
        for (size_t j = 0; j < i; j++)
            CHECK(o.addrs[j].family != o.addrs[i].family ||
                  memcmp(o.addrs[j].addr, o.addrs[i].addr, 16) != 0);
    }
    /* Deterministic. */
    struct dns_answer_addrs again;
    CHECK(dns_answers_extract(data, size, &again) == n);
    CHECK(memcmp(again.addrs, o.addrs, o.n * sizeof(o.addrs[0])) == 0);

    struct dns_resolved *t = dns_resolved_new(8);
    int added = dns_resolved_add_response(t, "q.example", data, size);
    CHECK(added == (int)(o.n < 8 ? o.n : 8));
    for (size_t i = 0; i < o.n; i++) {
        bool has = dns_resolved_has(t, "q.example", o.addrs[i].family, o.addrs[i].addr);
        CHECK(has == (i < 8));
        CHECK(!dns_resolved_has(t, "other.example", o.addrs[i].family, o.addrs[i].addr));
    }
    struct dns_resolved_counts c;
    dns_resolved_get_counts(t, &c);
    CHECK(c.pairs == (size_t)added && c.names == (added > 0));
    dns_resolved_free(t);
    return 0;
}
