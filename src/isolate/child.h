/* child.h: the child side between clone3() and execve().
 *
 * The parent prepares a struct child_plan with everything already computed
 * and allocated; child_run() walks a fixed checklist of small steps that are
 * async-signal-safe (no allocation, no locks, no logging). The first failing
 * step writes one struct child_error to plan->err_fd (a CLOEXEC pipe) and
 * the child exits with 127; the parent reads EOF when execve() succeeded. */
#pragma once
#include <sys/types.h>

#include "base/base.h"

enum child_step {
    CHILD_STEP_SIGNALS,
    CHILD_STEP_SESSION,
    CHILD_STEP_CGROUP,
    CHILD_STEP_CWD,
    CHILD_STEP_FDS,
    CHILD_STEP_NO_NEW_PRIVS,
    CHILD_STEP_EXEC,
    CHILD_STEP__COUNT,
};

struct child_error {
    int32_t step;           /* enum child_step */
    int32_t errnum;
    char detail[160];       /* e.g. the path that failed; never a secret */
};

struct child_plan {
    int err_fd;                      /* write end of the error pipe */
    char *const *argv;
    char *const *envp;
    const char *const *exec_paths;   /* candidates for argv[0], NULL-terminated */
    const char *cwd;                 /* NULL: stay where the supervisor is */
    const int *cgroup_procs_fds;     /* v1 cgroup.procs fds: the child writes "0" */
    size_t n_cgroup_procs_fds;
};

_Noreturn void child_run(const struct child_plan *plan);

/* "set up signals", ... for messages; the contract's reason for the step. */
const char *child_step_name(enum child_step step);

/* Map a failed exec to the contract's exit status: 127 not found, 126 not
 * executable. */
int child_exec_exit_status(int errnum);
