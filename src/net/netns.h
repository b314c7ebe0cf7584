/* netns.h: run a piece of code inside another network namespace and come
 * back. Sockets created there stay there. The cell's firewall and listeners
 * are made by the netprep helper (netprep.h); this serves what the
 * supervisor itself must do in a cell's netns later: read the firewall's
 * counters, dial the DNS override upstream from inside the cell. setns()
 * with CLONE_NEWNET moves only the calling thread, so the signing thread, if
 * any, stays in the supervisor's netns. */
#pragma once
#include "base/base.h"

typedef int (*netns_fn)(void *arg, struct cell_err *err);

/* setns into netns_fd, call fn, setns back. Failing to come back aborts the
 * process: carrying on in the cell's netns would make every later socket of
 * the supervisor (upstream DNS, sinks) the cell's. */
int netns_run(int netns_fd, netns_fn fn, void *arg, struct cell_err *err);
