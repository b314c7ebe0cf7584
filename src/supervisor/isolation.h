/* isolation.h: turn the spec and the environment into the cell's isolation
 * (namespaces, cgroup, seccomp, mounts, user, secret files), fill the child's
 * plan from it, and undo it all at teardown. */
#pragma once
#include <linux/sched.h>

#include "base/base.h"
#include "config.h"
#include "isolate/cgroup.h"
#include "isolate/child.h"
#include "isolate/mounts.h"
#include "isolate/seccomp.h"
#include "run_events.h"
#include "secrets.h"
#include "spec/spec.h"

#define CELL_SECRETS_DIR "/run/cellos/secrets" /* inside cells with a mount namespace */
/* Without a mount namespace: SECRETS_HOST_BASE/cellos-secrets-<supervisor pid>-XXXXXX,
 * so `cellos reconcile` can tell a dead supervisor's directory. */
#define SECRETS_HOST_BASE "/dev/shm"
#define SECRETS_HOST_PREFIX "cellos-secrets-"

struct cell_isolation {
    unsigned namespaces;             /* NS_* */
    uint64_t clone_flags;
    const char *ns_names[5];
    size_t n_ns;
    struct cgroup_layout layout;
    bool have_layout;
    struct cgroup *cgroup;
    struct cgroup_child_attach attach;
    struct seccomp_program seccomp;
    struct mount_plan mounts;
    bool have_mounts;
    bool set_user;
    uid_t uid;
    gid_t gid;
    char *secrets_dir;               /* what the workload sees in CELLOS_SECRETS_DIR */
    char *host_secrets_dir;          /* a host directory we created (no mount ns), to remove */
    struct child_secret_file *secret_files;
    size_t n_secret_files;
};

/* Everything before clone. On failure err names what could not be enforced
 * (reason "isolation_failed") and nothing is left behind. */
int isolation_setup(struct cell_isolation *iso, const struct cell_spec *spec,
                    const struct sup_config *cfg, const struct secret_set *secrets,
                    const char *resolv_conf, struct cell_err *err);
void isolation_fill_plan(struct cell_isolation *iso, struct child_plan *plan);
void isolation_describe(const struct cell_isolation *iso, struct isolation_info *info);
/* Kill everything in the cell's cgroup (no-op without one). */
void isolation_kill(struct cell_isolation *iso);
bool isolation_oom_killed(const struct cell_isolation *iso);
/* Undo everything; what could not be undone goes into result->residue. */
void isolation_teardown(struct cell_isolation *iso, struct run_result *result);
/* Remove a host secrets directory and the files in it. */
int remove_secret_dir(const char *dir);
