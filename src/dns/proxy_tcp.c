/* proxy_tcp.c: the DNS proxy's TCP side: clients speaking length-prefixed
 * DNS (several queries per connection, answers in completion order, partial
 * writes queued for EPOLLOUT, idle timeout), and the do53-tcp upstream, one
 * connection per forwarded query. */
#include "dns/proxy-internal.h"

#include <fcntl.h>
#include <string.h>

#include "base/timeutil.h"

/* ---- TCP clients: output ---- */

static void client_update_events(struct tcp_client *c)
{
    size_t queued = c->out.len - c->out_off;
    uint32_t ev = 0;

    if (!c->eof && !c->broken && queued < TCP_OUT_HIGH)
        ev |= EPOLLIN;
    if (queued)
        ev |= EPOLLOUT;
    (void)loop_mod_fd(c->p->loop, c->fd, ev);
}

static void client_flush(struct tcp_client *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->broken = true;
            break;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    }
}

void dnsp_client_send(struct tcp_client *c, const uint8_t *msg, size_t len)
{
    uint8_t prefix[2];

    if (c->broken || dns_tcp_prefix(len, prefix) < 0)
        return;
    buf_append(&c->out, prefix, 2);
    buf_append(&c->out, msg, len);
    client_flush(c);
}

void dnsp_client_close(struct tcp_client *c)
{
    struct dns_proxy *p = c->p;

    /* Forwarded queries of this client still get their report; the answer
     * has nowhere to go. */
    for (uint32_t i = p->dl_head; i != NONE; i = p->slots[i].next)
        if (p->slots[i].o.client == c)
            p->slots[i].o.client = NULL;
    loop_cancel_timer(p->loop, c->idle);
    (void)loop_del_fd(p->loop, c->fd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->n_clients--;
    buf_free(&c->out);
    free(c);
}

/* Close a client that broke, or that said EOF and has had all its answers.
 * Inside its own handler (a query failed synchronously) only on_client's
 * final settle may close it: the handler still uses c. */
bool dnsp_client_settle(struct tcp_client *c)
{
    if (c->in_handler)
        return false;
    if (c->broken || (c->eof && c->pending == 0 && c->out.len == c->out_off)) {
        dnsp_client_close(c);
        return true;
    }
    client_update_events(c);
    return false;
}

void dnsp_up_tcp_free(struct dns_proxy *p, struct up_tcp *u)
{
    if (!u)
        return;
    if (u->fd >= 0) {
        (void)loop_del_fd(p->loop, u->fd);
        close(u->fd);
    }
    free(u->out);
    free(u);
}

/* ---- upstream over TCP: one connection per query ---- */

static void up_tcp_io(struct dns_proxy *p, uint32_t i, uint32_t events);

static void on_upstream_tcp(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct up_tcp *u = userdata;

    (void)loop;
    (void)fd;
    up_tcp_io(u->p, u->slot, events);
}

static bool up_tcp_write(struct up_tcp *u)
{
    while (u->out_off < u->out_len) {
        ssize_t n = send(u->fd, u->out + u->out_off, u->out_len - u->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        u->out_off += (size_t)n;
    }
    return true;
}

/* Read what the connection has; false on error or EOF before the answer.
 * Answers that do not match are skipped (keep waiting); after the matching
 * one the slot, and u with it, is gone. */
static bool up_tcp_read(struct dns_proxy *p, uint32_t i)
{
    struct up_tcp *u = p->slots[i].up;

    for (;;) {
        ssize_t n = recv(u->fd, p->rx, TCP_READ_CHUNK, MSG_DONTWAIT);
        if (n < 0)
            return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
        if (n == 0)
            return false;
        size_t off = 0;
        while (off < (size_t)n) {
            const uint8_t *msg;
            size_t len;
            ssize_t used = dns_tcp_reasm_feed(&u->reasm, p->rx + off, (size_t)n - off,
                                              &msg, &len);
            if (used < 0)
                return false;
            off += (size_t)used;
            if (msg && dnsp_try_answer(p, i, (uint8_t *)msg, len))
                return true;
        }
    }
}

static void up_tcp_io(struct dns_proxy *p, uint32_t i, uint32_t events)
{
    struct up_tcp *u = p->slots[i].up;

    if (!u->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            dnsp_slot_fail(p, i, "upstream_failure");
            return;
        }
        u->connected = true;
    }
    if (u->connected && u->out_off < u->out_len) {
        if (!up_tcp_write(u)) {
            dnsp_slot_fail(p, i, "upstream_failure");
            return;
        }
        if (u->out_off == u->out_len)
            (void)loop_mod_fd(p->loop, u->fd, EPOLLIN);
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !up_tcp_read(p, i))
        dnsp_slot_fail(p, i, "upstream_failure");
}

void dnsp_forward_tcp(struct dns_proxy *p, uint32_t i, const uint8_t *msg, size_t len)
{
    struct slot *s = &p->slots[i];
    struct up_tcp *u = xcalloc(1, sizeof(*u));
    u->p = p;
    u->slot = i;
    u->fd = -1;
    s->up = u;
    u->out = xcalloc(1, len + 2);
    u->out_len = (size_t)dns_tcp_frame(msg, len, u->out, len + 2);
    dns_tcp_reasm_init(&u->reasm, DNS_MSG_MAX);

    int fd = dnsp_open_upstream_socket(p, SOCK_STREAM);
    if (fd < 0) {
        dnsp_slot_fail(p, i, "upstream_failure");
        return;
    }
    u->fd = fd;
    if (loop_add_fd(p->loop, fd, EPOLLOUT, on_upstream_tcp, u) < 0) {
        close(TAKE_FD(u->fd));
        dnsp_slot_fail(p, i, "upstream_failure");
        return;
    }
    if (connect(fd, (const struct sockaddr *)&p->up_addr, p->up_addr_len) < 0 &&
        errno != EINPROGRESS)
        dnsp_slot_fail(p, i, "upstream_failure");
}

/* ---- TCP clients: input ---- */

static void on_client_idle(struct loop *loop, void *userdata);

static void arm_client_idle(struct tcp_client *c, uint64_t delay)
{
    c->idle = loop_add_timer(c->p->loop, delay, on_client_idle, c);
}

static void on_client_idle(struct loop *loop, void *userdata)
{
    struct tcp_client *c = userdata;
    uint64_t now = now_mono_ms(), idle_ms = c->p->tcp_idle_ms;

    (void)loop;
    c->idle = NULL;
    if (c->pending == 0 && now - c->last_active >= idle_ms) {
        dnsp_client_close(c);
        return;
    }
    /* Activity since, or answers outstanding: look again later. */
    uint64_t since = now - c->last_active;
    arm_client_idle(c, since < idle_ms ? idle_ms - since : idle_ms);
}

/* Feed bytes read from a client; false when the stream is unusable. */
static bool client_feed(struct tcp_client *c, const uint8_t *data, size_t len)
{
    struct dns_proxy *p = c->p;
    struct origin o = { .t = T_TCP, .client = c };

    while (len > 0) {
        const uint8_t *msg;
        size_t mlen;
        ssize_t used = dns_tcp_reasm_feed(&c->reasm, data, len, &msg, &mlen);
        if (used < 0) {
            /* A length prefix no DNS message can have: count it, drop the stream. */
            p->c.queries++;
            p->c.malformed++;
            dnsp_report(p, NULL, T_TCP, (struct verdict){ "deny", "malformed_query", -1 });
            return false;
        }
        data += used;
        len -= (size_t)used;
        if (msg)
            dnsp_handle_query(p, &o, (uint8_t *)msg, mlen);
        if (c->broken)
            return false;
    }
    return true;
}

static void client_read(struct tcp_client *c)
{
    /* Read into a stack chunk: p->rx is reused by the handlers below. */
    uint8_t chunk[TCP_READ_CHUNK];

    for (;;) {
        ssize_t n = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->broken = true;
            return;
        }
        if (n == 0) {
            c->eof = true;
            return;
        }
        c->last_active = now_mono_ms();
        if (!client_feed(c, chunk, (size_t)n)) {
            c->broken = true;
            return;
        }
        if (c->out.len - c->out_off >= TCP_OUT_HIGH)
            return;     /* it is not reading its answers: wait for EPOLLOUT */
    }
}

static void on_client(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct tcp_client *c = userdata;

    (void)loop;
    (void)fd;
    c->in_handler = true;
    if (events & EPOLLOUT)
        client_flush(c);
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof && !c->broken)
        client_read(c);
    /* Both directions are gone: nothing more can be answered, and a level
     * HUP would otherwise wake the loop until the pending answers came. */
    if (events & (EPOLLHUP | EPOLLERR))
        c->broken = true;
    c->in_handler = false;
    (void)dnsp_client_settle(c);
}

void dnsp_on_tcp_listener(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct dns_proxy *p = userdata;

    (void)loop;
    (void)events;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;     /* EAGAIN, or a connection that died in the backlog */
        if (p->n_clients >= p->max_tcp_clients) {
            close(cfd);
            continue;
        }
        struct tcp_client *c = xcalloc(1, sizeof(*c));
        c->p = p;
        c->fd = cfd;
        c->last_active = now_mono_ms();
        dns_tcp_reasm_init(&c->reasm, DNS_MSG_MAX);
        if (loop_add_fd(p->loop, cfd, EPOLLIN, on_client, c) < 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = p->clients;
        if (p->clients)
            p->clients->prev = c;
        p->clients = c;
        p->n_clients++;
        arm_client_idle(c, p->tcp_idle_ms);
    }
}

