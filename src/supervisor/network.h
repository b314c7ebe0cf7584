/* network.h: the cell's nftables egress policy (CONTRACT section 4): built
 * from the spec before the cell exists, applied in the cell's netns by the
 * netprep helper (net/netprep.h) while the cell is being built, reported as
 * events. */
#pragma once
#include "base/base.h"
#include "config.h"
#include "event/event.h"
#include "net/nft.h"
#include "spec/spec.h"

struct cell_network {
    bool active;            /* the cell has its own netns */
    char table[NFT_TABLE_NAME_MAX];
    char *ruleset;          /* nft script */
    size_t n_egress;        /* egress rules in the ruleset (after resolving hostnames) */
    int netns_fd;           /* the cell's netns, held until teardown (for counters); owned */
    bool applied;
    bool per_flow_counters; /* CELLOS_PER_FLOW_ENFORCEMENT_EVENTS=1 */
};

/* Resolve egressRules hostnames (a name that does not resolve is left out
 * with a warning: access fails closed) and render the ruleset. nflog_group:
 * the verdict rules also log to it (realtime flow events), 0 for none.
 * l7: where the L7 proxy listens, NULL when it is off. */
struct network_l7 {
    uint16_t port;                  /* TCP to 80, 443 and plain_ports is redirected here */
    const uint16_t *plain_ports;
    size_t n_plain_ports;
};
/* What the egressRules hostnames resolve to at setup (one getaddrinfo per
 * rule, per run): the firewall and the L7 proxy both read it. A name that
 * does not resolve gets a warning and no address: access fails closed. */
struct egress_addr {
    size_t rule;                    /* index in spec->egress_rules */
    int family;                     /* AF_INET / AF_INET6 */
    uint8_t addr[16];               /* network order, IPv4 in the first 4 bytes */
};
struct egress_addrs {
    struct egress_addr *items;
    size_t n;
};
void egress_addrs_resolve(const struct cell_spec *spec, struct egress_addrs *out);
void egress_addrs_free(struct egress_addrs *a);

int network_plan(struct cell_network *net, const struct cell_spec *spec,
                 const struct egress_addrs *addrs, bool netns,
                 bool per_flow_counters, const struct nft_endpoint *dns_proxies,
                 size_t n_dns_proxies, uint16_t nflog_group, const struct network_l7 *l7,
                 struct cell_err *err);
/* The helper applied net->ruleset in the netns behind netns_fd, which the
 * network now owns (closed by network_clear). */
void network_adopt(struct cell_network *net, int netns_fd);
/* At teardown, so it can carry the run's DNS counts (extra, stolen). */
void network_emit_enforcement(const struct cell_network *net, bool dns_proxy, bool sni_proxy,
                              json_t *extra, struct event_bus *bus);
/* One network_flow_decision per rule with its counters (source "counters"). */
void network_emit_counters(const struct cell_network *net, struct event_bus *bus);
void network_clear(struct cell_network *net);
