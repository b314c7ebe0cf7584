/* proxy.c: the in-cell DNS proxy on the supervisor's loop (see proxy.h and
 * docs/dns-proxy.md). Queries are decided from the parsed header and first
 * question only; forwarded ones occupy a pooled slot until their answer,
 * their deadline or an upstream error releases it. */
#include "dns/proxy-internal.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/timeutil.h"
#include "policy/hostmatch.h"
#include "spec/spec.h"

static const char *const transport_names[] = { [T_UDP] = "udp", [T_TCP] = "tcp" };

/* ---- reports and counters ---- */

void dnsp_report(struct dns_proxy *p, const struct dns_query *q, enum transport t,
                 struct verdict v)
{
    char type_buf[16];
    const char *type = NULL, *name = NULL;

    if (q && q->has_question) {
        name = q->q.name;
        type = dns_qtype_name(q->q.qtype);
        if (!type) {
            snprintf(type_buf, sizeof(type_buf), "TYPE%u", (unsigned)q->q.qtype);
            type = type_buf;
        }
    }
    if (!p->on_query)
        return;
    struct dns_query_report r = {
        .query_name = name, .query_type = type, .decision = v.decision,
        .reason_code = v.reason, .upstream_resolver_id = p->resolver_id,
        .response_rcode = v.rcode, .transport = transport_names[t],
    };
    p->on_query(p->on_query_ctx, &r);
}
static void deliver(struct dns_proxy *p, struct origin *o, const uint8_t *msg, size_t len)
{
    if (o->t == T_UDP)
        dnsp_udp_reply(p, o, msg, len);
    else if (o->client)
        dnsp_client_send(o->client, msg, len);
}
/* ---- slots and the deadline list ---- */

static void dl_unlink(struct dns_proxy *p, uint32_t i)
{
    struct slot *s = &p->slots[i];

    if (s->prev != NONE)
        p->slots[s->prev].next = s->next;
    else
        p->dl_head = s->next;
    if (s->next != NONE)
        p->slots[s->next].prev = s->prev;
    else
        p->dl_tail = s->prev;
}

static void on_deadline(struct loop *loop, void *userdata);

static void arm_deadline_timer(struct dns_proxy *p)
{
    if (p->deadline_timer || p->dl_head == NONE)
        return;
    uint64_t now = now_mono_ms(), at = p->slots[p->dl_head].deadline;
    p->deadline_timer = loop_add_timer(p->loop, at > now ? at - now : 0, on_deadline, p);
}

static uint32_t slot_take(struct dns_proxy *p)
{
    uint32_t i = p->free_head;

    if (i != NONE)
        p->free_head = p->slots[i].next;
    else if (p->n_fresh < p->n_slots)
        i = p->n_fresh++;
    else
        return NONE;
    struct slot *s = &p->slots[i];
    s->busy = true;
    s->up = NULL;
    s->deadline = now_mono_ms() + p->timeout_ms;
    s->next = NONE;
    s->prev = p->dl_tail;
    if (p->dl_tail != NONE)
        p->slots[p->dl_tail].next = i;
    else
        p->dl_head = i;
    p->dl_tail = i;
    p->n_busy++;
    arm_deadline_timer(p);
    return i;
}

/* Release a slot; the caller has replied and reported. Returns the TCP
 * client it answered (to settle), if any. */
static struct tcp_client *slot_release(struct dns_proxy *p, uint32_t i)
{
    struct slot *s = &p->slots[i];
    struct tcp_client *c = s->o.t == T_TCP ? s->o.client : NULL;

    dl_unlink(p, i);
    if (s->mapped)
        p->id_to_slot[s->up_id] = 0;
    s->mapped = false;
    dnsp_up_tcp_free(p, s->up);
    s->up = NULL;
    s->busy = false;
    s->next = p->free_head;
    p->free_head = i;
    p->n_busy--;
    if (c)
        c->pending--;
    return c;
}

/* Answer a forwarded query locally with SERVFAIL and release it. */
void dnsp_slot_fail(struct dns_proxy *p, uint32_t i, const char *reason)
{
    struct slot *s = &p->slots[i];
    uint8_t reply[DNS_REPLY_MAX];

    s->q.hdr.id = s->client_id;
    int n = dns_build_servfail(&s->q, reply, sizeof(reply));
    if (n > 0)
        deliver(p, &s->o, reply, (size_t)n);
    if (strcmp(reason, "upstream_timeout") == 0)
        p->c.upstream_timeouts++;
    else
        p->c.upstream_failures++;
    dnsp_report(p, &s->q, s->o.t, (struct verdict){ "allow", reason, DNS_RCODE_SERVFAIL });
    struct tcp_client *c = slot_release(p, i);
    if (c)
        (void)dnsp_client_settle(c);
}

/* Relay a matching upstream answer (msg is writable) and release the slot. */
static void slot_answer(struct dns_proxy *p, uint32_t i, uint8_t *msg, size_t len,
                        uint16_t rcode)
{
    struct slot *s = &p->slots[i];

    if (p->on_answer)
        p->on_answer(p->on_answer_ctx, s->q.q.name, msg, len);
    (void)dns_msg_set_id(msg, len, s->client_id);
    deliver(p, &s->o, msg, len);
    dnsp_report(p, &s->q, s->o.t, (struct verdict){ "allow", "allowed_by_allowlist", rcode });
    struct tcp_client *c = slot_release(p, i);
    if (c)
        (void)dnsp_client_settle(c);
}

static void on_deadline(struct loop *loop, void *userdata)
{
    struct dns_proxy *p = userdata;
    uint64_t now = now_mono_ms();

    (void)loop;
    p->deadline_timer = NULL;
    while (p->dl_head != NONE && p->slots[p->dl_head].deadline <= now)
        dnsp_slot_fail(p, p->dl_head, "upstream_timeout");
    arm_deadline_timer(p);
}

/* Try an answer against a slot; true when it matched and was relayed. */
bool dnsp_try_answer(struct dns_proxy *p, uint32_t i, uint8_t *msg, size_t len)
{
    struct dns_answer a;

    dns_parse_answer(msg, len, &a);
    if (!dns_answer_matches(&p->slots[i].q, &a))
        return false;
    slot_answer(p, i, msg, len, a.rcode);
    return true;
}
/* ---- upstream over UDP ---- */

/* A non-blocking upstream socket in the netns the caller chose; -errno. */
int dnsp_open_upstream_socket(struct dns_proxy *p, int type)
{
    int family = p->up_addr.ss_family;
    int fd = p->upstream_socket ? p->upstream_socket(p->upstream_ctx, family, type)
                                : socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fd == -1 ? -errno : fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* ---- deciding a query ---- */

static bool qtype_allowed(const struct dns_proxy *p, uint16_t t)
{
    return p->qtype_ok[t / 8] & (1u << (t % 8));
}

static void answer_locally(struct dns_proxy *p, struct origin *o, const struct dns_query *q,
                           uint8_t rcode, const char *decision, const char *reason)
{
    uint8_t reply[DNS_REPLY_MAX];
    int n = dns_build_reply(q, rcode, reply, sizeof(reply));

    if (n > 0)
        deliver(p, o, reply, (size_t)n);
    dnsp_report(p, q, o->t, (struct verdict){ decision, reason, rcode });
}

static void forward(struct dns_proxy *p, struct origin *o, const struct dns_query *q,
                    uint8_t *msg, size_t len)
{
    uint32_t i = p->have_resolver ? slot_take(p) : NONE;

    if (i == NONE) {
        /* No resolver declared, or every slot busy: the proxy cannot forward. */
        p->c.upstream_failures++;
        answer_locally(p, o, q, DNS_RCODE_SERVFAIL, "allow", "upstream_failure");
        return;
    }
    struct slot *s = &p->slots[i];
    s->o = *o;
    s->q = *q;
    s->client_id = q->hdr.id;
    if (o->t == T_TCP)
        o->client->pending++;
    if (p->up_is_tcp)
        dnsp_forward_tcp(p, i, msg, len);
    else
        dnsp_forward_udp(p, i, msg, len);
}

/* One query from a client; msg is writable (the id may be rewritten). */
void dnsp_handle_query(struct dns_proxy *p, struct origin *o, uint8_t *msg, size_t len)
{
    struct dns_query q;
    enum dns_status st = dns_parse_query(msg, len, &q);

    p->c.queries++;
    if (st == DNS_NAME_UNSAFE) {
        /* Never shown to the matcher: an escaped byte could fake a dot. */
        p->c.denied++;
        answer_locally(p, o, &q, DNS_RCODE_REFUSED, "deny", "denied_not_in_allowlist");
        return;
    }
    if (st != DNS_OK) {
        /* Garbage, responses (no loops), other opcodes, QDCOUNT != 1. */
        p->c.malformed++;
        dnsp_report(p, &q, o->t, (struct verdict){ "deny", "malformed_query", -1 });
        return;
    }
    if (!p->allow || !hostmatch_allows(p->allow, q.q.name, strlen(q.q.name))) {
        p->c.denied++;
        answer_locally(p, o, &q, DNS_RCODE_REFUSED, "deny", "denied_not_in_allowlist");
        return;
    }
    if (!qtype_allowed(p, q.q.qtype)) {
        p->c.denied++;
        answer_locally(p, o, &q, DNS_RCODE_REFUSED, "deny", "denied_query_type");
        return;
    }
    p->c.allowed++;
    forward(p, o, &q, msg, len);
}

/* ---- setup and teardown ---- */

static int add_listeners(struct dns_proxy *p, const int *fds, size_t n, loop_fd_cb cb,
                         struct cell_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
            return cell_err_set(err, errno, "invalid_spec", "dns proxy: listening fd %d: %m",
                                fds[i]);
        int r = loop_add_fd(p->loop, fds[i], EPOLLIN, cb, p);
        if (r < 0)
            return cell_err_set(err, -r, "invalid_spec",
                                "dns proxy: cannot watch listening fd %d", fds[i]);
        p->listen_fds[p->n_listen_fds++] = fds[i];
    }
    return 0;
}

/* Nothing here touches the slots or the id table: both are calloc'ed
 * (fresh zero pages) and filled as queries arrive. Threading a free list
 * through all 1024 slots (1.5 MiB) at start cost a page fault per 4 KiB on
 * every cold start of a cell with the proxy (bench/dns, docs/performance.md). */
static void init_slots(struct dns_proxy *p, unsigned n)
{
    p->n_slots = n;
    p->slots = xcalloc(n, sizeof(*p->slots));
    p->n_fresh = 0;
    p->free_head = NONE;
    p->dl_head = p->dl_tail = NONE;
    p->id_to_slot = xcalloc(65536, sizeof(*p->id_to_slot));
}

static int open_udp_upstream(struct dns_proxy *p, struct cell_err *err)
{
    int fd = dnsp_open_upstream_socket(p, SOCK_DGRAM);
    if (fd < 0)
        return cell_err_set(err, -fd, "upstream_failure",
                            "dns proxy: cannot open the upstream socket for %s",
                            p->resolver_id);
    p->up_udp_fd = fd;
    /* Room for a burst of answers while the loop serves other fds; best
     * effort (capped by net.core.rmem_max). */
    int rcvbuf = 1 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    /* Connected: only the resolver's answers arrive, and its ICMP errors do. */
    if (connect(fd, (const struct sockaddr *)&p->up_addr, p->up_addr_len) < 0)
        return cell_err_set(err, errno, "upstream_failure",
                            "dns proxy: cannot reach resolver %s: %m", p->resolver_id);
    int r = loop_add_fd(p->loop, fd, EPOLLIN, dnsp_on_upstream_udp, p);
    if (r < 0)
        return cell_err_set(err, -r, "upstream_failure",
                            "dns proxy: cannot watch the upstream socket");
    return 0;
}

static unsigned or_default(unsigned v, unsigned def) { return v ? v : def; }

static void copy_config(struct dns_proxy *p, const struct dns_proxy_config *cfg)
{
    p->allow = cfg->allowlist;
    for (size_t i = 0; i < cfg->n_allowed_qtypes; i++)
        p->qtype_ok[cfg->allowed_qtypes[i] / 8] |= (uint8_t)(1u << (cfg->allowed_qtypes[i] % 8));
    p->upstream_socket = cfg->upstream_socket;
    p->upstream_ctx = cfg->upstream_ctx;
    p->on_query = cfg->on_query;
    p->on_query_ctx = cfg->on_query_ctx;
    p->on_answer = cfg->on_answer;
    p->on_answer_ctx = cfg->on_answer_ctx;
    p->timeout_ms = or_default(cfg->upstream_timeout_ms, DNS_PROXY_UPSTREAM_TIMEOUT_MS);
    p->tcp_idle_ms = or_default(cfg->tcp_idle_ms, DNS_PROXY_DEFAULT_TCP_IDLE_MS);
    p->max_tcp_clients = or_default(cfg->max_tcp_clients, DNS_PROXY_DEFAULT_MAX_TCP_CLIENTS);
    if (cfg->n_resolvers > 0) {
        const struct dns_proxy_resolver *r = &cfg->resolvers[0];
        p->have_resolver = true;
        p->resolver_id = xstrdup(r->resolver_id ? r->resolver_id : "");
        p->up_addr = r->addr;
        p->up_addr_len = r->addr_len;
        p->up_is_tcp = r->tcp;
    }
}

int dns_proxy_new(struct loop *loop, const struct dns_proxy_config *cfg,
                  struct dns_proxy **out, struct cell_err *err)
{
    unsigned max_inflight = or_default(cfg->max_inflight, DNS_PROXY_DEFAULT_MAX_INFLIGHT);

    if (max_inflight > DNS_PROXY_MAX_INFLIGHT_LIMIT)
        return cell_err_set(err, EINVAL, "invalid_spec",
                            "dns proxy: max_inflight %u above %u", max_inflight,
                            DNS_PROXY_MAX_INFLIGHT_LIMIT);
    if (cfg->n_resolvers > 0 && (cfg->resolvers[0].addr_len == 0 ||
                                 cfg->resolvers[0].addr_len > sizeof(struct sockaddr_storage)))
        return cell_err_set(err, EINVAL, "invalid_spec", "dns proxy: resolver without address");

    struct dns_proxy *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->up_udp_fd = -1;
    dnsp_udp_init(p);
    copy_config(p, cfg);
    init_slots(p, max_inflight);
    if (getrandom(&p->rng, sizeof(p->rng), 0) != (ssize_t)sizeof(p->rng) || p->rng == 0)
        p->rng = now_mono_ms() | 1;
    p->listen_fds = xcalloc(cfg->n_udp_fds + cfg->n_tcp_fds + 1, sizeof(int));

    int r = add_listeners(p, cfg->udp_fds, cfg->n_udp_fds, dnsp_on_udp_listener, err);
    if (r >= 0)
        r = add_listeners(p, cfg->tcp_fds, cfg->n_tcp_fds, dnsp_on_tcp_listener, err);
    if (r >= 0 && p->have_resolver && !p->up_is_tcp)
        r = open_udp_upstream(p, err);
    if (r < 0) {
        dns_proxy_free(p);
        return r;
    }
    *out = p;
    return 0;
}

void dns_proxy_free(struct dns_proxy *p)
{
    if (!p)
        return;
    while (p->dl_head != NONE)
        (void)slot_release(p, p->dl_head);
    while (p->clients)
        dnsp_client_close(p->clients);
    for (size_t i = 0; i < p->n_listen_fds; i++)
        (void)loop_del_fd(p->loop, p->listen_fds[i]);
    if (p->up_udp_fd >= 0) {
        (void)loop_del_fd(p->loop, p->up_udp_fd);
        close(p->up_udp_fd);
    }
    loop_cancel_timer(p->loop, p->deadline_timer);
    dnsp_udp_free(p);
    free(p->listen_fds);
    free(p->slots);
    free(p->id_to_slot);
    free(p->resolver_id);
    free(p);
}

void dns_proxy_get_counters(const struct dns_proxy *p, struct dns_proxy_counters *out)
{
    *out = p->c;
}

size_t dns_proxy_inflight(const struct dns_proxy *p) { return p->n_busy; }
size_t dns_proxy_tcp_clients(const struct dns_proxy *p) { return p->n_clients; }

void dns_proxy_resolver_from_spec(const struct dns_resolver *r, struct dns_proxy_resolver *out)
{
    memset(out, 0, sizeof(*out));
    out->resolver_id = r->resolver_id;
    out->tcp = r->protocol == RESOLVER_DO53_TCP;
    if (r->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(r->port);
        memcpy(&a->sin6_addr, r->addr, 16);
        out->addr_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;
        a->sin_family = AF_INET;
        a->sin_port = htons(r->port);
        memcpy(&a->sin_addr, r->addr, 4);
        out->addr_len = sizeof(*a);
    }
}
