/* test_nflog.c: the NFLOG message parser on crafted messages and the flow
 * deduplication table. The real socket is tested in test_nflog_real.c. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/nflog.h"
#include "tap.h"

/* ---- crafted messages ------------------------------------------------------ */

static uint8_t msgbuf[8192] __attribute__((aligned(8)));
static size_t msglen;

static void msgs_reset(void)
{
    memset(msgbuf, 0, sizeof(msgbuf));
    msglen = 0;
}

/* Append one NFULNL_MSG_PACKET with the given prefix (NULL: none) and IP
 * packet as payload. */
static void msg_add(uint8_t family, const char *prefix, const void *ip, size_t iplen)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(msgbuf + msglen);
    nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    g->res_id = htons(7);
    struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(family == AF_INET ? 0x0800 : 0x86dd),
                                        .hook = 3 };
    mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
    if (prefix)
        mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
    if (ip)
        mnl_attr_put(nlh, NFULA_PAYLOAD, iplen, ip);
    msglen += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Append a packet message whose NFULA_CT says the connection's original
 * tuple was proto to orig_dst:orig_port (IPv4). bad: a broken nest. */
static void msg_add_ct(const char *prefix, const void *ip, size_t iplen, uint8_t proto,
                       const char *orig_dst, uint16_t orig_port, bool bad)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(msgbuf + msglen);
    nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->nfgen_family = AF_INET;
    mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
    mnl_attr_put(nlh, NFULA_PAYLOAD, iplen, ip);
    struct nlattr *ct = mnl_attr_nest_start(nlh, NFULA_CT);
    struct nlattr *orig = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
    struct nlattr *tip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    uint32_t a;
    inet_pton(AF_INET, "10.0.0.1", &a);
    mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, a);
    inet_pton(AF_INET, orig_dst, &a);
    mnl_attr_put_u32(nlh, CTA_IP_V4_DST, a);
    mnl_attr_nest_end(nlh, tip);
    struct nlattr *tp = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, proto);
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(50000));
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(orig_port));
    mnl_attr_nest_end(nlh, tp);
    mnl_attr_nest_end(nlh, orig);
    mnl_attr_nest_end(nlh, ct);
    if (bad)
        tip->nla_len = 200;              /* runs past its parent */
    msglen += NLMSG_ALIGN(nlh->nlmsg_len);
}

static size_t ipv4(uint8_t *p, uint8_t proto, const char *src, const char *dst,
                   const uint8_t *l4, size_t l4len, uint16_t frag)
{
    memset(p, 0, 20);
    p[0] = 0x45;
    uint16_t total = htons((uint16_t)(20 + l4len + 100)); /* as if cut by the copy range */
    memcpy(p + 2, &total, 2);
    uint16_t f = htons(frag);
    memcpy(p + 6, &f, 2);
    p[8] = 64;
    p[9] = proto;
    inet_pton(AF_INET, src, p + 12);
    inet_pton(AF_INET, dst, p + 16);
    memcpy(p + 20, l4, l4len);
    return 20 + l4len;
}

static const uint8_t tcp_ports[] = { 0xc3, 0x50, 0x01, 0xbb, 0, 0, 0, 1 };   /* 50000 -> 443 */
static const uint8_t udp_ports[] = { 0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0 };   /* 12345 -> 53 */

struct collected {
    struct nflog_packet p[64];
    size_t n;
};

static void collect(void *ctx, const struct nflog_packet *p)
{
    struct collected *c = ctx;
    if (c->n < ARRAY_SIZE(c->p))
        c->p[c->n++] = *p;
}

static const char *addr_text(const struct nflog_flow *f, bool src, char *buf)
{
    return inet_ntop(f->family, src ? f->src : f->dst, buf, INET6_ADDRSTRLEN);
}

/* ---- parser ---------------------------------------------------------------- */

TEST(ipv4_tcp_packet)
{
    uint8_t ip[64];
    size_t n = ipv4(ip, IPPROTO_TCP, "10.1.2.3", "93.184.216.34", tcp_ports, 8, 0);
    msgs_reset();
    msg_add(AF_INET, "reject tcp", ip, n);
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 1, "one packet");
    is_int(st.packets, 1, "counted");
    is_int(st.malformed, 0, "nothing malformed");
    const struct nflog_flow *f = &c.p[0].flow;
    char a[INET6_ADDRSTRLEN];
    is_int(f->family, AF_INET, "family");
    is_int(f->protocol, IPPROTO_TCP, "tcp");
    is_str(addr_text(f, true, a), "10.1.2.3", "src");
    is_str(addr_text(f, false, a), "93.184.216.34", "dst");
    ok(f->has_ports && !f->has_icmp, "ports");
    is_int(f->src_port, 50000, "src port");
    is_int(f->dst_port, 443, "dst port");
    is_str(c.p[0].prefix, "reject tcp", "prefix");
    is_int(c.p[0].verdict, NFLOG_REJECT, "verdict from the prefix");
    is_int(c.p[0].length, 20 + 8 + 100, "length from the IP header");
}

TEST(ipv6_udp_behind_extension_headers)
{
    uint8_t ip[128] = { 0 };
    ip[0] = 0x60;
    ip[4] = 0;
    ip[5] = 40;
    ip[6] = IPPROTO_HOPOPTS;
    ip[7] = 64;
    inet_pton(AF_INET6, "fd00::1", ip + 8);
    inet_pton(AF_INET6, "2001:db8::53", ip + 24);
    ip[40] = IPPROTO_DSTOPTS;      /* hop-by-hop, 8 bytes */
    ip[41] = 0;
    ip[48] = IPPROTO_FRAGMENT;     /* destination options, 16 bytes */
    ip[49] = 1;
    ip[64] = IPPROTO_UDP;          /* first fragment: offset 0 */
    memcpy(ip + 72, udp_ports, 8);
    msgs_reset();
    msg_add(AF_INET6, "egress[3] resolver:53/udp", ip, 80);
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 1, "one packet");
    const struct nflog_flow *f = &c.p[0].flow;
    char a[INET6_ADDRSTRLEN];
    is_int(f->family, AF_INET6, "family");
    is_int(f->protocol, IPPROTO_UDP, "upper layer found");
    is_str(addr_text(f, true, a), "fd00::1", "src");
    is_str(addr_text(f, false, a), "2001:db8::53", "dst");
    is_int(f->src_port, 12345, "src port");
    is_int(f->dst_port, 53, "dst port");
    is_int(c.p[0].verdict, NFLOG_ACCEPT, "accept");
    is_int(c.p[0].length, 80, "40 + payload length");

    /* A later fragment carries no upper-layer header. */
    ip[66] = 0x01;                 /* offset 256 */
    msgs_reset();
    msg_add(AF_INET6, "egress[3] resolver:53/udp", ip, 80);
    c.n = 0;
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 1, "still a packet");
    ok(!c.p[0].flow.has_ports && c.p[0].flow.protocol == IPPROTO_UDP, "no ports, protocol kept");
}

TEST(icmp_fragments_and_short_headers)
{
    uint8_t ip[64];
    const uint8_t echo[] = { 8, 0, 0, 0 };
    msgs_reset();
    msg_add(AF_INET, "reject other", ip, ipv4(ip, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", echo, 4, 0));
    msg_add(AF_INET, "reject other", ip,
            ipv4(ip, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", udp_ports, 8, 0x0010));
    msg_add(AF_INET, "reject tcp", ip, ipv4(ip, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", tcp_ports, 3, 0));
    msg_add(AF_INET, "reject other", ip, ipv4(ip, 250, "10.0.0.1", "10.0.0.2", tcp_ports, 8, 0));
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 4, "four packets");
    ok(c.p[0].flow.has_icmp && c.p[0].flow.icmp_type == 8 && !c.p[0].flow.has_ports, "icmp echo");
    ok(!c.p[1].flow.has_ports, "a non-first fragment has no ports");
    ok(!c.p[2].flow.has_ports && c.p[2].flow.protocol == IPPROTO_TCP, "3 bytes of tcp: no ports");
    ok(!c.p[3].flow.has_ports && c.p[3].flow.protocol == 250, "unknown protocol kept");
    is_str(nflog_protocol_name(IPPROTO_ICMPV6), "icmpv6", "names");
    ok(nflog_protocol_name(250) == NULL, "no name for 250");
}

TEST(conntrack_tuple_gives_the_original_destination)
{
    uint8_t ip[64];
    const uint8_t dns[] = { 0xc3, 0x50, 0xd1, 0x3d, 0, 8, 0, 0 };   /* 50000 -> 53565 */
    size_t n = ipv4(ip, IPPROTO_UDP, "10.0.0.1", "127.0.0.1", dns, 8, 0);
    msgs_reset();
    msg_add_ct("dns-proxy[0] 127.0.0.1:53565", ip, n, IPPROTO_UDP, "8.8.8.8", 53, false);
    msg_add_ct("egress[0]", ip, n, IPPROTO_UDP, "127.0.0.1", 53565, false);
    msg_add_ct("x", ip, n, IPPROTO_UDP, "8.8.8.8", 53, true);
    msg_add_ct("x", ip, n, IPPROTO_TCP, "8.8.8.8", 53, false);
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 4, "four packets");
    char a[INET6_ADDRSTRLEN];
    const struct nflog_flow *f = &c.p[0].flow;
    ok(f->nat, "redirected");
    is_str(addr_text(f, false, a), "8.8.8.8", "dst is what the workload addressed");
    is_int(f->dst_port, 53, "its port");
    is_str(inet_ntop(AF_INET, f->nat_dst, a, sizeof(a)), "127.0.0.1", "where it went");
    is_int(f->nat_dst_port, 53565, "the proxy's port");
    is_int(f->src_port, 50000, "src port from the header");
    ok(!c.p[1].flow.nat && c.p[1].flow.dst_port == 53565, "same tuple: no redirect");
    ok(!c.p[2].flow.nat && c.p[2].flow.dst_port == 53565, "a broken nest is ignored");
    ok(!c.p[3].flow.nat, "a tuple of another protocol is ignored");
    is_int(st.malformed, 0, "none of it is malformed");
}

TEST(several_messages_and_other_types)
{
    uint8_t ip[64];
    size_t n = ipv4(ip, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", tcp_ports, 8, 0);
    msgs_reset();
    msg_add(AF_INET, "a", ip, n);
    struct nlmsghdr *err = mnl_nlmsg_put_header(msgbuf + msglen);
    err->nlmsg_type = NLMSG_ERROR;
    mnl_nlmsg_put_extra_header(err, sizeof(struct nlmsgerr));
    msglen += NLMSG_ALIGN(err->nlmsg_len);
    msg_add(AF_INET, "b", ip, n);
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 2, "two packets");
    is_int(st.other, 1, "the error message is counted as other");
    is_str(c.p[1].prefix, "b", "second prefix");
    ok(nflog_parse(msgbuf, msglen, NULL, NULL, &st) == 2, "no callback is fine");
}

TEST(malformed_input_is_counted_not_delivered)
{
    uint8_t ip[64];
    size_t n = ipv4(ip, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", tcp_ports, 8, 0);
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };

    msgs_reset();
    msg_add(AF_INET, "x", ip, n);
    struct nlmsghdr *h = (struct nlmsghdr *)msgbuf;
    h->nlmsg_len = 0x80000010u;            /* past the datagram (and past INT_MAX) */
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 0, "length past the end");
    is_int(st.malformed, 1, "counted");

    msgs_reset();
    msg_add(AF_INET, "x", ip, n);
    struct nlattr *a = (struct nlattr *)(msgbuf + NLMSG_HDRLEN + 4 + 8); /* the prefix */
    a->nla_len = 0xfff0;
    st = (struct nflog_stats){ 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 0, "attribute past the message");
    is_int(st.malformed, 1, "counted");

    const struct { const char *what; uint8_t family; size_t len; uint8_t byte0; } bad[] = {
        { "IP version 5", AF_INET, 28, 0x55 },
        { "IHL below 5", AF_INET, 28, 0x44 },
        { "IHL past the payload", AF_INET, 28, 0x4f },
        { "IPv4 shorter than 20", AF_INET, 19, 0x45 },
        { "family disagrees", AF_INET6, 28, 0x45 },
        { "empty payload", AF_INET, 0, 0x45 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        msgs_reset();
        ip[0] = bad[i].byte0;
        msg_add(bad[i].family, "x", ip, bad[i].len);
        st = (struct nflog_stats){ 0 };
        is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 0, "%s", bad[i].what);
        is_int(st.malformed, 1, "%s counted", bad[i].what);
    }
    ip[0] = 0x45;
    msgs_reset();
    msg_add(AF_INET, "no payload", NULL, 0);
    st = (struct nflog_stats){ 0 };
    is_int(nflog_parse(msgbuf, msglen, collect, &c, &st), 0, "no payload attribute");
    msgs_reset();
    msg_add(AF_INET, "x", ip, n);
    st = (struct nflog_stats){ 0 };
    is_int(nflog_parse(msgbuf, msglen + 7, collect, &c, &st), 1, "a packet, then a stub");
    is_int(st.malformed, 1, "the 7-byte tail counted");
    ok(nflog_parse(msgbuf, 0, collect, &c, &st) == 0, "nothing");
}

TEST(prefixes_are_printable_and_bounded)
{
    uint8_t ip[64];
    size_t n = ipv4(ip, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", tcp_ports, 8, 0);
    msgs_reset();
    msg_add(AF_INET, "block-\x01\xc3\xa9\"x", ip, n);
    struct collected c = { 0 };
    struct nflog_stats st = { 0 };
    nflog_parse(msgbuf, msglen, collect, &c, &st);
    is_str(c.p[0].prefix, "block-___\"x", "control and non-ASCII bytes replaced");
    is_int(c.p[0].verdict, NFLOG_DROP, "block- is a drop");

    char longp[300];
    memset(longp, 'r', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    msgs_reset();
    msg_add(AF_INET, longp, ip, n);
    c.n = 0;
    nflog_parse(msgbuf, msglen, collect, &c, &st);
    is_int(strlen(c.p[0].prefix), NFLOG_PREFIX_MAX - 1, "cut to the kernel's bound");

    /* A prefix attribute without its NUL. */
    msgs_reset();
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(msgbuf);
    nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
    struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->nfgen_family = AF_INET;
    mnl_attr_put(nlh, NFULA_PREFIX, 3, "rej");
    mnl_attr_put(nlh, NFULA_PAYLOAD, n, ip);
    c.n = 0;
    is_int(nflog_parse(msgbuf, nlh->nlmsg_len, collect, &c, &st), 1, "parsed");
    is_str(c.p[0].prefix, "rej", "bounded by the attribute");
    is_int(nflog_verdict_of("reject other"), NFLOG_REJECT, "reject");
    is_int(nflog_verdict_of(NULL), NFLOG_ACCEPT, "no prefix");
    is_str(nflog_verdict_name(NFLOG_DROP), "drop", "names");
}

/* ---- dedup ----------------------------------------------------------------- */

static struct nflog_flow flow4(const char *dst, uint16_t sport, uint16_t dport)
{
    struct nflog_flow f = { .family = AF_INET, .protocol = IPPROTO_TCP, .has_ports = true,
                            .src_port = sport, .dst_port = dport };
    inet_pton(AF_INET, "127.0.0.1", f.src);
    inet_pton(AF_INET, dst, f.dst);
    return f;
}

TEST(dedup_ignores_the_source_port_not_the_verdict)
{
    struct nflog_dedup *d = NULL;
    is_int(nflog_dedup_new(16, &d), 0, "new");
    struct nflog_flow f = flow4("10.0.0.9", 40000, 443);
    is_int(nflog_dedup_check(d, &f, NFLOG_REJECT), NFLOG_SEEN_NEW, "first");
    for (uint16_t p = 40001; p < 41000; p++) {
        f.src_port = p;
        if (nflog_dedup_check(d, &f, NFLOG_REJECT) != NFLOG_SEEN_DUPLICATE) {
            ok(false, "retry from port %u is a duplicate", p);
            break;
        }
    }
    is_int(nflog_dedup_check(d, &f, NFLOG_ACCEPT), NFLOG_SEEN_NEW, "another verdict");
    f.dst_port = 444;
    is_int(nflog_dedup_check(d, &f, NFLOG_REJECT), NFLOG_SEEN_NEW, "another port");
    f.protocol = IPPROTO_UDP;
    is_int(nflog_dedup_check(d, &f, NFLOG_REJECT), NFLOG_SEEN_NEW, "another protocol");
    is_int(nflog_dedup_count(d), 4, "four flows");
    nflog_dedup_free(d);
    nflog_dedup_free(NULL);
    ok(nflog_dedup_new(0, &d) == -EINVAL && nflog_dedup_new(NFLOG_DEDUP_MAX + 1, &d) == -EINVAL,
       "bounds");
}

TEST(dedup_grows_to_its_bound_then_says_full)
{
    struct nflog_dedup *d = NULL;
    is_int(nflog_dedup_new(NFLOG_DEDUP_MAX, &d), 0, "new");
    char dst[32];
    size_t news = 0;
    for (unsigned i = 0; i < NFLOG_DEDUP_MAX; i++) {
        snprintf(dst, sizeof(dst), "10.%u.%u.1", i / 256, i % 256);
        struct nflog_flow f = flow4(dst, 1, 80);
        news += nflog_dedup_check(d, &f, NFLOG_ACCEPT) == NFLOG_SEEN_NEW;
    }
    is_int(news, NFLOG_DEDUP_MAX, "every distinct flow is new");
    size_t dups = 0;
    for (unsigned i = 0; i < NFLOG_DEDUP_MAX; i++) {
        snprintf(dst, sizeof(dst), "10.%u.%u.1", i / 256, i % 256);
        struct nflog_flow f = flow4(dst, 2, 80);
        dups += nflog_dedup_check(d, &f, NFLOG_ACCEPT) == NFLOG_SEEN_DUPLICATE;
    }
    is_int(dups, NFLOG_DEDUP_MAX, "all remembered across growth");
    struct nflog_flow extra = flow4("192.168.0.1", 1, 80);
    is_int(nflog_dedup_check(d, &extra, NFLOG_ACCEPT), NFLOG_SEEN_FULL, "full");
    is_int(nflog_dedup_check(d, &extra, NFLOG_ACCEPT), NFLOG_SEEN_FULL, "still full, not stored");
    is_int(nflog_dedup_count(d), NFLOG_DEDUP_MAX, "bounded");
    nflog_dedup_free(d);
}

TEST(open_rejects_group_zero)
{
    struct cell_err err = { 0 };
    is_int(nflog_open(0, &err), -EINVAL, "group 0");
}

TAP_MAIN
