#include "loop.h"

#include <string.h>
#include <sys/signalfd.h>

#include "base/timeutil.h"

struct fd_watch {
    int fd;
    bool dead;            /* removed during dispatch; freed after the round */
    loop_fd_cb cb;
    void *userdata;
    struct fd_watch *next_dead;
};

struct loop_timer {
    uint64_t deadline;
    uint64_t seq;         /* ties fire in insertion order */
    size_t index;         /* position in the heap */
    loop_timer_cb cb;
    void *userdata;
};

struct loop {
    int epfd;
    bool quit;
    int quit_value;
    /* Watches indexed by fd: fds are small integers. */
    struct fd_watch **watches;
    size_t n_watches;
    struct fd_watch *dead;
    struct loop_timer **heap;
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    int sigfd;
    loop_signal_cb sig_cb;
    void *sig_userdata;
};

int loop_new(struct loop **out)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = epfd;
    l->sigfd = -1;
    *out = l;
    return 0;
}

static void free_dead(struct loop *l)
{
    while (l->dead) {
        struct fd_watch *w = l->dead;
        l->dead = w->next_dead;
        free(w);
    }
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_watches; i++)
        free(l->watches[i]);
    free_dead(l);
    for (size_t i = 0; i < l->heap_len; i++)
        free(l->heap[i]);
    free(l->watches);
    free(l->heap);
    if (l->sigfd >= 0)
        close(l->sigfd);
    close(l->epfd);
    free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *userdata)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= l->n_watches) {
        size_t n = (size_t)fd + 16;
        l->watches = xrealloc(l->watches, n * sizeof(*l->watches));
        memset(l->watches + l->n_watches, 0, (n - l->n_watches) * sizeof(*l->watches));
        l->n_watches = n;
    }
    if (l->watches[fd])
        return -EEXIST;
    struct fd_watch *w = xcalloc(1, sizeof(*w));
    *w = (struct fd_watch){ .fd = fd, .cb = cb, .userdata = userdata };
    struct epoll_event ev = { .events = events, .data.ptr = w };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;
        free(w);
        return r;
    }
    l->watches[fd] = w;
    return 0;
}

static struct fd_watch *watch_of(struct loop *l, int fd)
{
    return fd >= 0 && (size_t)fd < l->n_watches ? l->watches[fd] : NULL;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    struct fd_watch *w = watch_of(l, fd);
    if (!w)
        return -ENOENT;
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int loop_del_fd(struct loop *l, int fd)
{
    struct fd_watch *w = watch_of(l, fd);
    if (!w)
        return -ENOENT;
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->watches[fd] = NULL;
    /* Events for it may still sit in this round's array: keep the memory
     * until the round ends. */
    w->dead = true;
    w->next_dead = l->dead;
    l->dead = w;
    return 0;
}

/* ---- timer heap ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
    return a->deadline != b->deadline ? a->deadline < b->deadline : a->seq < b->seq;
}

static void heap_swap(struct loop *l, size_t i, size_t j)
{
    struct loop_timer *t = l->heap[i];
    l->heap[i] = l->heap[j];
    l->heap[j] = t;
    l->heap[i]->index = i;
    l->heap[j]->index = j;
}

static void heap_up(struct loop *l, size_t i)
{
    while (i > 0 && timer_before(l->heap[i], l->heap[(i - 1) / 2])) {
        heap_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct loop *l, size_t i)
{
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, min = i;
        if (left < l->heap_len && timer_before(l->heap[left], l->heap[min]))
            min = left;
        if (right < l->heap_len && timer_before(l->heap[right], l->heap[min]))
            min = right;
        if (min == i)
            return;
        heap_swap(l, i, min);
        i = min;
    }
}

static void heap_remove(struct loop *l, size_t i)
{
    l->heap_len--;
    if (i != l->heap_len) {
        heap_swap(l, i, l->heap_len);
        heap_down(l, i);
        heap_up(l, i);
    }
}

struct loop_timer *loop_add_timer(struct loop *l, uint64_t delay_ms, loop_timer_cb cb,
                                  void *userdata)
{
    if (l->heap_len == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 16;
        l->heap = xrealloc(l->heap, l->heap_cap * sizeof(*l->heap));
    }
    struct loop_timer *t = xcalloc(1, sizeof(*t));
    *t = (struct loop_timer){ .deadline = now_mono_ms() + delay_ms, .seq = l->timer_seq++,
                              .index = l->heap_len, .cb = cb, .userdata = userdata };
    l->heap[l->heap_len++] = t;
    heap_up(l, t->index);
    return t;
}

void loop_cancel_timer(struct loop *l, struct loop_timer *t)
{
    if (!t || t->index >= l->heap_len || l->heap[t->index] != t)
        return;
    heap_remove(l, t->index);
    free(t);
}

size_t loop_pending_timers(const struct loop *l) { return l->heap_len; }

static int next_timeout_ms(struct loop *l)
{
    if (l->heap_len == 0)
        return -1;
    uint64_t now = now_mono_ms(), deadline = l->heap[0]->deadline;
    return deadline <= now ? 0 : (int)(deadline - now > 60000 ? 60000 : deadline - now);
}

static void fire_due_timers(struct loop *l)
{
    uint64_t now = now_mono_ms();
    while (!l->quit && l->heap_len > 0 && l->heap[0]->deadline <= now) {
        struct loop_timer *t = l->heap[0];
        heap_remove(l, 0);
        t->index = SIZE_MAX;
        t->cb(l, t->userdata);
        free(t);
    }
}

/* ---- signals ---- */

static void on_signalfd(struct loop *l, int fd, uint32_t events, void *userdata)
{
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (l->sig_cb)
            l->sig_cb(l, (int)si.ssi_signo, l->sig_userdata);
}

int loop_watch_signals(struct loop *l, const sigset_t *set, loop_signal_cb cb, void *userdata)
{
    if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
        return -errno;
    int fd = signalfd(l->sigfd, set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    l->sig_cb = cb;
    l->sig_userdata = userdata;
    if (l->sigfd < 0) {
        l->sigfd = fd;
        return loop_add_fd(l, fd, EPOLLIN, on_signalfd, NULL);
    }
    return 0;
}

/* ---- running ---- */

int loop_run(struct loop *l)
{
    struct epoll_event events[64];
    while (!l->quit) {
        int n = epoll_wait(l->epfd, events, (int)ARRAY_SIZE(events), next_timeout_ms(l));
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n && !l->quit; i++) {
            struct fd_watch *w = events[i].data.ptr;
            if (!w->dead)
                w->cb(l, w->fd, events[i].events, w->userdata);
        }
        free_dead(l);
        fire_due_timers(l);
    }
    l->quit = false;
    return l->quit_value;
}

void loop_quit(struct loop *l, int value)
{
    l->quit = true;
    l->quit_value = value;
}
