/* netprep.h: the cell's network namespace, prepared by a short-lived helper
 * process while the supervisor goes on with the rest of the cell.
 *
 * Why a helper process rather than setns() from the supervisor: the first
 * nf_tables transaction of a fresh netns costs about 3 ms in the kernel and
 * libnftables about 4 ms more, which used to sit on the cold-start path
 * while the child waited; and libnftables touches about 1.5 MiB of pages
 * that a long-lived supervisor does not need to carry. The helper is forked
 * at the start of the run, unshare()s a new netns, brings loopback up,
 * applies the ruleset in one transaction, runs the openers (which create the
 * proxies' listening sockets inside the new netns) and hands everything back
 * over a unix socket with SCM_RIGHTS, then exits. The netns lives on
 * through the descriptor the supervisor holds; the cell's child setns()es
 * into it before it builds its mount tree (so /sys shows the cell's
 * network). See docs/architecture.md.
 *
 * Order of messages on the socket: the netns descriptor as soon as it
 * exists, then one result per opener, then the overall status. The
 * supervisor reads the first with netprep_netns_fd() (before cloning the
 * cell) and the rest with netprep_finish() (while the cell's child waits). */
#pragma once
#include <sys/types.h>

#include "base/base.h"

#define NETPREP_MAX_OPENERS 8
#define NETPREP_MAX_FDS 40     /* per opener */
#define NETPREP_MSG_MAX 384

/* Runs INSIDE the helper, in the new netns (loopback up, ruleset applied):
 * creates sockets, stores up to max of them in fds, returns how many or
 * -errno with err filled. Sockets keep the netns they were made in, so the
 * supervisor serves them from its own loop. Memory the opener allocates dies
 * with the helper. */
typedef int (*netprep_open_fn)(void *ctx, int *fds, size_t max, struct cell_err *err);

struct netprep_opener {
    const char *name;          /* for messages: "DNS proxy", "L7 proxy", ... */
    netprep_open_fn open;
    void *ctx;
};

struct netprep_request {
    const char *ruleset;       /* nft script applied in one transaction, or NULL */
    bool default_route;        /* a default route (IPv4 and IPv6) through loopback, so that
                                * connects to any address reach the nat hook and the
                                * proxies' redirects instead of failing with ENETUNREACH */
    const struct netprep_opener *openers;
    size_t n_openers;
};

/* What one opener produced, in the supervisor's descriptor table. */
struct netprep_opened {
    int r;                     /* count of fds, or -errno */
    char msg[NETPREP_MSG_MAX]; /* the opener's error, when r < 0 */
    int fds[NETPREP_MAX_FDS];
    size_t n_fds;
};

struct netprep {
    pid_t pid;                 /* 0 when no helper runs (or once reaped) */
    int sock;                  /* our end of the socketpair */
    int netns_fd;              /* the cell's netns, once received; owned */
    size_t n_openers;
};

#define NETPREP_INIT { .pid = 0, .sock = -1, .netns_fd = -1 }

/* Fork the helper. Everything in req (and what its openers read) must be
 * ready: the helper sees the supervisor's memory as it is now. */
int netprep_start(const struct netprep_request *req, struct netprep *np, struct cell_err *err);

/* The cell's netns descriptor (waits for the helper's first message). */
int netprep_netns_fd(struct netprep *np, struct cell_err *err);

/* Wait for the helper's results: out[i] for each opener (n_openers of
 * them). 0 when loopback, route and ruleset are in place (an opener's
 * failure is only reported in out[i]); -errno with err naming the failed
 * step otherwise (and every descriptor already received closed). The
 * helper is reaped either way. */
int netprep_finish(struct netprep *np, struct netprep_opened *out, struct cell_err *err);

/* Kill and reap the helper if it still runs, close every descriptor
 * (netns_fd included). Safe to call twice and on NETPREP_INIT. */
void netprep_clear(struct netprep *np);
