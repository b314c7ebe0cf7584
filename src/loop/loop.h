/* loop.h: the supervisor's single event loop: epoll over fds, a timer heap
 * on CLOCK_MONOTONIC, and signals through a signalfd.
 *
 * Callbacks may add or remove any fd or timer, including their own; an fd
 * removed during a dispatch round receives no further callbacks in it. */
#pragma once
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "base/base.h"

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(struct loop *loop, int fd, uint32_t events, void *userdata);
typedef void (*loop_timer_cb)(struct loop *loop, void *userdata);
typedef void (*loop_signal_cb)(struct loop *loop, int signo, void *userdata);

int loop_new(struct loop **out);
void loop_free(struct loop *loop);

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *userdata);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
int loop_del_fd(struct loop *loop, int fd);

/* One-shot timer firing at now + delay_ms. The handle is valid until the timer
 * fires or is cancelled; cancelling from inside its own callback is a no-op. */
struct loop_timer *loop_add_timer(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb,
                                  void *userdata);
void loop_cancel_timer(struct loop *loop, struct loop_timer *timer);
size_t loop_pending_timers(const struct loop *loop);

/* Block the signals in `set` for the process and deliver them through a
 * signalfd owned by the loop. */
int loop_watch_signals(struct loop *loop, const sigset_t *set, loop_signal_cb cb, void *userdata);

/* Run until loop_quit(); returns the value given to loop_quit. */
int loop_run(struct loop *loop);
void loop_quit(struct loop *loop, int value);
