/* relay.c: an allowed flow relayed both ways with splice() through pipes,
 * on the supervisor's loop.
 *
 * Each direction reads from its source into a pipe only when the pipe is
 * empty, then writes the pipe into its destination; when the destination is
 * full the bytes wait in the pipe and the source is not read (backpressure
 * through the kernel's buffers, no copy into user space). Pipes are taken
 * from a small pool when a direction has bytes to move and given back when
 * it is drained, so an idle connection holds two descriptors, not six.
 *
 * EOF on one side becomes shutdown(SHUT_WR) on the other once the pipe is
 * drained; an error (reset) on one side becomes a reset (SO_LINGER 0) of the
 * other. The flow closes when both directions have ended. */
#include "l7/proxy-internal.h"

#include <fcntl.h>
#include <sys/socket.h>

#include "base/timeutil.h"

#define SPLICE_CHUNK (1024 * 1024)
#define PUMP_ROUNDS 16          /* chunks per direction per wakeup: fairness */

enum pump_result { PUMP_OK, PUMP_SRC_FAILED, PUMP_DST_FAILED };

void l7_dir_init(struct l7_dir *d)
{
    *d = (struct l7_dir){ .pipe_r = -1, .pipe_w = -1 };
}

static int pipe_take(struct l7_proxy *p, struct l7_dir *d)
{
    if (d->pipe_r >= 0)
        return 0;
    if (p->n_pool > 0) {
        p->n_pool--;
        d->pipe_r = p->pool[p->n_pool][0];
        d->pipe_w = p->pool[p->n_pool][1];
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    /* Larger than the default 64 KiB: fewer wakeups per megabyte on bulk
     * transfers. Best effort (bounded by /proc/sys/fs/pipe-max-size). */
    (void)fcntl(fds[1], F_SETPIPE_SZ, SPLICE_CHUNK);
    d->pipe_r = fds[0];
    d->pipe_w = fds[1];
    return 0;
}

/* Give the pipe back (only an empty one goes to the pool). */
void l7_dir_release(struct l7_proxy *p, struct l7_dir *d)
{
    if (d->pipe_r < 0)
        return;
    if (d->in_pipe == 0 && p->n_pool < L7_PIPE_POOL_MAX) {
        p->pool[p->n_pool][0] = d->pipe_r;
        p->pool[p->n_pool][1] = d->pipe_w;
        p->n_pool++;
    } else {
        close(d->pipe_r);
        close(d->pipe_w);
    }
    d->pipe_r = d->pipe_w = -1;
    d->in_pipe = 0;
}

void l7_pool_clear(struct l7_proxy *p)
{
    for (size_t i = 0; i < p->n_pool; i++) {
        close(p->pool[i][0]);
        close(p->pool[i][1]);
    }
    p->n_pool = 0;
}

/* Move what can be moved from src to dst now. */
static enum pump_result pump(struct l7_conn *c, struct l7_dir *d, int src, int dst)
{
    const unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

    for (int round = 0; round < PUMP_ROUNDS && !d->shut; round++) {
        if (d->in_pipe > 0) {
            ssize_t n = splice(d->pipe_r, NULL, dst, NULL, d->in_pipe, flags);
            if (n < 0)   /* EAGAIN: full; the loop says when it is writable again */
                return errno == EAGAIN || errno == EINTR ? PUMP_OK : PUMP_DST_FAILED;
            d->in_pipe -= (size_t)n;
            d->bytes += (uint64_t)n;
            c->last_active = now_mono_ms();
            continue;
        }
        if (d->eof)
            break;
        if (pipe_take(c->p, d) < 0)
            return PUMP_SRC_FAILED;
        ssize_t n = splice(src, NULL, d->pipe_w, NULL, SPLICE_CHUNK, flags);
        if (n == 0) {
            d->eof = true;
            break;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return PUMP_SRC_FAILED;
            l7_dir_release(c->p, d);
            return PUMP_OK;
        }
        d->in_pipe += (size_t)n;
    }
    /* The EOF passes on once every byte before it has: here and not at the
     * top of a round, or an EOF read in the last round would wait for an
     * event that never comes (nothing is left to read or write). */
    if (d->eof && d->in_pipe == 0 && !d->shut) {
        (void)shutdown(dst, SHUT_WR);
        d->shut = true;
        l7_dir_release(c->p, d);
    }
    return PUMP_OK;
}

static bool dir_done(const struct l7_dir *d) { return d->eof && d->shut && d->in_pipe == 0; }

/* Read a side while its direction is open and its pipe empty; write it
 * while the other direction has bytes waiting for it. A side that hung up
 * for good (its FIN read, our side shut) wakes a level-triggered loop on
 * every round whatever we ask: it is watched only while reading it makes
 * progress (its pipe is empty); otherwise the other side's EPOLLOUT drives
 * what is left. */
static void update_masks(struct l7_conn *c)
{
    bool read_c = !c->up.eof && c->up.in_pipe == 0;
    bool read_u = !c->down.eof && c->down.in_pipe == 0;
    uint32_t cm = (read_c ? EPOLLIN : 0) | (c->down.in_pipe > 0 ? EPOLLOUT : 0);
    uint32_t um = (read_u ? EPOLLIN : 0) | (c->up.in_pipe > 0 ? EPOLLOUT : 0);
    if (c->chup)
        cm = read_c ? EPOLLIN : L7_UNWATCHED;
    if (c->uhup)
        um = read_u ? EPOLLIN : L7_UNWATCHED;
    l7_conn_set_masks(c, cm, um);
}

static void count_bytes(struct l7_conn *c)
{
    struct l7_proxy *p = c->p;
    p->c.bytes_up += c->up.bytes;
    p->c.bytes_down += c->down.bytes;
    c->up.bytes = c->down.bytes = 0;
}

/* One side failed: reset the other, close both. */
static void fail(struct l7_conn *c, bool client_failed)
{
    c->p->c.resets++;
    count_bytes(c);
    l7_conn_close(c, !client_failed, client_failed);
}

static bool socket_error(int fd)
{
    int e = 0;
    socklen_t l = sizeof(e);
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e != 0;
}

void l7_relay_on_fd(struct loop *loop, int fd, uint32_t events, void *userdata)
{
    struct l7_conn *c = userdata;
    (void)loop;

    if ((events & EPOLLERR) && socket_error(fd)) {
        fail(c, fd == c->cfd);
        return;
    }
    enum pump_result r = pump(c, &c->up, c->cfd, c->ufd);
    if (r != PUMP_OK) {
        fail(c, r == PUMP_SRC_FAILED);
        return;
    }
    r = pump(c, &c->down, c->ufd, c->cfd);
    if (r != PUMP_OK) {
        fail(c, r == PUMP_DST_FAILED);
        return;
    }
    if (dir_done(&c->up) && dir_done(&c->down)) {
        count_bytes(c);
        l7_conn_close(c, false, false);
        return;
    }
    if ((events & EPOLLHUP) && fd == c->cfd)
        c->chup = true;
    else if (events & EPOLLHUP)
        c->uhup = true;
    update_masks(c);
}

static void on_idle(struct loop *loop, void *userdata)
{
    struct l7_conn *c = userdata;
    uint64_t now = now_mono_ms(), idle = c->p->idle_timeout_ms;
    (void)loop;

    c->timer = NULL;
    if (now - c->last_active < idle) {
        l7_conn_arm_timer(c, c->last_active + idle - now, on_idle);
        return;
    }
    c->p->c.idle_closed++;
    count_bytes(c);
    l7_conn_close(c, false, false);
}

void l7_relay_start(struct l7_conn *c)
{
    c->st = L7_RELAY;
    c->last_active = now_mono_ms();
    l7_conn_arm_timer(c, c->p->idle_timeout_ms, on_idle);
    /* Both sides are read when the loop says so (level-triggered: bytes that
     * already wait are reported at once); trying first costs two splice()
     * calls per connection that nearly always find nothing. */
    update_masks(c);
}
