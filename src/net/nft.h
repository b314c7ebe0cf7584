/* nft.h: the cell's nftables egress policy.
 *
 * Two halves:
 *  - nft_render() (nft.c) turns an inert struct nft_policy into nft script
 *    text. Pure and deterministic: the same policy gives the same bytes
 *    (golden files in tests/golden/nft/). Addresses arrive already resolved;
 *    no name lookup happens here.
 *  - nft_apply_in_netns() / nft_read_counters() (nft_apply.c) run libnftables
 *    in-process inside the cell's network namespace (setns of the calling
 *    thread there and back; no `nft` process, no nsenter); nft_apply_here()
 *    in the current one, for the netprep helper.
 *
 * The ruleset (see docs/nft.md for a rendered example):
 *
 *   table inet cellos_<safe id> {
 *     chain output {   type filter hook output priority 0; policy drop;
 *       ct state established,related          accept
 *       ICMPv6 neighbour discovery            accept (IPv6 is dead without it)
 *       DNS proxy endpoints (addr, port, tcp+udp)   accept   "dns-proxy[i] ..."
 *       L7 proxy local port (127.0.0.1, ::1)        accept   "l7-proxy"
 *       DNS/DoT (53, 853) to any address but the proxies/resolvers  drop
 *                                              (only with block_direct_dns)
 *       one rule per egress entry             accept   "egress[i] <label>"
 *       tcp                                   reject with tcp reset
 *       everything else                       reject with icmpx admin-prohibited
 *     }
 *     chain nat_output { type nat hook output priority -100; policy accept;
 *       port 53 (tcp+udp) not to a proxy      dnat to the first proxy of the
 *                                             packet's family
 *       tcp 80/443 + l7 ports, not loopback   redirect to :l7_redirect_port
 *     }
 *   }
 *
 * Every rule carries a counter and a comment (the comment names the rule in
 * nft_read_counters() and in NFLOG prefixes). With an NFLOG group, every
 * accept/drop/reject rule except "established" also does
 * `log prefix "<comment>" group N`, so each new flow is reported once.
 *
 * Why reject rather than drop at the end: a TCP reset generated in OUTPUT
 * reaches the local socket at once, so connect() fails with ECONNREFUSED; an
 * ICMP admin-prohibited makes a connected UDP socket's next call fail with
 * EHOSTUNREACH. A silent drop would leave the workload waiting for a timeout.
 */
#pragma once
#include "base/base.h"

#define NFT_TABLE_PREFIX "cellos_"
/* "cellos_" + at most 56 characters of the sanitized id + NUL. */
#define NFT_TABLE_NAME_MAX 64
/* Longest comment we render; nft allows 128 bytes. */
#define NFT_COMMENT_MAX 100
/* Bounds that keep a rendered ruleset small and a bad plan loud. */
#define NFT_MAX_EGRESS 1024
#define NFT_MAX_ENDPOINTS 16
#define NFT_MAX_L7_PORTS 64

enum nft_l4 { NFT_L4_TCP, NFT_L4_UDP };

/* One allowed destination. addr is an IPv4/IPv6 literal or a CIDR
 * ("10.0.0.0/8", "2001:db8::/32"; host bits are masked off). label is free
 * text for the comment (e.g. "api.example.com:443/tcp"); characters outside
 * a safe set become '_'. NULL label: the address, port and protocol. */
struct nft_egress {
    const char *addr;
    uint16_t port;
    enum nft_l4 proto;
    const char *label;
};

/* An IPv4/IPv6 literal (no brackets, no prefix) and a port. */
struct nft_endpoint {
    const char *addr;
    uint16_t port;
};

struct nft_policy {
    const char *cell_id;                       /* spec.id; becomes the table name */
    const struct nft_egress *egress;
    size_t n_egress;
    /* Where the DNS proxy listens inside the cell (tcp and udp). When any is
     * given, other port-53 traffic is redirected to the first one of the
     * packet's family. */
    const struct nft_endpoint *dns_proxies;
    size_t n_dns_proxies;
    /* Declared resolvers: exempt from the DNS/DoT block (not thereby allowed;
     * an egress entry or a proxy endpoint must still accept them). */
    const struct nft_endpoint *resolvers;
    size_t n_resolvers;
    bool block_direct_dns;
    uint16_t nflog_group;                      /* 0: no logging */
    /* L7 (SNI/HTTP) proxy hook: when l7_redirect_port is non-zero, TCP to
     * ports 80, 443 and l7_ports[] not addressed to loopback is redirected to
     * that local port. */
    uint16_t l7_redirect_port;
    const uint16_t *l7_ports;
    size_t n_l7_ports;
};

/* The table name for a cell id: "cellos_" + the id with every character
 * outside [A-Za-z0-9_] turned into '_', cut to fit NFT_TABLE_NAME_MAX.
 * -EINVAL for a NULL or empty id. (Names need only be unique within one
 * netns, and each cell has its own, so the mapping need not be injective.) */
int nft_table_name(const char *cell_id, char out[NFT_TABLE_NAME_MAX]);

/* Render the ruleset as one nft script (one transaction when run as one
 * buffer). *out is heap text owned by the caller. -EINVAL with err naming the
 * offending field for an invalid policy. */
int nft_render(const struct nft_policy *policy, char **out, struct cell_err *err);

/* Apply ruleset_text inside the network namespace netns_fd, as one
 * transaction through libnftables. The calling thread always returns to its
 * own netns (the process aborts if it cannot: running on in the cell's netns
 * would silently make the supervisor's own traffic the cell's). libnftables'
 * error text ends up in err->msg. 0 or -errno. */
int nft_apply_in_netns(int netns_fd, const char *ruleset_text, struct cell_err *err);
/* The same in the calling thread's current netns, for the netprep helper
 * (which lives in the cell's netns and exits right after: the libnftables
 * context is deliberately left to the process's end). */
int nft_apply_here(const char *ruleset_text, struct cell_err *err);

struct nft_rule_counter {
    char chain[32];
    char comment[NFT_COMMENT_MAX + 28];         /* "" when the rule has none */
    uint64_t handle;
    uint64_t packets;
    uint64_t bytes;
};

/* Counters of every rule with a counter in table `inet <table>` of netns_fd,
 * in listing order. *out is a heap array owned by the caller (free()).
 * Returns the number of entries (may be 0) or -errno. */
int nft_read_counters(int netns_fd, const char *table, struct nft_rule_counter **out,
                      struct cell_err *err);
