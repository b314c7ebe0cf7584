/* cell_dns.h: the in-cell DNS proxy (CONTRACT section 4), wired to the
 * supervisor: listening sockets made inside the cell's netns by the netprep
 * helper, served by the supervisor's loop, one dns_query event per query. */
#pragma once
#include <netinet/in.h>

#include "base/base.h"
#include "config.h"
#include "dns/proxy.h"
#include "event/event.h"
#include "net/netprep.h"
#include "net/nft.h"
#include "spec/spec.h"

struct loop;
struct dns_resolved;

struct cell_dns {
    bool enabled;                  /* CELLOS_DNS_PROXY=1, dnsAuthority, own netns */
    size_t n_listen;
    struct nft_endpoint listen[NFT_MAX_ENDPOINTS];   /* for the firewall */
    char listen_text[NFT_MAX_ENDPOINTS][INET6_ADDRSTRLEN];
    struct sockaddr_storage listen_addr[NFT_MAX_ENDPOINTS];
    socklen_t listen_len[NFT_MAX_ENDPOINTS];
    int udp_fds[NFT_MAX_ENDPOINTS];
    int tcp_fds[NFT_MAX_ENDPOINTS];
    size_t n_open;
    struct hostmatch *allow;
    struct dns_proxy_resolver resolvers[NFT_MAX_ENDPOINTS];
    size_t n_resolvers;
    bool override;                 /* CELLOS_DNS_PROXY_UPSTREAM_OVERRIDE: dial in the cell */
    int cell_netns_fd;             /* borrowed from the cell's network */
    struct dns_proxy *proxy;
    struct event_bus *bus;
    const char *first_resolver_id;
    const uint16_t *qtypes;        /* borrowed from the spec */
    struct dns_resolved *answers;  /* borrowed: fed with every relayed answer when set
                                    * (the L7 proxy's name -> addresses table) */
    size_t n_qtypes;
};

int cell_dns_plan(struct cell_dns *dns, const struct cell_spec *spec, const struct sup_config *cfg,
                  bool netns, struct cell_err *err);
/* The listening sockets are made inside the cell's netns by the netprep
 * helper (this opener), then adopted here (cell_netns_fd is borrowed: the
 * override dials upstream from inside the cell). */
struct netprep_opener cell_dns_opener(struct cell_dns *dns);
int cell_dns_adopt(struct cell_dns *dns, const struct netprep_opened *opened, int cell_netns_fd,
                   struct cell_err *err);
/* Serve from the loop; reports go to bus as dns_query events. */
int cell_dns_start(struct cell_dns *dns, struct loop *loop, struct event_bus *bus,
                   struct cell_err *err);
/* "nameserver ..." for the cell's /etc/resolv.conf, or NULL. */
char *cell_dns_resolv_conf(const struct cell_dns *dns);
void cell_dns_counts(const struct cell_dns *dns, json_t *into);
void cell_dns_clear(struct cell_dns *dns);
