#include "net/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static void return_home(int home_fd)
{
    if (setns(home_fd, CLONE_NEWNET) < 0) {
        char msg[160];
        int n = snprintf(msg, sizeof(msg),
                         "cellos: cannot return to the supervisor's network namespace: %s\n",
                         strerror(errno));
        (void)write_all(2, msg, (size_t)n);
        abort();
    }
}

int netns_run(int netns_fd, netns_fn fn, void *arg, struct cell_err *err)
{
    _cleanup_close_ int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0)
        return cell_err_set(err, errno, "isolation_failed", "cannot open own netns: %s",
                            strerror(errno));
    if (setns(netns_fd, CLONE_NEWNET) < 0)
        return cell_err_set(err, errno, "isolation_failed", "cannot enter the cell's netns: %s",
                            strerror(errno));
    int r = fn(arg, err);
    return_home(home);
    return r;
}
