/* child.h: the child side between clone3() and execve().
 *
 * The parent prepares a struct child_plan with everything already computed
 * and allocated; child_run() walks a fixed checklist of small steps (no
 * logging, no allocation). The first failing step writes one struct
 * child_error to plan->err_fd (a CLOEXEC pipe) and the child exits with 127;
 * the parent reads EOF when execve() succeeded.
 *
 * With a pid namespace the cloned child is the namespace's PID 1: it sets up
 * the cell (mounts, hostname, loopback, secrets), then forks the workload and
 * stays behind as its init: it forwards stop signals, reaps orphans, and
 * reports the workload's wait status on plan->status_fd before exiting, which
 * makes the kernel kill whatever is left in the namespace. */
#pragma once
#include <sys/types.h>

#include "base/base.h"

struct cgroup_child_attach;
struct mount_plan;
struct seccomp_program;

enum child_step {
    CHILD_STEP_SIGNALS,
    CHILD_STEP_SESSION,
    CHILD_STEP_CGROUP,
    CHILD_STEP_NETNS,
    CHILD_STEP_MOUNTS,
    CHILD_STEP_HOSTNAME,
    CHILD_STEP_SECRETS,
    CHILD_STEP_INIT,
    CHILD_STEP_CAPS,
    CHILD_STEP_USER,
    CHILD_STEP_CWD,
    CHILD_STEP_FDS,
    CHILD_STEP_WAIT_PARENT, /* as late as possible: the network helper works meanwhile */
    CHILD_STEP_SECCOMP,
    CHILD_STEP_EXEC,
    CHILD_STEP__COUNT,
};

struct child_error {
    int32_t step;           /* enum child_step */
    int32_t errnum;
    char detail[160];       /* e.g. the path that failed; never a secret */
};

/* A secret delivered as a file (runtimeBroker). */
struct child_secret_file {
    const char *name;       /* file name inside secrets_dir */
    const char *value;
    size_t len;
};

struct child_plan {
    int err_fd;                      /* write end of the error pipe (set by the backend) */
    int status_fd;                   /* pid-ns init reports the wait status here, or -1 */
    int sync_fd;                     /* read end: wait for one byte from the parent, or -1
                                      * (the parent sets up the cell's network meanwhile) */
    char *const *argv;
    char *const *envp;
    const char *const *exec_paths;   /* candidates for argv[0], NULL-terminated */
    const char *cwd;                 /* NULL: stay where the supervisor is */
    const struct cgroup_child_attach *cgroup; /* NULL: no cgroup */
    bool cgroup_cloned_into;         /* clone3 placed us in the v2 leaf already */
    bool pid_init;                   /* we are PID 1 of a new pid namespace */
    const struct mount_plan *mounts; /* NULL: no private mount tree */
    const char *hostname;            /* uts namespace: the cell id, or NULL */
    bool join_netns;                 /* own netns: setns() into netns_fd (made and set up
                                      * by the netprep helper: loopback, route, firewall) */
    int netns_fd;
    const char *secrets_dir;         /* runtimeBroker: where the files go, or NULL */
    const struct child_secret_file *secret_files;
    size_t n_secret_files;
    bool set_user;                   /* run.user: switch to uid:gid, no capabilities */
    uid_t uid;
    gid_t gid;
    bool drop_net_caps;              /* own netns: never CAP_NET_ADMIN / CAP_NET_RAW */
    const struct seccomp_program *seccomp; /* NULL: no filter (NO_NEW_PRIVS still set) */
};

_Noreturn void child_run(const struct child_plan *plan);

/* "reset signals", ... for messages. */
const char *child_step_name(enum child_step step);

/* Map a failed exec to the contract's exit status: 127 not found, 126 not
 * executable. */
int child_exec_exit_status(int errnum);
