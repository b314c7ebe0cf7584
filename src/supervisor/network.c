#include "network.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

struct egress_list {
    struct nft_egress *items;
    char **owned;           /* strings the items point to */
    size_t n, cap;
};

static void egress_add(struct egress_list *l, const char *addr, const struct egress_rule *r,
                       size_t index)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
        l->owned = xrealloc(l->owned, 2 * l->cap * sizeof(*l->owned));
    }
    char *a = xstrdup(addr);
    (void)index; /* the renderer numbers the rules itself */
    char *label = xasprintf("%s:%u/%s", r->host, r->port, net_proto_name(r->protocol));
    l->owned[2 * l->n] = a;
    l->owned[2 * l->n + 1] = label;
    l->items[l->n++] = (struct nft_egress){ .addr = a, .port = r->port,
                                            .proto = r->protocol == NET_PROTO_UDP ? NFT_L4_UDP
                                                                                  : NFT_L4_TCP,
                                            .label = label };
}

static void egress_free(struct egress_list *l)
{
    for (size_t i = 0; i < 2 * l->n; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->items);
}

static void addrs_add(struct egress_addrs *a, size_t rule, int family, const void *addr)
{
    a->items = xrealloc(a->items, (a->n + 1) * sizeof(*a->items));
    struct egress_addr *e = &a->items[a->n++];
    memset(e, 0, sizeof(*e));
    e->rule = rule;
    e->family = family;
    memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
}

void egress_addrs_resolve(const struct cell_spec *spec, struct egress_addrs *out)
{
    *out = (struct egress_addrs){ 0 };
    for (size_t i = 0; i < spec->n_egress_rules; i++) {
        const struct egress_rule *r = &spec->egress_rules[i];
        if (r->kind != EGRESS_HOSTNAME)
            continue;
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        struct addrinfo *res = NULL;
        int e = getaddrinfo(r->host, NULL, &hints, &res);
        if (e != 0) {
            log_warn("spec.authority.egressRules[%zu]: %s does not resolve (%s): no rule for it",
                     i, r->host, gai_strerror(e));
            continue;
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            const struct sockaddr_in *in4 = (const void *)ai->ai_addr;
            const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;
            if (ai->ai_family == AF_INET)
                addrs_add(out, i, AF_INET, &in4->sin_addr);
            else if (ai->ai_family == AF_INET6)
                addrs_add(out, i, AF_INET6, &in6->sin6_addr);
        }
        freeaddrinfo(res);
    }
}

void egress_addrs_free(struct egress_addrs *a)
{
    free(a->items);
    *a = (struct egress_addrs){ 0 };
}

/* Every address the hostname rule resolved to, each becoming one rule. */
static void add_resolved(struct egress_list *l, const struct egress_rule *r, size_t index,
                         const struct egress_addrs *addrs)
{
    for (size_t k = 0; k < addrs->n; k++) {
        const struct egress_addr *a = &addrs->items[k];
        char text[INET6_ADDRSTRLEN];
        if (a->rule == index && inet_ntop(a->family, a->addr, text, sizeof(text)))
            egress_add(l, text, r, index);
    }
}

static void resolver_endpoints(const struct dns_authority *dns, struct nft_endpoint *out,
                               char (*text)[INET6_ADDRSTRLEN], size_t *n)
{
    *n = 0;
    for (size_t i = 0; dns->present && i < dns->n_resolvers && *n < NFT_MAX_ENDPOINTS; i++) {
        const struct dns_resolver *r = &dns->resolvers[i];
        if (!inet_ntop(r->family, r->addr, text[*n], INET6_ADDRSTRLEN))
            continue;
        out[*n] = (struct nft_endpoint){ .addr = text[*n], .port = r->port };
        (*n)++;
    }
}

int network_plan(struct cell_network *net, const struct cell_spec *spec,
                 const struct egress_addrs *addrs, bool netns,
                 bool per_flow_counters, const struct nft_endpoint *dns_proxies,
                 size_t n_dns_proxies, uint16_t nflog_group, const struct network_l7 *l7,
                 struct cell_err *err)
{
    memset(net, 0, sizeof(*net));
    net->netns_fd = -1;
    net->per_flow_counters = per_flow_counters;
    if (!netns)
        return 0;
    net->active = true;
    struct egress_list l = { 0 };
    for (size_t i = 0; i < spec->n_egress_rules; i++) {
        const struct egress_rule *r = &spec->egress_rules[i];
        if (r->kind == EGRESS_HOSTNAME)
            add_resolved(&l, r, i, addrs);
        else
            egress_add(&l, r->host, r, i);
    }
    struct nft_endpoint resolvers[NFT_MAX_ENDPOINTS];
    char text[NFT_MAX_ENDPOINTS][INET6_ADDRSTRLEN];
    size_t n_resolvers;
    resolver_endpoints(&spec->dns, resolvers, text, &n_resolvers);
    struct nft_policy policy = {
        .cell_id = spec->id,
        .egress = l.items,
        .n_egress = l.n,
        .resolvers = resolvers,
        .n_resolvers = n_resolvers,
        .dns_proxies = dns_proxies,
        .n_dns_proxies = n_dns_proxies,
        .block_direct_dns = spec->dns.present && spec->dns.block_direct_workload_dns,
        .nflog_group = nflog_group,
        .l7_redirect_port = l7 ? l7->port : 0,
        .l7_ports = l7 ? l7->plain_ports : NULL,
        .n_l7_ports = l7 ? l7->n_plain_ports : 0,
    };
    net->n_egress = l.n;
    nft_table_name(spec->id, net->table);
    int r = nft_render(&policy, &net->ruleset, err);
    egress_free(&l);
    return r;
}

void network_adopt(struct cell_network *net, int netns_fd)
{
    net->netns_fd = netns_fd;
    net->applied = true;
}

void network_emit_enforcement(const struct cell_network *net, bool dns_proxy, bool sni_proxy,
                              json_t *extra, struct event_bus *bus)
{
    if (!net->active) {
        json_decref(extra);
        return;
    }
    json_t *d = extra ? extra : json_object();
    json_object_set_new(d, "nftEnforcementApplied", json_boolean(net->applied));
    json_object_set_new(d, "table", json_sprintf("inet %s", net->table));
    json_object_set_new(d, "egressRulesCount", json_integer((json_int_t)net->n_egress));
    json_object_set_new(d, "dnsProxy", json_boolean(dns_proxy));
    json_object_set_new(d, "sniProxy", json_boolean(sni_proxy));
    event_bus_emit(bus, EV_NETWORK_ENFORCEMENT, d);
}

/* The rule's verdict, from the comment the renderer gives it. */
static const char *verdict_of(const struct nft_rule_counter *c)
{
    if (str_has_prefix(c->comment, "reject"))
        return "reject";
    if (str_has_prefix(c->comment, "block"))
        return "drop";
    if (strcmp(c->chain, "nat_output") == 0)
        return "redirect";
    return "accept";
}

void network_emit_counters(const struct cell_network *net, struct event_bus *bus)
{
    if (!net->applied || !net->per_flow_counters)
        return;
    struct nft_rule_counter *rules = NULL;
    struct cell_err err;
    int n = nft_read_counters(net->netns_fd, net->table, &rules, &err);
    if (n < 0) {
        log_warn("cannot read the firewall's counters: %s", err.msg);
        return;
    }
    for (int i = 0; i < n; i++) {
        json_t *d = json_object();
        json_object_set_new(d, "source", json_string("counters"));
        json_object_set_new(d, "verdict", json_string(verdict_of(&rules[i])));
        json_object_set_new(d, "rule", json_string(rules[i].comment));
        json_object_set_new(d, "packets", json_integer((json_int_t)rules[i].packets));
        json_object_set_new(d, "bytes", json_integer((json_int_t)rules[i].bytes));
        event_bus_emit(bus, EV_NETWORK_FLOW_DECISION, d);
    }
    free(rules);
}

void network_clear(struct cell_network *net)
{
    if (net->netns_fd >= 0)
        close(net->netns_fd);
    free(net->ruleset);
    memset(net, 0, sizeof(*net));
    net->netns_fd = -1;
}
