/* The event loop: timer ordering and cancellation, fd dispatch, removal of
 * an fd from inside a callback, and signals through the signalfd. */
#include <signal.h>
#include <sys/eventfd.h>

#include "base/timeutil.h"
#include "loop/loop.h"
#include "tap.h"

static char order[16];
static size_t order_len;

static void record(struct loop *l, void *ud)
{
    order[order_len++] = *(const char *)ud;
    if (order_len == 3)
        loop_quit(l, 7);
}

TEST(timers_fire_in_deadline_order)
{
    struct loop *l;
    ok(loop_new(&l) == 0, "loop_new");
    order_len = 0;
    loop_add_timer(l, 30, record, (char *)"c");
    loop_add_timer(l, 10, record, (char *)"a");
    loop_add_timer(l, 20, record, (char *)"b");
    is_int(loop_run(l), 7, "quit value");
    order[order_len] = '\0';
    is_str(order, "abc", "deadline order");
    loop_free(l);
}

TEST(cancelled_timer_never_fires)
{
    struct loop *l;
    loop_new(&l);
    order_len = 0;
    struct loop_timer *t = loop_add_timer(l, 5, record, (char *)"x");
    loop_add_timer(l, 10, record, (char *)"a");
    loop_add_timer(l, 11, record, (char *)"b");
    loop_add_timer(l, 12, record, (char *)"c");
    loop_cancel_timer(l, t);
    is_int(loop_pending_timers(l), 3, "three left");
    loop_run(l);
    order[order_len] = '\0';
    is_str(order, "abc", "x cancelled");
    loop_free(l);
}

TEST(many_timers_heap_stays_ordered)
{
    struct loop *l;
    loop_new(&l);
    struct loop_timer *ts[200];
    for (int i = 0; i < 200; i++)
        ts[i] = loop_add_timer(l, (uint64_t)(1000 + (i * 7919) % 200), record, (char *)"z");
    for (int i = 0; i < 200; i += 2)
        loop_cancel_timer(l, ts[i]);
    is_int(loop_pending_timers(l), 100, "half cancelled");
    loop_free(l); /* frees pending timers: ASan checks for leaks */
}

struct fd_ctx {
    int hits;
    int other_fd;
};

static void on_ready_remove_other(struct loop *l, int fd, uint32_t ev, void *ud)
{
    struct fd_ctx *c = ud;
    uint64_t v;
    (void)!read(fd, &v, sizeof(v));
    c->hits++;
    if (c->other_fd >= 0) {
        loop_del_fd(l, c->other_fd); /* its event may sit in the same round */
        c->other_fd = -1;
    }
    loop_quit(l, 0);
}

TEST(fd_removed_during_dispatch_gets_no_callback)
{
    struct loop *l;
    loop_new(&l);
    int a = eventfd(1, EFD_NONBLOCK), b = eventfd(1, EFD_NONBLOCK);
    struct fd_ctx ca = { 0, b }, cb = { 0, a };
    loop_add_fd(l, a, EPOLLIN, on_ready_remove_other, &ca);
    loop_add_fd(l, b, EPOLLIN, on_ready_remove_other, &cb);
    loop_run(l);
    is_int(ca.hits + cb.hits, 1, "exactly one callback ran");
    is_int(loop_add_fd(l, a, EPOLLIN, on_ready_remove_other, &ca) == 0 ||
           loop_add_fd(l, b, EPOLLIN, on_ready_remove_other, &cb) == 0, 1, "removed fd re-addable");
    loop_free(l);
    close(a);
    close(b);
}

static void on_sig(struct loop *l, int signo, void *ud)
{
    *(int *)ud = signo;
    loop_quit(l, 0);
}

TEST(signals_arrive_through_signalfd)
{
    struct loop *l;
    loop_new(&l);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int got = 0;
    ok(loop_watch_signals(l, &set, on_sig, &got) == 0, "watch");
    kill(getpid(), SIGUSR1);
    loop_run(l);
    is_int(got, SIGUSR1, "SIGUSR1 delivered");
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    loop_free(l);
}

TEST(timer_delay_is_respected)
{
    struct loop *l;
    loop_new(&l);
    order_len = 2;
    uint64_t start = now_mono_ms();
    loop_add_timer(l, 50, record, (char *)"q");
    loop_run(l);
    ok(now_mono_ms() - start >= 50, "not early");
    loop_free(l);
}

TAP_MAIN
