#include "cell_net.h"

#include <stdio.h>
#include <string.h>

/* "<what>: <the part's own message>", for the one line a user reads. */
static int fail_in(const char *what, int r, struct cell_err *err)
{
    char msg[sizeof(err->msg)];
    snprintf(msg, sizeof(msg), "%s", err->msg);
    return cell_err_set(err, -r, "isolation_failed", "%s: %s", what, msg);
}

int cell_net_plan(const struct cell_net_parts *p, const struct cell_spec *spec,
                  const struct sup_config *cfg, struct cell_err *err)
{
    bool netns = (cfg->namespaces & NS_NET) != 0;
    int r = cell_dns_plan(p->dns, spec, cfg, netns, err);
    if (r < 0)
        return fail_in("cannot set up the DNS proxy", r, err);
    cell_flowlog_plan(p->flowlog, cfg, netns);
    struct egress_addrs addrs = { 0 };
    if (netns)
        egress_addrs_resolve(spec, &addrs);
    r = cell_l7_plan(p->l7, spec, &addrs, cfg->sni_proxy, netns, err);
    if (r < 0) {
        egress_addrs_free(&addrs);
        return fail_in("cannot set up the L7 proxy", r, err);
    }
    p->dns->answers = p->l7->resolved; /* what the DNS proxy returns, for the L7 check */
    struct network_l7 redirect = { p->l7->port, p->l7->plain_ports, p->l7->n_plain_ports };
    r = network_plan(p->net, spec, &addrs, netns, cfg->per_flow_counters, p->dns->listen,
                     p->dns->n_listen, cell_flowlog_group(p->flowlog),
                     p->l7->enabled ? &redirect : NULL, err);
    egress_addrs_free(&addrs);
    return r < 0 ? fail_in("cannot build the cell's network policy", r, err) : 0;
}

bool cell_net_default_route(const struct cell_net_parts *p)
{
    return p->dns->enabled || p->l7->enabled;
}
