/* proxy-internal.h: what proxy.c (accept, peek, decide, connect) and
 * relay.c (splice relay, half-close, resets, idle) share. Not an API: see
 * proxy.h. */
#pragma once
#include <stdint.h>

#include "l7/peek.h"
#include "l7/proxy.h"
#include "loop/loop.h"

#define L7_PIPE_POOL_MAX 32
#define L7_UNWATCHED UINT32_MAX  /* a mask for l7_conn_set_masks: not on the loop */

enum l7_state {
    L7_PEEK,          /* reading the client's first bytes */
    L7_CONNECTING,    /* upstream connect in progress */
    L7_REPLAY,        /* writing the peeked bytes upstream */
    L7_RELAY,         /* splicing both ways */
    L7_REFUSING,      /* a refusal was written: draining the client until EOF */
};

/* One direction of a relayed flow: src -> pipe -> dst. */
struct l7_dir {
    int pipe_r, pipe_w;         /* -1 when no pipe is held */
    size_t in_pipe;             /* bytes read from src, not yet written to dst */
    bool eof;                   /* src said EOF */
    bool shut;                  /* dst was shut for writing after the EOF */
    uint64_t bytes;             /* written to dst */
};

struct l7_conn {
    struct l7_proxy *p;
    struct l7_conn *prev, *next;
    enum l7_state st;
    int cfd, ufd;               /* client (in the cell), upstream; -1 when closed */
    bool creg, ureg;            /* registered on the loop */
    bool chup, uhup;            /* hung up (relay.c): watched only while we must read it */
    uint32_t cmask, umask;      /* events asked for */
    bool plain;                 /* no L7 inspection */
    enum l7_proto proto;
    struct sockaddr_storage src, dst;
    char dst_text[L7_ADDR_TEXT_MAX];
    char host[L7_HOST_MAX + 1]; /* "" until read */
    const char *allow_reason;   /* reported once the upstream is connected */
    const char *rule;           /* plain: the admitting entry's label */
    uint8_t *peek;
    size_t peek_len, peek_cap, replay_off;
    struct loop_timer *timer;   /* peek, connect, idle or refusal deadline */
    uint64_t last_active;
    struct l7_dir up, down;     /* up: client -> upstream; down: upstream -> client */
};

struct l7_proxy {
    struct loop *loop;
    const struct hostmatch *allow;
    const struct dns_resolved *resolved;
    const struct l7_egress *egress;
    size_t n_egress;
    uint8_t plain[65536 / 8];   /* plain_ports as a bitmap */
    void (*on_decision)(void *, const struct l7_decision_report *);
    void (*on_flow)(void *, const struct l7_flow_report *);
    void *report_ctx;
    unsigned max_conns, peek_max, peek_timeout_ms, connect_timeout_ms, idle_timeout_ms;
    int *listen_fds;
    size_t n_listen;
    bool listen_paused;
    struct loop_timer *resume_timer;
    struct l7_conn *conns;
    size_t n_conns;
    int pool[L7_PIPE_POOL_MAX][2];
    size_t n_pool;
    struct l7_proxy_counters c;
};

/* proxy.c */
void l7_conn_close(struct l7_conn *c, bool reset_client, bool reset_upstream);
/* cmask / umask: epoll events, or L7_UNWATCHED. */
void l7_conn_set_masks(struct l7_conn *c, uint32_t cmask, uint32_t umask);
void l7_conn_arm_timer(struct l7_conn *c, uint64_t delay_ms, loop_timer_cb cb);

/* relay.c */
void l7_relay_start(struct l7_conn *c);
void l7_relay_on_fd(struct loop *loop, int fd, uint32_t events, void *userdata);
void l7_dir_init(struct l7_dir *d);
void l7_dir_release(struct l7_proxy *p, struct l7_dir *d);
void l7_pool_clear(struct l7_proxy *p);
