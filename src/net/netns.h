/* netns.h: run a piece of code inside another network namespace and come
 * back. Sockets created there stay there: that is how the supervisor puts
 * the cell's firewall and the DNS proxy's listeners into the cell while
 * serving them from its own loop. The supervisor is single-threaded, so a
 * setns() of the calling thread is a setns() of the process. */
#pragma once
#include "base/base.h"

typedef int (*netns_fn)(void *arg, struct cell_err *err);

/* setns into netns_fd, call fn, setns back. Failing to come back aborts the
 * process: carrying on in the cell's netns would make every later socket of
 * the supervisor (upstream DNS, sinks) the cell's. */
int netns_run(int netns_fd, netns_fn fn, void *arg, struct cell_err *err);
