/* proxy_udp.c: the DNS proxy's UDP side, the hot path: client datagrams in,
 * forwards to the do53-udp resolver (renumbered ids), answers back. Each
 * readiness event reads up to UDP_BATCH datagrams with one recvmmsg and
 * sends what it produced with one sendmmsg per destination socket, so a
 * busy proxy pays about one syscall per direction per batch rather than per
 * query. Outside a UDP handler (timer, TCP client) sends go out at once. */
#include "dns/proxy-internal.h"

#include <string.h>

void dnsp_udp_init(struct dns_proxy *p)
{
    /* calloc of this size is a fresh mapping: pages are only committed as
     * datagrams land in them. */
    p->udp.in_buf = xcalloc(UDP_BATCH, UDP_BUF_LEN);
}

void dnsp_udp_free(struct dns_proxy *p) { free(p->udp.in_buf); }

/* ---- sending ---- */

static void out_push(struct udp_out *q, int fd, const struct sockaddr_storage *peer,
                     socklen_t peer_len, const uint8_t *msg, size_t len, uint32_t slot)
{
    unsigned k = q->n++;
    const void *data = msg;

    if (len <= sizeof(q->local[k])) {
        memcpy(q->local[k], msg, len);
        data = q->local[k];
    }
    q->fd[k] = fd;
    q->slot[k] = slot;
    q->iov[k] = (struct iovec){ .iov_base = (void *)data, .iov_len = len };
    q->m[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &q->iov[k], .msg_iovlen = 1 } };
    if (peer) {
        memcpy(&q->peer[k], peer, peer_len);
        q->m[k].msg_hdr.msg_name = &q->peer[k];
        q->m[k].msg_hdr.msg_namelen = peer_len;
    }
}

/* Send entries [from, to) of q, all for the same fd. Returns the index of
 * the first entry that failed, or to. */
static unsigned send_run(struct udp_out *q, unsigned from, unsigned to)
{
    while (from < to) {
        int n = sendmmsg(q->fd[from], &q->m[from], to - from, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return from;
        from += (unsigned)n;
    }
    return to;
}

static void flush_forwards(struct dns_proxy *p)
{
    struct udp_out *q = &p->udp.forwards;
    unsigned n = q->n, k = 0;

    q->n = 0;
    while (k < n) {
        k = send_run(q, k, n);
        if (k < n)
            dnsp_slot_fail(p, q->slot[k++], "upstream_failure");
    }
}

static void flush_replies(struct dns_proxy *p)
{
    struct udp_out *q = &p->udp.replies;
    unsigned k = 0;

    /* A reply that cannot be sent is lost, as a datagram may be. */
    while (k < q->n) {
        unsigned end = k + 1;
        while (end < q->n && q->fd[end] == q->fd[k])
            end++;
        unsigned sent = send_run(q, k, end);
        k = sent < end ? sent + 1 : end;
    }
    q->n = 0;
}

/* Forwards first: a failed one adds its SERVFAIL to the replies. */
static void flush_all(struct dns_proxy *p)
{
    flush_forwards(p);
    flush_replies(p);
}

void dnsp_udp_reply(struct dns_proxy *p, const struct origin *o, const uint8_t *msg, size_t len)
{
    if (!p->udp.batching) {
        (void)sendto(o->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                     (const struct sockaddr *)&o->peer, o->peer_len);
        return;
    }
    if (p->udp.replies.n == UDP_BATCH)
        flush_all(p);
    out_push(&p->udp.replies, o->fd, &o->peer, o->peer_len, msg, len, NONE);
}

/* ---- forwarding ---- */

static uint16_t next_random_id(struct dns_proxy *p)
{
    /* xorshift64*: unpredictable enough ids for a connected socket to the
     * declared resolver, without a syscall per query. */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (uint16_t)((p->rng * 0x2545F4914F6CDD1DULL) >> 48);
}

/* Send (or queue) the query of slot i; msg is writable and, when batching,
 * stays valid until the flush. */
void dnsp_forward_udp(struct dns_proxy *p, uint32_t i, uint8_t *msg, size_t len)
{
    struct slot *s = &p->slots[i];
    uint16_t id = next_random_id(p);

    for (int tries = 0; p->id_to_slot[id] != 0 && tries < 64; tries++)
        id = next_random_id(p);
    if (p->id_to_slot[id] != 0) {
        dnsp_slot_fail(p, i, "upstream_failure");
        return;
    }
    s->q.hdr.id = id;
    s->up_id = id;
    s->mapped = true;
    p->id_to_slot[id] = (uint16_t)(i + 1);
    (void)dns_msg_set_id(msg, len, id);
    if (p->udp.batching) {
        if (p->udp.forwards.n == UDP_BATCH)
            flush_all(p);
        out_push(&p->udp.forwards, p->up_udp_fd, NULL, 0, msg, len, i);
        return;
    }
    ssize_t n;
    do
        n = send(p->up_udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        dnsp_slot_fail(p, i, "upstream_failure");
}

/* ---- receiving ---- */

/* One recvmmsg into the batch buffers; the count, or -errno. */
static int recv_batch(struct dns_proxy *p, int fd, bool want_peer)
{
    struct udp_io *u = &p->udp;

    for (unsigned k = 0; k < UDP_BATCH; k++) {
        u->in_iov[k] = (struct iovec){ .iov_base = u->in_buf + (size_t)k * UDP_BUF_LEN,
                                       .iov_len = UDP_BUF_LEN };
        u->in[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &u->in_iov[k], .msg_iovlen = 1 } };
        if (want_peer) {
            u->in[k].msg_hdr.msg_name = &u->in_peer[k];
            u->in[k].msg_hdr.msg_namelen = sizeof(u->in_peer[k]);
        }
    }
    int n;
    do
        n = recvmmsg(fd, u->in, UDP_BATCH, MSG_DONTWAIT, NULL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static uint8_t *batch_msg(struct dns_proxy *p, int k) { return p->udp.in_iov[k].iov_base; }

/* Level-triggered: a full batch leaves the socket readable and the loop
 * calls again after serving the other fds. */
void dnsp_on_udp_listener(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct dns_proxy *p = userdata;
    struct origin o = { .t = T_UDP, .fd = fd };

    (void)loop;
    (void)events;
    int n = recv_batch(p, fd, true);    /* errors: EAGAIN, or an ICMP error from a reply */
    p->udp.batching = true;
    for (int k = 0; k < n; k++) {
        o.peer_len = p->udp.in[k].msg_hdr.msg_namelen;
        memcpy(&o.peer, &p->udp.in_peer[k], o.peer_len);
        dnsp_handle_query(p, &o, batch_msg(p, k), p->udp.in[k].msg_len);
    }
    flush_all(p);
    p->udp.batching = false;
}

static void fail_all_udp(struct dns_proxy *p)
{
    uint32_t i = p->dl_head;

    while (i != NONE) {
        uint32_t next = p->slots[i].next;
        if (p->slots[i].mapped)
            dnsp_slot_fail(p, i, "upstream_failure");
        i = next;
    }
}

void dnsp_on_upstream_udp(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct dns_proxy *p = userdata;

    (void)loop;
    (void)events;
    int n = recv_batch(p, fd, false);
    p->udp.batching = true;
    if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) {
        /* An ICMP error (ECONNREFUSED, EHOSTUNREACH...) cannot be tied to one
         * query: the resolver is failing, fail what waits on it. */
        fail_all_udp(p);
    }
    for (int k = 0; k < n; k++) {
        uint8_t *msg = batch_msg(p, k);
        size_t len = p->udp.in[k].msg_len;
        uint16_t id;
        if (dns_msg_id(msg, len, &id) == 0 && dnsp_slot_of_id(p, id) != NONE)
            (void)dnsp_try_answer(p, dnsp_slot_of_id(p, id), msg, len);
    }
    flush_all(p);
    p->udp.batching = false;
}
