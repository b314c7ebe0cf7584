/* fuzz_nflog.c: arbitrary bytes as one NFLOG datagram (netlink messages
 * carrying workload packets) and as one bare IP packet. Whatever parses
 * must hold the documented invariants: an IPv4/IPv6 flow, ports only for
 * protocols that have them, a printable NUL-terminated prefix and the
 * verdict it implies; a redirect only when the conntrack tuple differs from
 * the header; a flow seen once is a duplicate the second time. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/nflog.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void check_flow(const struct nflog_flow *f)
{
    CHECK(f->family == AF_INET || f->family == AF_INET6);
    CHECK(!(f->has_ports && f->has_icmp));
    if (f->has_ports || f->has_icmp)
        CHECK(nflog_protocol_name(f->protocol) != NULL);
    if (f->family == AF_INET)
        for (size_t i = 4; i < 16; i++)
            CHECK(f->src[i] == 0 && f->dst[i] == 0 && f->nat_dst[i] == 0);
    if (f->nat)   /* only reported when the tuple differs from the header */
        CHECK(memcmp(f->dst, f->nat_dst, 16) != 0 || f->dst_port != f->nat_dst_port);
    else
        CHECK(f->nat_dst_port == 0);
}

static void on_packet(void *ctx, const struct nflog_packet *p)
{
    struct nflog_dedup *d = ctx;
    check_flow(&p->flow);
    size_t n = strnlen(p->prefix, sizeof(p->prefix));
    CHECK(n < sizeof(p->prefix));
    for (size_t i = 0; i < n; i++)
        CHECK(p->prefix[i] >= 0x20 && p->prefix[i] < 0x7f);
    CHECK(p->verdict == nflog_verdict_of(p->prefix));
    enum nflog_seen first = nflog_dedup_check(d, &p->flow, p->verdict);
    if (first != NFLOG_SEEN_FULL)
        CHECK(nflog_dedup_check(d, &p->flow, p->verdict) == NFLOG_SEEN_DUPLICATE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The socket reader hands the parser an aligned buffer: so do we. */
    uint8_t *buf = malloc(size ? size : 1);
    CHECK(buf);
    if (size)
        memcpy(buf, data, size);
    struct nflog_dedup *d = NULL;
    CHECK(nflog_dedup_new(8, &d) == 0);
    struct nflog_stats st = { 0 };
    size_t n = nflog_parse(buf, size, on_packet, d, &st);
    CHECK(n == st.packets);
    CHECK(nflog_dedup_count(d) <= 8);
    nflog_dedup_free(d);

    struct nflog_flow f;
    if (nflog_parse_ip(buf, size, &f) == 0)
        check_flow(&f);
    free(buf);
    return 0;
}
