/* test_nflog_real.c: a real NFLOG group, as root. A forked child unshare()s
 * a network namespace and brings loopback up; the test applies a rendered
 * ruleset with `log group` there through libnftables, enters it, opens the
 * NFLOG socket, sends TCP and UDP (allowed and denied, IPv4 and IPv6) and
 * reads the flows back: 5-tuples, prefixes, verdicts and the dedup. Then
 * the same through cell_flowlog, as the supervisor serves it: on a loop,
 * events to a bus, drained at teardown. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "event/event.h"
#include "loop/loop.h"
#include "net/nflog.h"
#include "net/nft.h"
#include "supervisor/cell_flowlog.h"
#include "netns_fixture.h"
#include "tap.h"

#define GROUP 9
#define PORT_TCP_OK 47101
#define PORT_UDP_OK 47102
#define PORT_TCP_NO 47103
#define PORT_UDP_NO 47104
#define DENIED_RETRIES 50

static int new_netns(void)
{
    return test_netns_new(true);   /* a datagram to 8.8.8.8 reaches the nat hook, never leaves */
}

/* ---- traffic (inside the netns) ------------------------------------------- */

static socklen_t sockaddr_of(int family, const char *addr, uint16_t port,
                             struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, addr, &a->sin_addr);
        return sizeof(*a);
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, addr, &a->sin6_addr);
    return sizeof(*a);
}

static int bound(int type, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(AF_INET, "127.0.0.1", port, &ss);
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&ss, len) < 0 ||
        (type == SOCK_STREAM && listen(s, 8) < 0)) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

static uint16_t local_port(int s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A blocking connect; 0 or -errno; *sport the port it was made from. */
static int tcp_connect(int family, const char *addr, uint16_t port, uint16_t *sport)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(family, addr, port, &ss);
    _cleanup_close_ int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = connect(s, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
    *sport = local_port(s);
    return rc;
}

static uint16_t udp_send(const char *addr, uint16_t port, int times)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(AF_INET, addr, port, &ss);
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (connect(s, (struct sockaddr *)&ss, len) < 0)
        return 0;
    for (int i = 0; i < times; i++)
        if (send(s, "x", 1, 0) != 1)
            break;
    return local_port(s);
}

/* ---- what came back ------------------------------------------------------- */

struct seen {
    struct nflog_packet first;   /* first packet of the flow */
    size_t raw;                  /* packets of it before dedup */
};

struct flows {
    struct nflog_dedup *dedup;
    struct seen items[32];
    size_t n, raw;
};

static bool same_flow(const struct nflog_packet *a, const struct nflog_packet *b)
{
    return a->flow.family == b->flow.family && a->flow.protocol == b->flow.protocol &&
           a->flow.dst_port == b->flow.dst_port && a->verdict == b->verdict &&
           memcmp(a->flow.dst, b->flow.dst, 16) == 0;
}

static void on_packet(void *ctx, const struct nflog_packet *p)
{
    struct flows *f = ctx;
    f->raw++;
    if (nflog_dedup_check(f->dedup, &p->flow, p->verdict) == NFLOG_SEEN_NEW && f->n < 32)
        f->items[f->n++] = (struct seen){ *p, 0 };
    for (size_t i = 0; i < f->n; i++)
        if (same_flow(&f->items[i].first, p))
            f->items[i].raw++;
}

static const struct seen *find(const struct flows *f, int family, uint8_t proto,
                               uint16_t dport)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct nflog_flow *x = &f->items[i].first.flow;
        if (x->family == family && x->protocol == proto && x->dst_port == dport)
            return &f->items[i];
    }
    return NULL;
}

static void check_flow(const struct seen *s, const char *src, const char *dst,
                       uint16_t sport, uint16_t dport, const char *prefix,
                       enum nflog_verdict v)
{
    ok(s != NULL, "a flow to port %u", dport);
    if (!s)
        return;
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    const struct nflog_flow *f = &s->first.flow;
    inet_ntop(f->family, f->src, a, sizeof(a));
    inet_ntop(f->family, f->dst, b, sizeof(b));
    if (src)        /* NULL: whatever the route picked (a route via lo may pick 0.0.0.0) */
        is_str(a, src, "src of %u", dport);
    is_str(b, dst, "dst of %u", dport);
    ok(f->has_ports, "ports of %u", dport);
    if (sport)
        is_int(f->src_port, sport, "src port of %u", dport);
    is_int(f->dst_port, dport, "dst port");
    is_str(s->first.prefix, prefix, "prefix of %u", dport);
    is_int(s->first.verdict, v, "verdict of %u", dport);
}

/* Read until `want` distinct flows arrived or nothing came for 300 ms. */
static void read_flows(int fd, struct flows *f, size_t want)
{
    struct nflog_stats st = { 0 };
    while (f->n < want) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 300) != 1)
            break;
        ssize_t r = nflog_read(fd, 0, on_packet, f, &st);
        ok(r >= 0, "nflog_read: %s", strerror((int)-r));
        if (r < 0)
            break;
    }
    is_int(st.malformed, 0, "the kernel's messages all parse");
    is_int(st.lost, 0, "nothing lost");
}

static void traffic_and_flows(int ns)
{
    if (setns(ns, CLONE_NEWNET) < 0) {
        ok(false, "setns: %s", strerror(errno));
        return;
    }
    struct cell_err err = { 0 };
    _cleanup_close_ int fd = nflog_open(GROUP, &err);
    ok(fd >= 0, "nflog_open: %s", err.msg);
    _cleanup_close_ int tcp_ok = bound(SOCK_STREAM, PORT_TCP_OK);
    _cleanup_close_ int udp_ok = bound(SOCK_DGRAM, PORT_UDP_OK);
    ok(tcp_ok >= 0 && udp_ok >= 0, "listeners");
    if (fd < 0)
        return;

    uint16_t sport_ok = 0, sport_no = 0, sport_no6 = 0, sport;
    is_int(tcp_connect(AF_INET, "127.0.0.1", PORT_TCP_OK, &sport_ok), 0, "allowed connect");
    for (int i = 0; i < DENIED_RETRIES; i++) {
        int rc = tcp_connect(AF_INET, "127.0.0.1", PORT_TCP_NO, i ? &sport : &sport_no);
        if (rc != -ECONNREFUSED) {
            ok(false, "denied connect %d: %s", i, strerror(-rc));
            break;
        }
    }
    int rc6 = tcp_connect(AF_INET6, "::1", PORT_TCP_NO, &sport_no6);
    ok(rc6 == -ECONNREFUSED, "denied IPv6 connect: %s", strerror(-rc6));
    uint16_t usport_ok = udp_send("127.0.0.1", PORT_UDP_OK, 3);
    uint16_t usport_no = udp_send("127.0.0.1", PORT_UDP_NO, 1);

    struct flows f = { 0 };
    nflog_dedup_new(64, &f.dedup);
    read_flows(fd, &f, 5);
    check_flow(find(&f, AF_INET, IPPROTO_TCP, PORT_TCP_OK), "127.0.0.1", "127.0.0.1", sport_ok,
               PORT_TCP_OK, "egress[0] allowed:47101/tcp", NFLOG_ACCEPT);
    check_flow(find(&f, AF_INET, IPPROTO_TCP, PORT_TCP_NO), "127.0.0.1", "127.0.0.1", sport_no,
               PORT_TCP_NO, "reject tcp", NFLOG_REJECT);
    check_flow(find(&f, AF_INET6, IPPROTO_TCP, PORT_TCP_NO), "::1", "::1", sport_no6,
               PORT_TCP_NO, "reject tcp", NFLOG_REJECT);
    check_flow(find(&f, AF_INET, IPPROTO_UDP, PORT_UDP_OK), "127.0.0.1", "127.0.0.1", usport_ok,
               PORT_UDP_OK, "egress[1] allowed:47102/udp", NFLOG_ACCEPT);
    check_flow(find(&f, AF_INET, IPPROTO_UDP, PORT_UDP_NO), "127.0.0.1", "127.0.0.1", usport_no,
               PORT_UDP_NO, "reject other", NFLOG_REJECT);
    const struct seen *denied = find(&f, AF_INET, IPPROTO_TCP, PORT_TCP_NO);
    ok(denied && denied->raw == DENIED_RETRIES,
       "every denied SYN was logged (%zu) and deduplicated to one flow", denied ? denied->raw : 0);
    const struct seen *allowed = find(&f, AF_INET, IPPROTO_TCP, PORT_TCP_OK);
    ok(allowed && allowed->raw == 1, "an accepted connection is logged once (established after)");
    is_int(f.n, 5, "five distinct flows");
    nflog_dedup_free(f.dedup);
}

TEST(real_log_group_in_a_netns)
{
    if (geteuid() != 0)
        skip_test("needs root");
    _cleanup_close_ int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    static const struct nft_egress egress[] = {
        { "127.0.0.1", PORT_TCP_OK, NFT_L4_TCP, "allowed:47101/tcp" },
        { "127.0.0.1", PORT_UDP_OK, NFT_L4_UDP, "allowed:47102/udp" },
    };
    const struct nft_policy p = { .cell_id = "nflog-test", .egress = egress, .n_egress = 2,
                                  .nflog_group = GROUP };
    _cleanup_free_ char *text = NULL;
    ok(nft_render(&p, &text, NULL) == 0, "render");
    _cleanup_close_ int ns = new_netns();
    ok(ns >= 0 && home >= 0, "netns: %s", strerror(-ns));
    if (ns < 0 || home < 0 || !text)
        return;
    struct cell_err err = { 0 };
    int rc = nft_apply_in_netns(ns, text, &err);
    is_int(rc, 0, "apply: %s", err.msg);
    if (rc == 0)
        traffic_and_flows(ns);
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
}

/* Packets the kernel still holds in a batch come over when the group is
 * unbound, at once: nothing is left behind at the end of a cell. */
static void unbind_in_netns(int ns)
{
    if (setns(ns, CLONE_NEWNET) < 0)
        return;
    struct cell_err err = { 0 };
    _cleanup_close_ int fd = nflog_open(GROUP, &err);
    ok(fd >= 0, "open: %s", err.msg);
    uint16_t sport;
    for (int i = 0; i < 3; i++)
        tcp_connect(AF_INET, "127.0.0.1", PORT_TCP_NO, &sport);
    is_int(nflog_unbind(fd, GROUP), 0, "unbind");
    struct nflog_stats st = { 0 };
    ssize_t n = nflog_read(fd, 0, NULL, NULL, &st);   /* no wait: already queued */
    is_int(n, 3, "all three SYNs, right after the unbind");
    is_int(st.malformed, 0, "the batch parses");
    ok(st.other >= 1, "a batch ends with NLMSG_DONE (%llu)", (unsigned long long)st.other);
    uint16_t again;
    tcp_connect(AF_INET, "127.0.0.1", PORT_TCP_NO, &again);
    usleep(50 * 1000);
    is_int(nflog_read(fd, 0, NULL, NULL, &st), 0, "nothing logged to us after the unbind");
}

TEST(unbind_hands_over_the_last_batch)
{
    if (geteuid() != 0)
        skip_test("needs root");
    _cleanup_close_ int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const struct nft_policy p = { .cell_id = "nflog-unbind", .nflog_group = GROUP };
    _cleanup_free_ char *text = NULL;
    ok(nft_render(&p, &text, NULL) == 0, "render");
    _cleanup_close_ int ns = new_netns();
    struct cell_err err = { 0 };
    ok(ns >= 0 && text && nft_apply_in_netns(ns, text, &err) == 0, "ruleset: %s", err.msg);
    if (ns >= 0)
        unbind_in_netns(ns);
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
}

/* DNS to 8.8.8.8 is redirected to the proxy by the nat hook. With the
 * kernel's conntrack glue (CONFIG_NETFILTER_NETLINK_GLUE_CT) the flow names
 * 8.8.8.8:53, what the workload asked for, and the proxy it went to; without
 * it the header is all there is, and the flow names the proxy. */
static void redirect_in_netns(int ns)
{
    if (setns(ns, CLONE_NEWNET) < 0)
        return;
    struct cell_err err = { 0 };
    _cleanup_close_ int fd = nflog_open(GROUP, &err);
    ok(fd >= 0, "open: %s", err.msg);
    _cleanup_close_ int proxy = bound(SOCK_DGRAM, 53053);
    uint16_t sport = udp_send("8.8.8.8", 53, 1);
    ok(proxy >= 0 && sport != 0, "proxy and send");
    struct flows f = { 0 };
    nflog_dedup_new(64, &f.dedup);
    read_flows(fd, &f, 1);
    is_int(f.n, 1, "one flow");
    const struct seen *s = find(&f, AF_INET, IPPROTO_UDP, 53);
    if (s) {
        check_flow(s, NULL, "8.8.8.8", sport, 53, "dns-proxy[0] 127.0.0.1:53053",
                   NFLOG_ACCEPT);
        char a[INET6_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, s->first.flow.nat_dst, a, sizeof(a));
        ok(s->first.flow.nat, "marked as redirected");
        is_str(a, "127.0.0.1", "went to the proxy");
        is_int(s->first.flow.nat_dst_port, 53053, "on its port");
    } else {
        printf("# no conntrack info from this kernel: the flow names the proxy\n");
        s = find(&f, AF_INET, IPPROTO_UDP, 53053);
        check_flow(s, NULL, "127.0.0.1", sport, 53053, "dns-proxy[0] 127.0.0.1:53053",
                   NFLOG_ACCEPT);
        ok(s && !s->first.flow.nat, "not marked");
    }
    nflog_dedup_free(f.dedup);
}

TEST(redirected_flow_names_the_original_destination)
{
    if (geteuid() != 0)
        skip_test("needs root");
    _cleanup_close_ int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    static const struct nft_endpoint proxy[] = { { "127.0.0.1", 53053 } };
    const struct nft_policy p = { .cell_id = "nflog-nat", .dns_proxies = proxy,
                                  .n_dns_proxies = 1, .nflog_group = GROUP };
    _cleanup_free_ char *text = NULL;
    ok(nft_render(&p, &text, NULL) == 0, "render");
    _cleanup_close_ int ns = new_netns();
    struct cell_err err = { 0 };
    ok(ns >= 0 && text && nft_apply_in_netns(ns, text, &err) == 0, "ruleset: %s", err.msg);
    if (ns >= 0)
        redirect_in_netns(ns);
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
}

TEST(second_socket_on_a_bound_group_fails)
{
    if (geteuid() != 0)
        skip_test("needs root");
    _cleanup_close_ int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    _cleanup_close_ int ns = new_netns();
    ok(ns >= 0, "netns");
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
        return;
    struct cell_err err = { 0 };
    _cleanup_close_ int a = nflog_open(GROUP, &err);
    ok(a >= 0, "first: %s", err.msg);
    _cleanup_close_ int b = nflog_open(GROUP, &err);
    ok(b < 0 && strstr(err.msg, "log group 9") != NULL, "second refused: %s", err.msg);
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
}

/* ---- the supervisor's side: cell_flowlog on a loop ------------------------ */

struct memory_sink {
    struct event_sink base;
    json_t *events;            /* array of the events' data */
};

static int memory_write(struct event_sink *self, const char *line, size_t len,
                        struct cell_err *err)
{
    struct memory_sink *m = (struct memory_sink *)self;
    json_t *ev = json_loadb(line, len, 0, NULL);
    if (ev && strstr(json_string_value(json_object_get(ev, "type")), "network_flow_decision"))
        json_array_append(m->events, json_object_get(ev, "data"));
    json_decref(ev);
    return 0;
}

static void memory_free(struct event_sink *self)
{
    struct memory_sink *m = (struct memory_sink *)self;
    json_decref(m->events);
    free(m);
}

static void quit_loop(struct loop *loop, void *userdata) { loop_quit(loop, 0); }

static int int_of(json_t *o, const char *key) { return (int)json_integer_value(json_object_get(o, key)); }
static const char *str_of(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* What the supervisor does, step by step, with the netprep helper replaced
 * by a setns() of this process. */
static void flowlog_in_netns(int ns, struct memory_sink *sink)
{
    struct sup_config cfg = { .per_flow_realtime = true };
    struct cell_flowlog fl;
    cell_flowlog_plan(&fl, &cfg, true);
    is_int(cell_flowlog_group(&fl), CELL_FLOWLOG_GROUP, "group for the firewall");
    static const struct nft_egress egress[] = {
        { "127.0.0.1", PORT_TCP_OK, NFT_L4_TCP, "allowed:47101/tcp" } };
    const struct nft_policy p = { .cell_id = "flowlog-test", .egress = egress, .n_egress = 1,
                                  .nflog_group = cell_flowlog_group(&fl) };
    _cleanup_free_ char *text = NULL;
    struct cell_err err = { 0 };
    ok(nft_render(&p, &text, NULL) == 0 && nft_apply_in_netns(ns, text, &err) == 0,
       "ruleset: %s", err.msg);
    if (setns(ns, CLONE_NEWNET) < 0) {
        sink->base.free(&sink->base);
        return;
    }

    struct netprep_opener op = cell_flowlog_opener(&fl);
    struct netprep_opened o = { 0 };
    o.r = op.open(op.ctx, o.fds, NETPREP_MAX_FDS, &err);
    o.n_fds = o.r > 0 ? (size_t)o.r : 0;
    is_int(o.r, 1, "opener: %s", err.msg);
    is_int(cell_flowlog_adopt(&fl, &o), 0, "adopt");
    ok(o.fds[0] == -1 && fl.fd >= 0, "the socket changed hands");

    struct loop *loop = NULL;
    struct event_bus bus;
    event_bus_init(&bus);
    event_ctx_init(&bus.ctx, "flowlog-test", NULL);
    event_bus_add_sink(&bus, &sink->base);
    ok(loop_new(&loop) == 0, "loop");
    is_int(cell_flowlog_start(&fl, loop, &bus, &err), 0, "start: %s", err.msg);

    _cleanup_close_ int tcp_ok = bound(SOCK_STREAM, PORT_TCP_OK);
    ok(tcp_ok >= 0, "listener");
    uint16_t sport_ok = 0, sport_no = 0, sport;
    is_int(tcp_connect(AF_INET, "127.0.0.1", PORT_TCP_OK, &sport_ok), 0, "allowed connect");
    for (int i = 0; i < 200; i++)
        tcp_connect(AF_INET, "127.0.0.1", PORT_TCP_NO, i ? &sport : &sport_no);
    loop_add_timer(loop, 200, quit_loop, NULL);
    loop_run(loop);                    /* served as it happens */
    size_t during = json_array_size(sink->events);
    udp_send("127.0.0.1", PORT_UDP_NO, 1);
    cell_flowlog_drain(&fl);           /* what is left at teardown */

    json_t *summary = json_object();
    cell_flowlog_counts(&fl, summary);
    json_t *c = json_object_get(summary, "flowLog");
    is_int(int_of(c, "flows"), 3, "three flows");
    is_int(int_of(c, "duplicates"), 199, "the retries");
    is_int(int_of(c, "unreported") + int_of(c, "malformed") + int_of(c, "lost"), 0, "clean");
    is_int(int_of(c, "group"), CELL_FLOWLOG_GROUP, "group");
    json_decref(summary);
    cell_flowlog_clear(&fl);
    ok(fl.fd == -1 && fl.seen == NULL, "cleared");
    cell_flowlog_clear(&fl);
    loop_free(loop);
    json_t *events = json_incref(sink->events);   /* outlive the bus and its sinks */
    event_bus_close(&bus);

    is_int(during, 2, "two flows reported while the loop ran");
    is_int(json_array_size(events), 3, "one event per flow");
    size_t i;
    json_t *d;
    json_array_foreach(events, i, d) {
        is_str(str_of(d, "source"), "nflog", "source");
        is_str(str_of(d, "srcAddr"), "127.0.0.1", "srcAddr");
        is_str(str_of(d, "dstAddr"), "127.0.0.1", "dstAddr");
        is_int(int_of(d, "packets"), 1, "packets");
        ok(int_of(d, "bytes") >= 28, "bytes");
    }
    json_t *a = json_array_get(events, 0), *r = json_array_get(events, 1),
           *u = json_array_get(events, 2);
    is_str(str_of(a, "verdict"), "accept", "accept first");
    is_str(str_of(a, "rule"), "egress[0] allowed:47101/tcp", "rule");
    is_str(str_of(a, "protocol"), "tcp", "protocol");
    is_int(int_of(a, "srcPort"), sport_ok, "srcPort");
    is_int(int_of(a, "dstPort"), PORT_TCP_OK, "dstPort");
    is_str(str_of(r, "verdict"), "reject", "then the reject");
    is_str(str_of(r, "rule"), "reject tcp", "rule");
    is_int(int_of(r, "srcPort"), sport_no, "the first retry's port");
    is_int(int_of(r, "dstPort"), PORT_TCP_NO, "dstPort");
    is_str(str_of(u, "protocol"), "udp", "udp drained at teardown");
    is_str(str_of(u, "rule"), "reject other", "rule");
    is_int(int_of(u, "dstPort"), PORT_UDP_NO, "dstPort");
    json_decref(events);
}

TEST(cell_flowlog_reports_each_flow_once)
{
    if (geteuid() != 0)
        skip_test("needs root");
    _cleanup_close_ int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    _cleanup_close_ int ns = new_netns();
    ok(ns >= 0 && home >= 0, "netns");
    if (ns < 0 || home < 0)
        return;
    struct memory_sink *sink = xcalloc(1, sizeof(*sink));
    sink->base = (struct event_sink){ .name = "memory", .write = memory_write,
                                      .free = memory_free };
    sink->events = json_array();
    flowlog_in_netns(ns, sink);
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
}

TEST(cell_flowlog_off_or_failed)
{
    struct sup_config cfg = { .per_flow_realtime = true };
    struct cell_flowlog fl;
    cell_flowlog_plan(&fl, &cfg, false);
    is_int(cell_flowlog_group(&fl), 0, "no private netns: no log group");
    cfg.per_flow_realtime = false;
    cell_flowlog_plan(&fl, &cfg, true);
    is_int(cell_flowlog_group(&fl), 0, "not asked for");
    json_t *summary = json_object();
    cell_flowlog_counts(&fl, summary);
    is_int(json_object_size(summary), 0, "nothing in the summary");

    cfg.per_flow_realtime = true;
    cell_flowlog_plan(&fl, &cfg, true);
    struct netprep_opened o = { .r = -EPROTONOSUPPORT, .msg = "nflog: netlink socket: nope" };
    is_int(cell_flowlog_adopt(&fl, &o), -EPROTONOSUPPORT, "the opener's error");
    ok(!fl.enabled, "off");
    struct cell_err err = { 0 };
    is_int(cell_flowlog_start(&fl, NULL, NULL, &err), 0, "start is a no-op");
    cell_flowlog_drain(&fl);
    cell_flowlog_counts(&fl, summary);
    is_str(json_string_value(json_object_get(json_object_get(summary, "flowLog"), "error")),
           "nflog: netlink socket: nope", "the summary says why");
    json_decref(summary);
    cell_flowlog_clear(&fl);
}
