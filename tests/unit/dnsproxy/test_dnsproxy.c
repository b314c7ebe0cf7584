/* test_dnsproxy.c: the DNS proxy on a real loop in this process, with
 * sockets on 127.0.0.1 (ephemeral ports) and an upstream stub that is just
 * another fd on the same loop: allow / deny / type / wildcard / AAAA, UDP and
 * TCP clients, TC relayed, timeout, upstream refused, malformed, NAME_UNSAFE,
 * a do53-tcp resolver, and every report's fields. */
#include "tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/timeutil.h"
#include "dns/proxy.h"
#include "dns/wire.h"
#include "loop/loop.h"
#include "policy/hostmatch.h"

#define T_A 1
#define T_TXT 16
#define T_AAAA 28
#define T_HTTPS 65

/* ---- packets ---- */

struct pkt {
    uint8_t b[4096];
    size_t n;
};

static void p8(struct pkt *p, uint8_t v) { p->b[p->n++] = v; }
static void p16(struct pkt *p, uint16_t v) { p8(p, (uint8_t)(v >> 8)); p8(p, (uint8_t)v); }

static void pname(struct pkt *p, const char *dotted)
{
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        p8(p, (uint8_t)n);
        memcpy(p->b + p->n, dotted, n);
        p->n += n;
        dotted += n + (dot ? 1 : 0);
    }
    p8(p, 0);
}

static struct pkt query(uint16_t id, const char *name, uint16_t qtype)
{
    struct pkt p = { .n = 0 };
    p16(&p, id);
    p16(&p, 0x0100);    /* RD */
    p16(&p, 1);
    p16(&p, 0);
    p16(&p, 0);
    p16(&p, 0);
    pname(&p, name);
    p16(&p, qtype);
    p16(&p, 1);
    return p;
}

/* ---- reports ---- */

struct rep {
    char name[256], type[16], decision[8], reason[32], resolver[32], transport[8];
    bool has_name;
    int rcode;
};

static struct rep reps[64];
static int n_reps;

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "(null)");
}

static void on_query(void *ctx, const struct dns_query_report *r)
{
    (void)ctx;
    if (n_reps >= (int)ARRAY_SIZE(reps))
        return;
    struct rep *o = &reps[n_reps++];
    o->has_name = r->query_name != NULL;
    copy_str(o->name, sizeof(o->name), r->query_name);
    copy_str(o->type, sizeof(o->type), r->query_type);
    copy_str(o->decision, sizeof(o->decision), r->decision);
    copy_str(o->reason, sizeof(o->reason), r->reason_code);
    copy_str(o->resolver, sizeof(o->resolver), r->upstream_resolver_id);
    copy_str(o->transport, sizeof(o->transport), r->transport);
    o->rcode = r->response_rcode;
}

#define check_rep(i, nm, ty, dec, why, rc, tr)                                 \
    do {                                                                       \
        ok(n_reps > (i), "report %d exists", (i));                             \
        if (n_reps > (i)) {                                                    \
            is_str(reps[i].name, nm, "queryName");                             \
            is_str(reps[i].type, ty, "queryType");                             \
            is_str(reps[i].decision, dec, "decision");                         \
            is_str(reps[i].reason, why, "reasonCode");                         \
            is_str(reps[i].resolver, "resolver-test-001", "upstreamResolverId"); \
            is_int(reps[i].rcode, rc, "responseRcode");                        \
            is_str(reps[i].transport, tr, "transport");                        \
        }                                                                      \
    } while (0)

/* ---- the upstream stub ---- */

enum stub_mode { STUB_ANSWER, STUB_TC, STUB_SILENT, STUB_WRONG_THEN_RIGHT };

struct stub {
    int fd;                 /* UDP, or the TCP listener */
    int conn;               /* TCP: the accepted connection */
    enum stub_mode mode;
    int seen;
    struct pkt last_answer;
};

static struct pkt stub_answer_for(const uint8_t *q, size_t n, enum stub_mode mode)
{
    struct pkt a = { .n = 0 };
    memcpy(a.b, q, n);
    a.n = n;
    uint16_t qtype = (uint16_t)(q[n - 4] << 8 | q[n - 3]);
    a.b[2] |= 0x80;                     /* QR */
    a.b[3] |= 0x80;                     /* RA */
    if (mode == STUB_TC) {
        a.b[2] |= 0x02;
        return a;
    }
    a.b[7] = 1;                         /* ANCOUNT */
    p16(&a, 0xC00C);
    p16(&a, qtype);
    p16(&a, 1);
    p16(&a, 0);
    p16(&a, 300);
    if (qtype == T_AAAA) {
        p16(&a, 16);
        static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
        memcpy(a.b + a.n, v6, 16);
        a.n += 16;
    } else {
        p16(&a, 4);
        p8(&a, 192); p8(&a, 0); p8(&a, 2); p8(&a, 1);
    }
    return a;
}

static void on_stub_udp(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct stub *s = ud;
    uint8_t b[4096];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    (void)loop; (void)events;
    ssize_t n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
    if (n < DNS_HEADER_LEN)
        return;
    s->seen++;
    if (s->mode == STUB_SILENT)
        return;
    if (s->mode == STUB_WRONG_THEN_RIGHT) {
        struct pkt wrong = stub_answer_for(b, (size_t)n, STUB_ANSWER);
        wrong.b[0] ^= 0x55;             /* another id: must be ignored */
        sendto(fd, wrong.b, wrong.n, 0, (struct sockaddr *)&from, fl);
    }
    s->last_answer = stub_answer_for(b, (size_t)n, s->mode == STUB_TC ? STUB_TC : STUB_ANSWER);
    sendto(fd, s->last_answer.b, s->last_answer.n, 0, (struct sockaddr *)&from, fl);
}

static void on_stub_tcp_conn(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct stub *s = ud;
    uint8_t b[4096];
    (void)events;
    ssize_t n = recv(fd, b, sizeof(b), 0);
    if (n <= 0) {
        loop_del_fd(loop, fd);
        close(fd);
        s->conn = -1;
        return;
    }
    if (n < 2 + DNS_HEADER_LEN)
        return;
    s->seen++;
    s->last_answer = stub_answer_for(b + 2, (size_t)n - 2, STUB_ANSWER);
    uint8_t framed[4200];
    int fl = dns_tcp_frame(s->last_answer.b, s->last_answer.n, framed, sizeof(framed));
    (void)!write(fd, framed, (size_t)fl);
}

static void on_stub_tcp_listen(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct stub *s = ud;
    (void)events;
    int c = accept(fd, NULL, NULL);
    if (c < 0)
        return;
    s->conn = c;
    loop_add_fd(loop, c, EPOLLIN, on_stub_tcp_conn, s);
}

/* ---- sockets ---- */

static int bound_socket(int type, uint16_t *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    if (type == SOCK_STREAM && listen(fd, 16) < 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct sockaddr_in loopback(uint16_t port)
{
    return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* ---- a proxy under test ---- */

struct env {
    struct loop *loop;
    struct hostmatch *hm;
    struct dns_proxy *proxy;
    struct stub stub;
    int udp, tcp;
    uint16_t udp_port, tcp_port;
};

enum upstream_kind { UP_UDP, UP_TCP, UP_CLOSED };
static unsigned env_max_inflight = 64;
static int (*env_upstream_socket)(void *ctx, int family, int type);

static int env_start(struct env *e, enum upstream_kind kind, enum stub_mode mode)
{
    static const char *const allow[] = { "api.example.com", "*.wild.example.com" };
    static const uint16_t types[] = { T_A, T_AAAA, 5, T_HTTPS };
    struct cell_err err = { 0 };
    uint16_t up_port = 0;

    memset(e, 0, sizeof(*e));
    n_reps = 0;
    e->stub.conn = -1;
    e->stub.mode = mode;
    if (loop_new(&e->loop) < 0)
        return -1;
    e->hm = hostmatch_new(allow, ARRAY_SIZE(allow), &err);
    e->udp = bound_socket(SOCK_DGRAM, &e->udp_port);
    e->tcp = bound_socket(SOCK_STREAM, &e->tcp_port);
    e->stub.fd = bound_socket(kind == UP_TCP ? SOCK_STREAM : SOCK_DGRAM, &up_port);
    if (!e->hm || e->udp < 0 || e->tcp < 0 || e->stub.fd < 0)
        return -1;
    if (kind == UP_CLOSED) {
        close(e->stub.fd);      /* nothing listens there any more */
        e->stub.fd = -1;
    } else {
        loop_add_fd(e->loop, e->stub.fd, EPOLLIN,
                    kind == UP_TCP ? on_stub_tcp_listen : on_stub_udp, &e->stub);
    }
    struct dns_proxy_resolver res = { .resolver_id = "resolver-test-001",
                                      .addr_len = sizeof(struct sockaddr_in),
                                      .tcp = kind == UP_TCP };
    struct sockaddr_in ua = loopback(up_port);
    memcpy(&res.addr, &ua, sizeof(ua));
    struct dns_proxy_config cfg = {
        .udp_fds = &e->udp, .n_udp_fds = 1, .tcp_fds = &e->tcp, .n_tcp_fds = 1,
        .resolvers = &res, .n_resolvers = 1, .allowlist = e->hm,
        .allowed_qtypes = types, .n_allowed_qtypes = ARRAY_SIZE(types),
        .on_query = on_query, .max_inflight = env_max_inflight,
        .upstream_socket = env_upstream_socket, .tcp_idle_ms = 1000,
    };
    return dns_proxy_new(e->loop, &cfg, &e->proxy, &err);
}

static void env_stop(struct env *e)
{
    dns_proxy_free(e->proxy);
    if (e->stub.conn >= 0)
        close(e->stub.conn);
    if (e->stub.fd >= 0)
        close(e->stub.fd);
    close(e->udp);
    close(e->tcp);
    hostmatch_free(e->hm);
    loop_free(e->loop);
}

/* ---- a client ---- */

struct client {
    int fd;
    uint8_t buf[8192];
    size_t n;
    size_t want_msgs;   /* TCP: quit after this many framed answers */
    bool tcp;
};

static size_t framed_count(const struct client *c)
{
    size_t off = 0, msgs = 0;
    while (off + 2 <= c->n) {
        size_t len = (size_t)c->buf[off] << 8 | c->buf[off + 1];
        if (off + 2 + len > c->n)
            break;
        off += 2 + len;
        msgs++;
    }
    return msgs;
}

static void on_client_read(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct client *c = ud;
    (void)events;
    ssize_t n = recv(fd, c->buf + c->n, sizeof(c->buf) - c->n, MSG_DONTWAIT);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            loop_quit(loop, -1);
        return;
    }
    c->n += (size_t)n;
    if (!c->tcp || framed_count(c) >= c->want_msgs)
        loop_quit(loop, 1);
}

static void on_give_up(struct loop *loop, void *ud)
{
    *(struct loop_timer **)ud = NULL;     /* fired: the handle is gone */
    loop_quit(loop, 0);
}

/* Run the loop until the client got its answer(s) or ms passed; returns
 * 1 (answered), 0 (timed out) or -1 (connection closed). */
static int run_client(struct env *e, struct client *c, uint64_t ms)
{
    loop_add_fd(e->loop, c->fd, EPOLLIN, on_client_read, c);
    struct loop_timer *t = NULL;
    t = loop_add_timer(e->loop, ms, on_give_up, &t);
    int r = loop_run(e->loop);
    loop_cancel_timer(e->loop, t);
    loop_del_fd(e->loop, c->fd);
    return r;
}

static int udp_client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(port);
    connect(fd, (struct sockaddr *)&a, sizeof(a));
    return fd;
}

/* Send one UDP query and wait for the answer; returns the reply length or 0. */
static size_t ask_udp(struct env *e, struct pkt *q, struct client *c, uint64_t ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = udp_client(e->udp_port);
    send(c->fd, q->b, q->n, 0);
    int r = run_client(e, c, ms);
    close(c->fd);
    return r == 1 ? c->n : 0;
}

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
#define RCODE(b) ((b)[3] & 0x0F)

/* ---- tests ---- */

TEST(allowed_a_relayed_byte_for_byte)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    struct pkt q = query(0x1234, "API.Example.com", T_A);
    size_t n = ask_udp(&e, &q, &c, 2000);
    ok(n == e.stub.last_answer.n, "the stub's answer, length %zu", n);
    is_int(rd16(c.buf), 0x1234, "the client's id restored");
    ok(n > 2 && memcmp(c.buf + 2, e.stub.last_answer.b + 2, n - 2) == 0,
       "the rest byte for byte");
    is_int(e.stub.seen, 1, "upstream asked once");
    check_rep(0, "api.example.com", "A", "allow", "allowed_by_allowlist", 0, "udp");
    struct dns_proxy_counters k;
    dns_proxy_get_counters(e.proxy, &k);
    is_int(k.queries, 1, "queries");
    is_int(k.allowed, 1, "allowed");
    is_int(dns_proxy_inflight(e.proxy), 0, "no slot left busy");
    env_stop(&e);
}

TEST(denied_name_refused_locally)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    struct pkt q = query(7, "evil.example.com", T_A);
    size_t n = ask_udp(&e, &q, &c, 2000);
    ok(n >= DNS_HEADER_LEN, "answered");
    is_int(rd16(c.buf), 7, "id");
    is_int(RCODE(c.buf), DNS_RCODE_REFUSED, "REFUSED");
    is_int(e.stub.seen, 0, "upstream never contacted");
    check_rep(0, "evil.example.com", "A", "deny", "denied_not_in_allowlist", 5, "udp");
    struct pkt q2 = query(8, "example.com", T_A);   /* the wildcard's base: not matched */
    n = ask_udp(&e, &q2, &c, 2000);
    is_int(RCODE(c.buf), DNS_RCODE_REFUSED, "wildcard base refused");
    struct dns_proxy_counters k;
    dns_proxy_get_counters(e.proxy, &k);
    is_int(k.denied, 2, "denied");
    env_stop(&e);
}

TEST(denied_type_refused)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    struct pkt q = query(9, "api.example.com", T_TXT);
    ask_udp(&e, &q, &c, 2000);
    is_int(RCODE(c.buf), DNS_RCODE_REFUSED, "REFUSED");
    is_int(e.stub.seen, 0, "upstream never contacted");
    check_rep(0, "api.example.com", "TXT", "deny", "denied_query_type", 5, "udp");
    struct pkt q2 = query(10, "api.example.com", 999);
    ask_udp(&e, &q2, &c, 2000);
    check_rep(1, "api.example.com", "TYPE999", "deny", "denied_query_type", 5, "udp");
    env_stop(&e);
}

TEST(wildcard_and_aaaa)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    struct pkt q = query(11, "a.b.wild.example.com.", T_AAAA);
    q = query(11, "a.b.wild.example.com", T_AAAA);
    size_t n = ask_udp(&e, &q, &c, 2000);
    ok(n == e.stub.last_answer.n && n > 16, "answer relayed");
    ok(memcmp(c.buf + n - 16, "\x20\x01\x0d\xb8", 4) == 0, "the AAAA record");
    check_rep(0, "a.b.wild.example.com", "AAAA", "allow", "allowed_by_allowlist", 0, "udp");
    env_stop(&e);
}

TEST(tc_bit_relayed)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_TC) == 0, "start");
    struct pkt q = query(12, "api.example.com", T_A);
    size_t n = ask_udp(&e, &q, &c, 2000);
    ok(n == e.stub.last_answer.n, "relayed");
    ok(c.buf[2] & 0x02, "TC set");
    ok(memcmp(c.buf + 2, e.stub.last_answer.b + 2, n - 2) == 0, "unchanged");
    env_stop(&e);
}

TEST(wrong_answer_ignored_until_the_right_one)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_WRONG_THEN_RIGHT) == 0, "start");
    struct pkt q = query(13, "api.example.com", T_A);
    size_t n = ask_udp(&e, &q, &c, 2000);
    ok(n == e.stub.last_answer.n, "the matching answer relayed");
    is_int(rd16(c.buf), 13, "id");
    is_int(n_reps, 1, "one report");
    env_stop(&e);
}

TEST(silent_upstream_servfail_after_2s)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_SILENT) == 0, "start");
    struct pkt q = query(14, "api.example.com", T_A);
    uint64_t t0 = now_mono_ms();
    size_t n = ask_udp(&e, &q, &c, 4000);
    uint64_t took = now_mono_ms() - t0;
    ok(n >= DNS_HEADER_LEN, "answered");
    is_int(RCODE(c.buf), DNS_RCODE_SERVFAIL, "SERVFAIL");
    is_int(rd16(c.buf), 14, "client id");
    ok(took >= 1800 && took <= 2600, "after %llu ms", (unsigned long long)took);
    check_rep(0, "api.example.com", "A", "allow", "upstream_timeout", 2, "udp");
    struct dns_proxy_counters k;
    dns_proxy_get_counters(e.proxy, &k);
    is_int(k.upstream_timeouts, 1, "counted");
    is_int(dns_proxy_inflight(e.proxy), 0, "slot freed");
    env_stop(&e);
}

TEST(upstream_refused_servfail)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_CLOSED, STUB_ANSWER) == 0, "start");
    struct pkt q = query(15, "api.example.com", T_A);
    uint64_t t0 = now_mono_ms();
    size_t n = ask_udp(&e, &q, &c, 3000);
    ok(n >= DNS_HEADER_LEN, "answered");
    is_int(RCODE(c.buf), DNS_RCODE_SERVFAIL, "SERVFAIL");
    ok(now_mono_ms() - t0 < 1000, "at once, not by timeout");
    check_rep(0, "api.example.com", "A", "allow", "upstream_failure", 2, "udp");
    struct dns_proxy_counters k;
    dns_proxy_get_counters(e.proxy, &k);
    is_int(k.upstream_failures, 1, "counted");
    env_stop(&e);
}

TEST(malformed_gets_no_answer_and_service_goes_on)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    struct pkt junk = { .b = { 1, 2, 3, 4, 5 }, .n = 5 };
    is_int(ask_udp(&e, &junk, &c, 300), 0, "no answer to junk");
    struct pkt resp = query(16, "api.example.com", T_A);
    resp.b[2] |= 0x80;      /* a response sent to the proxy: never answered */
    is_int(ask_udp(&e, &resp, &c, 300), 0, "no answer to a response");
    ok(n_reps == 2 && !reps[0].has_name, "reported without a name");
    is_str(reps[0].reason, "malformed_query", "reason");
    is_str(reps[0].decision, "deny", "decision");
    is_int(reps[0].rcode, -1, "no responseRcode");
    is_str(reps[1].reason, "malformed_query", "response reason");
    struct pkt q = query(17, "api.example.com", T_A);
    ok(ask_udp(&e, &q, &c, 2000) == e.stub.last_answer.n, "next query served");
    is_int(e.stub.seen, 1, "only the good one went upstream");
    struct dns_proxy_counters k;
    dns_proxy_get_counters(e.proxy, &k);
    is_int(k.malformed, 2, "malformed counted");
    env_stop(&e);
}

TEST(name_unsafe_refused)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    /* One label "x.api" inside "...example.com": would look allowed if the
     * escaped dot were taken for a separator. */
    struct pkt q = { .n = 0 };
    p16(&q, 18); p16(&q, 0x0100); p16(&q, 1); p16(&q, 0); p16(&q, 0); p16(&q, 0);
    p8(&q, 5); memcpy(q.b + q.n, "x.api", 5); q.n += 5;
    pname(&q, "wild.example.com");
    p16(&q, T_A); p16(&q, 1);
    ask_udp(&e, &q, &c, 2000);
    is_int(RCODE(c.buf), DNS_RCODE_REFUSED, "REFUSED");
    is_int(e.stub.seen, 0, "upstream never contacted");
    check_rep(0, "x\\046api.wild.example.com", "A", "deny", "denied_not_in_allowlist", 5,
              "udp");
    env_stop(&e);
}

static int tcp_client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    return fd;
}

static size_t frame_into(uint8_t *out, const struct pkt *q)
{
    return (size_t)dns_tcp_frame(q->b, q->n, out, q->n + 2);
}

TEST(tcp_several_queries_and_split_writes)
{
    struct env e;
    struct client c = { .tcp = true };
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    c.fd = tcp_client(e.tcp_port);
    ok(c.fd >= 0, "connected");
    struct pkt q1 = query(21, "api.example.com", T_A), q2 = query(22, "evil.example.com", T_A);
    uint8_t both[1024];
    size_t n = frame_into(both, &q1);
    n += frame_into(both + n, &q2);
    ok(write(c.fd, both, n) == (ssize_t)n, "two queries in one write");
    c.want_msgs = 2;
    is_int(run_client(&e, &c, 2000), 1, "two answers");
    /* Split a third query across writes, the cut inside the prefix. */
    struct pkt q3 = query(23, "x.wild.example.com", T_AAAA);
    n = frame_into(both, &q3);
    ok(write(c.fd, both, 1) == 1, "first byte");
    c.want_msgs = 3;
    is_int(run_client(&e, &c, 200), 0, "nothing yet");
    ok(write(c.fd, both + 1, 6) == 6, "some more");
    is_int(run_client(&e, &c, 200), 0, "still nothing");
    ok(write(c.fd, both + 7, n - 7) == (ssize_t)(n - 7), "the rest");
    is_int(run_client(&e, &c, 2000), 1, "third answer");
    is_int(framed_count(&c), 3, "three framed answers");
    /* Answers in order of completion: q2 (local) may come before q1. */
    int seen_ok = 0, seen_refused = 0, seen_aaaa = 0;
    for (size_t off = 0; off + 2 <= c.n;) {
        size_t len = rd16(c.buf + off);
        const uint8_t *m = c.buf + off + 2;
        uint16_t id = rd16(m);
        seen_ok += id == 21 && RCODE(m) == 0;
        seen_refused += id == 22 && RCODE(m) == DNS_RCODE_REFUSED;
        seen_aaaa += id == 23 && RCODE(m) == 0 && len == e.stub.last_answer.n;
        off += 2 + len;
    }
    ok(seen_ok == 1 && seen_refused == 1 && seen_aaaa == 1, "each answered once");
    is_int(n_reps, 3, "three reports");
    for (int i = 0; i < n_reps; i++)
        is_str(reps[i].transport, "tcp", "transport");
    is_int(dns_proxy_tcp_clients(e.proxy), 1, "client still connected");
    close(c.fd);
    env_stop(&e);
}

TEST(tcp_idle_client_closed)
{
    struct env e;
    struct client c = { .tcp = true, .want_msgs = 1 };
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    c.fd = tcp_client(e.tcp_port);
    uint64_t t0 = now_mono_ms();
    is_int(run_client(&e, &c, 3000), -1, "closed by the proxy");
    uint64_t took = now_mono_ms() - t0;
    ok(took >= 900 && took < 2000, "after the 1 s idle timeout (%llu ms)",
       (unsigned long long)took);
    is_int(dns_proxy_tcp_clients(e.proxy), 0, "no client left");
    close(c.fd);
    env_stop(&e);
}

TEST(tcp_bad_length_prefix_drops_the_stream)
{
    struct env e;
    struct client c = { .tcp = true, .want_msgs = 1 };
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    c.fd = tcp_client(e.tcp_port);
    ok(write(c.fd, "\x00\x03xyz", 5) == 5, "a 3-byte message");
    is_int(run_client(&e, &c, 2000), -1, "closed");
    check_rep(0, "(null)", "(null)", "deny", "malformed_query", -1, "tcp");
    close(c.fd);
    env_stop(&e);
}

TEST(tcp_resolver_upstream)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_TCP, STUB_ANSWER) == 0, "start");
    struct pkt q = query(31, "api.example.com", T_A);
    size_t n = ask_udp(&e, &q, &c, 2000);
    ok(n == e.stub.last_answer.n && n > 2, "relayed from a do53-tcp resolver");
    ok(memcmp(c.buf, e.stub.last_answer.b, n) == 0, "byte for byte (same id)");
    check_rep(0, "api.example.com", "A", "allow", "allowed_by_allowlist", 0, "udp");
    env_stop(&e);
}

TEST(tcp_resolver_refused)
{
    struct env e;
    struct client c;
    ok(env_start(&e, UP_TCP, STUB_ANSWER) == 0, "start");
    loop_del_fd(e.loop, e.stub.fd);
    close(e.stub.fd);           /* connect now gets ECONNREFUSED */
    e.stub.fd = -1;
    struct pkt q = query(32, "api.example.com", T_A);
    ask_udp(&e, &q, &c, 2000);
    is_int(RCODE(c.buf), DNS_RCODE_SERVFAIL, "SERVFAIL");
    check_rep(0, "api.example.com", "A", "allow", "upstream_failure", 2, "udp");
    env_stop(&e);
}

TEST(full_proxy_answers_servfail)
{
    struct env e;
    struct client c;
    env_max_inflight = 1;
    ok(env_start(&e, UP_UDP, STUB_SILENT) == 0, "start");
    env_max_inflight = 64;
    int first = udp_client(e.udp_port);
    struct pkt q1 = query(41, "api.example.com", T_A), q2 = query(42, "api.example.com", T_A);
    send(first, q1.b, q1.n, 0);
    size_t n = ask_udp(&e, &q2, &c, 1000);
    ok(n >= DNS_HEADER_LEN, "the second answered at once");
    is_int(rd16(c.buf), 42, "id");
    is_int(RCODE(c.buf), DNS_RCODE_SERVFAIL, "SERVFAIL");
    check_rep(0, "api.example.com", "A", "allow", "upstream_failure", 2, "udp");
    is_int(dns_proxy_inflight(e.proxy), 1, "the first still waits");
    close(first);
    env_stop(&e);       /* frees a busy slot without a report */
    is_int(n_reps, 1, "no report at free");
}

TEST(tcp_client_gone_before_its_answer)
{
    struct env e;
    struct client c = { .tcp = true, .want_msgs = 1 };
    ok(env_start(&e, UP_UDP, STUB_SILENT) == 0, "start");
    e.stub.mode = STUB_SILENT;
    c.fd = tcp_client(e.tcp_port);
    uint8_t f[600];
    struct pkt q = query(51, "api.example.com", T_A);
    size_t n = frame_into(f, &q);
    ok(write(c.fd, f, n) == (ssize_t)n, "query sent");
    is_int(run_client(&e, &c, 300), 0, "no answer yet");
    close(c.fd);
    c.fd = udp_client(e.udp_port);     /* something to wait on */
    /* EOF looks like a half-close: the connection waits for its answer. */
    is_int(run_client(&e, &c, 300), 0, "the proxy reads the EOF");
    is_int(dns_proxy_inflight(e.proxy), 1, "its query still waits");
    is_int(run_client(&e, &c, 2500), 0, "deadline passes");
    check_rep(0, "api.example.com", "A", "allow", "upstream_timeout", 2, "tcp");
    is_int(dns_proxy_inflight(e.proxy), 0, "slot freed");
    is_int(dns_proxy_tcp_clients(e.proxy), 0, "client closed once answered");
    close(c.fd);
    env_stop(&e);
}

TEST(tcp_client_reset_before_its_answer)
{
    struct env e;
    struct client c = { .tcp = true, .want_msgs = 1 };
    ok(env_start(&e, UP_UDP, STUB_SILENT) == 0, "start");
    c.fd = tcp_client(e.tcp_port);
    uint8_t f[600];
    struct pkt q = query(52, "api.example.com", T_A);
    size_t n = frame_into(f, &q);
    ok(write(c.fd, f, n) == (ssize_t)n, "query sent");
    is_int(run_client(&e, &c, 300), 0, "no answer yet");
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(c.fd);        /* RST: the proxy drops the connection at once */
    c.fd = udp_client(e.udp_port);
    is_int(run_client(&e, &c, 300), 0, "the proxy reads the reset");
    is_int(dns_proxy_tcp_clients(e.proxy), 0, "client dropped");
    is_int(dns_proxy_inflight(e.proxy), 1, "its query still waits");
    is_int(run_client(&e, &c, 2500), 0, "deadline passes");
    check_rep(0, "api.example.com", "A", "allow", "upstream_timeout", 2, "tcp");
    is_int(dns_proxy_inflight(e.proxy), 0, "slot freed");
    close(c.fd);
    env_stop(&e);
}

TEST(tcp_half_close_still_answered)
{
    struct env e;
    struct client c = { .tcp = true, .want_msgs = 2 };
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    c.fd = tcp_client(e.tcp_port);
    uint8_t f[600];
    struct pkt q = query(61, "api.example.com", T_A);
    size_t n = frame_into(f, &q);
    ok(write(c.fd, f, n) == (ssize_t)n, "query sent");
    shutdown(c.fd, SHUT_WR);
    /* The answer, then EOF from the proxy (read 0 ends the run with -1). */
    is_int(run_client(&e, &c, 2000), -1, "closed after answering");
    is_int(framed_count(&c), 1, "one answer");
    is_int(rd16(c.buf + 2), 61, "its id");
    is_int(dns_proxy_tcp_clients(e.proxy), 0, "client closed");
    close(c.fd);
    env_stop(&e);
}

/* ---- bursts: more datagrams than one recvmmsg / sendmmsg batch ---- */

#define BURST 40

struct burst {
    int fd, got;
    int rcode_of[BURST];
};

static void on_burst_read(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct burst *b = ud;
    uint8_t m[4096];
    ssize_t n;
    (void)events;
    while ((n = recv(fd, m, sizeof(m), MSG_DONTWAIT)) >= DNS_HEADER_LEN) {
        uint16_t id = rd16(m);
        if (id >= 1000 && id < 1000 + BURST && b->rcode_of[id - 1000] < 0) {
            b->rcode_of[id - 1000] = RCODE(m);
            b->got++;
        }
    }
    if (b->got == BURST)
        loop_quit(loop, 1);
}

/* Send BURST queries at once (every third one denied); collect the answers. */
static int run_burst(struct env *e, struct burst *b)
{
    int rcv = 1 << 20;
    memset(b, 0, sizeof(*b));
    for (int i = 0; i < BURST; i++)
        b->rcode_of[i] = -1;
    b->fd = udp_client(e->udp_port);
    setsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    for (int i = 0; i < BURST; i++) {
        struct pkt q = query((uint16_t)(1000 + i), i % 3 == 2 ? "evil.example.com"
                                                               : "api.example.com", T_A);
        send(b->fd, q.b, q.n, 0);
    }
    loop_add_fd(e->loop, b->fd, EPOLLIN, on_burst_read, b);
    struct loop_timer *t = NULL;
    t = loop_add_timer(e->loop, 3000, on_give_up, &t);
    int r = loop_run(e->loop);
    loop_cancel_timer(e->loop, t);
    loop_del_fd(e->loop, b->fd);
    close(b->fd);
    return r;
}

TEST(burst_all_answered)
{
    struct env e;
    struct burst b;
    ok(env_start(&e, UP_UDP, STUB_ANSWER) == 0, "start");
    is_int(run_burst(&e, &b), 1, "every query answered");
    int wrong = 0;
    for (int i = 0; i < BURST; i++)
        wrong += b.rcode_of[i] != (i % 3 == 2 ? DNS_RCODE_REFUSED : DNS_RCODE_NOERROR);
    is_int(wrong, 0, "each with its own rcode");
    is_int(e.stub.seen, BURST - BURST / 3, "only the allowed ones upstream");
    is_int(n_reps, BURST, "one report each");
    is_int(dns_proxy_inflight(e.proxy), 0, "no slot left");
    env_stop(&e);
}

TEST(burst_to_refused_upstream)
{
    struct env e;
    struct burst b;
    ok(env_start(&e, UP_CLOSED, STUB_ANSWER) == 0, "start");
    is_int(run_burst(&e, &b), 1, "every query answered at once");
    int wrong = 0;
    for (int i = 0; i < BURST; i++)
        wrong += b.rcode_of[i] != (i % 3 == 2 ? DNS_RCODE_REFUSED : DNS_RCODE_SERVFAIL);
    is_int(wrong, 0, "SERVFAIL for the allowed, REFUSED for the denied");
    struct dns_proxy_counters k;
    dns_proxy_get_counters(e.proxy, &k);
    is_int(k.upstream_failures, BURST - BURST / 3, "failures counted");
    is_int(k.upstream_timeouts, 0, "none by timeout");
    env_stop(&e);
}

static int no_socket(void *ctx, int family, int type)
{
    (void)ctx; (void)family; (void)type;
    return -EMFILE;
}

/* The forward fails inside the TCP client's own read handler. */
TEST(tcp_client_with_failing_upstream_socket)
{
    struct env e;
    struct client c = { .tcp = true, .want_msgs = 2 };
    env_upstream_socket = no_socket;
    ok(env_start(&e, UP_TCP, STUB_ANSWER) == 0, "start");
    env_upstream_socket = NULL;
    c.fd = tcp_client(e.tcp_port);
    struct pkt q1 = query(71, "api.example.com", T_A), q2 = query(72, "api.example.com", T_A);
    uint8_t both[1024];
    size_t n = frame_into(both, &q1);
    n += frame_into(both + n, &q2);
    ok(write(c.fd, both, n) == (ssize_t)n, "two queries");
    shutdown(c.fd, SHUT_WR);
    is_int(run_client(&e, &c, 2000), 1, "answered");
    c.want_msgs = 3;
    is_int(run_client(&e, &c, 1000), -1, "then closed");
    is_int(framed_count(&c), 2, "two answers");
    is_int(RCODE(c.buf + 2), DNS_RCODE_SERVFAIL, "SERVFAIL");
    check_rep(1, "api.example.com", "A", "allow", "upstream_failure", 2, "tcp");
    is_int(dns_proxy_tcp_clients(e.proxy), 0, "client closed");
    close(c.fd);
    env_stop(&e);
}

TEST(no_resolver_and_full_proxy)
{
    struct loop *loop = NULL;
    struct dns_proxy *p = NULL;
    struct cell_err err = { 0 };
    uint16_t port;
    int udp = bound_socket(SOCK_DGRAM, &port);
    ok(loop_new(&loop) == 0, "loop");
    struct dns_proxy_config cfg = { .udp_fds = &udp, .n_udp_fds = 1, .max_inflight = 70000 };
    ok(dns_proxy_new(loop, &cfg, &p, &err) < 0, "max_inflight bounded");
    cfg.max_inflight = 0;
    ok(dns_proxy_new(loop, &cfg, &p, &err) == 0, "no resolver is fine");
    dns_proxy_free(p);
    close(udp);
    loop_free(loop);
}

TAP_MAIN
