/* proxy-internal.h: what proxy.c (queries, slots, UDP) and proxy_tcp.c (TCP
 * clients, do53-tcp upstream) share. Not an API: see proxy.h. */
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "dns/proxy.h"
#include "dns/wire.h"
#include "loop/loop.h"

#define NONE UINT32_MAX
#define UDP_BATCH 16                 /* datagrams per recvmmsg / sendmmsg */
#define UDP_BUF_LEN (DNS_MSG_MAX + 1)
#define TCP_READ_CHUNK 16384
#define TCP_OUT_HIGH (256 * 1024)    /* stop reading a client that does not read */

enum transport { T_UDP, T_TCP };

struct tcp_client {
    struct dns_proxy *p;
    int fd;
    unsigned pending;           /* forwarded queries not yet answered */
    bool eof, broken;
    bool in_handler;            /* on_client is on the stack: it settles at its end */
    uint64_t last_active;
    struct loop_timer *idle;
    struct buf out;
    size_t out_off;
    struct tcp_client *prev, *next;
    struct dns_tcp_reasm reasm;
};

/* A do53-tcp upstream exchange: one connection per query. */
struct up_tcp {
    struct dns_proxy *p;
    uint32_t slot;
    int fd;
    bool connected;
    uint8_t *out;
    size_t out_len, out_off;
    struct dns_tcp_reasm reasm;
};

/* Where an answer goes back to. */
struct origin {
    enum transport t;
    int fd;                     /* UDP listening fd */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct tcp_client *client;  /* TCP; NULL once the client went away */
};

struct slot {
    bool busy;
    bool mapped;                /* holds id_to_slot[up_id] */
    uint16_t client_id, up_id;
    uint32_t prev, next;        /* deadline list, in send order */
    uint64_t deadline;
    struct origin o;
    struct up_tcp *up;          /* do53-tcp only */
    struct dns_query q;         /* hdr.id = the id sent upstream */
};

/* Datagrams waiting for one sendmmsg: relayed answers point into the
 * receive batch (valid until the flush that ends the handler); our own
 * small replies are copied into local[]. */
struct udp_out {
    unsigned n;
    int fd[UDP_BATCH];
    uint32_t slot[UDP_BATCH];               /* forwards: whose query */
    struct mmsghdr m[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    struct sockaddr_storage peer[UDP_BATCH];
    uint8_t local[UDP_BATCH][DNS_REPLY_MAX];
};

struct udp_io {
    bool batching;                          /* inside a UDP handler: queue sends */
    struct mmsghdr in[UDP_BATCH];
    struct iovec in_iov[UDP_BATCH];
    struct sockaddr_storage in_peer[UDP_BATCH];
    uint8_t *in_buf;                        /* UDP_BATCH * UDP_BUF_LEN, touched lazily */
    struct udp_out forwards, replies;
};

struct dns_proxy {
    struct loop *loop;
    const struct hostmatch *allow;
    uint8_t qtype_ok[65536 / 8];
    char *resolver_id;
    struct sockaddr_storage up_addr;
    socklen_t up_addr_len;
    bool have_resolver, up_is_tcp;
    int up_udp_fd;
    int (*upstream_socket)(void *, int, int);
    void *upstream_ctx;
    void (*on_query)(void *, const struct dns_query_report *);
    void *on_query_ctx;
    void (*on_answer)(void *, const char *, const uint8_t *, size_t);
    void *on_answer_ctx;
    unsigned timeout_ms, tcp_idle_ms, max_tcp_clients;
    int *listen_fds;
    size_t n_listen_fds;
    struct slot *slots;
    uint32_t n_slots, free_head, dl_head, dl_tail, n_busy;
    uint32_t n_fresh;           /* slots [n_fresh, n_slots) were never used: taken in order
                                 * when the free list is empty, so the start touches none */
    uint16_t *id_to_slot;       /* upstream UDP id -> slot + 1, 0 when unused (calloc's
                                 * zero pages are the empty table: nothing to fill) */
    uint64_t rng;
    struct loop_timer *deadline_timer;
    struct tcp_client *clients;
    size_t n_clients;
    struct dns_proxy_counters c;
    struct udp_io udp;
    uint8_t rx[TCP_READ_CHUNK];             /* do53-tcp upstream reads */
};

/* The slot waiting for upstream id, or NONE. */
static inline uint32_t dnsp_slot_of_id(const struct dns_proxy *p, uint16_t id)
{
    return p->id_to_slot[id] ? p->id_to_slot[id] - 1u : NONE;
}
struct verdict {
    const char *decision, *reason;
    int rcode;
};

/* proxy.c */
void dnsp_report(struct dns_proxy *p, const struct dns_query *q, enum transport t,
                 struct verdict v);
void dnsp_slot_fail(struct dns_proxy *p, uint32_t i, const char *reason);
bool dnsp_try_answer(struct dns_proxy *p, uint32_t i, uint8_t *msg, size_t len);
void dnsp_handle_query(struct dns_proxy *p, struct origin *o, uint8_t *msg, size_t len);
int dnsp_open_upstream_socket(struct dns_proxy *p, int type);

/* proxy_udp.c */
void dnsp_udp_init(struct dns_proxy *p);
void dnsp_udp_free(struct dns_proxy *p);
void dnsp_udp_reply(struct dns_proxy *p, const struct origin *o, const uint8_t *msg, size_t len);
void dnsp_forward_udp(struct dns_proxy *p, uint32_t i, uint8_t *msg, size_t len);
void dnsp_on_udp_listener(struct loop *loop, int fd, uint32_t events, void *userdata);
void dnsp_on_upstream_udp(struct loop *loop, int fd, uint32_t events, void *userdata);

/* proxy_tcp.c */
void dnsp_client_send(struct tcp_client *c, const uint8_t *msg, size_t len);
void dnsp_client_close(struct tcp_client *c);
bool dnsp_client_settle(struct tcp_client *c);
void dnsp_up_tcp_free(struct dns_proxy *p, struct up_tcp *u);
void dnsp_forward_tcp(struct dns_proxy *p, uint32_t i, const uint8_t *msg, size_t len);
void dnsp_on_tcp_listener(struct loop *loop, int fd, uint32_t events, void *userdata);
