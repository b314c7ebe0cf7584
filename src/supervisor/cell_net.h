/* cell_net.h: the whole network of a cell planned in one step, before its
 * netns exists: DNS proxy endpoints, NFLOG group, L7 proxy, nft ruleset.
 * The supervisor runs it at the start of a run and `cellos plan` prints
 * what it gives, so the two cannot drift apart. egressRules hostnames are
 * resolved once here, so the firewall and the L7 proxy see the same
 * addresses. */
#pragma once
#include "base/base.h"
#include "cell_dns.h"
#include "cell_flowlog.h"
#include "cell_l7.h"
#include "config.h"
#include "network.h"
#include "spec/spec.h"

struct cell_net_parts {
    struct cell_dns *dns;
    struct cell_flowlog *flowlog;
    struct cell_l7 *l7;
    struct cell_network *net;
};

/* Plan every part (each must be in its initial state). On failure err->msg
 * says which part ("cannot set up the DNS proxy: ..."); the parts planned
 * so far stay for their clear functions. */
int cell_net_plan(const struct cell_net_parts *parts, const struct cell_spec *spec,
                  const struct sup_config *cfg, struct cell_err *err);

/* With a proxy, a default route through loopback lets a connect or datagram
 * to any address reach the nat hook and be redirected (or rejected at once);
 * without one the cell keeps only loopback and egress fails with
 * ENETUNREACH. */
bool cell_net_default_route(const struct cell_net_parts *parts);
