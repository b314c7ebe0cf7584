/* nflog.c: NFLOG socket, message parser and flow deduplication (nflog.h).
 *
 * The parser walks netlink headers and attributes by hand rather than with
 * libmnl's iterators: those compare lengths as int, and a length field of
 * 2^31 or more would pass their checks (and libmnl is not linked into the
 * supervisor at all: see struct request). Here every length is a size_t,
 * compared against what is left of the buffer before it is used, and
 * multi-byte fields are read with memcpy (no alignment assumed). */
#include "net/nflog.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#define REASON "isolation_failed"
#define NFLOG_RCVBUF (1 << 20)
#define IPV6_MAX_EXT_HEADERS 8

/* ---- names ---------------------------------------------------------------- */

static const struct {
    const char *prefix;
    enum nflog_verdict verdict;
} verdict_prefixes[] = {
    { "reject", NFLOG_REJECT },
    { "block", NFLOG_DROP },
};

static const char *const verdict_names[] = {
    [NFLOG_ACCEPT] = "accept",
    [NFLOG_DROP] = "drop",
    [NFLOG_REJECT] = "reject",
};

static const struct {
    uint8_t number;
    const char *name;
    bool ports;               /* source and destination port in the first 4 bytes */
    bool icmp;                /* type and code in the first 2 bytes */
} protocols[] = {
    { IPPROTO_TCP, "tcp", true, false },
    { IPPROTO_UDP, "udp", true, false },
    { IPPROTO_UDPLITE, "udplite", true, false },
    { IPPROTO_SCTP, "sctp", true, false },
    { IPPROTO_DCCP, "dccp", true, false },
    { IPPROTO_ICMP, "icmp", false, true },
    { IPPROTO_ICMPV6, "icmpv6", false, true },
};

enum nflog_verdict nflog_verdict_of(const char *prefix)
{
    for (size_t i = 0; prefix && i < ARRAY_SIZE(verdict_prefixes); i++)
        if (str_has_prefix(prefix, verdict_prefixes[i].prefix))
            return verdict_prefixes[i].verdict;
    return NFLOG_ACCEPT;
}

const char *nflog_verdict_name(enum nflog_verdict v)
{
    return (size_t)v < ARRAY_SIZE(verdict_names) ? verdict_names[v] : "accept";
}

static int protocol_index(uint8_t number)
{
    for (size_t i = 0; i < ARRAY_SIZE(protocols); i++)
        if (protocols[i].number == number)
            return (int)i;
    return -1;
}

const char *nflog_protocol_name(uint8_t protocol)
{
    int i = protocol_index(protocol);
    return i < 0 ? NULL : protocols[i].name;
}

/* ---- L3/L4 headers -------------------------------------------------------- */

static uint16_t be16_at(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return ntohs(v);
}

/* Ports or ICMP type/code from the upper-layer header, when it is long
 * enough (a packet cut short keeps its addresses and protocol). */
static void parse_l4(const uint8_t *l4, size_t len, struct nflog_flow *f)
{
    int i = protocol_index(f->protocol);
    if (i < 0)
        return;
    if (protocols[i].ports && len >= 4) {
        f->src_port = be16_at(l4);
        f->dst_port = be16_at(l4 + 2);
        f->has_ports = true;
    } else if (protocols[i].icmp && len >= 2) {
        f->icmp_type = l4[0];
        f->icmp_code = l4[1];
        f->has_icmp = true;
    }
}

static int parse_ipv4(const uint8_t *pkt, size_t len, struct nflog_flow *f, uint32_t *ip_len)
{
    if (len < 20)
        return -EBADMSG;
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return -EBADMSG;
    f->family = AF_INET;
    f->protocol = pkt[9];
    memcpy(f->src, pkt + 12, 4);
    memcpy(f->dst, pkt + 16, 4);
    *ip_len = be16_at(pkt + 2);
    bool first_fragment = (be16_at(pkt + 6) & 0x1fff) == 0;
    if (first_fragment)
        parse_l4(pkt + ihl, len - ihl, f);
    return 0;
}

/* Length of the IPv6 extension header at p (len bytes left), or 0 when
 * `next` is not one we step over or the header does not fit. */
static size_t ipv6_ext_len(uint8_t next, const uint8_t *p, size_t len)
{
    size_t hlen;
    switch (next) {
    case IPPROTO_HOPOPTS:
    case IPPROTO_ROUTING:
    case IPPROTO_DSTOPTS:
        if (len < 2)
            return 0;
        hlen = ((size_t)p[1] + 1) * 8;
        break;
    case IPPROTO_FRAGMENT:
        hlen = 8;
        break;
    case IPPROTO_AH:
        if (len < 2)
            return 0;
        hlen = ((size_t)p[1] + 2) * 4;
        break;
    default:
        return 0;
    }
    return hlen <= len ? hlen : 0;
}

static int parse_ipv6(const uint8_t *pkt, size_t len, struct nflog_flow *f, uint32_t *ip_len)
{
    if (len < 40)
        return -EBADMSG;
    f->family = AF_INET6;
    memcpy(f->src, pkt + 8, 16);
    memcpy(f->dst, pkt + 24, 16);
    *ip_len = 40u + be16_at(pkt + 4);
    uint8_t next = pkt[6];
    size_t off = 40;
    for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
        size_t hlen = ipv6_ext_len(next, pkt + off, len - off);
        if (hlen == 0)
            break;
        bool later_fragment = next == IPPROTO_FRAGMENT && (be16_at(pkt + off + 2) & 0xfff8) != 0;
        next = pkt[off];
        off += hlen;
        if (later_fragment) {
            f->protocol = next;
            return 0;     /* no upper-layer header in this packet */
        }
    }
    f->protocol = next;
    parse_l4(pkt + off, len - off, f);
    return 0;
}

static int parse_ip(const uint8_t *pkt, size_t len, struct nflog_flow *f, uint32_t *ip_len)
{
    if (!pkt || len < 1)
        return -EBADMSG;
    switch (pkt[0] >> 4) {
    case 4:
        return parse_ipv4(pkt, len, f, ip_len);
    case 6:
        return parse_ipv6(pkt, len, f, ip_len);
    default:
        return -EBADMSG;
    }
}

int nflog_parse_ip(const uint8_t *pkt, size_t len, struct nflog_flow *out)
{
    uint32_t ip_len;
    struct nflog_flow f = { 0 };
    int r = parse_ip(pkt, len, &f, &ip_len);
    if (r < 0)
        return r;
    *out = f;
    return 0;
}

/* ---- netlink messages ----------------------------------------------------- */

struct attr_view {
    const uint8_t *data;
    size_t len;
    bool present;
};

/* The attributes in p..p+len, by type (types above max are skipped); 0 or
 * -EBADMSG when an attribute's length runs past the end. */
static int split_attrs(const uint8_t *p, size_t len, struct attr_view *tb, uint16_t max)
{
    while (len >= NLA_HDRLEN) {
        struct nlattr a;
        memcpy(&a, p, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
            return -EBADMSG;
        uint16_t type = a.nla_type & NLA_TYPE_MASK;
        if (type <= max)
            tb[type] = (struct attr_view){ p + NLA_HDRLEN, a.nla_len - NLA_HDRLEN, true };
        size_t step = NLA_ALIGN((size_t)a.nla_len);
        if (step >= len)
            return 0;
        p += step;
        len -= step;
    }
    return 0;
}

static int split_nested(const struct attr_view *a, struct attr_view *tb, uint16_t max)
{
    return a->present ? split_attrs(a->data, a->len, tb, max) : -EBADMSG;
}

static bool attr_is(const struct attr_view *a, size_t len)
{
    return a->present && a->len == len;
}

/* The destination the workload addressed, from the original tuple of the
 * packet's conntrack entry (NFULA_CT, CTA_TUPLE_ORIG). The logged packet has
 * already been through the nat hook: when a DNAT or redirect sent it to a
 * proxy, its header names the proxy, the tuple what was asked for. Then dst
 * becomes the original and nat_dst the proxy. Anything missing or odd leaves
 * the flow as the header says. */
static void apply_original_destination(const struct attr_view *ct, struct nflog_flow *f)
{
    struct attr_view top[CTA_TUPLE_ORIG + 1] = { 0 }, tuple[CTA_TUPLE_PROTO + 1] = { 0 };
    struct attr_view ip[CTA_IP_V6_DST + 1] = { 0 }, proto[CTA_PROTO_DST_PORT + 1] = { 0 };
    if (split_nested(ct, top, CTA_TUPLE_ORIG) < 0 ||
        split_nested(&top[CTA_TUPLE_ORIG], tuple, CTA_TUPLE_PROTO) < 0 ||
        split_nested(&tuple[CTA_TUPLE_IP], ip, CTA_IP_V6_DST) < 0 ||
        split_nested(&tuple[CTA_TUPLE_PROTO], proto, CTA_PROTO_DST_PORT) < 0)
        return;
    const struct attr_view *dst = f->family == AF_INET ? &ip[CTA_IP_V4_DST] : &ip[CTA_IP_V6_DST];
    size_t alen = f->family == AF_INET ? 4 : 16;
    if (!attr_is(dst, alen) || !attr_is(&proto[CTA_PROTO_NUM], 1) ||
        proto[CTA_PROTO_NUM].data[0] != f->protocol)
        return;
    uint16_t port = f->dst_port;
    if (f->has_ports) {
        if (!attr_is(&proto[CTA_PROTO_DST_PORT], 2))
            return;
        port = be16_at(proto[CTA_PROTO_DST_PORT].data);
    }
    if (memcmp(dst->data, f->dst, alen) == 0 && port == f->dst_port)
        return;
    f->nat = true;
    memcpy(f->nat_dst, f->dst, sizeof(f->nat_dst));
    f->nat_dst_port = f->dst_port;
    memcpy(f->dst, dst->data, alen);
    f->dst_port = port;
}

/* The prefix as printable ASCII (it becomes a JSON string): the renderer
 * only writes safe characters, but nothing here relies on it. */
static void copy_prefix(const struct attr_view *a, char out[NFLOG_PREFIX_MAX])
{
    size_t n = 0;
    for (; a->present && n < a->len && n < NFLOG_PREFIX_MAX - 1 && a->data[n]; n++)
        out[n] = (a->data[n] >= 0x20 && a->data[n] < 0x7f) ? (char)a->data[n] : '_';
    out[n] = '\0';
}

static int parse_packet_msg(const uint8_t *body, size_t len, struct nflog_packet *out)
{
    size_t hdr = NLMSG_ALIGN(sizeof(struct nfgenmsg));
    if (len < hdr)
        return -EBADMSG;
    struct nfgenmsg g;
    memcpy(&g, body, sizeof(g));
    struct attr_view tb[NFULA_MAX + 1] = { 0 };
    if (split_attrs(body + hdr, len - hdr, tb, NFULA_MAX) < 0 || !tb[NFULA_PAYLOAD].present)
        return -EBADMSG;
    struct nflog_packet p = { 0 };
    uint32_t ip_len = 0;
    int r = parse_ip(tb[NFULA_PAYLOAD].data, tb[NFULA_PAYLOAD].len, &p.flow, &ip_len);
    if (r < 0)
        return r;
    /* The hook's family, when it names one, must agree with the packet. */
    if ((g.nfgen_family == AF_INET || g.nfgen_family == AF_INET6) &&
        g.nfgen_family != p.flow.family)
        return -EBADMSG;
    if (tb[NFULA_CT].present)
        apply_original_destination(&tb[NFULA_CT], &p.flow);
    copy_prefix(&tb[NFULA_PREFIX], p.prefix);
    p.verdict = nflog_verdict_of(p.prefix);
    p.length = ip_len;
    *out = p;
    return 0;
}

size_t nflog_parse(const void *buf, size_t len, nflog_packet_fn cb, void *ctx,
                   struct nflog_stats *stats)
{
    const uint8_t *p = buf;
    size_t delivered = 0;
    const uint16_t packet_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
    while (len >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, p, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len) {
            stats->malformed++;
            return delivered;            /* cannot find the next message */
        }
        struct nflog_packet pkt;
        if (h.nlmsg_type != packet_type)
            stats->other++;
        else if (parse_packet_msg(p + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN, &pkt) < 0)
            stats->malformed++;
        else {
            stats->packets++;
            delivered++;
            if (cb)
                cb(ctx, &pkt);
        }
        size_t step = NLMSG_ALIGN((size_t)h.nlmsg_len);
        if (step >= len)
            return delivered;
        p += step;
        len -= step;
    }
    if (len)
        stats->malformed++;              /* a tail too short for a header */
    return delivered;
}

/* ---- the socket ----------------------------------------------------------- */

/* The kernel's answer to our one request: 0 or its -errno. */
static int read_ack(int fd, uint32_t seq)
{
    uint8_t buf[1024] __attribute__((aligned(4)));
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (poll(&pfd, 1, 1000) <= 0)
        return -ETIMEDOUT;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0)
        return -errno;
    if ((size_t)n < NLMSG_HDRLEN + sizeof(struct nlmsgerr))
        return -EBADMSG;
    struct nlmsghdr h;
    struct nlmsgerr e;
    memcpy(&h, buf, sizeof(h));
    memcpy(&e, buf + NLMSG_HDRLEN, sizeof(e));
    if (h.nlmsg_type != NLMSG_ERROR || h.nlmsg_seq != seq)
        return -EBADMSG;
    return e.error;     /* 0, or -errno */
}

/* A request to the kernel, built by hand: four small fixed messages do not
 * justify loading libmnl into every supervisor (it would be one more shared
 * object on each cell's cold start). */
struct request {
    uint8_t buf[128];
    size_t len;
};

/* Appends one attribute; the messages here are constant and far below the
 * buffer, so running out is a bug. */
static void put_attr(struct request *q, uint16_t type, const void *data, size_t len)
{
    struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type };
    if (q->len + NLA_ALIGN(a.nla_len) > sizeof(q->buf))
        abort();
    memcpy(q->buf + q->len, &a, sizeof(a));
    memcpy(q->buf + q->len + NLA_HDRLEN, data, len);
    q->len += NLA_ALIGN(a.nla_len);
}

static void put_be32(struct request *q, uint16_t type, uint32_t v)
{
    uint32_t be = htonl(v);
    put_attr(q, type, &be, sizeof(be));
}

/* A NFULNL_MSG_CONFIG for group carrying one command. */
static void config_msg(struct request *q, uint16_t group, uint8_t command)
{
    memset(q, 0, sizeof(*q));
    struct nfgenmsg g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0,
                          .res_id = htons(group) };
    memcpy(q->buf + NLMSG_HDRLEN, &g, sizeof(g));
    q->len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(g));
    struct nfulnl_msg_config_cmd cmd = { .command = command };
    put_attr(q, NFULA_CFG_CMD, &cmd, sizeof(cmd));
}

/* Fill in the header (now that the length is known) and send. */
static int send_to_kernel(int fd, struct request *q, uint16_t flags)
{
    struct nlmsghdr h = { .nlmsg_len = (uint32_t)q->len,
                          .nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
                          .nlmsg_flags = NLM_F_REQUEST | flags, .nlmsg_seq = 1 };
    memcpy(q->buf, &h, sizeof(h));
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, q->buf, q->len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return -errno;
    return 0;
}

/* Bind the group, copy COPY_RANGE bytes of each packet, and batch: the
 * kernel sends when NFLOG_BATCH packets wait, NFLOG_FLUSH_CS hundredths of
 * a second after the first, or when a batch would pass our receive buffer. */
static int configure(int fd, uint16_t group, bool conntrack)
{
    struct request q;
    config_msg(&q, group, NFULNL_CFG_CMD_BIND);
    struct nfulnl_msg_config_mode mode = { .copy_range = htonl(NFLOG_COPY_RANGE),
                                           .copy_mode = NFULNL_COPY_PACKET };
    put_attr(&q, NFULA_CFG_MODE, &mode, sizeof(mode));
    put_be32(&q, NFULA_CFG_QTHRESH, NFLOG_BATCH);
    put_be32(&q, NFULA_CFG_TIMEOUT, NFLOG_FLUSH_CS);
    put_be32(&q, NFULA_CFG_NLBUFSIZ, NFLOG_RECV_BUF);
    if (conntrack) {
        uint16_t f = htons(NFULNL_CFG_F_CONNTRACK);
        put_attr(&q, NFULA_CFG_FLAGS, &f, sizeof(f));
    }
    int r = send_to_kernel(fd, &q, NLM_F_ACK);
    return r < 0 ? r : read_ack(fd, 1);
}

int nflog_unbind(int fd, uint16_t group)
{
    struct request q;
    config_msg(&q, group, NFULNL_CFG_CMD_UNBIND);
    /* No ack asked: it would queue behind the batch the unbind flushes. */
    return send_to_kernel(fd, &q, 0);
}

int nflog_open(uint16_t group, struct cell_err *err)
{
    if (group == 0)
        return cell_err_set(err, EINVAL, REASON, "nflog: group 0 is not a log group");
    _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                    NETLINK_NETFILTER);
    if (fd < 0)
        return cell_err_set(err, errno, REASON, "nflog: netlink socket: %s", strerror(errno));
    struct sockaddr_nl self = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0)
        return cell_err_set(err, errno, REASON, "nflog: bind: %s", strerror(errno));
    /* Room for a burst while the loop is busy elsewhere; the kernel only
     * charges it while messages wait. FORCE needs CAP_NET_ADMIN: fall back. */
    int size = NFLOG_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    /* With conntrack info when the kernel has it (redirected flows then show
     * what the workload addressed); -EAGAIN: its module just got loaded. */
    int r = configure(fd, group, true);
    if (r == -EAGAIN)
        r = configure(fd, group, true);
    if (r == -EOPNOTSUPP || r == -EAGAIN)
        r = configure(fd, group, false);
    if (r < 0)
        return cell_err_set(err, -r, REASON, "nflog: cannot bind log group %u: %s", group,
                            strerror(-r));
    return TAKE_FD(fd);
}

ssize_t nflog_read(int fd, size_t max_datagrams, nflog_packet_fn cb, void *ctx,
                   struct nflog_stats *stats)
{
    uint8_t buf[NFLOG_RECV_BUF] __attribute__((aligned(8)));
    size_t delivered = 0;
    for (size_t i = 0; max_datagrams == 0 || i < max_datagrams; i++) {
        struct sockaddr_nl from = { 0 };
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            if (errno == ENOBUFS) {      /* the kernel dropped messages for us */
                stats->lost++;
                continue;
            }
            return -errno;
        }
        if (from.nl_pid != 0) {          /* only the kernel speaks NFLOG */
            stats->malformed++;
            continue;
        }
        if ((size_t)n > sizeof(buf)) {   /* cut: parse what fits, count the rest lost */
            stats->lost++;
            n = (ssize_t)sizeof(buf);
        }
        delivered += nflog_parse(buf, (size_t)n, cb, ctx, stats);
    }
    return (ssize_t)delivered;
}

/* ---- deduplication -------------------------------------------------------- */

/* Canonical bytes of a key: padding zeroed, so it hashes and compares as a
 * whole. family 0 marks an empty slot. */
struct dedup_key {
    uint8_t family, protocol, verdict, kind;   /* kind: 1 ports, 2 icmp, 0 none */
    uint16_t dst;                              /* port, or type << 8 | code */
    uint16_t zero;
    uint8_t src_addr[16], dst_addr[16];
};

struct nflog_dedup {
    struct dedup_key *slots;
    size_t n_slots;            /* a power of two */
    size_t count, capacity;
    unsigned char key[crypto_shorthash_KEYBYTES];
};

#define DEDUP_FIRST_SLOTS 64

static struct dedup_key make_key(const struct nflog_flow *f, enum nflog_verdict v)
{
    struct dedup_key k;
    memset(&k, 0, sizeof(k));
    k.family = f->family;
    k.protocol = f->protocol;
    k.verdict = (uint8_t)v;
    if (f->has_ports) {
        k.kind = 1;
        k.dst = f->dst_port;
    } else if (f->has_icmp) {
        k.kind = 2;
        k.dst = (uint16_t)(f->icmp_type << 8 | f->icmp_code);
    }
    memcpy(k.src_addr, f->src, sizeof(k.src_addr));
    memcpy(k.dst_addr, f->dst, sizeof(k.dst_addr));
    return k;
}

static size_t slot_of(const struct nflog_dedup *d, const struct dedup_key *k)
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)k, sizeof(*k), d->key);
    return (size_t)h & (d->n_slots - 1);
}

/* The slot holding k, or the empty slot where it would go. */
static struct dedup_key *probe(struct nflog_dedup *d, const struct dedup_key *k)
{
    for (size_t i = slot_of(d, k);; i = (i + 1) & (d->n_slots - 1)) {
        struct dedup_key *s = &d->slots[i];
        if (s->family == 0 || memcmp(s, k, sizeof(*k)) == 0)
            return s;
    }
}

static size_t slots_for(size_t capacity)
{
    size_t n = DEDUP_FIRST_SLOTS;
    while (n * 3 < capacity * 4)       /* at most 3/4 full */
        n *= 2;
    return n;
}

static void grow(struct nflog_dedup *d)
{
    struct dedup_key *old = d->slots;
    size_t old_n = d->n_slots;
    d->n_slots *= 2;
    d->slots = xcalloc(d->n_slots, sizeof(*d->slots));
    for (size_t i = 0; i < old_n; i++)
        if (old[i].family)
            *probe(d, &old[i]) = old[i];
    free(old);
}

int nflog_dedup_new(size_t capacity, struct nflog_dedup **out)
{
    if (capacity == 0 || capacity > NFLOG_DEDUP_MAX)
        return -EINVAL;
    if (sodium_init() < 0)
        return -ENOSYS;
    struct nflog_dedup *d = xcalloc(1, sizeof(*d));
    d->capacity = capacity;
    d->n_slots = DEDUP_FIRST_SLOTS;
    d->slots = xcalloc(d->n_slots, sizeof(*d->slots));
    crypto_shorthash_keygen(d->key);
    *out = d;
    return 0;
}

enum nflog_seen nflog_dedup_check(struct nflog_dedup *d, const struct nflog_flow *flow,
                                  enum nflog_verdict verdict)
{
    struct dedup_key k = make_key(flow, verdict);
    if (k.family == 0)
        k.family = 0xff;                /* never an empty slot */
    struct dedup_key *s = probe(d, &k);
    if (s->family)
        return NFLOG_SEEN_DUPLICATE;
    if (d->count >= d->capacity)
        return NFLOG_SEEN_FULL;
    if ((d->count + 1) * 4 > d->n_slots * 3 && d->n_slots < slots_for(d->capacity)) {
        grow(d);
        s = probe(d, &k);
    }
    *s = k;
    d->count++;
    return NFLOG_SEEN_NEW;
}

size_t nflog_dedup_count(const struct nflog_dedup *d)
{
    return d ? d->count : 0;
}

void nflog_dedup_free(struct nflog_dedup *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d);
}
