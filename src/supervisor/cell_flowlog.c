#include "cell_flowlog.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "loop/loop.h"

/* Datagrams read per wake-up: the loop is level-triggered and comes back,
 * so a busy flow log cannot starve the workload's exit or the DNS proxy. */
#define READ_BUDGET 64

void cell_flowlog_plan(struct cell_flowlog *fl, const struct sup_config *cfg, bool netns)
{
    *fl = (struct cell_flowlog)CELL_FLOWLOG_INIT;
    fl->enabled = cfg->per_flow_realtime && netns;
}

uint16_t cell_flowlog_group(const struct cell_flowlog *fl)
{
    return fl->enabled ? CELL_FLOWLOG_GROUP : 0;
}

/* In the netprep helper, inside the cell's netns. */
static int open_in_cell(void *ctx, int *fds, size_t max, struct cell_err *err)
{
    if (max < 1)
        return cell_err_set(err, EINVAL, "isolation_failed", "flow log: no room for its socket");
    int fd = nflog_open(CELL_FLOWLOG_GROUP, err);
    if (fd < 0)
        return fd;
    fds[0] = fd;
    return 1;
}

struct netprep_opener cell_flowlog_opener(struct cell_flowlog *fl)
{
    return (struct netprep_opener){ .name = "flow log", .open = open_in_cell, .ctx = fl };
}

int cell_flowlog_adopt(struct cell_flowlog *fl, struct netprep_opened *o)
{
    if (!fl->enabled)
        return 0;
    if (o->r < 1 || o->n_fds < 1 || o->fds[0] < 0) {
        snprintf(fl->error, sizeof(fl->error), "%s", o->r < 0 ? o->msg : "no socket");
        log_warn("realtime flow events are off: %s", fl->error);
        fl->enabled = false;
        return o->r < 0 ? o->r : -EIO;
    }
    fl->fd = o->fds[0];
    o->fds[0] = -1;
    return 0;
}

static json_t *address(const struct nflog_flow *f, const uint8_t *addr)
{
    char text[INET6_ADDRSTRLEN];
    return inet_ntop(f->family, addr, text, sizeof(text)) ? json_string(text) : json_null();
}

static json_t *protocol(uint8_t number)
{
    const char *name = nflog_protocol_name(number);
    return name ? json_string(name) : json_sprintf("%u", number);
}

/* CONTRACT section 5: network_flow_decision with source "nflog". packets
 * and bytes describe the packet that opened the flow; ports are null when
 * it has none (ICMP carries its type and code instead). dstAddr/dstPort are
 * what the workload addressed; a redirected flow adds where it went. */
static void emit_flow(struct cell_flowlog *fl, const struct nflog_packet *p)
{
    const struct nflog_flow *f = &p->flow;
    json_t *d = json_object();
    json_object_set_new(d, "source", json_string("nflog"));
    json_object_set_new(d, "verdict", json_string(nflog_verdict_name(p->verdict)));
    json_object_set_new(d, "rule", json_string(p->prefix));
    json_object_set_new(d, "packets", json_integer(1));
    json_object_set_new(d, "bytes", json_integer((json_int_t)p->length));
    json_object_set_new(d, "protocol", protocol(f->protocol));
    json_object_set_new(d, "srcAddr", address(f, f->src));
    json_object_set_new(d, "dstAddr", address(f, f->dst));
    json_object_set_new(d, "srcPort", f->has_ports ? json_integer(f->src_port) : json_null());
    json_object_set_new(d, "dstPort", f->has_ports ? json_integer(f->dst_port) : json_null());
    if (f->nat) {               /* redirected: where the packet actually went */
        json_object_set_new(d, "natDstAddr", address(f, f->nat_dst));
        json_object_set_new(d, "natDstPort",
                            f->has_ports ? json_integer(f->nat_dst_port) : json_null());
    }
    if (f->has_icmp) {
        json_object_set_new(d, "icmpType", json_integer(f->icmp_type));
        json_object_set_new(d, "icmpCode", json_integer(f->icmp_code));
    }
    event_bus_emit(fl->bus, EV_NETWORK_FLOW_DECISION, d);
    fl->reported++;
}

static void on_packet(void *ctx, const struct nflog_packet *p)
{
    struct cell_flowlog *fl = ctx;
    switch (nflog_dedup_check(fl->seen, &p->flow, p->verdict)) {
    case NFLOG_SEEN_NEW:
        emit_flow(fl, p);
        break;
    case NFLOG_SEEN_DUPLICATE:
        fl->duplicates++;
        break;
    case NFLOG_SEEN_FULL:
        if (fl->unreported++ == 0)
            log_warn("flow log: %d distinct flows reported; further new flows are only "
                     "counted (flowLog.unreported in network_enforcement)", NFLOG_DEDUP_MAX);
        break;
    }
}

static void read_some(struct cell_flowlog *fl, size_t budget)
{
    ssize_t r = nflog_read(fl->fd, budget, on_packet, fl, &fl->stats);
    if (r < 0) {
        log_warn("flow log: reading NFLOG failed (%s); no further flow events", strerror((int)-r));
        snprintf(fl->error, sizeof(fl->error), "read: %s", strerror((int)-r));
        if (fl->watching)
            loop_del_fd(fl->loop, fl->fd);
        fl->watching = false;
    }
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    read_some(userdata, READ_BUDGET);
}

int cell_flowlog_start(struct cell_flowlog *fl, struct loop *loop, struct event_bus *bus,
                       struct cell_err *err)
{
    if (!fl->enabled || fl->fd < 0)
        return 0;
    int r = nflog_dedup_new(NFLOG_DEDUP_MAX, &fl->seen);
    if (r < 0)
        return cell_err_set(err, -r, "isolation_failed", "flow log: %s", strerror(-r));
    fl->loop = loop;
    fl->bus = bus;
    r = loop_add_fd(loop, fl->fd, EPOLLIN, on_readable, fl);
    if (r < 0)
        return cell_err_set(err, -r, "isolation_failed", "flow log: cannot watch NFLOG: %s",
                            strerror(-r));
    fl->watching = true;
    return 0;
}

void cell_flowlog_drain(struct cell_flowlog *fl)
{
    if (!fl->watching)
        return;
    int r = nflog_unbind(fl->fd, CELL_FLOWLOG_GROUP);   /* the kernel's last batch */
    if (r < 0)
        log_warn("flow log: cannot unbind NFLOG group %d: %s", CELL_FLOWLOG_GROUP, strerror(-r));
    read_some(fl, 0);
    if (fl->watching)
        loop_del_fd(fl->loop, fl->fd);
    fl->watching = false;
}

void cell_flowlog_counts(const struct cell_flowlog *fl, json_t *into)
{
    if (!fl->enabled && !fl->error[0])
        return;
    json_t *c = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:i}", "group", CELL_FLOWLOG_GROUP,
                          "flows", (json_int_t)fl->reported,
                          "duplicates", (json_int_t)fl->duplicates,
                          "unreported", (json_int_t)fl->unreported,
                          "malformed", (json_int_t)fl->stats.malformed,
                          "lost", (json_int_t)fl->stats.lost,
                          "capacity", NFLOG_DEDUP_MAX);
    if (fl->error[0])
        json_object_set_new(c, "error", json_string(fl->error));
    json_object_set_new(into, "flowLog", c);
}

void cell_flowlog_clear(struct cell_flowlog *fl)
{
    if (fl->watching)
        loop_del_fd(fl->loop, fl->fd);
    if (fl->fd >= 0)
        close(fl->fd);
    nflog_dedup_free(fl->seen);
    *fl = (struct cell_flowlog)CELL_FLOWLOG_INIT;
}
