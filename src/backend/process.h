/* process.h: the host-subprocess backend: start the workload with clone3()
 * (a pidfd, optional namespaces, optional CLONE_INTO_CGROUP), learn whether
 * execve() succeeded, and kill everything it started. */
#pragma once
#include <sys/types.h>

#include "base/base.h"
#include "isolate/child.h"

struct spawn_opts {
    uint64_t clone_flags;   /* CLONE_NEW* flags to add */
    int cgroup_fd;          /* v2 leaf for CLONE_INTO_CGROUP, or -1 */
    /* Called after clone, while the child waits at its WAIT_PARENT step
     * (e.g. to apply the firewall in its netns). A failure stops the child
     * before anything of the workload runs. NULL: the child does not wait. */
    int (*after_clone)(void *ctx, pid_t pid, int pidfd, struct cell_err *err);
    void *after_clone_ctx;
};

struct spawned {
    pid_t pid;
    int pidfd;
};

/* Starts the child and waits until it either exec'd (returns 0) or reported
 * a failed checklist step (returns -errnum with err->reason "exec_failed" for
 * the exec step, "spawn_failed" otherwise; *exit_status is set to the
 * status the supervisor should exit with: 126/127 or 125). On a reported
 * failure the child has already been reaped. */
int process_spawn(struct child_plan *plan, const struct spawn_opts *opts, struct spawned *out,
                  int *exit_status, struct cell_err *err);

/* Candidate paths for argv0 along `path_list` (as execvp would try them). */
char **process_exec_candidates(const char *argv0, const char *path_list);

/* Reap the child behind a pidfd without blocking: 0 and *wstatus-like info
 * when it has exited, -EAGAIN while it runs. */
int process_reap(int pidfd, int *code, int *signo);

/* SIGKILL every descendant of this process, repeatedly, until none is left
 * (the supervisor is a child subreaper, so orphans stay in its subtree), and
 * reap them, except `keep` (the workload: the loop reaps it through its
 * pidfd; 0 when there is none). Returns the number of processes killed. */
int process_kill_descendants(pid_t keep);

/* Reap exited children other than `keep` (the workload, whose pidfd the loop
 * watches): orphans re-parented to the subreaper supervisor. */
void process_reap_orphans(pid_t keep);
