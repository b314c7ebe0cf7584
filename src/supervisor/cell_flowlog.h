/* cell_flowlog.h: realtime flow events (CELLOS_PER_FLOW_REALTIME=1, CONTRACT
 * sections 3 and 5), wired to the supervisor.
 *
 * With a private netns, every accept/drop/reject rule of the cell's firewall
 * also does `log group CELL_FLOWLOG_GROUP` (the first packet of each flow
 * reaches them; the rest is accepted as established). The NFLOG socket is
 * made inside the cell's netns by the netprep helper, adopted by the
 * supervisor and served by its loop: one network_flow_decision event
 * (`source: "nflog"`) per new flow, as it happens.
 *
 * Flood bound: flows are deduplicated by protocol, source and destination
 * address, destination port (ICMP: type and code) and verdict; the source
 * port is not part of the key, so a thousand retries of one denied connect
 * are one event. At most NFLOG_DEDUP_MAX distinct flows are reported per
 * run; past that, new flows are only counted (`flowLog.unreported` in the
 * network_enforcement summary, and one warning on stderr). The table never
 * grows past its bound and nothing is dropped without being counted. */
#pragma once
#include "base/base.h"
#include "config.h"
#include "event/event.h"
#include "net/netprep.h"
#include "net/nflog.h"

struct loop;

/* NFLOG groups are per network namespace and the cell's netns is its own:
 * a fixed group cannot collide with another cell's or the host's. */
#define CELL_FLOWLOG_GROUP 7

struct cell_flowlog {
    bool enabled;              /* CELLOS_PER_FLOW_REALTIME=1 and a private netns */
    int fd;                    /* the NFLOG socket, once adopted */
    bool watching;             /* fd is on the loop */
    struct loop *loop;
    struct event_bus *bus;
    struct nflog_dedup *seen;
    struct nflog_stats stats;
    uint64_t reported;         /* flow events emitted */
    uint64_t duplicates;       /* packets of flows already reported */
    uint64_t unreported;       /* new flows past the table's bound */
    char error[NETPREP_MSG_MAX];   /* why the socket could not be opened, or "" */
};

#define CELL_FLOWLOG_INIT { .fd = -1 }

void cell_flowlog_plan(struct cell_flowlog *fl, const struct sup_config *cfg, bool netns);
/* For the firewall: the log group, 0 when realtime flow events are off. */
uint16_t cell_flowlog_group(const struct cell_flowlog *fl);
/* The netprep opener that creates the NFLOG socket inside the cell's netns
 * (runs in the helper). Only meaningful when fl->enabled. */
struct netprep_opener cell_flowlog_opener(struct cell_flowlog *fl);
/* Take the opener's result: the socket (o->fds[0] becomes -1), or, when the
 * opener failed, a warning and a disabled flow log (the firewall still
 * enforces; the error goes into the summary). 0 or the opener's -errno. */
int cell_flowlog_adopt(struct cell_flowlog *fl, struct netprep_opened *o);
/* Serve the socket from the loop; events go to bus. */
int cell_flowlog_start(struct cell_flowlog *fl, struct loop *loop, struct event_bus *bus,
                       struct cell_err *err);
/* At teardown, before the summary: unbind the group (the kernel hands over
 * the batch it still holds), read and report what is queued, then stop
 * watching the socket. */
void cell_flowlog_drain(struct cell_flowlog *fl);
/* "flowLog": {group, flows, duplicates, unreported, malformed, lost,
 * capacity[, error]} into the network_enforcement summary. */
void cell_flowlog_counts(const struct cell_flowlog *fl, json_t *into);
void cell_flowlog_clear(struct cell_flowlog *fl);
