/* proxy.c: the SNI / HTTP Host egress proxy on the supervisor's loop (see
 * proxy.h and docs/l7-proxy.md): accept, original destination, peek,
 * decide, connect upstream, replay, then hand the flow to relay.c. */
#include "l7/proxy-internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "dns/answers.h"
#include "policy/hostmatch.h"

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>,
 * which do not mix well with the libc headers: the address a connection
 * had before a nat redirect, from conntrack. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#define ACCEPT_BATCH 32
#define PEEK_FIRST_CAP 4096
#define ACCEPT_PAUSE_MS 100     /* out of descriptors: let some close first */

/* ---- addresses ------------------------------------------------------------- */

static const uint8_t *addr_bytes(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr;
    return (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
}

static uint16_t addr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
}

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void addr_ip_text(const struct sockaddr_storage *ss, char out[INET6_ADDRSTRLEN])
{
    if (!inet_ntop(ss->ss_family, addr_bytes(ss), out, INET6_ADDRSTRLEN))
        snprintf(out, INET6_ADDRSTRLEN, "?");
}

void l7_addr_text(const struct sockaddr_storage *ss, char out[L7_ADDR_TEXT_MAX])
{
    char ip[INET6_ADDRSTRLEN];
    addr_ip_text(ss, ip);
    snprintf(out, L7_ADDR_TEXT_MAX, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
             (unsigned)addr_port(ss));
}

/* Where the client meant to go, before the redirect. */
static int original_dst(int fd, int family, struct sockaddr_storage *out)
{
    socklen_t len = sizeof(*out);
    int r = family == AF_INET6 ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, &len)
                               : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &len);
    if (r < 0)
        return -errno;
    return out->ss_family == AF_INET || out->ss_family == AF_INET6 ? 0 : -EAFNOSUPPORT;
}

/* ---- policy ---------------------------------------------------------------- */

static bool prefix_match(const struct l7_egress *e, int family, const uint8_t *addr)
{
    if (e->family != family)
        return false;
    unsigned bits = e->prefix_len, full = bits / 8, rest = bits % 8;
    if (full > (family == AF_INET ? 4u : 16u))
        return false;
    if (memcmp(e->addr, addr, full) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xFF00u >> rest);
    return rest == 0 || ((e->addr[full] ^ addr[full]) & mask) == 0;
}

/* The egress entry that admits (address, port): its address or prefix, or
 * an address the DNS proxy returned for its hostname. */
static const struct l7_egress *egress_admitting(const struct l7_proxy *p,
                                                const struct sockaddr_storage *dst)
{
    uint16_t port = addr_port(dst);
    const uint8_t *a = addr_bytes(dst);
    for (size_t i = 0; i < p->n_egress; i++) {
        const struct l7_egress *e = &p->egress[i];
        if (e->port != port)
            continue;
        if (e->family && prefix_match(e, dst->ss_family, a))
            return e;
        if (e->name && dns_resolved_has(p->resolved, e->name, dst->ss_family, a))
            return e;
    }
    return NULL;
}

static bool name_admitted(const struct l7_proxy *p, const char *host, uint16_t port)
{
    if (p->allow && hostmatch_allows(p->allow, host, strlen(host)))
        return true;
    for (size_t i = 0; i < p->n_egress; i++)
        if (p->egress[i].name && p->egress[i].port == port && strcmp(p->egress[i].name, host) == 0)
            return true;
    return false;
}

static bool destination_admitted(const struct l7_proxy *p, const char *host,
                                 const struct sockaddr_storage *dst)
{
    return dns_resolved_has(p->resolved, host, dst->ss_family, addr_bytes(dst)) ||
           egress_admitting(p, dst) != NULL;
}

/* ---- reports --------------------------------------------------------------- */

static void report_decision(struct l7_conn *c, const char *decision, const char *reason,
                            const char *detail)
{
    struct l7_proxy *p = c->p;
    if (strcmp(decision, "allow") == 0)
        p->c.allowed++;
    else
        p->c.denied++;
    if (!p->on_decision)
        return;
    struct l7_decision_report r = {
        .host = c->host[0] ? c->host : NULL, .protocol = l7_proto_name(c->proto),
        .decision = decision, .reason_code = reason, .destination = c->dst_text,
        .detail = detail,
    };
    p->on_decision(p->report_ctx, &r);
}

static void report_flow(struct l7_conn *c, const char *verdict, const char *detail)
{
    struct l7_proxy *p = c->p;
    if (strcmp(verdict, "accept") == 0)
        p->c.plain_accepted++;
    else
        p->c.plain_rejected++;
    if (!p->on_flow)
        return;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    addr_ip_text(&c->src, src);
    addr_ip_text(&c->dst, dst);
    struct l7_flow_report r = {
        .verdict = verdict, .rule = c->rule ? c->rule : "no egress rule",
        .src_addr = src, .dst_addr = dst, .src_port = addr_port(&c->src),
        .dst_port = addr_port(&c->dst), .detail = detail,
    };
    p->on_flow(p->report_ctx, &r);
}

/* ---- connections ----------------------------------------------------------- */

static void on_conn_fd(struct loop *loop, int fd, uint32_t events, void *userdata);

static void watch(struct l7_conn *c, int fd, bool *reg, uint32_t *cur, uint32_t want)
{
    struct loop *loop = c->p->loop;
    if (fd < 0)
        return;
    if (want == L7_UNWATCHED) {
        if (*reg)
            (void)loop_del_fd(loop, fd);
        *reg = false;
    } else if (!*reg) {
        *reg = loop_add_fd(loop, fd, want, on_conn_fd, c) == 0;
        *cur = want;
    } else if (*cur != want && loop_mod_fd(loop, fd, want) == 0) {
        *cur = want;
    }
}

void l7_conn_set_masks(struct l7_conn *c, uint32_t cmask, uint32_t umask)
{
    watch(c, c->cfd, &c->creg, &c->cmask, cmask);
    watch(c, c->ufd, &c->ureg, &c->umask, umask);
}

void l7_conn_arm_timer(struct l7_conn *c, uint64_t delay_ms, loop_timer_cb cb)
{
    if (c->timer)
        loop_cancel_timer(c->p->loop, c->timer);
    c->timer = loop_add_timer(c->p->loop, delay_ms, cb, c);
}

static void close_fd(int fd, bool reset)
{
    if (fd < 0)
        return;
    if (reset) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
}

void l7_conn_close(struct l7_conn *c, bool reset_client, bool reset_upstream)
{
    struct l7_proxy *p = c->p;
    l7_conn_set_masks(c, L7_UNWATCHED, L7_UNWATCHED);
    if (c->timer)
        loop_cancel_timer(p->loop, c->timer);
    close_fd(c->cfd, reset_client);
    close_fd(c->ufd, reset_upstream);
    l7_dir_release(p, &c->up);
    l7_dir_release(p, &c->down);
    free(c->peek);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->n_conns--;
    free(c);
}

/* ---- refusals -------------------------------------------------------------- */

static void on_refusal_over(struct loop *loop, void *userdata)
{
    struct l7_conn *c = userdata;
    (void)loop;
    c->timer = NULL;
    l7_conn_close(c, false, false);
}

/* Read and drop what a refused client still sends, until its EOF: closing
 * with unread bytes would reset the connection and could lose our answer. */
static void on_refusing(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_conn *c = userdata;
    uint8_t sink[4096];
    (void)loop;
    (void)fd;
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->cfd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(events & EPOLLHUP))
            return;
        if (n <= 0) {
            l7_conn_close(c, false, false);
            return;
        }
    }
}

/* An HTTP client gets a status and one line saying why; then we wait for
 * its EOF (bounded). */
static void refuse_http(struct l7_conn *c, int status, const char *line)
{
    char body[512], msg[1024];
    int bl = snprintf(body, sizeof(body), "cellos: %s\n", line);
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, status == 403 ? "Forbidden" : "Bad Gateway", bl, body);
    /* A fresh connection's send buffer holds this at once. */
    (void)send(c->cfd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)shutdown(c->cfd, SHUT_WR);
    c->st = L7_REFUSING;
    l7_conn_set_masks(c, EPOLLIN, L7_UNWATCHED);
    l7_conn_arm_timer(c, L7_PROXY_REFUSE_LINGER_MS, on_refusal_over);
}

static void deny(struct l7_conn *c, const char *reason, const char *detail)
{
    report_decision(c, "deny", reason, detail);
    if (c->proto != L7_PROTO_HTTP) {
        l7_conn_close(c, false, false);
        return;
    }
    char line[L7_HOST_MAX + 128];
    snprintf(line, sizeof(line), "egress to %s denied (%s%s%s)", c->host[0] ? c->host : c->dst_text,
             reason, detail ? ": " : "", detail ? detail : "");
    refuse_http(c, 403, line);
}

static void upstream_failed(struct l7_conn *c, const char *detail)
{
    c->p->c.upstream_failures++;
    if (c->plain) {
        report_flow(c, "reject", detail);
        l7_conn_close(c, true, false);
        return;
    }
    report_decision(c, "allow", "l7_upstream_failed", detail);
    if (c->proto != L7_PROTO_HTTP) {
        l7_conn_close(c, true, false);
        return;
    }
    char line[L7_HOST_MAX + 128];
    snprintf(line, sizeof(line), "%s (%s): %s", c->host, c->dst_text, detail);
    refuse_http(c, 502, line);
}

/* ---- upstream -------------------------------------------------------------- */

static void on_replay(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_conn *c = userdata;
    (void)loop;
    (void)fd;
    (void)events;
    while (c->replay_off < c->peek_len) {
        ssize_t n = send(c->ufd, c->peek + c->replay_off, c->peek_len - c->replay_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            l7_conn_set_masks(c, L7_UNWATCHED, EPOLLOUT);
            return;
        }
        if (n < 0) {
            c->p->c.resets++;
            l7_conn_close(c, true, false);
            return;
        }
        c->replay_off += (size_t)n;
    }
    free(c->peek);
    c->peek = NULL;
    c->peek_len = c->peek_cap = 0;
    c->up.bytes += c->replay_off;
    l7_relay_start(c);
}

static void on_connected(struct l7_conn *c)
{
    if (c->plain)
        report_flow(c, "accept", NULL);
    else
        report_decision(c, "allow", c->allow_reason, NULL);
    c->st = L7_REPLAY;
    on_replay(c->p->loop, c->ufd, 0, c);
}

static void on_connect_timeout(struct loop *loop, void *userdata)
{
    struct l7_conn *c = userdata;
    (void)loop;
    c->timer = NULL;
    upstream_failed(c, "connect timed out");
}

static void connect_failed(struct l7_conn *c, int err)
{
    char detail[96];
    snprintf(detail, sizeof(detail), "connect: %s", strerror(err));
    upstream_failed(c, detail);
}

static void on_connecting(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_conn *c = userdata;
    int e = 0;
    socklen_t l = sizeof(e);
    (void)loop;
    (void)fd;
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        return;
    /* Writable without error or hang-up: connected (no SO_ERROR to read). */
    if ((events & (EPOLLERR | EPOLLHUP)) && getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
        e = errno;
    if ((events & (EPOLLERR | EPOLLHUP)) && e == 0)
        e = ECONNREFUSED;
    if (e != 0) {
        connect_failed(c, e);
        return;
    }
    on_connected(c);
}

/* From the supervisor's own netns: sockets keep the netns they are made in. */
static void start_upstream(struct l7_conn *c)
{
    l7_conn_set_masks(c, L7_UNWATCHED, L7_UNWATCHED);
    int fd = socket(c->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        connect_failed(c, errno);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->ufd = fd;
    if (connect(fd, (const struct sockaddr *)&c->dst, addr_len(&c->dst)) == 0) {
        on_connected(c);
        return;
    }
    if (errno != EINPROGRESS) {
        connect_failed(c, errno);
        return;
    }
    c->st = L7_CONNECTING;
    l7_conn_set_masks(c, L7_UNWATCHED, EPOLLOUT);
    l7_conn_arm_timer(c, c->p->connect_timeout_ms, on_connect_timeout);
}

/* ---- peeking and deciding -------------------------------------------------- */

static const char *missing_reason(enum l7_proto proto)
{
    static const char *const reasons[] = {
        [L7_PROTO_UNKNOWN] = "l7_unknown_protocol",
        [L7_PROTO_TLS] = "l7_sni_missing",
        [L7_PROTO_HTTP] = "l7_http_host_missing",
    };
    return reasons[proto];
}

/* 1: a host was read; 0: more bytes needed; -1: denied with *reason. */
static int examine_peek(struct l7_conn *c, const char **reason)
{
    c->proto = l7_sniff(c->peek, c->peek_len);
    if (c->proto == L7_PROTO_TLS) {
        struct tls_hello_info ti;
        enum tls_peek_result r = tls_hello_peek(c->peek, c->peek_len, &ti);
        if (r == TLS_PEEK_NEED_MORE)
            return 0;
        if (r == TLS_PEEK_SNI_FOUND) {
            memcpy(c->host, ti.host, sizeof(c->host));
            return 1;
        }
        *reason = tls_peek_deny_reason(r);
        return -1;
    }
    if (c->proto == L7_PROTO_HTTP) {
        struct http_peek_limits lim = { .max_head = c->p->peek_max };
        struct http_host_info hi;
        enum http_peek_result r = http_host_peek((const char *)c->peek, c->peek_len, &lim, &hi);
        if (r == HTTP_PEEK_NEED_MORE)
            return 0;
        if (r == HTTP_PEEK_HOST_FOUND) {
            memcpy(c->host, hi.host, sizeof(c->host));
            return 1;
        }
        *reason = http_peek_deny_reason(r);
        return -1;
    }
    *reason = "l7_unknown_protocol";
    return -1;
}

static void decide(struct l7_conn *c)
{
    bool tls = c->proto == L7_PROTO_TLS;
    const char *miss = tls ? "l7_sni_allowlist_miss" : "l7_http_host_allowlist_miss";

    if (!name_admitted(c->p, c->host, addr_port(&c->dst))) {
        deny(c, miss, "host not on the allowlist");
        return;
    }
    if (!destination_admitted(c->p, c->host, &c->dst)) {
        deny(c, miss, "destination not resolved for host");
        return;
    }
    c->allow_reason = tls ? "l7_sni_allowlist_match" : "l7_http_host_allowlist_match";
    start_upstream(c);
}

static void on_peek_timeout(struct loop *loop, void *userdata)
{
    struct l7_conn *c = userdata;
    (void)loop;
    c->timer = NULL;
    c->p->c.peek_timeouts++;
    c->proto = l7_sniff(c->peek, c->peek_len);
    deny(c, "l7_peek_timeout", c->peek_len ? "no complete request in time" : "nothing sent");
}

static bool grow_peek(struct l7_conn *c)
{
    if (c->peek_cap >= c->p->peek_max)
        return false;
    size_t cap = c->peek_cap ? 2 * c->peek_cap : PEEK_FIRST_CAP;
    if (cap > c->p->peek_max)
        cap = c->p->peek_max;
    c->peek = xrealloc(c->peek, cap);
    c->peek_cap = cap;
    return true;
}

static void on_peek(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_conn *c = userdata;
    (void)loop;
    (void)fd;
    (void)events;
    if (c->peek_len == c->peek_cap && !grow_peek(c))
        return;
    ssize_t n = recv(c->cfd, c->peek + c->peek_len, c->peek_cap - c->peek_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        c->proto = l7_sniff(c->peek, c->peek_len);
        deny(c, missing_reason(c->proto),
             n == 0 ? "client closed before a decision" : "client reset before a decision");
        return;
    }
    c->peek_len += (size_t)n;
    const char *reason = NULL;
    int v = examine_peek(c, &reason);
    if (v == 0 && c->peek_len >= c->p->peek_max) {
        deny(c, missing_reason(c->proto), "peek buffer full");
        return;
    }
    if (v < 0)
        deny(c, reason, NULL);
    else if (v > 0)
        decide(c);
}

/* ---- accepting ------------------------------------------------------------- */

static void start_plain(struct l7_conn *c)
{
    const struct l7_egress *e = egress_admitting(c->p, &c->dst);
    if (!e) {
        report_flow(c, "reject", "destination not allowed by egressRules");
        l7_conn_close(c, true, false);
        return;
    }
    c->rule = e->label;
    start_upstream(c);
}

static void accept_one(struct l7_proxy *p, int fd, const struct sockaddr_storage *src)
{
    struct l7_conn *c = xcalloc(1, sizeof(*c));
    c->p = p;
    c->cfd = fd;
    c->ufd = -1;
    c->src = *src;
    l7_dir_init(&c->up);
    l7_dir_init(&c->down);
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->n_conns++;
    p->c.connections++;

    /* TCP_NODELAY comes from the listener (accepted sockets inherit it). */
    int r = original_dst(fd, src->ss_family, &c->dst);
    if (r < 0) {
        socklen_t l = sizeof(c->dst);
        (void)getsockname(fd, (struct sockaddr *)&c->dst, &l);
    }
    l7_addr_text(&c->dst, c->dst_text);
    if (r < 0) {
        report_decision(c, "deny", "l7_upstream_failed", "no original destination");
        l7_conn_close(c, true, false);
    } else if (p->n_conns > p->max_conns) {
        p->c.limit_refusals++;
        report_decision(c, "deny", "l7_upstream_failed", "connection limit reached");
        l7_conn_close(c, true, false);
    } else if (p->plain[addr_port(&c->dst) / 8] & (1u << (addr_port(&c->dst) % 8))) {
        c->plain = true;
        start_plain(c);
    } else {
        c->st = L7_PEEK;
        l7_conn_set_masks(c, EPOLLIN, L7_UNWATCHED);
        l7_conn_arm_timer(c, p->peek_timeout_ms, on_peek_timeout);
    }
}

static void set_listen_events(struct l7_proxy *p, uint32_t events)
{
    for (size_t i = 0; i < p->n_listen; i++)
        (void)loop_mod_fd(p->loop, p->listen_fds[i], events);
    p->listen_paused = events == 0;
}

static void on_resume(struct loop *loop, void *userdata)
{
    struct l7_proxy *p = userdata;
    (void)loop;
    p->resume_timer = NULL;
    set_listen_events(p, EPOLLIN);
}

static void on_listener(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_proxy *p = userdata;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage src = { 0 };
        socklen_t len = sizeof(src);
        int cfd = accept4(fd, (struct sockaddr *)&src, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
            accept_one(p, cfd, &src);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The pending connection stays queued: stop asking until some
             * descriptors are free, or a level-triggered loop would spin. */
            set_listen_events(p, 0);
            if (!p->resume_timer)
                p->resume_timer = loop_add_timer(loop, ACCEPT_PAUSE_MS, on_resume, p);
        }
        if (errno != ECONNABORTED && errno != EINTR)
            return;
    }
}

/* ---- dispatch -------------------------------------------------------------- */

static const loop_fd_cb state_handlers[] = {
    [L7_PEEK] = on_peek,
    [L7_CONNECTING] = on_connecting,
    [L7_REPLAY] = on_replay,
    [L7_RELAY] = l7_relay_on_fd,
    [L7_REFUSING] = on_refusing,
};

static void on_conn_fd(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_conn *c = userdata;
    state_handlers[c->st](loop, fd, events, c);
}

/* ---- the proxy ------------------------------------------------------------- */

static unsigned or_default(unsigned v, unsigned def) { return v ? v : def; }

static void copy_config(struct l7_proxy *p, const struct l7_proxy_config *cfg)
{
    p->allow = cfg->allowlist;
    p->resolved = cfg->resolved;
    p->egress = cfg->egress;
    p->n_egress = cfg->n_egress;
    for (size_t i = 0; i < cfg->n_plain_ports; i++)
        p->plain[cfg->plain_ports[i] / 8] |= (uint8_t)(1u << (cfg->plain_ports[i] % 8));
    p->on_decision = cfg->on_decision;
    p->on_flow = cfg->on_flow;
    p->report_ctx = cfg->report_ctx;
    p->max_conns = or_default(cfg->max_conns, L7_PROXY_DEFAULT_MAX_CONNS);
    p->peek_max = or_default(cfg->peek_max, L7_PROXY_DEFAULT_PEEK_MAX);
    p->peek_timeout_ms = or_default(cfg->peek_timeout_ms, L7_PROXY_DEFAULT_PEEK_TIMEOUT_MS);
    p->connect_timeout_ms = or_default(cfg->connect_timeout_ms,
                                       L7_PROXY_DEFAULT_CONNECT_TIMEOUT_MS);
    p->idle_timeout_ms = or_default(cfg->idle_timeout_ms, L7_PROXY_DEFAULT_IDLE_TIMEOUT_MS);
}

int l7_proxy_new(struct loop *loop, const struct l7_proxy_config *cfg, struct l7_proxy **out,
                 struct cell_err *err)
{
    if (cfg->n_listen_fds == 0 || !cfg->listen_fds)
        return cell_err_set(err, EINVAL, "invalid_spec", "l7 proxy: no listening socket");
    if (cfg->peek_max && cfg->peek_max < 64)
        return cell_err_set(err, EINVAL, "invalid_spec", "l7 proxy: peek_max %u below 64",
                            cfg->peek_max);
    struct l7_proxy *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    copy_config(p, cfg);
    p->listen_fds = xcalloc(cfg->n_listen_fds, sizeof(int));
    for (size_t i = 0; i < cfg->n_listen_fds; i++) {
        int r = loop_add_fd(loop, cfg->listen_fds[i], EPOLLIN, on_listener, p);
        if (r < 0) {
            l7_proxy_free(p);
            return cell_err_set(err, -r, "invalid_spec", "l7 proxy: cannot watch a listener");
        }
        p->listen_fds[p->n_listen++] = cfg->listen_fds[i];
    }
    *out = p;
    return 0;
}

void l7_proxy_free(struct l7_proxy *p)
{
    if (!p)
        return;
    while (p->conns)
        l7_conn_close(p->conns, false, false);
    if (p->resume_timer)
        loop_cancel_timer(p->loop, p->resume_timer);
    for (size_t i = 0; i < p->n_listen; i++)
        (void)loop_del_fd(p->loop, p->listen_fds[i]);
    l7_pool_clear(p);
    free(p->listen_fds);
    free(p);
}

/* Relayed bytes of flows still open count too (a summary at teardown is
 * taken before they are closed). */
void l7_proxy_get_counters(const struct l7_proxy *p, struct l7_proxy_counters *out)
{
    *out = p->c;
    for (const struct l7_conn *c = p->conns; c; c = c->next) {
        out->bytes_up += c->up.bytes;
        out->bytes_down += c->down.bytes;
    }
}

size_t l7_proxy_active(const struct l7_proxy *p)
{
    return p->n_conns;
}
