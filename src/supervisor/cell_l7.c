#include "cell_l7.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/answers.h"
#include "policy/hostmatch.h"

/* ---- plan ------------------------------------------------------------------ */

static const char *keep(struct cell_l7 *l7, char *s)
{
    l7->strings = xrealloc(l7->strings, (l7->n_strings + 1) * sizeof(*l7->strings));
    l7->strings[l7->n_strings++] = s;
    return s;
}

static struct l7_egress *add_entry(struct cell_l7 *l7)
{
    l7->egress = xrealloc(l7->egress, (l7->n_egress + 1) * sizeof(*l7->egress));
    struct l7_egress *e = &l7->egress[l7->n_egress++];
    memset(e, 0, sizeof(*e));
    return e;
}

/* Lower case, without one trailing dot: the form the peek parsers and the
 * DNS proxy give names in. */
static char *normal_name(const char *host)
{
    char *n = xstrdup(host);
    size_t len = strlen(n);
    if (len > 1 && n[len - 1] == '.')
        n[len - 1] = '\0';
    for (char *c = n; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return n;
}

/* A hostname rule: one entry per address it resolved to at setup (none: one
 * entry with only the name, which still admits what the DNS proxy returns
 * for it during the run). */
static void add_hostname_rule(struct cell_l7 *l7, const struct egress_rule *r, size_t index,
                              const struct egress_addrs *addrs, const char *label)
{
    const char *name = keep(l7, normal_name(r->host));
    size_t before = l7->n_egress;
    for (size_t k = 0; k < addrs->n; k++) {
        const struct egress_addr *a = &addrs->items[k];
        if (a->rule != index)
            continue;
        struct l7_egress *e = add_entry(l7);
        e->family = a->family;
        e->prefix_len = a->family == AF_INET ? 32 : 128;
        memcpy(e->addr, a->addr, a->family == AF_INET ? 4 : 16);
        e->port = r->port;
        e->name = name;
        e->label = label;
    }
    if (l7->n_egress == before) {
        struct l7_egress *e = add_entry(l7);
        e->port = r->port;
        e->name = name;
        e->label = label;
    }
}

static void add_address_rule(struct cell_l7 *l7, const struct egress_rule *r, const char *label)
{
    struct l7_egress *e = add_entry(l7);
    bool v4 = r->kind == EGRESS_IPV4 || r->kind == EGRESS_CIDR4;
    e->family = v4 ? AF_INET : AF_INET6;
    memcpy(e->addr, r->addr, v4 ? 4 : 16);
    e->prefix_len = r->prefix_len;
    e->port = r->port;
    e->label = label;
}

static void add_plain_port(struct cell_l7 *l7, uint16_t port)
{
    if (port == 80 || port == 443)
        return;
    for (size_t i = 0; i < l7->n_plain_ports; i++)
        if (l7->plain_ports[i] == port)
            return;
    if (l7->n_plain_ports < NFT_MAX_L7_PORTS)
        l7->plain_ports[l7->n_plain_ports++] = port;
}

int cell_l7_plan(struct cell_l7 *l7, const struct cell_spec *spec,
                 const struct egress_addrs *addrs, bool wanted, bool netns, struct cell_err *err)
{
    memset(l7, 0, sizeof(*l7));
    if (!wanted || !netns)
        return 0;
    l7->enabled = true;
    l7->port = L7_PROXY_DEFAULT_PORT;
    for (size_t i = 0; i < spec->n_egress_rules; i++) {
        const struct egress_rule *r = &spec->egress_rules[i];
        if (r->protocol != NET_PROTO_TCP)
            continue;
        const char *label = keep(l7, xasprintf("egress[%zu] %s:%u/tcp", i, r->host, r->port));
        if (r->kind == EGRESS_HOSTNAME)
            add_hostname_rule(l7, r, i, addrs, label);
        else
            add_address_rule(l7, r, label);
        add_plain_port(l7, r->port);
    }
    const struct dns_authority *a = &spec->dns;
    l7->allow = hostmatch_new((const char *const *)a->hostname_allowlist,
                              a->present ? a->n_hostname_allowlist : 0, err);
    if (!l7->allow)
        return -EINVAL;
    l7->resolved = dns_resolved_new(0);
    return 0;
}

/* ---- listening sockets (in the netprep helper, inside the cell) ------------ */

static int listener(int family, uint16_t port)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*in4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        in6->sin6_addr = in6addr_loopback;
        len = sizeof(*in6);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));   /* inherited */
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* 127.0.0.1 and, where the netns has IPv6, ::1 on the redirect port. */
static int open_listeners(void *ctx, int *fds, size_t max, struct cell_err *err)
{
    struct cell_l7 *l7 = ctx;
    if (max < 2)
        return cell_err_set(err, ENOSPC, "isolation_failed", "no room for the L7 proxy's sockets");
    int v4 = listener(AF_INET, l7->port);
    if (v4 < 0)
        return cell_err_set(err, -v4, "isolation_failed",
                            "the L7 proxy cannot listen on 127.0.0.1:%u in the cell: %s",
                            l7->port, strerror(-v4));
    fds[0] = v4;
    int v6 = listener(AF_INET6, l7->port);
    if (v6 < 0 && v6 != -EAFNOSUPPORT && v6 != -EADDRNOTAVAIL) {
        close(v4);
        return cell_err_set(err, -v6, "isolation_failed",
                            "the L7 proxy cannot listen on [::1]:%u in the cell: %s", l7->port,
                            strerror(-v6));
    }
    if (v6 < 0)
        return 1;
    fds[1] = v6;
    return 2;
}

struct netprep_opener cell_l7_opener(struct cell_l7 *l7)
{
    return (struct netprep_opener){ .name = "L7 proxy", .open = open_listeners, .ctx = l7 };
}

int cell_l7_adopt(struct cell_l7 *l7, const struct netprep_opened *opened, struct cell_err *err)
{
    if (opened->r < 0)
        return cell_err_set(err, -opened->r, "isolation_failed", "%s", opened->msg);
    for (size_t i = 0; i < opened->n_fds && l7->n_fds < ARRAY_SIZE(l7->fds); i++)
        l7->fds[l7->n_fds++] = opened->fds[i];
    return 0;
}

/* ---- events ---------------------------------------------------------------- */

static void report_decision(void *ctx, const struct l7_decision_report *r)
{
    struct cell_l7 *l7 = ctx;
    json_t *d = json_object();
    json_object_set_new(d, "host", r->host ? json_string(r->host) : json_null());
    json_object_set_new(d, "protocol", json_string(r->protocol));
    json_object_set_new(d, "decision", json_string(r->decision));
    json_object_set_new(d, "reasonCode", json_string(r->reason_code));
    json_object_set_new(d, "destination", json_string(r->destination));
    if (r->detail)
        json_object_set_new(d, "detail", json_string(r->detail));
    event_bus_emit(l7->bus, EV_L7_EGRESS_DECISION, d);
}

/* A plain flow, reported when it is decided: nothing relayed yet, so its
 * packet and byte counts are 0 (the teardown summary has the bytes). */
static void report_flow(void *ctx, const struct l7_flow_report *r)
{
    struct cell_l7 *l7 = ctx;
    json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:i}", "source", "proxy",
                          "verdict", r->verdict, "rule", r->rule, "packets", 0, "bytes", 0,
                          "protocol", "tcp", "srcAddr", r->src_addr, "dstAddr", r->dst_addr,
                          "srcPort", (int)r->src_port, "dstPort", (int)r->dst_port);
    if (r->detail)
        json_object_set_new(d, "detail", json_string(r->detail));
    event_bus_emit(l7->bus, EV_NETWORK_FLOW_DECISION, d);
}

int cell_l7_start(struct cell_l7 *l7, struct loop *loop, struct event_bus *bus,
                  const struct dns_resolved *resolved, struct cell_err *err)
{
    if (!l7->enabled || !l7->n_fds)
        return 0;
    l7->bus = bus;
    struct l7_proxy_config cfg = {
        .listen_fds = l7->fds, .n_listen_fds = l7->n_fds,
        .allowlist = l7->allow, .resolved = resolved,
        .egress = l7->egress, .n_egress = l7->n_egress,
        .plain_ports = l7->plain_ports, .n_plain_ports = l7->n_plain_ports,
        .on_decision = report_decision, .on_flow = report_flow, .report_ctx = l7,
    };
    return l7_proxy_new(loop, &cfg, &l7->proxy, err);
}

bool cell_l7_running(const struct cell_l7 *l7)
{
    return l7->proxy != NULL;
}

void cell_l7_counts(const struct cell_l7 *l7, json_t *into)
{
    if (!l7->proxy)
        return;
    struct l7_proxy_counters c;
    l7_proxy_get_counters(l7->proxy, &c);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                          "connections", (json_int_t)c.connections,
                          "allowed", (json_int_t)c.allowed, "denied", (json_int_t)c.denied,
                          "plainAccepted", (json_int_t)c.plain_accepted,
                          "plainRejected", (json_int_t)c.plain_rejected,
                          "upstreamFailures", (json_int_t)c.upstream_failures,
                          "peekTimeouts", (json_int_t)c.peek_timeouts,
                          "limitRefusals", (json_int_t)c.limit_refusals,
                          "idleClosed", (json_int_t)c.idle_closed,
                          "bytesUp", (json_int_t)c.bytes_up,
                          "bytesDown", (json_int_t)c.bytes_down);
    json_object_set_new(into, "l7Connections", o);
}

void cell_l7_clear(struct cell_l7 *l7)
{
    l7_proxy_free(l7->proxy);
    for (size_t i = 0; i < l7->n_fds; i++)
        close(l7->fds[i]);
    for (size_t i = 0; i < l7->n_strings; i++)
        free(l7->strings[i]);
    free(l7->strings);
    free(l7->egress);
    hostmatch_free(l7->allow);
    dns_resolved_free(l7->resolved);
    memset(l7, 0, sizeof(*l7));
}
