/* cell_l7.h: the SNI / HTTP Host egress proxy (CONTRACT sections 3-5),
 * wired to the supervisor like the DNS proxy (cell_dns.h): listening
 * sockets on 127.0.0.1 and ::1 made inside the cell's netns by the netprep
 * helper, served by the supervisor's loop, upstream connections made from
 * the supervisor's own netns; one l7_egress_decision event per inspected
 * connection, one network_flow_decision (source "proxy") per plain one.
 *
 * Enabled by CELLOS_SNI_PROXY=1 for a cell with its own netns. The
 * firewall then redirects TCP to 80, 443 and every declared TCP egress port
 * to L7_PROXY_DEFAULT_PORT, and the netns gets a default route through
 * loopback so that connects to any address reach that redirect. */
#pragma once
#include "base/base.h"
#include "config.h"
#include "network.h"
#include "event/event.h"
#include "l7/proxy.h"
#include "net/netprep.h"
#include "net/nft.h"
#include "spec/spec.h"

struct loop;
struct dns_resolved;

struct cell_l7 {
    bool enabled;                  /* CELLOS_SNI_PROXY=1 and an own netns */
    uint16_t port;                 /* where the firewall redirects to */
    uint16_t plain_ports[NFT_MAX_L7_PORTS];  /* declared TCP ports other than 80/443 */
    size_t n_plain_ports;
    struct l7_egress *egress;      /* TCP egress rules, hostnames resolved at plan time */
    size_t n_egress;
    char **strings;                /* names and labels the entries point to */
    size_t n_strings;
    struct hostmatch *allow;       /* dnsAuthority.hostnameAllowlist (empty: no name) */
    struct dns_resolved *resolved; /* what the DNS proxy returned this run (owned) */
    int fds[2];
    size_t n_fds;
    struct l7_proxy *proxy;
    struct event_bus *bus;
};

/* wanted: CELLOS_SNI_PROXY=1 (sup_config.sni_proxy); netns: the cell has its own. Hostname
 * egress rules take the addresses in addrs (resolved once for the firewall too). */
int cell_l7_plan(struct cell_l7 *l7, const struct cell_spec *spec,
                 const struct egress_addrs *addrs, bool wanted, bool netns, struct cell_err *err);
/* The listening sockets, made by the netprep helper in the cell's netns. */
struct netprep_opener cell_l7_opener(struct cell_l7 *l7);
int cell_l7_adopt(struct cell_l7 *l7, const struct netprep_opened *opened, struct cell_err *err);
/* Serve from the loop. resolved: the table the DNS proxy feeds (borrowed,
 * normally l7->resolved; NULL when no DNS proxy runs). */
int cell_l7_start(struct cell_l7 *l7, struct loop *loop, struct event_bus *bus,
                  const struct dns_resolved *resolved, struct cell_err *err);
bool cell_l7_running(const struct cell_l7 *l7);
/* "l7Connections" for the teardown summary. */
void cell_l7_counts(const struct cell_l7 *l7, json_t *into);
void cell_l7_clear(struct cell_l7 *l7);
