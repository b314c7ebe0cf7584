/* nflog.h: the packets the cell's firewall logs (`log group N`, see nft.h),
 * read back over NFLOG (nfnetlink_log) and reduced to one record per flow.
 *
 * Three parts, each usable alone:
 *  - nflog_open(): a netlink socket bound to one NFLOG group of the netns it
 *    is created in, copying the first NFLOG_COPY_RANGE bytes of each logged
 *    packet (enough for the IPv4/IPv6 header, a few IPv6 extension headers
 *    and the first bytes of TCP/UDP/ICMP), with the packet's conntrack
 *    entry where the kernel offers it (ctnetlink). The kernel batches: up to
 *    NFLOG_BATCH packets per datagram, none held longer than 10 ms, so a
 *    flood costs the reader one wake-up per batch rather than per packet.
 *    nflog_unbind() hands over what is still held (at the end of a cell).
 *  - nflog_parse(): a hand-written, bounded parser of what the socket
 *    delivers. It reads kernel bytes that carry workload-controlled packet
 *    contents: every length is checked, nothing is trusted (fuzzed in
 *    tests/fuzz/nflog/).
 *  - struct nflog_dedup: a bounded table of the flows already reported, keyed
 *    by protocol, source and destination address, destination port (ICMP:
 *    type and code) and verdict. The source port is left out on purpose: a
 *    workload retrying a denied connect gets a new ephemeral port each time,
 *    and a thousand retries must remain one record.
 *
 * Only the caller logs or emits; everything here returns errors or counts.
 * No netlink library: the four requests are built and the messages walked by
 * hand (libmnl or libnetfilter_log would be one more shared object mapped
 * on every cell's cold start). */
#pragma once
#include <netinet/in.h>

#include "base/base.h"

/* Bytes of each packet copied to us: IPv6 (40) + extension headers + L4. */
#define NFLOG_COPY_RANGE 160
/* The kernel caps a log prefix at 128 bytes, NUL included. */
#define NFLOG_PREFIX_MAX 128
/* Room for one recv(): the kernel's batch buffer is set to this size. */
#define NFLOG_RECV_BUF 16384
/* Kernel-side batching: packets per datagram, and the longest a logged
 * packet waits for its batch, in hundredths of a second. */
#define NFLOG_BATCH 32
#define NFLOG_FLUSH_CS 1
/* Flows remembered per cell (see nflog_dedup_check). */
#define NFLOG_DEDUP_MAX 4096

enum nflog_verdict { NFLOG_ACCEPT, NFLOG_DROP, NFLOG_REJECT };

/* One packet's flow identity. Addresses in network byte order (IPv4 in the
 * first 4 bytes, the rest zero); ports in host order, 0 when the packet has
 * no ports (ICMP, a non-first fragment, a header cut short).
 *
 * dst/dst_port are what the workload addressed. When the cell's nat hook
 * sent the packet elsewhere (DNS redirect to the proxy, L7 redirect), the
 * kernel's conntrack info says so and nat is set: nat_dst/nat_dst_port are
 * where the packet went. */
struct nflog_flow {
    uint8_t family;            /* AF_INET or AF_INET6 */
    uint8_t protocol;          /* IPPROTO_*, the upper-layer protocol */
    uint8_t icmp_type, icmp_code;
    bool has_ports, has_icmp, nat;
    uint16_t src_port, dst_port, nat_dst_port;
    uint8_t src[16], dst[16], nat_dst[16];
};

struct nflog_packet {
    struct nflog_flow flow;
    enum nflog_verdict verdict;       /* from the prefix (nflog_verdict_of) */
    char prefix[NFLOG_PREFIX_MAX];    /* the rule's comment; "" when absent */
    uint32_t length;                  /* the IP packet's own length field */
};

/* What a parse saw besides good packets. */
struct nflog_stats {
    uint64_t packets;          /* packet messages parsed into a flow */
    uint64_t malformed;        /* messages or packets that did not parse */
    uint64_t other;            /* well-formed messages that are not packets (acks...) */
    uint64_t lost;             /* reader: kernel overruns (ENOBUFS) and truncated reads */
};

typedef void (*nflog_packet_fn)(void *ctx, const struct nflog_packet *p);

/* The verdict a rule's comment implies: the renderer names rejecting rules
 * "reject ..." and dropping ones "block-...". Everything else accepts. */
enum nflog_verdict nflog_verdict_of(const char *prefix);
/* "accept", "drop", "reject". */
const char *nflog_verdict_name(enum nflog_verdict v);
/* "tcp", "udp", "icmp", "icmpv6", ... or NULL for a protocol without a name
 * here (the caller prints the number). */
const char *nflog_protocol_name(uint8_t protocol);

/* The L3/L4 headers of one IP packet (as NFULA_PAYLOAD carries it: no link
 * header). 0 with *out filled, or -EBADMSG. */
int nflog_parse_ip(const uint8_t *pkt, size_t len, struct nflog_flow *out);

/* Every netlink message of one datagram, as received (buf must be 4-byte
 * aligned). Calls cb for each packet that parses; counts the rest in
 * *stats. Returns the number of packets delivered. Never fails: garbage is
 * counted as malformed and skipped up to the end of the datagram. */
size_t nflog_parse(const void *buf, size_t len, nflog_packet_fn cb, void *ctx,
                   struct nflog_stats *stats);

/* A non-blocking NFLOG socket of the current netns, bound to group (1..65535)
 * and configured as above. Needs CAP_NET_ADMIN in that netns. The fd or
 * -errno (err says which step failed). */
int nflog_open(uint16_t group, struct cell_err *err);

/* Unbind the group: the kernel first sends what it still holds for it, so
 * a read until EAGAIN right after sees every packet logged so far. Nothing
 * is logged to the socket afterwards. 0 or -errno. */
int nflog_unbind(int fd, uint16_t group);

/* Read what is queued on fd, at most max_datagrams (0: until EAGAIN), into
 * cb. Returns the number of packets delivered or -errno for a socket error
 * other than EAGAIN/EINTR/ENOBUFS (an overrun is counted in stats->lost and
 * reading goes on). */
ssize_t nflog_read(int fd, size_t max_datagrams, nflog_packet_fn cb, void *ctx,
                   struct nflog_stats *stats);

/* ---- deduplication ---- */

struct nflog_dedup;

enum nflog_seen {
    NFLOG_SEEN_NEW,            /* first time: report it (now remembered) */
    NFLOG_SEEN_DUPLICATE,      /* reported before */
    NFLOG_SEEN_FULL,           /* new, but the table is full: not remembered */
};

/* A table for at most capacity flows (1..NFLOG_DEDUP_MAX); it starts small
 * and doubles as it fills, never past capacity. Keys are hashed with a
 * random SipHash key, so a workload cannot aim its flows at one bucket. */
int nflog_dedup_new(size_t capacity, struct nflog_dedup **out);
enum nflog_seen nflog_dedup_check(struct nflog_dedup *d, const struct nflog_flow *flow,
                                  enum nflog_verdict verdict);
size_t nflog_dedup_count(const struct nflog_dedup *d);
void nflog_dedup_free(struct nflog_dedup *d);
