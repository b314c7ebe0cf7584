/* fixture.c: see fixture.h. */

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
#include "fixture.h"

/* ---- fixture ----------------------------------------------------------------- */

const char *skip_reason;
static bool ready;
int cell_netns = -1;
int listen_fds[2];
size_t n_listen;
struct hostmatch *allow;
struct dns_resolved *resolved;
struct l7_egress egress[1];

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

struct sockaddr_storage sa(const char *ip, uint16_t port, socklen_t *len)
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

bool setup(void)
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


/* ---- reports ----------------------------------------------------------------- */

struct report reports[64];
size_t n_reports;

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

void on_test_timeout(struct loop *loop, void *userdata)
{
    (void)userdata;
    loop_quit(loop, -ETIMEDOUT);
}

/* Run fn in the cell against a proxy made from cfg (listeners, allowlist,
 * table, egress and report callbacks filled in here); the loop keeps
 * serving for linger_ms after the client is done. Returns the proxy's
 * counters. */
struct l7_proxy_counters run_client(struct l7_proxy_config cfg, struct client *c,
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

int dial(const char *ip, uint16_t port)
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
void read_to_eof(struct client *c, int fd)
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
size_t client_hello(const char *sni, uint8_t *out)
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

const char *c_ip;
uint16_t c_port;
const void *c_send;
size_t c_send_len;

/* Send c_send, half-close, read everything back. */
void send_then_read(struct client *c)
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

struct l7_proxy_counters exchange(const char *ip, uint16_t port, const void *data,
                                         size_t len, struct client *c)
{
    c_ip = ip;
    c_port = port;
    c_send = data;
    c_send_len = len;
    c->fn = send_then_read;
    return run_client((struct l7_proxy_config){ 0 }, c, 50);
}

