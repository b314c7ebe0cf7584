/* test_l7proxy.c: the SNI / HTTP egress proxy for real, as root.
 *
 * The test process first moves into a network namespace of its own (the
 * "supervisor's"), with 198.18.0.0/24 and 2001:db8::7 on its loopback where
 * echo servers listen on 80, 443 and 5432. A cell netns is then prepared by
 * netprep exactly as the supervisor does it: loopback, a default route
 * through it, the real rendered ruleset (redirect of 80/443/5432 to the
 * proxy's port) and the proxy's listening sockets made inside. A client
 * thread setns()es into the cell and connects to 198.18.0.x as a workload
 * would; the proxy runs on a loop in the main thread, recovers the original
 * destination through conntrack, decides, and dials the echo servers from
 * the test's own netns. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "base/timeutil.h"
#include "dns/answers.h"
#include "l7/proxy.h"
#include "loop/loop.h"
#include "net/netprep.h"
#include "net/nft.h"
#include "policy/hostmatch.h"
#include "tap.h"

#define PROXY_PORT 15001
#define SERVER "198.18.0.10"        /* resolved for api.example.com */
#define SERVER_NOT_RESOLVED "198.18.0.11"
#define DB "198.18.0.20"            /* egress rule DB:5432 */
#define DB_OTHER "198.18.0.21"
#define DEAD "198.18.0.30"          /* resolved for dead.example.com; nothing listens */
#define SERVER6 "2001:db8::7"

/* ---- fixture ----------------------------------------------------------------- */

static const char *skip_reason;
static bool ready;
static int cell_netns = -1;
static int listen_fds[2];
static size_t n_listen;
static struct hostmatch *allow;
static struct dns_resolved *resolved;
static struct l7_egress egress[1];

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if (n >= 5 && memcmp(buf, "RESET", 5) == 0) {
            struct linger lg = { 1, 0 };   /* a reset, with no FIN before it */
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(fd);
            return NULL;
        }
        if (n >= 3 && memcmp(buf, "BIG", 3) == 0) {   /* 8 MiB, then close at once */
            memset(buf, 'b', sizeof(buf));
            for (int i = 0; i < 128; i++)
                if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) != (ssize_t)sizeof(buf))
                    break;
            break;
        }
        if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    }
    shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static void *echo_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static struct sockaddr_storage sa(const char *ip, uint16_t port, socklen_t *len)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof(*in4);
    } else {
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
    }
    return ss;
}

static bool start_echo(const char *ip, uint16_t port)
{
    socklen_t len;
    struct sockaddr_storage ss = sa(ip, port, &len);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0)
        return false;
    pthread_t t;
    pthread_create(&t, NULL, echo_server, (void *)(intptr_t)fd);
    pthread_detach(t);
    return true;
}

static int proxy_listener(int family)
{
    socklen_t len;
    struct sockaddr_storage ss = sa(family == AF_INET ? "127.0.0.1" : "::1", PROXY_PORT, &len);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0)
        return -errno;
    return fd;
}

static int open_listeners(void *ctx, int *fds, size_t max, struct cell_err *err)
{
    (void)ctx;
    (void)max;
    fds[0] = proxy_listener(AF_INET);
    fds[1] = proxy_listener(AF_INET6);
    if (fds[0] < 0 || fds[1] < 0)
        return cell_err_set(err, EADDRINUSE, "test", "cannot listen in the cell");
    return 2;
}

static bool prepare_cell(void)
{
    static const uint16_t plain[] = { 5432 };
    struct nft_egress rule = { .addr = DB, .port = 5432, .proto = NFT_L4_TCP, .label = "db" };
    struct nft_policy pol = { .cell_id = "l7test", .egress = &rule, .n_egress = 1,
                              .l7_redirect_port = PROXY_PORT, .l7_ports = plain, .n_l7_ports = 1 };
    char *ruleset = NULL;
    struct cell_err err = { 0 };
    if (nft_render(&pol, &ruleset, &err) < 0)
        return false;
    struct netprep_opener op = { "L7 proxy", open_listeners, NULL };
    struct netprep_request req = { .ruleset = ruleset, .default_route = true, .openers = &op,
                                   .n_openers = 1 };
    struct netprep np;
    struct netprep_opened out[1];
    bool good = netprep_start(&req, &np, &err) == 0 && netprep_finish(&np, out, &err) == 0 &&
                out[0].r == 2;
    if (good) {
        cell_netns = np.netns_fd;
        np.netns_fd = -1;
        listen_fds[0] = out[0].fds[0];
        listen_fds[1] = out[0].fds[1];
        n_listen = 2;
    } else {
        printf("# cell: %s %s\n", err.msg, out[0].msg);
    }
    netprep_clear(&np);
    free(ruleset);
    return good;
}

static void add_resolved(const char *name, const char *ip)
{
    struct dns_addr a = { 0 };
    a.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    inet_pton(a.family, ip, a.addr);
    dns_resolved_add(resolved, name, &a);
}

static bool setup(void)
{
    if (ready || skip_reason)
        return ready;
    if (geteuid() != 0) {
        skip_reason = "needs root";
        return false;
    }
    signal(SIGPIPE, SIG_IGN);
    if (unshare(CLONE_NEWNET) < 0 ||
        system("ip link set lo up && ip addr add 198.18.0.1/24 dev lo && "
               "ip -6 addr add " SERVER6 "/128 dev lo") != 0) {
        skip_reason = "cannot make the test's own netns (unshare, ip)";
        return false;
    }
    if (!start_echo(SERVER, 443) || !start_echo(SERVER, 80) || !start_echo(SERVER6, 443) ||
        !start_echo(SERVER_NOT_RESOLVED, 443) || !start_echo(DB, 5432) ||
        !start_echo(DB_OTHER, 5432) || !prepare_cell()) {
        skip_reason = "cannot set up servers or the cell";
        return false;
    }
    const char *patterns[] = { "api.example.com", "*.ok.example", "dead.example.com" };
    allow = hostmatch_new(patterns, 3, NULL);
    resolved = dns_resolved_new(0);
    add_resolved("api.example.com", SERVER);
    add_resolved("api.example.com", SERVER6);
    add_resolved("dead.example.com", DEAD);
    egress[0] = (struct l7_egress){ .family = AF_INET, .prefix_len = 32, .port = 5432,
                                    .label = "egress[0] db:5432/tcp" };
    inet_pton(AF_INET, DB, egress[0].addr);
    ready = true;
    return true;
}

#define SETUP()                                                                \
    do {                                                                       \
        if (!setup())                                                          \
            skip_test(skip_reason);                                            \
    } while (0)

/* ---- reports ----------------------------------------------------------------- */

struct report {
    char host[256], protocol[16], decision[8], reason[48], destination[64], detail[96];
    char verdict[8], rule[64];
    bool flow;
};
static struct report reports[64];
static size_t n_reports;

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static void on_decision(void *ctx, const struct l7_decision_report *r)
{
    (void)ctx;
    if (n_reports == ARRAY_SIZE(reports))
        return;
    struct report *x = &reports[n_reports++];
    memset(x, 0, sizeof(*x));
    copy(x->host, sizeof(x->host), r->host);
    copy(x->protocol, sizeof(x->protocol), r->protocol);
    copy(x->decision, sizeof(x->decision), r->decision);
    copy(x->reason, sizeof(x->reason), r->reason_code);
    copy(x->destination, sizeof(x->destination), r->destination);
    copy(x->detail, sizeof(x->detail), r->detail);
}

static void on_flow(void *ctx, const struct l7_flow_report *r)
{
    (void)ctx;
    if (n_reports == ARRAY_SIZE(reports))
        return;
    struct report *x = &reports[n_reports++];
    memset(x, 0, sizeof(*x));
    x->flow = true;
    copy(x->verdict, sizeof(x->verdict), r->verdict);
    copy(x->rule, sizeof(x->rule), r->rule);
    snprintf(x->destination, sizeof(x->destination), "%s:%u", r->dst_addr, r->dst_port);
    copy(x->detail, sizeof(x->detail), r->detail);
}

/* ---- running a client against the proxy -------------------------------------- */

struct client {
    void (*fn)(struct client *);
    int done_fd;
    /* results */
    char got[65536];
    ssize_t got_len;
    int err;              /* errno of the last failed call, 0 */
    bool eof;
    uint64_t ms;
    uint64_t bulk_bytes;
    bool bulk_ok;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    if (setns(cell_netns, CLONE_NEWNET) == 0)
        c->fn(c);
    else
        c->err = errno;
    uint64_t one = 1;
    (void)!write(c->done_fd, &one, sizeof(one));
    return NULL;
}

static void on_client_done(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    (void)fd;
    (void)events;
    (void)userdata;
    loop_quit(loop, 0);
}

static void on_test_timeout(struct loop *loop, void *userdata)
{
    (void)userdata;
    loop_quit(loop, -ETIMEDOUT);
}

/* Run fn in the cell against a proxy made from cfg (listeners, allowlist,
 * table, egress and report callbacks filled in here); the loop keeps
 * serving for linger_ms after the client is done. Returns the proxy's
 * counters. */
static struct l7_proxy_counters run_client(struct l7_proxy_config cfg, struct client *c,
                                           uint64_t linger_ms)
{
    struct loop *loop = NULL;
    struct l7_proxy *p = NULL;
    struct cell_err err = { 0 };
    struct l7_proxy_counters counters = { 0 };
    n_reports = 0;
    loop_new(&loop);
    cfg.listen_fds = listen_fds;
    cfg.n_listen_fds = n_listen;
    cfg.allowlist = allow;
    cfg.resolved = resolved;
    if (!cfg.egress) {
        cfg.egress = egress;
        cfg.n_egress = 1;
        static const uint16_t plain[] = { 5432 };
        cfg.plain_ports = plain;
        cfg.n_plain_ports = 1;
    }
    cfg.on_decision = on_decision;
    cfg.on_flow = on_flow;
    is_int(l7_proxy_new(loop, &cfg, &p, &err), 0, "%s", err.msg);
    c->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    loop_add_fd(loop, c->done_fd, EPOLLIN, on_client_done, NULL);
    struct loop_timer *t = loop_add_timer(loop, 20000, on_test_timeout, NULL);
    pthread_t th;
    pthread_create(&th, NULL, client_main, c);
    is_int(loop_run(loop), 0, "the client finished in time");
    pthread_join(th, NULL);
    loop_cancel_timer(loop, t);
    loop_del_fd(loop, c->done_fd);
    close(c->done_fd);
    if (linger_ms) {
        loop_add_timer(loop, linger_ms, on_test_timeout, NULL);
        loop_run(loop);
    }
    l7_proxy_get_counters(p, &counters);
    l7_proxy_free(p);
    loop_free(loop);
    return counters;
}

/* ---- client helpers (run inside the cell) ------------------------------------ */

static int dial(const char *ip, uint16_t port)
{
    socklen_t len;
    struct sockaddr_storage ss = sa(ip, port, &len);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

/* Read until EOF, an error or the buffer is full. */
static void read_to_eof(struct client *c, int fd)
{
    c->got_len = 0;
    for (;;) {
        ssize_t n = recv(fd, c->got + c->got_len, sizeof(c->got) - 1 - (size_t)c->got_len, 0);
        if (n < 0) {
            c->err = errno;
            break;
        }
        if (n == 0) {
            c->eof = true;
            break;
        }
        c->got_len += n;
        if ((size_t)c->got_len == sizeof(c->got) - 1)
            break;
    }
    c->got[c->got_len] = '\0';
}

/* A minimal TLS 1.2-style ClientHello record with one server_name. */
static size_t client_hello(const char *sni, uint8_t *out)
{
    size_t nl = strlen(sni), n = 0;
    uint8_t ext[512];
    size_t e = 0;
    ext[e++] = 0; ext[e++] = 0;                                   /* server_name */
    ext[e++] = 0; ext[e++] = (uint8_t)(nl + 5);
    ext[e++] = 0; ext[e++] = (uint8_t)(nl + 3);
    ext[e++] = 0;                                                 /* host_name */
    ext[e++] = 0; ext[e++] = (uint8_t)nl;
    memcpy(ext + e, sni, nl);
    e += nl;
    uint8_t body[1024];
    size_t b = 0;
    body[b++] = 3; body[b++] = 3;                                 /* TLS 1.2 */
    memset(body + b, 0x42, 32);
    b += 32;
    body[b++] = 0;                                                /* session id */
    body[b++] = 0; body[b++] = 2; body[b++] = 0x13; body[b++] = 0x01;
    body[b++] = 1; body[b++] = 0;                                 /* compression */
    body[b++] = (uint8_t)(e >> 8); body[b++] = (uint8_t)e;
    memcpy(body + b, ext, e);
    b += e;
    out[n++] = 0x16; out[n++] = 3; out[n++] = 1;
    out[n++] = (uint8_t)((b + 4) >> 8); out[n++] = (uint8_t)(b + 4);
    out[n++] = 1; out[n++] = 0;
    out[n++] = (uint8_t)(b >> 8); out[n++] = (uint8_t)b;
    memcpy(out + n, body, b);
    return n + b;
}

static const char *c_ip;
static uint16_t c_port;
static const void *c_send;
static size_t c_send_len;

/* Send c_send, half-close, read everything back. */
static void send_then_read(struct client *c)
{
    int fd = dial(c_ip, c_port);
    if (fd < 0) {
        c->err = -fd;
        return;
    }
    if (send(fd, c_send, c_send_len, MSG_NOSIGNAL) < 0)
        c->err = errno;
    shutdown(fd, SHUT_WR);
    read_to_eof(c, fd);
    close(fd);
}

static struct l7_proxy_counters exchange(const char *ip, uint16_t port, const void *data,
                                         size_t len, struct client *c)
{
    c_ip = ip;
    c_port = port;
    c_send = data;
    c_send_len = len;
    c->fn = send_then_read;
    return run_client((struct l7_proxy_config){ 0 }, c, 50);
}

/* ---- tests ------------------------------------------------------------------- */

TEST(tls_allowed_name_to_its_address_is_relayed_both_ways)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    struct client c = { 0 };
    struct l7_proxy_counters k = exchange(SERVER, 443, hello, n, &c);
    is_int(c.got_len, (ssize_t)n, "the hello came back through the echo server");
    ok(memcmp(c.got, hello, n) == 0, "byte for byte (peeked bytes replayed)");
    ok(c.eof, "the half-close went through and came back");
    is_int(n_reports, 1, "one decision");
    is_str(reports[0].decision, "allow", "allowed");
    is_str(reports[0].reason, "l7_sni_allowlist_match", "reason");
    is_str(reports[0].host, "api.example.com", "host");
    is_str(reports[0].protocol, "tls", "protocol");
    is_str(reports[0].destination, SERVER ":443", "original destination from conntrack");
    is_int(k.bytes_up, n, "counted up");
    is_int(k.bytes_down, n, "counted down");
}

TEST(tls_name_not_on_the_allowlist_is_closed)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("evil.example.com", hello);
    struct client c = { 0 };
    exchange(SERVER, 443, hello, n, &c);
    is_int(c.got_len, 0, "nothing comes back");
    is_int(n_reports, 1, "one decision");
    is_str(reports[0].decision, "deny", "denied");
    is_str(reports[0].reason, "l7_sni_allowlist_miss", "reason");
    is_str(reports[0].host, "evil.example.com", "host");
}

TEST(allowed_sni_to_an_address_never_resolved_for_it_is_refused)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    struct client c = { 0 };
    exchange(SERVER_NOT_RESOLVED, 443, hello, n, &c);
    is_int(c.got_len, 0, "the echo server there never answers");
    is_int(n_reports, 1, "one decision");
    is_str(reports[0].decision, "deny", "denied");
    is_str(reports[0].reason, "l7_sni_allowlist_miss", "reason");
    is_str(reports[0].detail, "destination not resolved for host", "why");
    is_str(reports[0].destination, SERVER_NOT_RESOLVED ":443", "destination");
}

TEST(ipv6_original_destination)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    struct client c = { 0 };
    exchange(SERVER6, 443, hello, n, &c);
    is_int(c.got_len, (ssize_t)n, "relayed over IPv6");
    is_str(reports[0].destination, "[" SERVER6 "]:443", "IP6T_SO_ORIGINAL_DST");
    is_str(reports[0].reason, "l7_sni_allowlist_match", "allowed");
}

TEST(http_allowed_host_is_relayed)
{
    SETUP();
    const char *req = "GET / HTTP/1.1\r\nHost: API.example.com.\r\nUser-Agent: t\r\n\r\n";
    struct client c = { 0 };
    exchange(SERVER, 80, req, strlen(req), &c);
    is_str(c.got, req, "the request came back");
    is_str(reports[0].reason, "l7_http_host_allowlist_match", "reason");
    is_str(reports[0].host, "api.example.com", "normalised host");
    is_str(reports[0].protocol, "http", "protocol");
}

TEST(http_denied_host_gets_403_with_a_reason)
{
    SETUP();
    const char *req = "GET / HTTP/1.1\r\nHost: evil.example.com\r\n\r\nbody";
    struct client c = { 0 };
    exchange(SERVER, 80, req, strlen(req), &c);
    ok(strncmp(c.got, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "403: %s", c.got);
    ok(strstr(c.got, "l7_http_host_allowlist_miss") != NULL, "the reason is in the body");
    ok(c.eof, "then closed cleanly");
    is_str(reports[0].reason, "l7_http_host_allowlist_miss", "reason");
}

TEST(http_without_host_is_403_host_missing)
{
    SETUP();
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    struct client c = { 0 };
    exchange(SERVER, 80, req, strlen(req), &c);
    ok(strncmp(c.got, "HTTP/1.1 403", 12) == 0, "403");
    is_str(reports[0].reason, "l7_http_host_missing", "reason");
    is_str(reports[0].host, "(null)", "no host");
}

TEST(unknown_protocol_is_closed)
{
    SETUP();
    struct client c = { 0 };
    exchange(SERVER, 443, "\x00\x01garbage", 9, &c);
    is_int(c.got_len, 0, "nothing back");
    is_str(reports[0].reason, "l7_unknown_protocol", "reason");
    is_str(reports[0].protocol, "unknown", "protocol");
}

static void silent(struct client *c)
{
    int fd = dial(SERVER, 443);
    uint64_t t = now_mono_ms();
    read_to_eof(c, fd);
    c->ms = now_mono_ms() - t;
    close(fd);
}

TEST(silence_is_a_peek_timeout)
{
    SETUP();
    struct client c = { .fn = silent };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ .peek_timeout_ms = 300 },
                                            &c, 0);
    ok(c.eof && c.ms >= 250 && c.ms < 3000, "closed after the peek timeout (%llu ms)",
       (unsigned long long)c.ms);
    is_str(reports[0].reason, "l7_peek_timeout", "reason");
    is_int(k.peek_timeouts, 1, "counted");
}

TEST(a_hello_larger_than_the_peek_buffer_is_refused)
{
    SETUP();
    uint8_t big[1024] = { 0x16, 3, 1, 0x3f, 0xff, 1, 0, 0x3f, 0xfb };
    memset(big + 9, 0x41, sizeof(big) - 9);
    c_ip = SERVER;
    c_port = 443;
    c_send = big;
    c_send_len = sizeof(big);
    struct client c = { .fn = send_then_read };
    run_client((struct l7_proxy_config){ .peek_max = 256 }, &c, 50);
    is_str(reports[0].reason, "l7_sni_missing", "reason");
    is_str(reports[0].detail, "peek buffer full", "why");
}

TEST(plain_port_relayed_when_an_egress_rule_admits_it)
{
    SETUP();
    struct client c = { 0 };
    struct l7_proxy_counters k = exchange(DB, 5432, "hello db", 8, &c);
    is_str(c.got, "hello db", "relayed without inspection");
    ok(reports[0].flow, "a flow report");
    is_str(reports[0].verdict, "accept", "accepted");
    is_str(reports[0].rule, "egress[0] db:5432/tcp", "the rule");
    is_str(reports[0].destination, DB ":5432", "destination");
    is_int(k.plain_accepted, 1, "counted");
}

TEST(plain_port_to_another_address_is_reset)
{
    SETUP();
    struct client c = { 0 };
    exchange(DB_OTHER, 5432, "hello", 5, &c);
    is_int(c.got_len, 0, "nothing");
    is_int(c.err, ECONNRESET, "reset");
    is_str(reports[0].verdict, "reject", "rejected");
    is_str(reports[0].rule, "no egress rule", "no rule");
}

TEST(upstream_refusing_is_l7_upstream_failed_and_a_reset)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("dead.example.com", hello);
    struct client c = { 0 };
    struct l7_proxy_counters k = exchange(DEAD, 443, hello, n, &c);
    is_int(c.err, ECONNRESET, "the client sees a reset");
    is_str(reports[0].reason, "l7_upstream_failed", "reason");
    is_str(reports[0].decision, "allow", "the policy allowed it");
    is_int(k.upstream_failures, 1, "counted");
}

/* The echo server resets a connection whose first bytes are RESET: send the
 * head, wait for its echo, then RESET as a segment of its own. */
static void reset_by_upstream(struct client *cl)
{
    const char *req = "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
    int fd = dial(SERVER, 80);
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = 0, want = (ssize_t)strlen(req);
    while (n < want) {
        ssize_t r = recv(fd, buf + n, sizeof(buf) - (size_t)n, 0);
        if (r <= 0)
            break;
        n += r;
    }
    send(fd, "RESET", 5, MSG_NOSIGNAL);
    read_to_eof(cl, fd);
    close(fd);
}

TEST(upstream_reset_reaches_the_client_as_a_reset)
{
    SETUP();
    struct client c = { .fn = reset_by_upstream };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ 0 }, &c, 50);
    is_int(c.err, ECONNRESET, "reset propagated");
    is_int(k.resets, 1, "counted");
}

static void hold_five(struct client *c)
{
    int fds[5];
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    for (int i = 0; i < 5; i++)
        fds[i] = dial(SERVER, 443);
    /* The first four are being peeked; the fifth is over the limit. */
    read_to_eof(c, fds[4]);
    for (int i = 0; i < 4; i++) {
        send(fds[i], hello, n, MSG_NOSIGNAL);
        close(fds[i]);
    }
    close(fds[4]);
}

TEST(connection_limit_refuses_cleanly_with_a_report)
{
    SETUP();
    struct client c = { .fn = hold_five };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ .max_conns = 4 }, &c, 100);
    is_int(c.err, ECONNRESET, "the fifth is reset");
    is_int(k.limit_refusals, 1, "one refusal");
    bool seen = false;
    for (size_t i = 0; i < n_reports; i++)
        seen |= strcmp(reports[i].detail, "connection limit reached") == 0 &&
                strcmp(reports[i].decision, "deny") == 0;
    ok(seen, "reported");
}

static void idle(struct client *c)
{
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    int fd = dial(SERVER, 443);
    send(fd, hello, n, MSG_NOSIGNAL);
    uint64_t t = now_mono_ms();
    read_to_eof(c, fd);   /* the echo, then EOF at the idle timeout */
    c->ms = now_mono_ms() - t;
    close(fd);
}

TEST(idle_flow_is_closed_after_the_idle_timeout)
{
    SETUP();
    struct client c = { .fn = idle };
    struct l7_proxy_counters k = run_client((struct l7_proxy_config){ .idle_timeout_ms = 300 },
                                            &c, 0);
    ok(c.eof && c.ms >= 250 && c.ms < 3000, "closed at the idle timeout (%llu ms)",
       (unsigned long long)c.ms);
    is_int(k.idle_closed, 1, "counted");
}

struct bulk {
    int fd;
    size_t total;
};

static uint8_t pattern_at(uint64_t off) { return (uint8_t)(off * 7 + 3); }

static void *bulk_writer(void *arg)
{
    struct bulk *b = arg;
    static uint8_t chunk[65536];
    size_t sent = 0;
    while (sent < b->total) {
        for (size_t i = 0; i < sizeof(chunk); i++)
            chunk[i] = pattern_at(sent + i);
        size_t off = 0;
        while (off < sizeof(chunk)) {
            ssize_t n = send(b->fd, chunk + off, sizeof(chunk) - off, MSG_NOSIGNAL);
            if (n <= 0)
                goto out;
            off += (size_t)n;
        }
        sent += sizeof(chunk);
    }
out:
    shutdown(b->fd, SHUT_WR);
    return NULL;
}

static void bulk(struct client *c)
{
    const char *head = "POST / HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
    int fd = dial(SERVER, 80);
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    char back[128];
    size_t got = 0, hl = strlen(head);
    while (got < hl) {
        ssize_t r = recv(fd, back + got, hl - got, 0);
        if (r <= 0)
            return;
        got += (size_t)r;
    }
    struct bulk b = { fd, 16u << 20 };
    pthread_t w;
    pthread_create(&w, NULL, bulk_writer, &b);
    uint8_t buf[65536];
    uint64_t off = 0;
    bool good = true;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && good; i++)
            good = buf[i] == pattern_at(off + (uint64_t)i);
        off += (uint64_t)r;
    }
    pthread_join(w, NULL);
    c->bulk_bytes = off;
    c->bulk_ok = good;
    close(fd);
}

TEST(bulk_both_ways_byte_exact)
{
    SETUP();
    struct client c = { .fn = bulk };
    run_client((struct l7_proxy_config){ 0 }, &c, 50);
    is_int(c.bulk_bytes, 16u << 20, "16 MiB echoed");
    ok(c.bulk_ok, "byte-exact");
}

/* The upstream writes 8 MiB and hangs up while the client is not reading:
 * the proxy holds bytes in its pipe with the upstream gone, and must still
 * deliver every byte, then the EOF. */
static void slow_reader(struct client *c)
{
    int fd = dial(DB, 5432);
    send(fd, "BIG", 3, MSG_NOSIGNAL);
    struct timespec ts = { 0, 300 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            c->eof = n == 0;
            c->err = n < 0 ? errno : 0;
            break;
        }
        c->bulk_bytes += (uint64_t)n;
    }
    close(fd);
}

TEST(upstream_hangs_up_with_bytes_in_flight)
{
    SETUP();
    struct client c = { .fn = slow_reader };
    run_client((struct l7_proxy_config){ 0 }, &c, 0);
    is_int(c.bulk_bytes, 8u << 20, "every byte");
    ok(c.eof, "then EOF (err %d)", c.err);
}

/* Out of descriptors at accept: the listeners pause instead of spinning on
 * the queued connection, and serve it once descriptors are back. The
 * clients are a forked process (its own descriptor table and limit). */
static struct rlimit saved_nofile;
static struct l7_proxy *paused_proxy;
static struct l7_proxy_counters while_tight;

static void restore_nofile(struct loop *loop, void *userdata)
{
    (void)loop;
    (void)userdata;
    l7_proxy_get_counters(paused_proxy, &while_tight);
    setrlimit(RLIMIT_NOFILE, &saved_nofile);
}

/* The lowest free descriptor: with the limit there, no new one can be made. */
static int lowest_free_fd(void)
{
    int fd = dup(0);
    close(fd);
    return fd;
}

TEST(out_of_descriptors_pauses_accepting_without_spinning)
{
    SETUP();
    uint8_t hello[600];
    size_t n = client_hello("api.example.com", hello);
    int sync_pipe[2];
    ok(pipe(sync_pipe) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(sync_pipe[0]);
        if (setns(cell_netns, CLONE_NEWNET) < 0)
            _exit(2);
        int got = 0;
        int fds[3];
        for (int i = 0; i < 3; i++) {
            fds[i] = dial(SERVER, 443);
            send(fds[i], hello, n, MSG_NOSIGNAL);
        }
        (void)!write(sync_pipe[1], "x", 1);
        for (int i = 0; i < 3; i++) {
            char buf[1024];
            ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_WAITALL);
            got += r == (ssize_t)n && memcmp(buf, hello, n) == 0;
        }
        _exit(got == 3 ? 0 : 1);
    }
    close(sync_pipe[1]);
    struct loop *loop = NULL;
    struct l7_proxy *p = NULL;
    struct cell_err err = { 0 };
    loop_new(&loop);
    struct l7_proxy_config cfg = { .listen_fds = listen_fds, .n_listen_fds = n_listen,
                                   .allowlist = allow, .resolved = resolved };
    is_int(l7_proxy_new(loop, &cfg, &p, &err), 0, "%s", err.msg);
    char x;
    ok(read(sync_pipe[0], &x, 1) == 1, "the clients are connected and waiting");
    close(sync_pipe[0]);
    paused_proxy = p;
    getrlimit(RLIMIT_NOFILE, &saved_nofile);
    struct rlimit tight = saved_nofile;
    tight.rlim_cur = (rlim_t)lowest_free_fd();   /* no room for one more */
    setrlimit(RLIMIT_NOFILE, &tight);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    loop_add_timer(loop, 400, restore_nofile, NULL);
    loop_add_timer(loop, 2000, on_test_timeout, NULL);
    loop_run(loop);
    getrusage(RUSAGE_SELF, &after);
    int status = -1;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "all three served once descriptors were back");
    double cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
                 (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6 +
                 (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                 (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
    ok(cpu < 0.5, "no spinning while paused: %.3f s of CPU in 2 s", cpu);
    struct l7_proxy_counters k;
    l7_proxy_get_counters(p, &k);
    is_int(while_tight.connections, 0, "nothing accepted while out of descriptors");
    is_int(k.allowed, 3, "then decided as usual");
    l7_proxy_free(p);
    loop_free(loop);
}

TAP_MAIN
